"""The GraphQL API at /graphql/ (issue #17): traders' own scripts drive the desk through the same services as the
HTMX ticket (trading.services, trading.forms, the Celery tasks), so every order passes the same validation, risk
limits, halts, audit trail and exactly-once submission. See docs/api.md.

`schema` assembles the types (`types`), queries (`queries`), mutations (`mutations`) and subscriptions
(`subscriptions`); `views` serves it over HTTP (session + CSRF, or an API token) and over the Channels WebSocket
(graphql-transport-ws); `auth` checks tokens and the per-token rate limit; `limits` the depth and cost limits."""
