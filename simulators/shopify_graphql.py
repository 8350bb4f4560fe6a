"""The Shopify simulator's GraphQL Admin endpoint, `/admin/api/{version}/graphql.json`: the
document is parsed and validated by graphql-core against the schema of the version in the URL
(shopify_schema), so the operation's name means nothing and an unknown field, argument or
directive is refused as GraphQL refuses it; then the query's cost is charged against the GraphQL
bucket (THROTTLED, with the cost extension, when it is short) and the fields run
(shopify_mutations). Every answer, throttled or not, carries `extensions.cost.throttleStatus`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)
from graphql.utilities import get_operation_ast, value_from_ast_untyped

from simulators.shopify_mutations import Mutations
from simulators.shopify_rest import errors_response
from simulators.shopify_schema import schema_for
from simulators.shopify_wire import MOST_QUANTITIES, set_quantities_cost

if TYPE_CHECKING:
    from simulators.shopify import ShopifySimulator

THROTTLED = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
MUTATION_COST = 10


class GraphqlApi:
    def __init__(self, shop: ShopifySimulator):
        self._shop = shop
        self._fields = Mutations(shop)

    def keys(self) -> list[str]:
        """The idempotency keys seen, oldest first (for tests and /_sim/stats readers)."""
        return self._fields.keys()

    async def handle(self, request: web.Request) -> web.Response:
        shop = self._shop
        refused = shop.unauthorized(request)
        if refused is not None:
            return refused
        version = shop.served_version(request)
        if version is None:
            return errors_response(404, "Not Found")
        try:
            body = await request.json()
            query, variables = str(body["query"]), dict(body.get("variables") or {})
            name = body.get("operationName")
        except (ValueError, KeyError, TypeError, AttributeError):
            return errors_response(400, {"query": "Required parameter missing or invalid"})
        try:
            document = parse(query)
        except GraphQLError as exc:
            return self._errors([exc.formatted], 1)
        operation = get_operation_ast(document, name)
        problems = validate(schema_for(version), document)
        if operation is None:
            problems = [*problems, _no_operation(name)]
        if problems or operation is None:
            return self._errors([p.formatted for p in problems], 1)
        cost = _query_cost(operation, variables)
        if isinstance(cost, GraphQLError):
            return self._errors([cost.formatted], 1)
        if shop.take_forced("graphql"):
            return self._answer({"errors": [THROTTLED]}, cost, 0, available=0)
        if shop.over_limit("graphql", shop.graphql_limit, cost) is not None:
            return self._answer({"errors": [THROTTLED]}, cost, 0)
        return self._run(version, document, name, variables, cost)

    def _run(self, version: str, document: DocumentNode, name: str | None, variables: dict[str, Any],
             cost: int) -> web.Response:
        result = execute(schema_for(version), document, root_value=self._fields.root(version),
                         variable_values=variables, operation_name=name)
        if not isinstance(result, ExecutionResult):
            raise RuntimeError("the simulator's resolvers are synchronous")
        # A request refused before it runs (a variable of the wrong shape) has no `data` at all.
        answer: dict[str, Any] = {} if result.data is None else {"data": result.data}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        return self._answer(answer, cost, cost)

    def _errors(self, errors: list[Any], cost: int) -> web.Response:
        return self._answer({"errors": errors}, cost, 0)

    def _answer(self, answer: dict[str, Any], requested: int, actual: int,
                available: float | None = None) -> web.Response:
        level = self._shop.bucket_level("graphql") if available is None else available
        burst = self._shop.graphql_limit.burst
        answer["extensions"] = {"cost": {
            "requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": {
                "maximumAvailable": burst, "currentlyAvailable": int(burst if level is None else level),
                "restoreRate": self._shop.graphql_limit.per_second}}}
        return web.json_response(answer)


def _no_operation(name: str | None) -> GraphQLError:
    if name:
        return GraphQLError(f"No operation named \"{name}\"")
    return GraphQLError("An operation name is required")


def _query_cost(operation: OperationDefinitionNode, variables: dict[str, Any]) -> int | GraphQLError:
    """Our model of Shopify's calculated query cost: a mutation 10 points (plus one per quantity
    set), a connection 2 plus the page size asked for; the input size limit is checked here too."""
    total = 0
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            continue
        args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in selection.arguments}
        field = selection.name.value
        if field == "inventorySetQuantities":
            count = len((args.get("input") or {}).get("quantities") or [])
            if count > MOST_QUANTITIES:
                return GraphQLError(f"The input array size of {count} is greater than the maximum allowed of "
                                    f"{MOST_QUANTITIES}.", extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"})
            total += set_quantities_cost(count)
        elif field == "productVariants":
            total += 2 + int(args.get("first") or 0)
        else:
            total += MUTATION_COST if operation.operation.value == "mutation" else 1
    return max(total, 1)
