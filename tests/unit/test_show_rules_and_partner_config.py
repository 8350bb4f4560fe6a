"""What a partner is shown (connectors/rules), and the config that says so: channel show rules, the
`partners:` section (service/partner_config) and the `simulators:` section (service/config)."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from service.config import ConfigError, SimulatorSettings, load_settings
from sync.buffers import AutoBuffer
from sync.config import KINDS, PartnerConfig, PartnerConfigError, partners
from sync.rules import ShowRule, available_in

SHIPPED = Path(__file__).resolve().parents[2] / "config.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(dedent(text))
    return path


# -- show rules -------------------------------------------------------------------------------------


def test_by_default_a_partner_is_shown_all_the_available_stock() -> None:
    assert [ShowRule().shown(n) for n in (0, 1, 37)] == [0, 1, 37]


def test_a_partner_is_never_shown_a_negative_quantity() -> None:
    assert ShowRule().shown(-3) == 0
    assert ShowRule(buffer=5).shown(2) == 0


@pytest.mark.parametrize(("rule", "available", "shown"), [
    (ShowRule(buffer=1), 10, 9),
    (ShowRule(pool_percent=50), 9, 4),             # whole units, rounded down
    (ShowRule(pool_percent=50, buffer=2), 10, 3),  # the share first, then the buffer
    (ShowRule(max_shown=500), 1_000, 500),
    (ShowRule(pool_percent=50, max_shown=500), 1_500, 500),
    (ShowRule(pool_percent=50, max_shown=500), 600, 300),
    (ShowRule(max_shown=0), 40, 0),
    (ShowRule(pool_percent=0), 40, 0),
])
def test_the_share_then_the_buffer_then_the_cap_decide_what_is_shown(
        rule: ShowRule, available: int, shown: int) -> None:
    assert rule.shown(available) == shown


def test_available_stock_counts_only_the_channels_locations() -> None:
    levels = {1: (10, 3), 2: (5, 5), 3: (8, 0)}
    assert available_in(levels, [1, 2]) == 7
    assert available_in(levels, (3, 1)) == 15
    assert available_in(levels, [4]) == 0
    assert available_in({}, [1]) == 0


# -- channel show rules in config.yaml --------------------------------------------------------------


def test_the_shipped_channels_carry_their_show_rules() -> None:
    channels = load_settings(SHIPPED, env={}).channels
    assert channels["shopify"].show == ShowRule(buffer=1)
    assert channels["wholesale"].show == ShowRule(pool_percent=50, max_shown=500)
    assert channels["amazon"].show == ShowRule()
    assert channels["direct"].show == ShowRule()
    assert channels["etsy"].show == ShowRule(auto=AutoBuffer(minimum=0, maximum=4))


def test_buffer_auto_takes_its_floor_ceiling_window_and_confidence(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, """\
        channels:
          etsy:
            buffer: auto
            buffer_min: 1
            buffer_max: 6
            buffer_window_s: 45
            buffer_confidence: 0.95
          ebay:
            buffer: auto
    """), env={})
    assert settings.channels["etsy"].show == ShowRule(auto=AutoBuffer(1, 6, 45.0, 0.95))
    assert settings.channels["ebay"].show == ShowRule(auto=AutoBuffer())


def test_a_channels_show_rule_comes_from_the_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, """\
        channels:
          etsy:
            policy: backorder
            buffer: 2
            max_shown: 25
            pool_percent: 80
    """), env={})
    assert settings.channels["etsy"].show == ShowRule(buffer=2, max_shown=25, pool_percent=80)


@pytest.mark.parametrize(("line", "message"), [
    ("buffer: two", "channels.etsy.buffer must be a whole number, not 'two'"),
    ("max_shown: lots", "channels.etsy.max_shown must be a whole number, not 'lots'"),
    ("pool_percent: half", "channels.etsy.pool_percent must be a whole number, not 'half'"),
    ("buffer: -1", "channels.etsy: buffer and max_shown cannot be negative"),
    ("max_shown: -5", "channels.etsy: buffer and max_shown cannot be negative"),
    ("pool_percent: 101", "channels.etsy.pool_percent must be between 0 and 100"),
    ("pool_percent: -1", "channels.etsy.pool_percent must be between 0 and 100"),
    ("buffer_max: 3", "channels.etsy.buffer_max applies only with buffer: auto"),
    ("buffer: auto\n    buffer_min: 4\n    buffer_max: 2",
     "channels.etsy: buffer_min and buffer_max: 0 <= buffer_min <= buffer_max"),
    ("buffer: auto\n    buffer_confidence: 1", "channels.etsy: buffer_confidence must be between 0 and 1 (exclusive)"),
    ("buffer: auto\n    buffer_window_s: soon", "channels.etsy.buffer_window_s must be a number, not 'soon'"),
])
def test_a_bad_show_rule_is_refused_naming_the_key(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, f"channels:\n  etsy:\n    {line}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    assert str(raised.value) == message


# -- partners ---------------------------------------------------------------------------------------


def test_the_shipped_config_has_one_partner_of_each_kind() -> None:
    found = load_settings(SHIPPED, env={}).partners
    assert {p.id: p.kind for p in found.values()} == {**{k: k for k in KINDS if k != "rest"}, "boutique": "rest"}
    amazon = found["amazon"]
    assert (amazon.name, amazon.base_url, amazon.credentials) == ("Amazon (US)", "", {})
    assert (amazon.poll_interval, amazon.poll_jitter, amazon.page_size) == (2.0, 0.5, 100)
    assert (amazon.reconcile_interval, amazon.level_interval) == (600.0, 60.0)
    assert found["shopify"].page_size == 250


def test_a_partner_with_no_settings_is_its_kind_with_the_defaults() -> None:
    assert partners({"etsy": None}, env={}) == {"etsy": PartnerConfig(
        id="etsy", kind="etsy", name="etsy", base_url="", credentials={}, options={},
        poll_interval=5.0, poll_jitter=1.0, page_size=100, reconcile_interval=300.0, level_interval=60.0)}


def test_a_partner_id_can_differ_from_its_kind() -> None:
    found = partners({"shopify-eu": {"kind": "shopify", "name": "Shopify (EU)",
                                     "base_url": "https://eu.example.com", "options": {"api_version": "2024-10"},
                                     "poll": {"interval_s": 10, "jitter_s": 2, "page_size": 50},
                                     "reconcile_interval_s": 120, "level_interval_s": 30}}, env={})
    config = found["shopify-eu"]
    assert (config.id, config.kind, config.name, config.base_url) == (
        "shopify-eu", "shopify", "Shopify (EU)", "https://eu.example.com")
    assert config.options == {"api_version": "2024-10"}
    assert (config.poll_interval, config.poll_jitter, config.page_size) == (10.0, 2.0, 50)
    assert (config.reconcile_interval, config.level_interval) == (120.0, 30.0)


def test_a_credential_written_env_name_is_read_from_the_environment() -> None:
    found = partners({"etsy": {"credentials": {"api_key": "env:ETSY_KEY", "shop_id": "12345"}}},
                     env={"ETSY_KEY": "k-secret"})
    assert found["etsy"].credentials == {"api_key": "k-secret", "shop_id": "12345"}


def test_a_credential_naming_an_unset_environment_variable_is_refused_naming_both() -> None:
    with pytest.raises(PartnerConfigError) as raised:
        partners({"etsy": {"credentials": {"api_key": "env:ETSY_KEY"}}}, env={})
    assert str(raised.value) == ("partners.etsy.credentials.api_key names the environment variable ETSY_KEY, "
                                 "which is not set")


def test_an_unknown_partner_kind_is_refused_naming_the_key() -> None:
    with pytest.raises(PartnerConfigError, match=r"^partners\.walmart\.kind must be one of amazon, etsy, "
                                                 r"shopify, square, wholesale, ebay, rest, not 'walmart'$"):
        partners({"walmart": {}}, env={})


@pytest.mark.parametrize(("spec", "message"), [
    ({"poll": {"interval_s": "often"}}, "partners.square.poll.interval_s must be a number, not 'often'"),
    ({"poll": {"interval_s": 0}}, "partners.square.poll.interval_s must be more than 0"),
    ({"poll": {"jitter_s": -1}}, "partners.square.poll.jitter_s must be more than 0"),
    ({"poll": {"page_size": None}}, "partners.square.poll.page_size must be a number, not None"),
    ({"reconcile_interval_s": "hourly"}, "partners.square.reconcile_interval_s must be a number, not 'hourly'"),
    ({"level_interval_s": 0}, "partners.square.level_interval_s must be more than 0"),
])
def test_a_bad_partner_schedule_is_refused_naming_the_key(spec: dict[str, object], message: str) -> None:
    with pytest.raises(PartnerConfigError) as raised:
        partners({"square": spec}, env={})
    assert str(raised.value) == message


def test_the_environment_given_to_load_settings_resolves_partner_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        partners:
          amazon:
            credentials: {refresh_token: "env:AMZ_REFRESH"}
    """)
    settings = load_settings(path, env={"AMZ_REFRESH": "Atzr|x"})
    assert settings.partners["amazon"].credentials == {"refresh_token": "Atzr|x"}


