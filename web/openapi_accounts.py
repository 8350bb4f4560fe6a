"""The OpenAPI paths and schemas of users and API keys (admin only), and the role each operation
needs, stamped on every operation from web/roles.py's table (`x-threadcount-role`)."""

from __future__ import annotations

from collections.abc import Callable

from service.principals import ORDER
from web.account_input import EMAIL, KEY_NAME, MAX_PASSWORD, MIN_PASSWORD, PHONE, USERNAME
from web.openapi_schema import Schema, array, boolean, date_time, integer, nullable, obj, ref, string
from web.roles import least_role, need_of

ROLE_VALUES = [role.value for role in ORDER]
Operation = Callable[..., Schema]


def account_schemas() -> dict[str, Schema]:
    role = string("viewer < clerk < manager < admin; each may do all the ones before may", enum=ROLE_VALUES)
    contact = {"email": nullable(string("An e-mail address, or empty for none", maxLength=200,
                                        pattern=_or_empty(EMAIL.pattern))),
               "phone": nullable(string("Digits with '+', spaces, '-', '.', '(' and ')', or empty for none",
                                        maxLength=40, pattern=_or_empty(PHONE.pattern)))}
    password = string(minLength=MIN_PASSWORD, maxLength=MAX_PASSWORD)
    shown = {"username": string(), "role": role, "email": nullable(string()), "phone": nullable(string())}
    return {
        "User": obj({**shown, "disabled": boolean(), "created_at": date_time()}),
        "UserCreate": obj({"username": string(minLength=1, maxLength=100, pattern=USERNAME.pattern),
                           "password": password, "role": role, **contact}, optional=("email", "phone")),
        "UserChange": obj({"role": nullable(role), "password": nullable(password), **contact,
                           "disabled": nullable(boolean())},
                          optional=("role", "password", "email", "phone", "disabled"),
                          additionalProperties=False,
                          description="A new password or disabled=true ends the user's sessions at once"),
        "ApiKey": obj({"id": integer(), "name": string(), "role": role, "created_at": date_time(),
                       "last_used_at": nullable(date_time()), "revoked_at": nullable(date_time())}),
        "ApiKeyCreate": obj({"name": string(minLength=1, maxLength=100, pattern=KEY_NAME.pattern),
                             "role": role}),
        "ApiKeyCreated": obj({"id": integer(), "name": string(), "role": role,
                              "key": string("The key: shown this once, stored only as its hash")}),
    }


def _or_empty(pattern: str) -> str:
    return f"^(?:{pattern.removeprefix('^').removesuffix('$')})?$"


def account_paths(operation: Operation, ok: Callable[..., Schema],
                  path_param: Callable[[str, str], Schema]) -> dict[str, Schema]:
    return {
        "/api/v1/users": {
            "post": operation("createUser", "Create a user (no answer carries a password or its hash)",
                              "users", {"201": ok(ref("User"), "Created")}, body=ref("UserCreate"),
                              errors=("409",)),
            "get": operation("listUsers", "All users", "users", {"200": ok(array(ref("User")))}),
        },
        "/api/v1/users/{username}": {"patch": operation(
            "updateUser", "Change a user's role, password, contact or disabled", "users",
            {"200": ok(ref("User"))}, body=ref("UserChange"), errors=("404",),
            params=[path_param("username", "User name")])},
        "/api/v1/api-keys": {
            "post": operation("createApiKey", "Create an API key (the key is in this answer only)", "users",
                              {"201": ok(ref("ApiKeyCreated"), "Created")}, body=ref("ApiKeyCreate"),
                              errors=("409",)),
            "get": operation("listApiKeys", "All API keys, without their values", "users",
                             {"200": ok(array(ref("ApiKey")))}),
        },
        "/api/v1/api-keys/{id}": {"delete": operation(
            "revokeApiKey", "Revoke an API key: refused (401) from the next request on", "users",
            {"204": {"description": "Revoked"}}, errors=("404",), params=[path_param("id", "API key id")])},
    }


def stamp_roles(paths: dict[str, Schema]) -> dict[str, Schema]:
    """Each operation says the role it needs (web/roles.py is the one source)."""
    for path, operations in paths.items():
        for method, op in operations.items():
            need = need_of(method.upper(), path)
            if need is None:
                continue
            role = least_role(need).value
            op["x-threadcount-role"] = role
            op["description"] = (f"{op.get('description', '')} Needs the role `{role}` or above "
                                 f"(a lower role gets 403 forbidden).").strip()
    return paths

