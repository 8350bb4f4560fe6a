"""Who hears of which alert, and how: config.yaml `notifications:` rules plus the THREADCOUNT_NOTIFY_*,
THREADCOUNT_SMTP_URL and THREADCOUNT_SMS_* environment variables (README: Notifications)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

CHANNELS = ("email", "sms")
ROLES = ("viewer", "clerk", "manager", "admin")
# Alerts carry no severity of their own: it follows from the kind.
SEVERITY = {"oversell": "critical", "sync_failure": "critical", "dead_letter": "critical",
            "low_stock": "warning", "backorder": "warning", "drift": "warning", "unknown_sku": "info"}
SEVERITIES = ("info", "warning", "critical")
QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class NotifyConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False   # smtps://
    starttls: bool = False       # smtp://...?starttls=1


@dataclass(frozen=True, slots=True)
class SmsTarget:
    base_url: str
    account: str
    token: str = field(repr=False)
    sender: str


@dataclass(frozen=True, slots=True)
class Rule:
    channels: tuple[str, ...]
    kinds: tuple[str, ...] | None = None         # None: every kind
    severities: tuple[str, ...] | None = None    # None: every severity
    to: tuple[str, ...] = ()                     # addresses (email) and numbers (sms)
    roles: tuple[str, ...] = ()                  # every enabled user of these roles, by email / phone
    quiet_hours: tuple[int, int] | None = None   # minutes after midnight (local time): start, end

    def matches(self, kind: str) -> bool:
        return ((self.kinds is None or kind in self.kinds)
                and (self.severities is None or SEVERITY.get(kind, "warning") in self.severities))


@dataclass(frozen=True, slots=True)
class NotifySettings:
    smtp: SmtpTarget | None = None
    email_to: tuple[str, ...] = ()     # THREADCOUNT_NOTIFY_EMAIL: every alert, no quiet hours
    sms: SmsTarget | None = None
    sms_to: tuple[str, ...] = ()       # THREADCOUNT_NOTIFY_SMS: every alert, no quiet hours
    rules: tuple[Rule, ...] = ()
    digest_window: float = 5.0         # seconds alerts are gathered into one message per recipient
    attempts: int = 3
    backoff: float = 2.0               # seconds before the 2nd attempt, doubling after
    sender: str = "threadcount@localhost"


def held_until(quiet: tuple[int, int] | None, now: datetime) -> datetime | None:
    """When quiet hours that hold at `now` end; None when they do not hold."""
    if quiet is None:
        return None
    start, end = quiet
    minute = now.hour * 60 + now.minute
    inside = start <= minute < end if start <= end else (minute >= start or minute < end)
    if not inside:
        return None
    until = now.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    return until if until > now else until + timedelta(days=1)


def notify_settings(raw: Any, env: dict[str, str]) -> NotifySettings:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise NotifyConfigError("notifications must be a mapping with rules: [...]")
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise NotifyConfigError("notifications.rules must be a list of rules")
    return NotifySettings(
        smtp=smtp_target(env.get("THREADCOUNT_SMTP_URL") or ""),
        email_to=_split(env.get("THREADCOUNT_NOTIFY_EMAIL")),
        sms=_sms(env),
        sms_to=_split(env.get("THREADCOUNT_NOTIFY_SMS")),
        rules=tuple(_rule(i, spec) for i, spec in enumerate(rules)),
        digest_window=_number(raw.get("digest_window_s", 5.0), "notifications.digest_window_s"),
        attempts=max(1, int(_number(raw.get("attempts", 3), "notifications.attempts"))),
        backoff=_number(raw.get("backoff_s", 2.0), "notifications.backoff_s"),
        sender=str(raw.get("from") or "threadcount@localhost"),
    )


def parse_rules(text: str) -> tuple[Rule, ...]:
    """Rules as a manager writes them on the dashboard: YAML, a list of rules as in config.yaml."""
    try:
        raw = yaml.safe_load(text) if text.strip() else []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise NotifyConfigError(f"rules: not valid YAML{where}") from None
    if not isinstance(raw, list):
        raise NotifyConfigError("rules must be a YAML list of rules, each starting with '- '")
    return tuple(_rule(i, spec) for i, spec in enumerate(raw))


def rules_text(rules: tuple[Rule, ...]) -> str:
    """Rules as YAML, for the dashboard's editor."""
    out = []
    for rule in rules:
        spec: dict[str, Any] = {"kinds": list(rule.kinds) if rule.kinds is not None else "all"}
        if rule.severities is not None:
            spec["severities"] = list(rule.severities)
        spec["channels"] = list(rule.channels)
        if rule.to:
            spec["to"] = list(rule.to)
        if rule.roles:
            spec["roles"] = list(rule.roles)
        if rule.quiet_hours is not None:
            (start, end) = rule.quiet_hours
            spec["quiet_hours"] = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
        out.append(spec)
    return str(yaml.safe_dump(out, sort_keys=False, default_flow_style=None)) if out else "[]\n"


