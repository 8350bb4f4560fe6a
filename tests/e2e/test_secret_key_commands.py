"""`python run.py` and the partner secrets' key: a start whose key opens no stored secret stops with a
message naming THREADCOUNT_SECRET_KEY (no traceback), and `rotate-secrets` moves a stopped store's
secrets to a new key file. Neither starts Ray."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from store import listings as store
from store.engine import make_engine
from store.migrate import upgrade
from store.secrets import SecretBox
from tests.e2e.conftest import REPO
from tests.harness.procs import free_ports

SECRET = {"refresh_token": "12345678.a-refresh-token-of-the-shop"}


async def a_store_with_a_sealed_partner(data: Path, box: SecretBox) -> None:
    url = f"sqlite+aiosqlite:///{data / 'threadcount.db'}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        await store.ensure_partner(engine, "etsy", "etsy", "Etsy", "http://x", "backorder", {})
        await store.save_state(engine, "etsy", "c1", SECRET, box)
    finally:
        await engine.dispose()


def run(data: Path, *args: str, web_port: int | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    web, ingress = free_ports(2)
    web = web_port or web
    variables = {k: v for k, v in os.environ.items() if not k.startswith("THREADCOUNT_")}
    variables.update(THREADCOUNT_DATA_DIR=str(data), THREADCOUNT_DEMO="0", THREADCOUNT_WEB_PORT=str(web),
                     THREADCOUNT_INGRESS_PORT=str(ingress), **env)
    return subprocess.run([sys.executable, str(REPO / "run.py"), *args], env=variables, capture_output=True,
                          text=True, timeout=60)


async def test_a_start_whose_key_opens_no_stored_secret_stops_naming_the_variable(tmp_path: Path) -> None:
    await a_store_with_a_sealed_partner(tmp_path, SecretBox(["the key this shop used to have"]))
    done = run(tmp_path, THREADCOUNT_SECRET_KEY="a different key altogether")
    assert done.returncode == 1
    assert ("start-up failed: the credentials of partner 'etsy' were encrypted with a key that is not in "
            "THREADCOUNT_SECRET_KEY") in done.stderr
    assert "Traceback" not in done.stderr


async def test_rotate_secrets_moves_a_stopped_stores_secrets_to_a_new_key_file(tmp_path: Path) -> None:
    old = Fernet.generate_key().decode()
    (tmp_path / "secret.key").write_text(old + "\n")
    await a_store_with_a_sealed_partner(tmp_path, SecretBox([old]))
    done = run(tmp_path, "rotate-secrets")
    assert done.returncode == 0, done.stderr
    assert "1 partners' secrets re-encrypted with a new key" in done.stdout
    new = (tmp_path / "secret.key").read_text().split()
    assert len(new) == 1 and new != [old]
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'threadcount.db'}")
    try:
        assert await store.load_state(engine, "etsy", SecretBox(new)) == ("c1", SECRET)
    finally:
        await engine.dispose()


async def test_rotate_secrets_refuses_while_the_service_answers_on_its_port(tmp_path: Path) -> None:
    old = Fernet.generate_key().decode()
    (tmp_path / "secret.key").write_text(old + "\n")
    with socket.create_server(("127.0.0.1", 0)) as listening:   # as the running service's web port
        done = run(tmp_path, "rotate-secrets", web_port=listening.getsockname()[1])
    assert done.returncode == 2
    assert "stop the service before rotate-secrets" in done.stderr
    assert (tmp_path / "secret.key").read_text() == old + "\n"
