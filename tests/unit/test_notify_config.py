"""Notification settings: the SMTP URL's forms, the SMS variables together, rules checked with the key
named, quiet hours across midnight."""

from __future__ import annotations

from datetime import datetime

import pytest

from service.config import ConfigError, load_settings
from service.notify_config import Rule, held_until, notify_settings, smtp_target


def test_smtp_urls_say_host_port_credentials_and_tls() -> None:
    plain = smtp_target("smtp://mail.example.com:2525")
    assert plain is not None and (plain.host, plain.port, plain.starttls, plain.implicit_tls) == (
        "mail.example.com", 2525, False, False)
    start = smtp_target("smtp://u%40x:p%3Aw@mail.example.com:587?starttls=1")
    assert start is not None and (start.username, start.password, start.starttls) == ("u@x", "p:w", True)
    implicit = smtp_target("smtps://mail.example.com")
    assert implicit is not None and (implicit.port, implicit.implicit_tls) == (465, True)
    assert smtp_target("") is None


def test_a_wrong_smtp_url_or_half_the_sms_variables_stop_the_start_with_the_variable_named() -> None:
    with pytest.raises(ConfigError, match="THREADCOUNT_SMTP_URL"):
        load_settings(None, {"THREADCOUNT_SMTP_URL": "http://mail"})
    with pytest.raises(ConfigError, match="THREADCOUNT_SMS_TOKEN"):
        load_settings(None, {"THREADCOUNT_SMS_URL": "https://api.twilio.com", "THREADCOUNT_SMS_ACCOUNT": "AC1",
                             "THREADCOUNT_SMS_FROM": "+15550000000"})


def test_environment_recipients_are_split_on_commas() -> None:
    settings = notify_settings(None, {"THREADCOUNT_SMTP_URL": "smtp://h:25",
                                      "THREADCOUNT_NOTIFY_EMAIL": "a@x.com, b@x.com,"})
    assert settings.email_to == ("a@x.com", "b@x.com")


@pytest.mark.parametrize(("rule", "named"), [
    ({"channels": ["pager"], "to": ["a@x.com"]}, "rules[0].channels"),
    ({"kinds": ["fire"], "to": ["a@x.com"]}, "rules[0].kinds"),
    ({"roles": ["boss"]}, "rules[0].roles"),
    ({"channels": ["email"]}, "give `to`"),
    ({"to": ["a@x.com"], "quiet_hours": "10pm-7am"}, "rules[0].quiet_hours"),
    ({"to": ["a@x.com"], "when": "always"}, "unknown keys"),
])
def test_a_wrong_rule_is_refused_with_its_key_named(rule: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        _load({"rules": [rule]})


def _load(raw: dict) -> None:
    from service.config import _notifications

    _notifications(raw, {})


def test_rules_match_kinds_and_severities() -> None:
    assert Rule(channels=("email",), kinds=("low_stock",)).matches("low_stock")
    assert not Rule(channels=("email",), kinds=("low_stock",)).matches("drift")
    critical = Rule(channels=("sms",), severities=("critical",))
    assert critical.matches("oversell") and not critical.matches("low_stock")


def test_quiet_hours_across_midnight_hold_until_they_end() -> None:
    night = (22 * 60, 7 * 60)
    assert held_until(night, datetime(2026, 1, 1, 23, 30)) == datetime(2026, 1, 2, 7, 0)
    assert held_until(night, datetime(2026, 1, 2, 6, 59)) == datetime(2026, 1, 2, 7, 0)
    assert held_until(night, datetime(2026, 1, 2, 7, 0)) is None
    assert held_until(night, datetime(2026, 1, 2, 12, 0)) is None
    lunch = (12 * 60, 13 * 60)
    assert held_until(lunch, datetime(2026, 1, 2, 12, 30)) == datetime(2026, 1, 2, 13, 0)
    assert held_until(None, datetime(2026, 1, 2, 12, 30)) is None


def test_the_shipped_config_yaml_loads_its_notification_rules() -> None:
    from pathlib import Path

    settings = load_settings(Path(__file__).resolve().parents[2] / "config.yaml", {})
    assert settings.notifications.rules


def test_rules_written_on_the_dashboard_are_read_as_config_yaml_reads_them_and_written_back() -> None:
    from service.notify_config import parse_rules, rules_text

    rules = parse_rules('- kinds: [low_stock]\n  channels: [email]\n  to: [a@x.com]\n  quiet_hours: "22:00-07:00"\n'
                        "- kinds: all\n  severities: [critical]\n  channels: [sms]\n  roles: [manager]\n")
    assert rules[0].quiet_hours == (22 * 60, 7 * 60) and rules[1].roles == ("manager",)
    assert parse_rules(rules_text(rules)) == rules
    assert parse_rules("") == ()


@pytest.mark.parametrize(("text", "named"), [
    ("- kinds: [low_stock\n", "not valid YAML at line"),
    ("kinds: all", "a YAML list"),
    ("- channels: [fax]\n  to: [a@x.com]", r"rules\[0\]\.channels"),
])
def test_wrong_dashboard_rules_are_refused_naming_what_is_wrong(text: str, named: str) -> None:
    from service.notify_config import NotifyConfigError, parse_rules

    with pytest.raises(NotifyConfigError, match=named):
        parse_rules(text)
