"""The schema, and its SDL as checked into docs/api.md (`python -m kalshiweb.graphql.schema` prints it)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig

from kalshiweb.graphql import errors, limits
from kalshiweb.graphql.mutations import Mutation
from kalshiweb.graphql.queries import Query
from kalshiweb.graphql.scalars import DecimalScalar
from kalshiweb.graphql.subscriptions import Subscription


class ApiSchema(strawberry.Schema):
    def process_errors(self, errors_: list[GraphQLError], execution_context: Any = None) -> None:
        # Runs before the result is serialized: every error gets its code, retryable flag and field here.
        shaped = errors.shape(errors_)
        errors_[:] = shaped


schema = ApiSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(scalar_map={Decimal: DecimalScalar}),
    extensions=limits.extensions(),
)


def sdl() -> str:
    return schema.as_str() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(sdl(), end="")
