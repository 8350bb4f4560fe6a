"""libpq's sslmode (and CA / client certificate) in THREADCOUNT_DATABASE_URL become asyncpg's `ssl`."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from store.engine import postgres_tls
from tests.harness.certificates import self_signed

BASE = "postgresql+asyncpg://app:s3cret@db.internal:5432/threadcount"


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])
def test_each_sslmode_goes_over_as_asyncpgs_ssl_mode_and_leaves_the_url(mode: str) -> None:
    url, connect_args = postgres_tls(f"{BASE}?sslmode={mode}")
    assert url == BASE
    assert connect_args == {"ssl": mode}


def test_a_url_without_tls_parameters_is_left_as_it_is() -> None:
    assert postgres_tls(f"{BASE}?application_name=tc") == (f"{BASE}?application_name=tc", {})


def test_other_query_parameters_stay_in_the_url() -> None:
    url, connect_args = postgres_tls(f"{BASE}?sslmode=require&application_name=tc")
    assert url == f"{BASE}?application_name=tc" and connect_args == {"ssl": "require"}


def test_an_unknown_sslmode_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="sslmode must be one of disable, allow, prefer"):
        postgres_tls(f"{BASE}?sslmode=yes")


def test_verify_full_with_a_ca_file_checks_the_certificate_and_the_host_name(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    _, connect_args = postgres_tls(f"{BASE}?sslmode=verify-full&sslrootcert={cert}")
    context = connect_args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_verify_ca_with_a_ca_file_checks_the_certificate_but_not_the_host_name(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    _, connect_args = postgres_tls(f"{BASE}?sslmode=verify-ca&sslrootcert={cert}")
    context = connect_args["ssl"]
    assert context.verify_mode == ssl.CERT_REQUIRED and not context.check_hostname


def test_a_client_certificate_is_loaded_into_the_context(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    url, connect_args = postgres_tls(f"{BASE}?sslmode=require&sslcert={cert}&sslkey={key}")
    assert url == BASE
    context = connect_args["ssl"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_NONE


def test_a_client_key_without_its_certificate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sslkey needs sslcert"):
        postgres_tls(f"{BASE}?sslmode=require&sslkey=/k.pem")
