"""Ray's side of security: token authentication always, and the embedded Ray on loopback only.

Ray (2.52+) checks a bearer token on every gRPC call to its GCS, raylets and workers when
`RAY_AUTH_MODE=token`. The token is Ray's `RAY_AUTH_TOKEN` when set, else the file named by
`RAY_AUTH_TOKEN_PATH`, else `DATA_DIR/ray_auth_token` (generated, mode 600, by an embedded Ray).
Everything Ray starts inherits the environment set here, so its workers carry the same token.

The embedded Ray (`ray.address: local`) also takes the loopback address as its node address, so its
GCS, raylet, object manager and workers listen on 127.0.0.1 only: Ray turns a 127.0.0.1 node address
into the machine's reachable one unless clusters are switched off (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`,
which on Linux means exactly "one machine, loopback")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from store.private_files import private_dir

AUTH_MODE = "RAY_AUTH_MODE"
AUTH_TOKEN = "RAY_AUTH_TOKEN"
AUTH_TOKEN_PATH = "RAY_AUTH_TOKEN_PATH"
SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
TOKEN_FILE = "ray_auth_token"
LOOPBACK = "127.0.0.1"


class RayAuthError(Exception):
    """No token to join a cluster with, or a token file that cannot be read."""


def token_source(data_dir: Path, env: dict[str, str] | None = None) -> tuple[str, Path | None]:
    """Where the token comes from: ("env", None), ("path", the file named by RAY_AUTH_TOKEN_PATH) or
    ("data", DATA_DIR/ray_auth_token)."""
    env = dict(os.environ if env is None else env)
    if env.get(AUTH_TOKEN):
        return "env", None
    if env.get(AUTH_TOKEN_PATH):
        return "path", Path(env[AUTH_TOKEN_PATH])
    return "data", data_dir / TOKEN_FILE


def check_token_available(data_dir: Path, local: bool, env: dict[str, str] | None = None) -> None:
    """Before start: joining a cluster needs its token; a named token file must be readable."""
    source, path = token_source(data_dir, env)
    if source == "env" or path is None:
        return
    if path.exists():
        try:
            path.read_text()
        except OSError as exc:
            raise RayAuthError(f"the Ray token file {path} cannot be read: {exc.strerror}") from None
        return
    if source == "path":
        raise RayAuthError(f"{AUTH_TOKEN_PATH} names {path}, which does not exist")
    if not local:
        raise RayAuthError(
            "joining a Ray cluster needs the cluster's token (Ray's token authentication): set "
            f"{AUTH_TOKEN}, or {AUTH_TOKEN_PATH} to a file holding it, or put it in {path}")


def write_private_token(path: Path) -> None:
    """A new token file, created with mode 600 (never readable by others, not even for a moment)."""
    private_dir(path.parent)   # the data folder, 0700 (store/private_files.py)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w") as token:
        token.write(secrets.token_hex(32))


def secure_ray(data_dir: Path, local: bool) -> dict[str, str]:
    """Set up this process's environment (inherited by everything Ray starts) for token
    authentication and, for an embedded Ray, loopback; return the ray.init options that go with it.
    Call before ray.init."""
    check_token_available(data_dir, local)
    source, path = token_source(data_dir)
    if source == "data" and path is not None:
        if local:
            write_private_token(path)
        os.environ[AUTH_TOKEN_PATH] = str(path)
    os.environ[AUTH_MODE] = "token"
    options: dict[str, str] = {}
    if local:
        os.environ[SINGLE_MACHINE] = "0"  # read by the workers Ray starts, at import
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # this process imported Ray before the line above
        options["_node_ip_address"] = LOOPBACK
    # Ray reads RAY_AUTH_MODE into its config when it is imported: read it again, as Ray itself
    # does when it turns token authentication on.
    from ray._raylet import Config  # type: ignore[attr-defined]

    Config.initialize("")
    return options
