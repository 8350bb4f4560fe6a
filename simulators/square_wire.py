"""Square's side of its API wire: RFC 3339 times as Square writes them, the decimal-string
quantities it insists on, Square-looking ids, its error entries, the Square-Version it takes, the
webhook signature over the notification URL and body, its order-search cursor, and the rate limit
it leaves unpublished.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.http import opaque_token, read_opaque_token
from simulators.ratelimit import Quota

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
FIRST_VERSION = "2018-07-12"   # the first dated Square-Version
NEWEST_VERSION = "2026-08-19"  # the newest release the simulator knows (option newest_version)
MOST_CHANGES = 100          # changes in one inventory batch-create
MOST_ORDERS = 1000          # orders in one orders/search page
# Square publishes no rate limit; ours is an assumption a partner option can change.
UNPUBLISHED_LIMIT = Quota(10.0, 20.0)
_ERROR_KINDS = {   # status -> (category, default code)
    400: ("INVALID_REQUEST_ERROR", "BAD_REQUEST"), 401: ("AUTHENTICATION_ERROR", "UNAUTHORIZED"),
    404: ("INVALID_REQUEST_ERROR", "NOT_FOUND"), 429: ("RATE_LIMIT_ERROR", "RATE_LIMITED"),
    500: ("API_ERROR", "INTERNAL_SERVER_ERROR"), 503: ("API_ERROR", "SERVICE_UNAVAILABLE"),
}


def version_refusal(value: str | None, newest: str) -> dict[str, Any] | None:
    """Square's 400 entry for a Square-Version it would not take, else None: absent, not a
    YYYY-MM-DD date, before the first versioned release or after the newest one (the codes for the
    last two are our reading, unverified)."""
    if not value:
        return error_entry(400, "Square-Version header is required", "MISSING_REQUIRED_PARAMETER",
                           "Square-Version")
    try:
        valid = len(value) == 10 and date.fromisoformat(value).isoformat() == value
    except ValueError:
        valid = False
    if not valid:
        return error_entry(400, f"Square-Version {value!r} is not of the form YYYY-MM-DD",
                           "INVALID_SQUARE_VERSION_FORMAT", "Square-Version")
    if not FIRST_VERSION <= value <= newest:
        return error_entry(400, f"Square-Version {value} is not a released version ({FIRST_VERSION} "
                           f"to {newest})", "INVALID_VALUE", "Square-Version")
    return None


def rfc3339(seconds: float) -> str:
    """UTC with milliseconds and a Z: 2026-01-15T10:00:00.123Z."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_rfc3339(value: Any) -> float | None:
    """A client's RFC 3339 field, or None when it is absent or not a time."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def counted_units(value: Any) -> int | None:
    """A count's quantity, which Square takes only as a non-negative decimal string ("53", "53.0")."""
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        return None
    if number is None or not number.is_finite() or number < 0:
        return None
    return int(number)


def object_id(*seed: str, size: int = 24) -> str:
    """An upper-case base32 id like Square's, the same for the same seed (so across restarts)."""
    return base64.b32encode(hashlib.sha256("/".join(seed).encode()).digest()).decode()[:size]


def error_entry(status: int, detail: str, code: str | None = None,
                field: str | None = None) -> dict[str, Any]:
    """One of Square's `errors`: {category, code, detail[, field]}."""
    category, usual = _ERROR_KINDS.get(status, ("API_ERROR", "BAD_REQUEST"))
    entry = {"category": category, "code": code or usual, "detail": detail}
    return {**entry, "field": field} if field else entry


def webhook_signature(signature_key: str, notification_url: str, body: bytes) -> str:
    """base64 HMAC-SHA256 of the registered notification URL followed by the raw body."""
    mac = hmac.new(signature_key.encode(), digestmod=hashlib.sha256)
    mac.update(notification_url.encode())
    mac.update(body)
    return base64.b64encode(mac.digest()).decode()


def search_cursor(updated_at: float, order_id: str) -> str:
    """orders/search's cursor names the last order sent: one updated since moves past it and is
    sent again in its new state rather than skipped."""
    return opaque_token([updated_at, order_id])


def read_search_cursor(cursor: Any) -> tuple[float, str] | None:
    """(updated_at, order id) from a cursor; ValueError or TypeError when Square never made it."""
    if not cursor:
        return None
    updated_at, order_id = read_opaque_token(str(cursor))
    return float(updated_at), str(order_id)


def limit_from(options: Mapping[str, Any]) -> Quota:
    """`options["rate_limit"]` = {"rate": per second, "burst": n}, each defaulting to the assumption."""
    given = options.get("rate_limit") or {}
    return Quota(float(given.get("rate", UNPUBLISHED_LIMIT.per_second)),
                 float(given.get("burst", UNPUBLISHED_LIMIT.burst)))
