"""Depth, cost, alias and token limits, so that one script cannot starve the desk: a document deeper than MAX_DEPTH, or whose
estimated cost (each field 1, times the page size of every list around it) is above MAX_COST, is refused before
it runs, with a BAD_REQUEST error naming the limit."""

from __future__ import annotations

from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from graphql import (
    OperationType as NodeOperation,
)
from strawberry.extensions import AddValidationRules, MaxAliasesLimiter, MaxTokensLimiter, SchemaExtension
from strawberry.types.graphql import OperationType

# Counted over every field, introspection included (the schema's own paths are at most 4 deep; a tool's full
# introspection query, with its nested `ofType`s, is about 10).
MAX_DEPTH = 12
MAX_COST = 20_000
MAX_ALIASES = 20
# Mutations in one document: each is an order action, and the rate limit counts requests, not fields.
MAX_MUTATIONS = 5
MAX_TOKENS = 3_000
# List fields and how many items they may return when no `limit` says fewer.
LIST_SIZES = {
    "orders": 200,
    "fills": 200,
    "markets": 200,
    "positions": 100,
    "bids": 10,
    "asks": 10,
    "cancelAllOrders": 200,
}


class CostLimit(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        depth = self._depth(node.selection_set, set())
        if depth > MAX_DEPTH:
            self.report_error(
                GraphQLError(
                    f"This query nests {depth} levels deep (the limit is {MAX_DEPTH}).",
                    node,
                    extensions={"code": "BAD_REQUEST", "retryable": False, "limit": "depth"},
                )
            )
            return
        if node.operation == NodeOperation.MUTATION and len(node.selection_set.selections) > MAX_MUTATIONS:
            self.report_error(
                GraphQLError(
                    f"At most {MAX_MUTATIONS} mutations in one request.",
                    node,
                    extensions={"code": "BAD_REQUEST", "retryable": False, "limit": "mutations"},
                )
            )
            return
        cost = self._cost(node.selection_set, set())
        if cost > MAX_COST:
            self.report_error(
                GraphQLError(
                    f"This query costs about {cost} (the limit is {MAX_COST}): ask for smaller pages or fewer "
                    "fields.",
                    node,
                    extensions={"code": "BAD_REQUEST", "retryable": False, "limit": "cost"},
                )
            )

    def _cost(self, selections: SelectionSetNode | None, fragments: set[str]) -> int:
        if selections is None:
            return 0
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                size = self._size(selection)
                total += 1 + size * self._cost(selection.selection_set, fragments)
            elif isinstance(selection, InlineFragmentNode):
                total += self._cost(selection.selection_set, fragments)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is not None and name not in fragments:  # a cycle is GraphQL's own error
                    total += self._cost(fragment.selection_set, fragments | {name})
        return total

    def _depth(self, selections: SelectionSetNode | None, fragments: set[str]) -> int:
        if selections is None:
            return 0
        deepest = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                deepest = max(deepest, 1 + self._depth(selection.selection_set, fragments))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self._depth(selection.selection_set, fragments))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is not None and name not in fragments:
                    deepest = max(deepest, self._depth(fragment.selection_set, fragments | {name}))
        return deepest

    @staticmethod
    def _size(field: FieldNode) -> int:
        size = LIST_SIZES.get(field.name.value)
        if size is None:
            return 1
        for argument in field.arguments or ():
            if argument.name.value == "limit" and isinstance(argument.value, IntValueNode):
                try:
                    return max(1, min(size, int(argument.value.value)))
                except ValueError:
                    return size
        return size


class SubscriptionsOnlyOnTheSocket(SchemaExtension):
    """The WebSocket serves subscriptions; queries and mutations go over HTTP (their resolvers use the database
    synchronously, and the HTTP path is where the rate limit counts each request). Either the other way round is
    refused with a clear error."""

    def on_execute(self) -> Any:
        context = self.execution_context.context
        on_socket = isinstance(context, dict) and "ws" in context
        subscription = self.execution_context.operation_type == OperationType.SUBSCRIPTION
        if on_socket != subscription:
            message = (
                "Send queries and mutations with an HTTP POST to /graphql/; the socket serves subscriptions."
                if on_socket
                else "Subscriptions need the WebSocket at /graphql/ (graphql-transport-ws)."
            )
            self.execution_context.result = ExecutionResult(
                data=None,
                errors=[GraphQLError(message, extensions={"code": "BAD_REQUEST", "retryable": False})],
            )
        yield


def extensions() -> list[Any]:
    """Factories: each request gets fresh extension instances."""
    return [
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules([CostLimit]),
        SubscriptionsOnlyOnTheSocket,
    ]
