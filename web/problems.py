"""The one error shape of the API: {"error": {"code", "message"}}; the message names the field.

Pure: raised anywhere below the HTTP boundary, turned into a response once, in web/app.py."""

from __future__ import annotations


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