def test_a_bad_partners_section_is_a_config_error_run_py_reports(tmp_path: Path) -> None:
    path = write(tmp_path, "partners:\n  amazon:\n    kind: walmart\n")
    with pytest.raises(ConfigError, match=r"partners\.amazon\.kind"):
        load_settings(path, env={})


def test_a_partner_entry_that_is_not_a_mapping_is_refused_naming_the_key() -> None:
    with pytest.raises(PartnerConfigError, match=r"partners\.amazon"):
        partners({"amazon": "amazon"}, env={})


# -- simulators -------------------------------------------------------------------------------------


def test_the_simulators_have_defaults() -> None:
    assert load_settings(None, env={}).simulators == SimulatorSettings(True, 5.0, 0.05)


def test_the_simulators_settings_come_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        simulators:
          shoppers: false
          shopper_interval_s: 0.5
          duplicate_rate: 0.2
    """)
    assert load_settings(path, env={}).simulators == SimulatorSettings(False, 0.5, 0.2)


@pytest.mark.parametrize(("value", "shoppers"), [("0", False), ("no", False), ("1", True), ("on", True)])
def test_threadcount_shoppers_overrides_the_file(tmp_path: Path, value: str, shoppers: bool) -> None:
    path = write(tmp_path, f"simulators:\n  shoppers: {'false' if shoppers else 'true'}\n")
    assert load_settings(path, env={"THREADCOUNT_SHOPPERS": value}).simulators.shoppers is shoppers


def test_a_simulator_setting_that_is_not_a_number_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "simulators:\n  shopper_interval_s: often\n")
    with pytest.raises(ConfigError, match=r"simulators\.shopper_interval_s"):
        load_settings(path, env={})