def smtp_target(url: str) -> SmtpTarget | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise NotifyConfigError("THREADCOUNT_SMTP_URL must be smtp://[user:pass@]host:port or smtps://...")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise NotifyConfigError("THREADCOUNT_SMTP_URL: the port must be a number") from None
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
    return SmtpTarget(parts.hostname, port, unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None, parts.scheme == "smtps", starttls)


def _sms(env: dict[str, str]) -> SmsTarget | None:
    base = env.get("THREADCOUNT_SMS_URL") or ""
    if not base:
        return None
    names = ("THREADCOUNT_SMS_ACCOUNT", "THREADCOUNT_SMS_TOKEN", "THREADCOUNT_SMS_FROM")
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise NotifyConfigError(f"THREADCOUNT_SMS_URL is set but {', '.join(missing)} is not")
    if urlsplit(base).scheme not in ("http", "https"):
        raise NotifyConfigError("THREADCOUNT_SMS_URL must be an http(s) base URL, like https://api.twilio.com")
    return SmsTarget(base.rstrip("/"), env[names[0]], env[names[1]], env[names[2]])


def _rule(index: int, spec: Any) -> Rule:
    where = f"notifications.rules[{index}]"
    if not isinstance(spec, dict):
        raise NotifyConfigError(f"{where} must be a mapping")
    unknown = set(spec) - {"kinds", "severities", "channels", "to", "roles", "quiet_hours"}
    if unknown:
        raise NotifyConfigError(f"{where}: unknown keys {sorted(unknown)}")
    channels = _names(spec.get("channels", list(CHANNELS)), CHANNELS, f"{where}.channels")
    kinds = spec.get("kinds", "all")
    roles = _names(spec.get("roles", []), ROLES, f"{where}.roles")
    to = _names(spec.get("to", []), None, f"{where}.to")
    if not to and not roles:
        raise NotifyConfigError(f"{where}: give `to` (addresses or numbers) or `roles`")
    severities = spec.get("severities")
    return Rule(
        channels=channels,
        kinds=None if kinds == "all" else _names(kinds, tuple(SEVERITY), f"{where}.kinds"),
        severities=None if severities is None else _names(severities, SEVERITIES, f"{where}.severities"),
        to=to, roles=roles, quiet_hours=_quiet(spec.get("quiet_hours"), f"{where}.quiet_hours"))


def _names(value: Any, allowed: tuple[str, ...] | None, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise NotifyConfigError(f"{where} must be a list of names")
    wrong = [v for v in value if allowed is not None and v not in allowed]
    if wrong:
        raise NotifyConfigError(f"{where}: {wrong[0]!r} is not one of {', '.join(allowed or ())}")
    return tuple(v.strip() for v in value)


def _quiet(value: Any, where: str) -> tuple[int, int] | None:
    if value in (None, ""):
        return None
    found = QUIET.match(str(value).strip())
    if not found:
        raise NotifyConfigError(f'{where} must look like "22:00-07:00"')
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    return h1 * 60 + m1, h2 * 60 + m2


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise NotifyConfigError(f"{name} must be a number, not {value!r}") from None
    if number < 0:
        raise NotifyConfigError(f"{name} cannot be negative")
    return number
