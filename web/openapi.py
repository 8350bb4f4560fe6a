"""The OpenAPI 3.1 description of the Threadcount REST API, served at GET /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from connectors.registry import KINDS as PARTNER_KINDS
from inventory.commands import ADJUST_REASONS, MAX_ADJUSTMENT, REASON_SIGN, LineStatus, OrderStatus
from service.version import VERSION
from web.api_alerts import ALL_FLAGS
from web.api_stock import MAX_IDEMPOTENCY_KEY
from web.openapi_accounts import account_paths, account_schemas, stamp_roles
from web.openapi_buffers import buffer_schema
from web.openapi_holds import HOLD_ID, hold_paths, hold_schemas
from web.openapi_kits import kit_paths, kit_schemas
from web.openapi_schema import (
    Schema,
    array,
    date_time,
    enum,
    integer,
    nullable,
    obj,
    optional_text,
    ref,
    string,
    whole,
)
from web.openapi_schema import text as field_text
from web.validation import CODE

JSON = "application/json"
CODE_PATTERN = CODE.pattern
KINDS = ["warehouse", "store"]
ORDER_STATUSES = [str(status) for status in OrderStatus]
LINE_STATES = [str(state) for state in LineStatus]
LEDGER_KINDS = ["receipt", "adjustment", "transfer_out", "transfer_in", "reserve", "release", "fulfil"]
REASONS = list(ADJUST_REASONS)
KIT_LINE = ("A kit line only: its component lines. The kit line's reserved and backordered count whole "
            "kits; its allocations count, per location, the kits that location supplies alone")
ERRORS = {
    "400": "Malformed request (not JSON, wrong shape)",
    "401": "Missing, unknown or revoked bearer token or API key",
    "403": "forbidden: the caller's role is below the role this route needs (x-threadcount-role)",
    "404": "Unknown resource",
    "409": "Conflict with the current state",
    "413": "Body over 1 MB",
    "415": "The body is not sent as application/json",
    "422": "Valid JSON with invalid values",
    "503": "Starting, or a stock shard did not answer (a retry is safe)",
}


# ---------------------------------------------------------------- operation helpers

def ok(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def path_param(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": string(), "description": description}


def limit(maximum: int, default: int) -> Schema:
    return query("limit", integer(1, maximum=maximum, default=default), "At most this many, newest first")


def operation(op_id: str, summary: str, tag: str, responses: dict[str, Schema], *,
              body: Schema | None = None, params: list[Schema] | None = None,
              errors: tuple[str, ...] = (), public: bool = False) -> Schema:
    """One operation; 401/403 are added unless `public`, 400/422 whenever there is a body or query."""
    codes = set(errors)
    codes |= {"400", "422"} if body is not None or any(p["in"] == "query" for p in params or []) else set()
    codes |= {"413", "415"} if body is not None else set()
    codes |= set() if public else {"401", "403", "503"}
    errs = {code: ok(ref("Error"), ERRORS[code]) for code in sorted(codes)}
    op: Schema = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": {**responses, **errs}}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    if public:
        op["security"] = []
    return op


def stock_change(op_id: str, summary: str, body: str, errors: tuple[str, ...]) -> Schema:
    idempotency = {"$ref": "#/components/parameters/IdempotencyKey"}
    return operation(op_id, summary, "stock", {"201": ok(ref("VariantStock"), "The variant's new stock")},
                     body=ref(body), params=[idempotency], errors=("404", *errors))


def order_action(op_id: str, summary: str) -> Schema:
    return operation(op_id, summary, "orders", {"200": ok(ref("Order"), "The order now")},
                     params=[path_param("id", "Order id")], errors=("404", "409"))


# ---------------------------------------------------------------- components

def schemas(channels: list[str] | None = None) -> dict[str, Schema]:
    sku, location, text = string("Variant SKU"), string("Location code"), string()
    count = integer(0)
    # what a request may send (web/validation.py): the API takes text as sent, never trimmed
    sku_in, location_in = field_text(100, "Variant SKU"), field_text(64, "Location code")
    code_in = field_text(100, "SKU: letters, digits, '-', '_' and '.'", pattern=CODE_PATTERN)
    channel_in = {**field_text(64, '"direct" or a configured channel/partner id'),
                  **({"enum": channels} if channels else {})}
    line_in = obj({"sku": sku_in, "quantity": whole(1)})
    reference = optional_text(200, "Your reference", lines=True)
    note = optional_text(2000, "Free text", lines=True)
    why = {"reason": enum(REASONS), "note": note}
    non_zero = {**whole(-MAX_ADJUSTMENT, MAX_ADJUSTMENT), "not": {"const": 0},
                "description": "Signed change of on_hand: damage and loss lower it, found and return "
                               "raise it"}
    signs = [{"if": {"properties": {"reason": {"enum": [r for r in REASONS if REASON_SIGN.get(r) == sign]}}},
              "then": {"properties": {"delta": bound}}}
             for sign, bound in ((-1, {"maximum": -1}), (1, {"minimum": 1}))]
    return {
        "Error": obj({"error": obj({"code": string("snake_case error code"),
                                    "message": string("What is wrong, naming the field")})}),
        "Health": obj({"status": enum(["ok", "starting"])}),
        "Ready": obj({"status": enum(["ready", "not_ready"]), "checks": {
            "type": "object", "additionalProperties": enum(["ok", "failed"]),
            "description": "shards, hub, database and partner:<id> for each partner"}}),
        "Version": obj({"version": string("The package's version, as `python run.py --version` prints")}),
        "LocationCreate": obj({
            "code": field_text(64, "Unique location code", pattern=CODE_PATTERN),
            "name": field_text(200), "kind": enum(KINDS),
            "priority": whole(0, optional=True, default=100, description="Lower allocates first"),
        }, optional=("priority",)),
        "Location": obj({"code": text, "name": text, "kind": enum(KINDS), "priority": count}),
        "VariantCreate": obj({"sku": code_in, "size": optional_text(40), "color": optional_text(40),
                              "material": optional_text(40),
                              "gtin": string("UPC-12 or EAN-13 with its GS1 check digit",
                                             type=["string", "null"], pattern="^(?:[0-9]{12,13})?$")},
                             optional=("size", "color", "material", "gtin")),
        "ProductCreate": obj({"sku": code_in, "name": field_text(200),
                              "description": optional_text(5000),
                              "variants": array(ref("VariantCreate"), minItems=1, maxItems=1000,
                                                description="Each with its own sku, none twice")},
                             optional=("description",)),
        "Variant": obj({"sku": sku, "size": text, "color": text, "material": text,
                        "reorder_point": nullable(integer()), "gtin": nullable(string("UPC-12 or EAN-13"))}),
        "Product": obj({"sku": text, "name": text, "description": text, "variants": array(ref("Variant"))}),
        "Receipt": obj({"sku": sku_in, "location": location_in, "quantity": whole(1),
                        "reference": reference}, optional=("reference",)),
        "Adjustment": {
            "description": "Either a signed `delta` or an absolute `count` (never both), with a reason",
            "oneOf": [
                obj({"sku": sku_in, "location": location_in, "delta": non_zero, **why}, ("note",),
                    **{"not": {"required": ["count"]}, "allOf": signs}),
                obj({"sku": sku_in, "location": location_in, "count": whole(0, MAX_ADJUSTMENT), **why},
                    ("note",), **{"not": {"required": ["delta"]}}),
            ],
        },
        "Transfer": obj({"sku": sku_in, "from_location": location_in,
                         "to_location": {**location_in, "description": "Another location than from_location"},
                         "quantity": whole(1), "reference": reference}, optional=("reference",)),
        "LocationStock": obj({"location": location, "on_hand": count, "reserved": count, "available": count}),
        "VariantStock": obj({"sku": sku, "available": count, "on_hand": count, "reserved": count,
                             "backordered": count, "locations": array(ref("LocationStock"))}),
        "OrderCreate": obj({
            "channel": channel_in,
            "external_id": field_text(200, "The channel's own order id"),
            "lines": array(line_in, minItems=1, maxItems=100),
            "hold_id": {**HOLD_ID, "description": "The order takes this hold's units (its lines must be the "
                        "hold's, in any order; 404 unknown hold, 409 hold_not_held, 422 hold_lines_differ "
                        "or hold_channel_differs); the hold becomes converted"},
        }, optional=("hold_id",)),
        **hold_schemas(channel_in, line_in),
        "Allocation": obj({"location": location, "quantity": integer(1)}),
        "OrderLine": obj({"sku": sku, "quantity": integer(1), "reserved": count, "backordered": count,
                          "state": enum(LINE_STATES), "allocations": array(ref("Allocation")),
                          "components": array(ref("OrderLine"), description=KIT_LINE)},
                         optional=("components",)),
        "Order": obj({"id": text, "channel": text, "external_id": text, "status": enum(ORDER_STATUSES),
                      "placed_at": date_time(), "lines": array(ref("OrderLine"))}),
        "LedgerEntry": obj({
            "at": date_time(), "sku": sku, "location": location, "kind": enum(LEDGER_KINDS),
            "delta_on_hand": integer(), "delta_reserved": integer(), "reason": nullable(text),
            "reference": nullable(text), "note": nullable(text), "actor": nullable(text),
        }),
        "LedgerCheck": obj({"ok": {"type": "boolean"}, "mismatches": array(obj({
            "sku": sku, "location": location, "what": text, "stock_row": integer(),
            "expected": integer()}))}),
        **partner_schemas(),
    }


def partner_schemas() -> dict[str, Schema]:
    when = nullable(date_time())
    return {
        "Partner": obj({
            "id": string("Partner id (also its sales channel)"),
            "kind": enum(list(PARTNER_KINDS)),
            "name": string(), "base_url": string("Its API (in demo mode, its simulator)"),
            "status": string("starting, connecting, syncing, unverified (never read since start), in_sync "
                             "(the last read agreed, nothing waits), failing or unreachable"),
            "in_sync": {"type": "boolean",
                        "description": "The last read of the partner agreed and nothing waits to be pushed"},
            "last_read_at": when,
            "last_read_agreed": {"type": ["boolean", "null"], "description": "null: never read since start"},
            "last_sync_at": when, "capabilities": array(string()), "policy": enum(["reject", "backorder"]),
            "sync": {"type": "object", "description": "Live figures: circuit, pending, lag_p50_s, "
                     "lag_p99_s, errors_recent, rate_limit_use, pushes, pushes_saved_by_coalescing, ..., "
                     "and buffer: what the partner's listings keep back",
                     "properties": {"buffer": ref("PartnerBuffer")}},
        }),
        "PartnerBuffer": buffer_schema(),
        "Listing": obj({"sku": string("Variant SKU"),
                        "desired": integer(0, description="What it should show"),
                        "pushed": nullable(integer(0)), "pushed_at": when, "desired_at": date_time(),
                        "last_error": nullable(string())}),
        "Reconciled": obj({"checked": integer(0), "corrected": integer(0)}),
        "Job": obj({"id": string(), "kind": enum(["reconcile"]), "partner": string(),
                    "status": enum(["running", "done", "failed"]), "started_at": date_time(),
                    "finished_at": nullable(date_time()), "result": ref("Reconciled"),
                    "error": string("Why it failed")}, optional=("result", "error")),
        "Alert": obj({"id": integer(), "kind": string("low_stock, backorder, oversell, sync_failure, drift, "
                                                      "unknown_sku, dead_letter"),
                      "key": string("What it is about (a sku, a partner, partner:order)"),
                      "message": string(), "count": integer(1), "raised_at": date_time(),
                      "last_seen_at": date_time(), "acknowledged_at": when,
                      "acknowledged_by": nullable(string())}),
        "Notification": obj({
            "at": date_time(), "alert_kind": string("The alert's kind; digest for several, test for a test"),
            "channel": enum(["email", "sms"]), "to": string("The address or number"),
            "outcome": enum(["sent", "retrying", "failed"]), "error": nullable(string())}),
        "DeadLetter": obj({
            "id": integer(), "partner_id": string(), "order_id": string("The partner's order id"),
            "event_id": string(), "reason": string("Why it cannot apply as it stands"),
            "status": enum(["open", "applied"]), "attempts": integer(1), "created_at": date_time(),
            "updated_at": date_time(), "event": {"type": "object", "description": "The order event kept"}}),
        "DeadLetterRetried": obj({"id": integer(), "status": enum(["open", "applied"]), "reason": string()}),
        "SyncLogEntry": obj({"id": integer(), "partner_id": string(), "at": date_time(), "kind": string(),
                             "ok": {"type": "boolean"}, "message": string()}),
    }


# ---------------------------------------------------------------- paths

def paths() -> dict[str, Schema]:
    order, by_id = ref("Order"), [path_param("id", "Order id")]
    return {
        "/healthz": {"get": operation("health", "Ready to take orders?", "meta", {
            "200": ok(ref("Health"), "An order can be taken"), "503": ok(ref("Health"), "Still starting"),
        }, public=True)},
        "/readyz": {"get": operation("ready", "Do the shards, the event hub, the database and every partner "
                                     "actor answer (each within about a second)?", "meta", {
            "200": ok(ref("Ready"), "Every check ok"), "503": ok(ref("Ready"), "Some check failed"),
        }, public=True)},
        "/api/v1/openapi.json": {"get": operation(
            "openapi", "This document", "meta", {"200": ok({"type": "object"})}, public=True)},
        "/metrics": {"get": operation("metrics", "Prometheus figures of every process and actor", "meta", {
            "200": {"description": "The Prometheus text format (version 0.0.4)",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}})},
        "/api/v1/version": {"get": operation("version", "The running version", "meta", {
            "200": ok(ref("Version"))})},
        "/api/v1/locations": {
            "post": operation("createLocation", "Create a location", "locations", {
                "201": ok(ref("Location"), "Created")}, body=ref("LocationCreate"), errors=("409",)),
            "get": operation("listLocations", "All locations", "locations", {
                "200": ok(array(ref("Location")))}),
        },
        "/api/v1/products": {"post": operation("createProduct", "Create a product", "products", {
            "201": ok(ref("Product"), "Created")}, body=ref("ProductCreate"), errors=("409",))},
        "/api/v1/products/{sku}": {"get": operation("getProduct", "A product and its variants", "products", {
            "200": ok(ref("Product"))}, params=[path_param("sku", "Product SKU")], errors=("404",))},
        "/api/v1/stock/receipts": {"post": stock_change(
            "receiveStock", "Receive units at a location", "Receipt", ())},
        "/api/v1/stock/adjustments": {"post": stock_change(
            "adjustStock", "Adjust on_hand by a delta or to a count", "Adjustment", ("409",))},
        "/api/v1/stock/transfers": {"post": stock_change(
            "transferStock", "Move units between locations", "Transfer", ("409",))},
        "/api/v1/variants/{sku}/stock": {"get": operation("variantStock", "Stock of one variant", "stock", {
            "200": ok(ref("VariantStock"))}, params=[path_param("sku", "Variant SKU")], errors=("404",))},
        "/api/v1/orders": {
            "post": operation("placeOrder", "Place an order", "orders", {
                "201": ok(order, "A new order (possibly rejected or backordered)"),
                "200": ok(order, "Seen before: the first answer, nothing applied twice"),
            }, body=ref("OrderCreate"), errors=("404", "409")),  # 404: an unknown hold_id
            "get": operation("findOrders", "Find orders", "orders", {"200": ok(array(order))}, params=[
                query("channel", string(), "Only this channel"),
                query("external_id", string(), "Only this channel order id"), limit(500, 50)]),
        },
        "/api/v1/orders/{id}": {"get": operation(
            "getOrder", "An order", "orders", {"200": ok(order)}, params=by_id, errors=("404",))},
        "/api/v1/orders/{id}/fulfill": {"post": order_action(
            "fulfillOrder", "Commit the reserved units (on_hand and reserved both drop)")},
        "/api/v1/orders/{id}/cancel": {"post": order_action(
            "cancelOrder", "Release what is reserved, drop what is backordered")},
        "/api/v1/ledger": {"get": operation("ledger", "Ledger entries, newest first", "ledger", {
            "200": ok(array(ref("LedgerEntry")))}, errors=("404",), params=[
            query("sku", string(), "Only this variant"), query("location", string(), "Only here"),
            limit(1000, 100)])},
        "/api/v1/ledger/check": {"get": operation(
            "ledgerCheck", "Prove stock rows equal the fold of the ledger", "ledger",
            {"200": ok(ref("LedgerCheck"))})},
        **partner_paths(),
        **hold_paths(operation, ok, path_param),
        **account_paths(operation, ok, path_param),
        **kit_paths(operation, ok),
    }


def partner_paths() -> dict[str, Schema]:
    by_id = [path_param("id", "Partner id")]
    return {
        "/api/v1/partners": {"get": operation("listPartners", "Partners and how their sync is doing",
                                              "partners", {"200": ok(array(ref("Partner")))})},
        "/api/v1/partners/{id}/listings": {"get": operation(
            "partnerListings", "What the partner should show (desired) and was last told (pushed)",
            "partners", {"200": ok(array(ref("Listing")))}, errors=("404",),
            params=[*by_id, query("sku", string(), "Only this variant")])},
        "/api/v1/partners/{id}/reconcile": {"post": operation(
            "reconcilePartner", "Start reading what the partner shows now and correcting drift: a job "
            "to poll at its Location (the partner's running one, if it has one)", "partners",
            {"202": {**ok(obj({"job": ref("Job")}), "Started, or already running"),
                     "headers": {"Location": {"description": "/api/v1/jobs/{id}", "schema": string()}}}},
            params=by_id, errors=("404",))},
        "/api/v1/jobs/{id}": {"get": operation(
            "getJob", "A reconcile job: running, done with its result, or failed with the reason", "partners",
            {"200": ok(obj({"job": ref("Job")}))}, params=[path_param("id", "Job id")], errors=("404",))},
        "/api/v1/partners/{id}/retry": {"post": operation(
            "retryPartner", "Close the circuit and retry failed pushes now", "partners",
            {"202": ok(obj({"status": string()}), "Retrying")}, params=by_id, errors=("404",))},
        "/api/v1/alerts": {"get": operation(
            "listAlerts", "Open alerts (all=1: acknowledged ones too), newest first", "alerts",
            {"200": ok(array(ref("Alert")))},
            params=[query("all", enum(ALL_FLAGS), "1 or true: include acknowledged"), limit(1000, 100)])},
        "/api/v1/notifications": {"get": operation(
            "listNotifications", "Every attempt to send an alert by e-mail or SMS, newest first", "alerts",
            {"200": ok(array(ref("Notification")))}, params=[limit(1000, 100)])},
        "/api/v1/partners/{id}/dead-letters": {"get": operation(
            "partnerDeadLetters", "Partner orders that could not be applied as they stood, newest first",
            "partners", {"200": ok(array(ref("DeadLetter")))}, errors=("404",),
            params=[*by_id, query("status", enum(["open", "applied"]), "Only these"), limit(1000, 100)])},
        "/api/v1/partners/{id}/dead-letters/{letter_id}/retry": {"post": operation(
            "retryDeadLetter", "Apply a dead letter again (after its cause was fixed)", "partners",
            {"200": ok(ref("DeadLetterRetried"), "Applied, or still open with the reason")},
            params=[*by_id, path_param("letter_id", "Dead letter id")], errors=("404",))},
        "/api/v1/partners/{id}/sync-log": {"get": operation(
            "partnerSyncLog", "The partner's sync log, newest first", "partners",
            {"200": ok(array(ref("SyncLogEntry")))}, params=[*by_id, limit(500, 50)], errors=("404",))},
    }


def openapi_document(server_url: str | None = None, channels: list[str] | None = None) -> dict[str, Any]:
    """The whole document as a JSON-serialisable dict; `server_url` adds a `servers` entry, and
    `channels` (those config.yaml configures, as the running service serves it) the orders' choice."""
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Threadcount", "version": VERSION,
                 "description": "Real-time inventory for a sheets-and-linens business: "
                                "one truth about stock, every channel told within seconds."},
        "security": [{"bearer": []}],
        "paths": stamp_roles(paths()),
        "components": {
            "schemas": {**schemas(channels), **account_schemas(), **kit_schemas()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Bearer <the admin token or an API key>"}},
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": string(minLength=1, maxLength=MAX_IDEMPOTENCY_KEY),
                "description": "Scoped to the caller and the route: the same key with the same body returns "
                               "the first answer and applies nothing; with another body it is refused "
                               "(422 idempotency_key_reused)"}},
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
