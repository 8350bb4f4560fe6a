"""service/config: config.yaml, with THREADCOUNT_* environment variables over it."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from service.config import ChannelRule, ConfigError, load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "config.yaml"

BASE = """\
data_dir: ./state
database_url: sqlite+aiosqlite:////from/the/file.db
web:
  port: 9000
ingress:
  port: 9001
demo: 1
ray:
  address: local
  shards: 3
batching:
  max_batch: 50
  max_inflight: 4
  linger_ms: 2.5
channels:
  amazon:
    policy: backorder
    locations: [WH-EAST, WH-WEST]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(dedent(text))
    return path


def test_the_shipped_config_loads() -> None:
    settings = load_settings(SHIPPED, env={})
    assert settings.data_dir == SHIPPED.parent / "data"
    assert settings.database_url == f"sqlite+aiosqlite:///{SHIPPED.parent / 'data' / 'threadcount.db'}"
    assert (settings.web_port, settings.ingress_port) == (8000, 8001)
    assert settings.demo is True
    assert settings.ray_address == "local"
    assert settings.shards >= 1
    assert (settings.max_batch, settings.max_inflight, settings.linger_ms) == (1000, 1, 1.0)
    assert settings.admin_token is None
    assert settings.channels["direct"] == ChannelRule("reject", None)
    assert settings.channels["amazon"] == ChannelRule("backorder", ("WH-EAST", "WH-WEST"))
    assert settings.channels["square"] == ChannelRule("reject", ("STORE-SOHO",))
    assert set(settings.channels) == {"direct", "amazon", "etsy", "shopify", "square", "wholesale", "ebay",
                                      "boutique"}
    assert settings.channels["ebay"] == ChannelRule("reject", ("WH-EAST", "WH-WEST"))
    assert settings.partners["boutique"].kind == "rest"


def test_values_come_from_the_config_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, BASE), env={})
    assert settings.data_dir == tmp_path / "state"  # relative to the file, not the working directory
    assert settings.database_url == "sqlite+aiosqlite:////from/the/file.db"
    assert (settings.web_port, settings.ingress_port, settings.shards) == (9000, 9001, 3)
    assert (settings.max_batch, settings.max_inflight, settings.linger_ms) == (50, 4, 2.5)
    assert settings.demo is True


def test_environment_variables_override_the_config_file(tmp_path: Path) -> None:
    env = {
        "THREADCOUNT_WEB_PORT": "8123",
        "THREADCOUNT_INGRESS_PORT": "8124",
        "THREADCOUNT_DATA_DIR": str(tmp_path / "elsewhere"),
        "THREADCOUNT_DATABASE_URL": "postgresql+asyncpg://tc@127.0.0.1:5432/tc",
        "THREADCOUNT_DEMO": "0",
        "THREADCOUNT_SHARDS": "6",
        "THREADCOUNT_RAY_ADDRESS": "10.0.0.5:6379",
        "THREADCOUNT_ADMIN_TOKEN": "s3cret",
        "THREADCOUNT_ADMIN_PASSWORD": "hunter2",
    }
    settings = load_settings(write(tmp_path, BASE), env=env)
    assert (settings.web_port, settings.ingress_port) == (8123, 8124)
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.database_url == "postgresql+asyncpg://tc@127.0.0.1:5432/tc"
    assert settings.demo is False
    assert settings.shards == 6
    assert settings.ray_address == "10.0.0.5:6379"
    assert (settings.admin_token, settings.admin_password) == ("s3cret", "hunter2")


def test_the_host_variables_bind_both_ports_where_a_container_needs_them(tmp_path: Path) -> None:
    path = write(tmp_path, "web:\n  host: 127.0.0.1\ningress:\n  host: 127.0.0.1\n")
    assert (load_settings(path, env={}).web_host, load_settings(path, env={}).ingress_host) == ("127.0.0.1",) * 2
    env = {"THREADCOUNT_WEB_HOST": "0.0.0.0", "THREADCOUNT_INGRESS_HOST": "0.0.0.0"}
    settings = load_settings(path, env=env)
    assert (settings.web_host, settings.ingress_host) == ("0.0.0.0", "0.0.0.0")


