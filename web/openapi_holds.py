"""The OpenAPI paths and schemas of holds (web/api_holds.py)."""

from __future__ import annotations

from collections.abc import Callable

from inventory.holds import MAX_TTL_S, MIN_TTL_S, HoldStatus
from web.openapi_schema import Schema, array, date_time, integer, nullable, obj, ref, string, whole
from web.openapi_schema import text as field_text

Operation = Callable[..., Schema]
HOLD_ID = field_text(40, "A hold's id (`hld_...`)", pattern="^[A-Za-z0-9_.\\-]+$")


def hold_schemas(channel: Schema, order_line: Schema) -> dict[str, Schema]:
    """`channel` and `order_line` as the order's request has them (web/openapi.py)."""
    return {
        "HoldCreate": obj({
            "channel": channel,
            "lines": array(order_line, minItems=1, maxItems=100),
            "ttl_s": whole(MIN_TTL_S, MAX_TTL_S, description="Seconds until the hold expires"),
        }),
        "Hold": obj({
            "id": string("Also the ledger's reference for the hold's reserve and release entries"),
            "status": string("held until released, converted (into order_id) or expired",
                             enum=[str(status) for status in HoldStatus]),
            "channel": string(), "created_at": date_time(), "expires_at": date_time(),
            "closed_at": nullable(date_time()),
            "order_id": nullable(string("The order it became (converted)")),
            "lines": array(obj({"sku": string("Variant SKU"), "quantity": integer(1)})),
        }),
    }


def hold_paths(operation: Operation, ok: Callable[..., Schema],
               path_param: Callable[[str, str], Schema]) -> dict[str, Schema]:
    by_id = [path_param("id", "Hold id")]
    hold = ref("Hold")
    return {
        "/api/v1/holds": {"post": operation(
            "createHold", "Hold units for a cart or a checkout: reserved until released, converted into "
            "an order (POST /api/v1/orders with hold_id) or expired (within a second of expires_at); all "
            "or nothing (409 insufficient_stock holds nothing)", "holds",
            {"201": ok(hold, "Held")}, body=ref("HoldCreate"), errors=("409",))},
        "/api/v1/holds/{id}": {"get": operation(
            "getHold", "A hold and its status", "holds", {"200": ok(hold)}, params=by_id, errors=("404",))},
        "/api/v1/holds/{id}/release": {"post": operation(
            "releaseHold", "Give the held units back (again: no change); 409 hold_not_held when it "
            "expired or was converted", "holds", {"200": ok(hold, "Released")}, params=by_id,
            errors=("404", "409"))},
    }
