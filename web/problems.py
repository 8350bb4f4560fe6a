"""The one error shape of the API: {"error": {"code", "message"}}; the message names the field.

And the one place an HTTP status is chosen for what went wrong below the web: a domain Failure
(by its code), a name already taken, a shard or a partner that did not answer, a service still
starting. Pure: raised anywhere below
the HTTP boundary, turned into a response once, in web/app.py."""

from __future__ import annotations

from inventory.commands import Failure

# A rule refused the command: 409 Conflict unless the code says otherwise.
# A hold asked to become an order with other lines or on another channel is invalid input (422); one no
# longer held (released, expired, converted into another order) is a conflict (409 hold_not_held).
# Seconds a 503 tells the client to wait (Retry-After): a shard restarted on this node answers within
# about 1 s, one on a lost node within the 5 s failover goal; an earlier retry is still safe.
RETRY_AFTER = "1"

FAILURE_STATUS = {"not_found": 404, "invalid_adjustment": 422, "hold_lines_differ": 422,
                  "hold_channel_differs": 422}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


def invalid(field: str, problem: str) -> ApiError:
    return ApiError(422, "invalid_field", f"{field}: {problem}")


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", what)


def refused(failure: Failure) -> ApiError:
    return ApiError(FAILURE_STATUS.get(failure.code, 409), failure.code, failure.message)


def taken(message: str) -> ApiError:
    """A unique field is already in use (store.catalog.Conflict); the message names it."""
    return ApiError(409, "already_exists", message)


def partner_unavailable(message: str) -> ApiError:
    """A partner's own API failed to answer (its breaker, a 5xx); nothing was changed."""
    return ApiError(502, "partner_unavailable", message)


def unavailable(reason: str) -> ApiError:
    """A shard did not answer (inventory.desk.ShardUnavailable); nothing was applied twice."""
    return ApiError(503, "unavailable", f"{reason}; retrying the same request is safe")


def starting() -> ApiError:
    return ApiError(503, "starting", "Threadcount is starting; try again in a moment")
