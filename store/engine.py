"""Engines are made at start-up by whoever needs one, never at import."""

from __future__ import annotations

import ssl
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
# The actors' sessions (make_engine's idle_in_transaction_s): ended by the server after this long
# silent inside a transaction. A cut node is declared dead 2.5-3 s after it stops answering
# (service/ray_start.py), so the locks of its actors' sessions are free before those actors start
# elsewhere; their own transactions never pause that long between statements.
ACTOR_IDLE_IN_TRANSACTION_S = 2.0
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LIBPQ_TLS = ("sslmode", "sslrootcert", "sslcert", "sslkey")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, sqlite_synchronous: str = "FULL", pool_size: int = 5,
                idle_in_transaction_s: float | None = None) -> AsyncEngine:
    """An async engine. SQLite runs in WAL mode with a busy timeout, and a transaction starts with
    BEGIN IMMEDIATE (unless made through `reader`) so several writer processes queue on the lock
    instead of failing when a read turns into a write.

    `idle_in_transaction_s` (PostgreSQL): the server ends a session of this engine that has left
    its transaction open and silent that long, rolling it back and freeing its row locks. For the
    actors Ray restarts elsewhere when their node is lost: one cut off the network in the middle of
    a transaction would otherwise hold its locks until the network came back (the server hears
    nothing from a cut host, and TCP keepalive takes hours), and its new incarnation would wait on
    them. Their transactions send statement after statement and never wait on anything else."""
    if not is_sqlite(url):
        url, connect_args = postgres_tls(url)
        if idle_in_transaction_s is not None:
            connect_args["server_settings"] = {
                "idle_in_transaction_session_timeout": str(round(idle_in_transaction_s * 1000))}
        return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                                   connect_args=connect_args)
    engine = create_async_engine(url, connect_args={"timeout": 60})
    _sqlite_setup(engine.sync_engine, sqlite_synchronous)
    return engine


def make_sync_engine(url: str, sqlite_synchronous: str = "FULL", checkpoint_on_commit: bool = True
                     ) -> Engine:
    """A synchronous engine on the same SQLite file, for work done in one hop on a thread of its own
    (a shard's group commit), where aiosqlite's hop per statement was most of the cost.
    `checkpoint_on_commit=False` leaves moving the WAL into the database to a WalCheckpointer."""
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_engine(sync_url, connect_args={"timeout": 60, "check_same_thread": False})
    _sqlite_setup(engine, sqlite_synchronous, checkpoint_on_commit)
    return engine


def _sqlite_setup(engine: Engine, sqlite_synchronous: str, checkpoint_on_commit: bool = True) -> None:
    if sqlite_synchronous.upper() not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"sqlite synchronous must be one of {SQLITE_SYNCHRONOUS}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous.upper()}")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        if not checkpoint_on_commit:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same pool for read-only work: on SQLite a plain BEGIN, so reads never queue behind writers."""
    return engine.execution_options(sqlite_begin="DEFERRED") if engine.dialect.name == "sqlite" else engine


def postgres_tls(url: str) -> tuple[str, dict[str, Any]]:
    """libpq's TLS parameters in a PostgreSQL URL (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`),
    which asyncpg does not take, as asyncpg's `ssl` argument: the URL without them and the
    connect_args. `sslmode` goes over as asyncpg's mode of the same name; a CA file or a client
    certificate makes an SSLContext (verifying the host name only for verify-full)."""
    parsed = make_url(url)
    query = {k: v if isinstance(v, str) else v[-1] for k, v in parsed.query.items()}
    given = {k: query.pop(k) for k in LIBPQ_TLS if k in query}
    if not given:
        return url, {}
    mode = given.get("sslmode", "prefer")
    if mode not in SSLMODES:
        raise ValueError(f"database URL: sslmode must be one of {', '.join(SSLMODES)}, not {mode!r}")
    if "sslkey" in given and "sslcert" not in given:
        raise ValueError("database URL: sslkey needs sslcert (the client certificate)")
    bare = parsed.set(query=query).render_as_string(hide_password=False)
    if mode == "disable" or not (given.get("sslrootcert") or given.get("sslcert")):
        return bare, {"ssl": mode}
    verify = mode in ("verify-ca", "verify-full")
    context = ssl.create_default_context(cafile=given.get("sslrootcert") if verify else None)
    context.check_hostname = mode == "verify-full"
    if not verify:
        context.verify_mode = ssl.CERT_NONE  # require/prefer/allow: encrypted, not verified (libpq's way)
    if "sslcert" in given:
        context.load_cert_chain(given["sslcert"], given.get("sslkey"))
    return bare, {"ssl": context}