def test_the_demo_variable_turns_the_demo_on_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "demo: 0\n")
    assert load_settings(path, env={}).demo is False
    for value in ("1", "true", "yes", "on", "TRUE"):
        assert load_settings(path, env={"THREADCOUNT_DEMO": value}).demo is True


def test_the_default_database_follows_the_data_dir_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "data_dir: ./state\n")
    settings = load_settings(path, env={"THREADCOUNT_DATA_DIR": str(tmp_path / "d")})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'd' / 'threadcount.db'}"


def test_empty_environment_variables_do_not_override(tmp_path: Path) -> None:
    env = {"THREADCOUNT_WEB_PORT": "", "THREADCOUNT_SHARDS": "", "THREADCOUNT_DATABASE_URL": "",
           "THREADCOUNT_ADMIN_TOKEN": ""}
    settings = load_settings(write(tmp_path, BASE), env=env)
    assert (settings.web_port, settings.shards) == (9000, 3)
    assert settings.database_url == "sqlite+aiosqlite:////from/the/file.db"
    assert settings.admin_token is None


def test_settings_without_a_file_use_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env={})
    assert settings.data_dir == tmp_path.resolve() / "data"
    assert (settings.web_port, settings.demo, settings.ray_address) == (8000, False, "local")
    assert settings.channels == {"direct": ChannelRule("reject", None)}


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_an_empty_config_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={})
    assert settings.web_port == 8000
    assert settings.data_dir == tmp_path / "data"


def test_a_bad_channel_policy_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        channels:
          etsy:
            policy: oversell
        """)
    with pytest.raises(ConfigError, match=r"channels\.etsy\.policy"):
        load_settings(path, env={})


def test_the_direct_channel_always_rejects(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        channels:
          direct:
            policy: backorder
            locations: [WH-EAST]
          etsy:
        """)
    settings = load_settings(path, env={})
    assert settings.channels["direct"] == ChannelRule("reject", ("WH-EAST",))
    assert settings.channels["etsy"] == ChannelRule("reject", None)  # an empty entry takes the defaults


@pytest.mark.parametrize(("env", "name"), [
    ({"THREADCOUNT_WEB_PORT": "eighty"}, "web port"),
    ({"THREADCOUNT_INGRESS_PORT": "x"}, "ingress port"),
    ({"THREADCOUNT_SHARDS": "many"}, "shards"),
])
def test_a_number_that_is_not_a_number_is_a_config_error(tmp_path: Path, env: dict[str, str],
                                                          name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(write(tmp_path, BASE), env=env)


def test_there_is_always_at_least_one_shard(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, BASE), env={"THREADCOUNT_SHARDS": "0"}).shards == 1


def test_a_single_location_written_without_a_list_is_not_split_into_characters(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        channels:
          square:
            policy: reject
            locations: STORE-SOHO
        """)
    try:
        settings = load_settings(path, env={})
    except ConfigError:
        return
    assert settings.channels["square"].locations == ("STORE-SOHO",)


def test_web_workers_come_from_the_file_or_the_variable_and_default_to_one(tmp_path: Path) -> None:
    assert load_settings(SHIPPED, env={}).web_workers == 1
    config = write(tmp_path, "web:\n  workers: 3\n")
    assert load_settings(config, env={}).web_workers == 3
    assert load_settings(config, env={"THREADCOUNT_WEB_WORKERS": "2"}).web_workers == 2


@pytest.mark.parametrize("value", ["0", "33", "two"])
def test_a_web_worker_count_out_of_range_stops_the_start_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="THREADCOUNT_WEB_WORKERS"):
        load_settings(SHIPPED, env={"THREADCOUNT_WEB_WORKERS": value})
