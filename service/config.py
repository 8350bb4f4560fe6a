"""Settings: config.yaml, then THREADCOUNT_* environment variables over it (12-factor)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from actors.logs import FORMAT_VARIABLE, log_format
from inventory.commands import Policy
from service.notify_config import NotifyConfigError, NotifySettings, notify_settings
from store.secrets import KEY_VARIABLE, SecretKeyError, fernet_key, split_keys
from sync.buffers import AutoBuffer
from sync.config import PartnerConfig, PartnerConfigError, partners
from sync.rules import ShowRule


class ConfigError(ValueError):
    pass


# Days each table's rows are kept (config.yaml `retention:`; service/retention.py deletes the rest).
# processed_events must outlast every partner's redelivery: Amazon's SQS queue keeps a message up to
# 14 days, Square retries for 24 h, Shopify for 4 h; a redelivery older than the window is taken as new.
DEFAULT_DAYS: dict[str, float] = {"sync_logs": 30, "processed_events": 30, "processed_commands": 30,
                                  "audit_log": 365, "notifications": 90}


@dataclass(frozen=True, slots=True)
class ChannelRule:
    policy: Policy = "reject"
    locations: tuple[str, ...] | None = None  # None: every location, by priority
    show: ShowRule = field(default_factory=ShowRule)  # what a partner on this channel is shown


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    shoppers: bool = True
    shopper_interval: float = 5.0   # seconds between a simulator's shopper orders, on average
    duplicate_rate: float = 0.05    # share of webhooks delivered twice


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    sqlite_synchronous: str = "FULL"
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_workers: int = 1  # processes serving the web port together (service/web_workers.py)
    ingress_host: str = "127.0.0.1"
    ingress_port: int = 8001
    tls_cert: Path | None = None   # PEM files: with both, the web port and the ingress speak HTTPS only
    tls_key: Path | None = None
    forwarded_allow_ips: str = "127.0.0.1"  # proxies whose X-Forwarded-For/-Proto the web port trusts
    demo: bool = False
    ray_address: str = "local"
    shards: int = 1
    # whether THREADCOUNT_SHARDS / ray.shards set `shards`; if not, a cluster (ray_address not local)
    # has one shard per CPU of the whole cluster (service/ray_start.py), not of this machine
    shards_given: bool = False
    call_timeout: float = 3.0  # seconds a shard call may take before its callers hear 503 (actors/router.py)
    max_batch: int = 1000
    max_inflight: int = 1
    linger_ms: float = 1.0
    admin_token: str | None = field(default=None, repr=False)
    admin_password: str | None = field(default=None, repr=False)
    # THREADCOUNT_SECRET_KEY then THREADCOUNT_SECRET_KEY_PREVIOUS, newest first; empty: DATA_DIR/secret.key
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    channels: dict[str, ChannelRule] = field(default_factory=dict)
    partners: dict[str, PartnerConfig] = field(default_factory=dict)
    simulators: SimulatorSettings = field(default_factory=SimulatorSettings)
    client_timeout: float = 10.0  # seconds for a request's headers, and for each read of its body
    retention: dict[str, float] = field(default_factory=dict)  # days kept, by table (service/retention)
    log_format: str = "text"  # or "json": one JSON object a line (actors/logs.py)
    notifications: NotifySettings = field(default_factory=NotifySettings)  # alerts by e-mail and SMS


def load_settings(path: Path | None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        raw = yaml.safe_load(path.read_text()) or {}
    base = path.parent if path is not None else Path.cwd()
    web, ingress, ray, batching = (raw.get(k) or {} for k in ("web", "ingress", "ray", "batching"))
    data_dir = Path(env.get("THREADCOUNT_DATA_DIR") or raw.get("data_dir") or "data")
    if not data_dir.is_absolute():
        data_dir = (base / data_dir).resolve()
    database_url = env.get("THREADCOUNT_DATABASE_URL") or raw.get("database_url") or (
        f"sqlite+aiosqlite:///{data_dir / 'threadcount.db'}"
    )
    shards = env.get("THREADCOUNT_SHARDS") or ray.get("shards") or os.cpu_count() or 1
    tls_cert, tls_key = _tls(web, env, base)
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        sqlite_synchronous=str(raw.get("sqlite_synchronous", "FULL")),
        web_host=str(env.get("THREADCOUNT_WEB_HOST") or web.get("host", "127.0.0.1")),
        web_port=_int(env.get("THREADCOUNT_WEB_PORT") or web.get("port", 8000), "web port"),
        web_workers=_web_workers(env.get("THREADCOUNT_WEB_WORKERS") or web.get("workers", 1)),
        ingress_host=str(env.get("THREADCOUNT_INGRESS_HOST") or ingress.get("host", "127.0.0.1")),
        tls_cert=tls_cert,
        tls_key=tls_key,
        forwarded_allow_ips=str(env.get("THREADCOUNT_FORWARDED_ALLOW_IPS")
                                or web.get("forwarded_allow_ips") or "127.0.0.1"),
        ingress_port=_int(env.get("THREADCOUNT_INGRESS_PORT") or ingress.get("port", 8001), "ingress port"),
        demo=_bool(env.get("THREADCOUNT_DEMO", raw.get("demo", False))),
        ray_address=str(env.get("THREADCOUNT_RAY_ADDRESS") or ray.get("address") or "local"),
        shards=max(1, _int(shards, "shards")),
        shards_given=bool(env.get("THREADCOUNT_SHARDS") or ray.get("shards")),
        call_timeout=_positive(env.get("THREADCOUNT_CALL_TIMEOUT") or ray.get("call_timeout_s", 3.0),
                               "ray.call_timeout_s"),
        max_batch=_int(batching.get("max_batch", 1000), "batching.max_batch"),
        max_inflight=_int(batching.get("max_inflight", 1), "batching.max_inflight"),
        linger_ms=_float(batching.get("linger_ms", 1.0), "batching.linger_ms"),
        admin_token=env.get("THREADCOUNT_ADMIN_TOKEN") or None,
        admin_password=env.get("THREADCOUNT_ADMIN_PASSWORD") or None,
        secret_keys=_secret_keys(env),
        channels=_channels(raw.get("channels") or {}),
        partners=_partners(raw.get("partners") or {}, env),
        simulators=_simulators(raw.get("simulators") or {}, env),
        client_timeout=_positive(env.get("THREADCOUNT_CLIENT_TIMEOUT") or raw.get("client_timeout_s", 10.0),
                                 "client_timeout_s"),
        retention=_retention(raw.get("retention") or {}),
        log_format=_log_format(env.get(FORMAT_VARIABLE) or (raw.get("logging") or {}).get("format")),
        notifications=_notifications(raw.get("notifications"), env),
    )


MAX_WEB_WORKERS = 32


def _web_workers(value: Any) -> int:
    count = _int(value, "web workers (THREADCOUNT_WEB_WORKERS)")
    if not 1 <= count <= MAX_WEB_WORKERS:
        raise ConfigError(f"web workers (THREADCOUNT_WEB_WORKERS): {count} is not between 1 and "
                          f"{MAX_WEB_WORKERS}")
    return count


def _log_format(value: Any) -> str:
    try:
        return log_format(None if value is None else str(value))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _notifications(raw: Any, env: dict[str, str]) -> NotifySettings:
    try:
        return notify_settings(raw, env)
    except NotifyConfigError as exc:
        raise ConfigError(str(exc)) from None


def _tls(web: dict[str, Any], env: dict[str, str], base: Path) -> tuple[Path | None, Path | None]:
    """Both PEM files or neither; each must be a readable file."""
    named = {"THREADCOUNT_TLS_CERT": env.get("THREADCOUNT_TLS_CERT") or web.get("tls_cert"),
             "THREADCOUNT_TLS_KEY": env.get("THREADCOUNT_TLS_KEY") or web.get("tls_key")}
    given = {name: value for name, value in named.items() if value}
    if not given:
        return None, None
    if len(given) == 1:
        (have,) = given
        (missing,) = set(named) - {have}
        raise ConfigError(f"{have} is set but {missing} is not (web.tls_cert and web.tls_key in "
                          "config.yaml): TLS needs both the certificate and its key")
    paths: list[Path] = []
    for name, value in given.items():
        path = Path(str(value))
        path = path if path.is_absolute() else (base / path).resolve()
        try:
            with path.open("rb") as pem:
                pem.read(1)
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from None
        paths.append(path)
    return paths[0], paths[1]


def _positive(value: Any, name: str) -> float:
    number = _float(value, name)
    if number <= 0:
        raise ConfigError(f"{name} must be more than 0")
    return number


def _retention(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise ConfigError("retention must be a mapping of table to days kept, like {sync_logs: 30}")
    days = dict(DEFAULT_DAYS)
    for table, value in raw.items():
        if table not in DEFAULT_DAYS:
            raise ConfigError(f"retention.{table}: not a table with retention; "
                              f"one of {', '.join(DEFAULT_DAYS)}")
        days[table] = _float(value, f"retention.{table}")
        if days[table] <= 0:
            raise ConfigError(f"retention.{table} must be more than 0 days")
    return days


def _secret_keys(env: dict[str, str]) -> tuple[str, ...]:
    keys = split_keys(env.get(KEY_VARIABLE), env.get(f"{KEY_VARIABLE}_PREVIOUS"))
    if keys and not split_keys(env.get(KEY_VARIABLE)):
        raise ConfigError(f"{KEY_VARIABLE}_PREVIOUS is set but {KEY_VARIABLE} is not: set the new key there")
    try:
        for key in keys:
            fernet_key(key)
    except SecretKeyError as exc:
        raise ConfigError(str(exc)) from None
    return tuple(keys)


def _channels(raw: dict[str, Any]) -> dict[str, ChannelRule]:
    rules = {"direct": ChannelRule("reject")}
    for name, spec in raw.items():
        spec = spec or {}
        policy = spec.get("policy", "reject")
        if policy not in ("reject", "backorder"):
            raise ConfigError(f"channels.{name}.policy must be 'reject' or 'backorder', not {policy!r}")
        locations = spec.get("locations")
        if locations is not None and not (
            isinstance(locations, list) and all(isinstance(code, str) for code in locations)
        ):
            raise ConfigError(f"channels.{name}.locations must be a list of location codes, like [WH-EAST]")
        rules[str(name)] = ChannelRule(policy, tuple(locations) if locations else None, _show(name, spec))
    rules["direct"] = ChannelRule("reject", rules["direct"].locations)  # the contract: direct rejects
    return rules


def _show(name: str, spec: dict[str, Any]) -> ShowRule:
    max_shown = spec.get("max_shown")
    auto = spec.get("buffer") == "auto"
    stray = [key for key in AUTO_KEYS if key in spec and not auto]
    if stray:
        raise ConfigError(f"channels.{name}.{stray[0]} applies only with buffer: auto")
    rule = ShowRule(
        buffer=0 if auto else _int(spec.get("buffer", 0), f"channels.{name}.buffer"),
        max_shown=None if max_shown is None else _int(max_shown, f"channels.{name}.max_shown"),
        pool_percent=_int(spec.get("pool_percent", 100), f"channels.{name}.pool_percent"),
        auto=_auto_buffer(name, spec) if auto else None,
    )
    if rule.buffer < 0 or (rule.max_shown is not None and rule.max_shown < 0):
        raise ConfigError(f"channels.{name}: buffer and max_shown cannot be negative")
    if not 0 <= rule.pool_percent <= 100:
        raise ConfigError(f"channels.{name}.pool_percent must be between 0 and 100")
    return rule


AUTO_KEYS = ("buffer_min", "buffer_max", "buffer_window_s", "buffer_confidence")


def _auto_buffer(name: str, spec: dict[str, Any]) -> AutoBuffer:
    """`buffer: auto` and its bounds (sync/buffers.py)."""
    default = AutoBuffer()
    try:
        return AutoBuffer(
            minimum=_int(spec.get("buffer_min", default.minimum), f"channels.{name}.buffer_min"),
            maximum=_int(spec.get("buffer_max", default.maximum), f"channels.{name}.buffer_max"),
            window_s=_float(spec.get("buffer_window_s", default.window_s),
                            f"channels.{name}.buffer_window_s"),
            confidence=_float(spec.get("buffer_confidence", default.confidence),
                              f"channels.{name}.buffer_confidence"),
        )
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"channels.{name}: {exc}") from None


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None


def _partners(raw: Any, env: dict[str, str]) -> dict[str, PartnerConfig]:
    if not isinstance(raw, dict):
        raise ConfigError("partners must be a mapping of partner id to its settings")
    try:
        return partners(raw, env)
    except PartnerConfigError as exc:
        raise ConfigError(str(exc)) from None


def _simulators(raw: dict[str, Any], env: dict[str, str]) -> SimulatorSettings:
    shoppers = env.get("THREADCOUNT_SHOPPERS", raw.get("shoppers", True))
    return SimulatorSettings(
        shoppers=_bool(shoppers),
        shopper_interval=_float(raw.get("shopper_interval_s", 5.0), "simulators.shopper_interval_s"),
        duplicate_rate=_float(raw.get("duplicate_rate", 0.05), "simulators.duplicate_rate"),
    )


def _float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}") from None


def _bool(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")
