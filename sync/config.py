"""The `partners:` section of config.yaml: one entry per partner connector, its kind, endpoint,
credentials (a value "env:NAME" is read from the environment, so secrets stay out of the file), and
its polling schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.registry import KINDS
from connectors.rest_declaration import RestConfigError, declaration


class PartnerConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PartnerConfig:
    id: str
    kind: str
    name: str
    base_url: str                 # empty: the demo simulator's
    credentials: dict[str, str] = field(repr=False)   # empty: generated for the demo simulator
    options: dict[str, Any]
    poll_interval: float = 5.0
    poll_jitter: float = 1.0
    page_size: int = 100
    reconcile_interval: float = 300.0
    level_interval: float = 60.0


def partners(raw: dict[str, Any], env: dict[str, str]) -> dict[str, PartnerConfig]:
    found: dict[str, PartnerConfig] = {}
    for partner_id, spec in raw.items():
        spec = spec or {}
        where = f"partners.{partner_id}"
        if not isinstance(spec, dict):
            raise PartnerConfigError(f"{where} must be a mapping (kind, base_url, credentials, ...), "
                                     f"not {spec!r}")
        for part in ("poll", "credentials", "options"):
            if not isinstance(spec.get(part) or {}, dict):
                raise PartnerConfigError(f"{where}.{part} must be a mapping")
        kind = str(spec.get("kind", partner_id))
        if kind not in KINDS:
            raise PartnerConfigError(f"{where}.kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "rest":  # a partner described by its options alone: check them all now
            try:
                declaration(spec.get("options") or {}, f"{where}.options")
            except RestConfigError as exc:
                raise PartnerConfigError(str(exc)) from None
        if kind == "wholesale" and spec.get("base_url"):
            _host_key_given(spec, where)
        poll = spec.get("poll") or {}
        found[str(partner_id)] = PartnerConfig(
            id=str(partner_id),
            kind=kind,
            name=str(spec.get("name") or partner_id),
            base_url=str(spec.get("base_url") or ""),
            credentials={str(k): _secret(v, env, f"{where}.credentials.{k}")
                         for k, v in (spec.get("credentials") or {}).items()},
            options=dict(spec.get("options") or {}),
            poll_interval=_number(poll.get("interval_s", 5.0), f"{where}.poll.interval_s"),
            poll_jitter=_number(poll.get("jitter_s", 1.0), f"{where}.poll.jitter_s"),
            page_size=int(_number(poll.get("page_size", 100), f"{where}.poll.page_size")),
            reconcile_interval=_number(spec.get("reconcile_interval_s", 300),
                                       f"{where}.reconcile_interval_s"),
            level_interval=_number(spec.get("level_interval_s", 60), f"{where}.level_interval_s"),
        )
    return found


def _host_key_given(spec: dict[str, Any], where: str) -> None:
    """An SFTP partner's server is checked by its host key: without one, a start refuses (the demo's
    simulator, with no base_url, hands over its own)."""
    given = {**(spec.get("options") or {}), **(spec.get("credentials") or {})}
    if not (given.get("host_key_fingerprint") or given.get("known_hosts")
            or given.get("insecure_accept_any_host_key") is True):
        raise PartnerConfigError(f"{where}: an SFTP partner needs credentials.host_key_fingerprint "
                                 "(SHA256:...) or credentials.known_hosts (a file's path or its text), "
                                 "or, knowingly, options.insecure_accept_any_host_key: true")


def _secret(value: Any, env: dict[str, str], where: str) -> str:
    text = str(value)
    if text.startswith("env:"):
        name = text[4:]
        if name not in env:
            raise PartnerConfigError(f"{where} names the environment variable {name}, which is not set")
        return env[name]
    return text


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PartnerConfigError(f"{where} must be a number, not {value!r}") from None
    if number <= 0:
        raise PartnerConfigError(f"{where} must be more than 0")
    return number
