"""The key that seals partner secrets: where it comes from (THREADCOUNT_SECRET_KEY, else a generated
key file), what a key may be, and the box that seals and opens credentials with it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from service.config import ConfigError, Settings, load_settings
from service.secret_keys import key_file, secret_box
from store.secrets import SecretBox, SecretKeyError, fernet_key

PASSPHRASE = "correct horse battery staple"


def settings_with(tmp_path: Path, **env: str) -> Settings:
    return load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path / "data"), **env})


def test_a_fernet_key_is_used_as_it_is_and_any_other_string_is_derived_the_same_way_each_time() -> None:
    key = Fernet.generate_key().decode()
    assert fernet_key(key) == key
    derived = fernet_key(PASSPHRASE)
    assert derived == fernet_key(PASSPHRASE) != fernet_key(PASSPHRASE + "!")
    Fernet(derived)  # a valid Fernet key


def test_a_short_passphrase_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"THREADCOUNT_SECRET_KEY.*at least 16 characters"):
        settings_with(tmp_path, THREADCOUNT_SECRET_KEY="hunter2")


def test_keys_are_read_newest_first_from_the_variable_then_the_previous_one(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, THREADCOUNT_SECRET_KEY=f"{PASSPHRASE} 2, {PASSPHRASE} 1",
                             THREADCOUNT_SECRET_KEY_PREVIOUS=f"{PASSPHRASE} 0")
    assert settings.secret_keys == (f"{PASSPHRASE} 2", f"{PASSPHRASE} 1", f"{PASSPHRASE} 0")


def test_a_previous_key_without_a_current_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="THREADCOUNT_SECRET_KEY_PREVIOUS is set but THREADCOUNT_SECRET_KEY"):
        settings_with(tmp_path, THREADCOUNT_SECRET_KEY_PREVIOUS=PASSPHRASE)


def test_without_the_variable_a_key_is_generated_once_into_a_private_file(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    first = secret_box(settings)
    path = key_file(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert secret_box(settings).keys == first.keys == (path.read_text().strip(),)


def test_the_variable_wins_over_the_key_file_and_writes_none(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, THREADCOUNT_SECRET_KEY=PASSPHRASE)
    assert secret_box(settings).keys == (fernet_key(PASSPHRASE),)
    assert not key_file(settings).exists()


def test_sealed_credentials_show_none_of_their_values_and_open_again() -> None:
    box = SecretBox([PASSPHRASE])
    sealed = box.seal({"refresh_token": "rt-very-secret", "client_secret": "cs-very-secret"})
    assert "very-secret" not in sealed
    assert json.loads(sealed)["enc"] == "v1"
    assert box.open(sealed) == {"refresh_token": "rt-very-secret", "client_secret": "cs-very-secret"}
    assert box.sealed_with_newest(sealed)


def test_plain_credentials_of_an_older_version_are_still_read() -> None:
    box = SecretBox([PASSPHRASE])
    assert box.open('{"refresh_token": "r1"}') == {"refresh_token": "r1"}
    assert box.open(None) == {}
    assert not box.sealed_with_newest('{"refresh_token": "r1"}')


def test_an_older_key_still_opens_what_it_sealed_but_new_seals_use_the_newest() -> None:
    old, new = SecretBox([f"{PASSPHRASE} old"]), SecretBox([f"{PASSPHRASE} new", f"{PASSPHRASE} old"])
    sealed = old.seal({"token": "t"})
    assert new.open(sealed) == {"token": "t"}
    assert not new.sealed_with_newest(sealed)
    assert SecretBox([f"{PASSPHRASE} new"]).open(new.seal({"token": "t"})) == {"token": "t"}


def test_a_wrong_key_is_a_clear_error_naming_the_variable_not_a_decryption_traceback() -> None:
    sealed = SecretBox([f"{PASSPHRASE} one"]).seal({"token": "t"})
    with pytest.raises(SecretKeyError, match=r"credentials of partner 'etsy'.*THREADCOUNT_SECRET_KEY"):
        SecretBox([f"{PASSPHRASE} two"]).open(sealed, "credentials of partner 'etsy'")


def test_no_secret_shows_in_the_repr_of_the_settings_a_partners_config_or_its_spec(tmp_path: Path) -> None:
    from connectors.base import PartnerSpec
    from sync.config import PartnerConfig

    settings = settings_with(tmp_path, THREADCOUNT_SECRET_KEY=PASSPHRASE, THREADCOUNT_ADMIN_TOKEN="tok-very-secret",
                             THREADCOUNT_ADMIN_PASSWORD="pw-very-secret")
    config = PartnerConfig("etsy", "etsy", "Etsy", "", {"refresh_token": "rt-very-secret"}, {})
    spec = PartnerSpec("etsy", "etsy", "http://x", {"refresh_token": "rt-very-secret"})
    for shown in (repr(settings), repr(config), repr(spec)):
        assert "very-secret" not in shown and PASSPHRASE not in shown
