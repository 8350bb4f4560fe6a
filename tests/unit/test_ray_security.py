"""Where Ray's token comes from, and when a start is refused for the lack of one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.ray_security import RayAuthError, check_token_available, token_source, write_private_token


def test_ray_auth_token_in_the_environment_comes_first(tmp_path: Path) -> None:
    env = {"RAY_AUTH_TOKEN": "t", "RAY_AUTH_TOKEN_PATH": "/elsewhere"}
    assert token_source(tmp_path, env) == ("env", None)
    check_token_available(tmp_path, local=False, env=env)


def test_then_the_file_ray_auth_token_path_names_then_the_data_folder(tmp_path: Path) -> None:
    assert token_source(tmp_path, {"RAY_AUTH_TOKEN_PATH": "/etc/t"}) == ("path", Path("/etc/t"))
    assert token_source(tmp_path, {}) == ("data", tmp_path / "ray_auth_token")


def test_an_embedded_ray_may_start_without_a_token_and_generates_one(tmp_path: Path) -> None:
    check_token_available(tmp_path, local=True, env={})
    write_private_token(tmp_path / "ray_auth_token")
    token = (tmp_path / "ray_auth_token").read_text()
    assert len(token) == 64 and os.stat(tmp_path / "ray_auth_token").st_mode & 0o777 == 0o600
    write_private_token(tmp_path / "ray_auth_token")  # never replaced
    assert (tmp_path / "ray_auth_token").read_text() == token


def test_joining_a_cluster_without_its_token_is_refused_naming_the_variables(tmp_path: Path) -> None:
    with pytest.raises(RayAuthError, match=r"RAY_AUTH_TOKEN.*RAY_AUTH_TOKEN_PATH"):
        check_token_available(tmp_path, local=False, env={})
    (tmp_path / "ray_auth_token").write_text("abc")
    check_token_available(tmp_path, local=False, env={})


def test_a_token_file_named_but_missing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RayAuthError, match=r"RAY_AUTH_TOKEN_PATH names .*gone"):
        check_token_available(tmp_path, local=True, env={"RAY_AUTH_TOKEN_PATH": str(tmp_path / "gone")})
