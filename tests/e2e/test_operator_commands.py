"""What an operator meets at the command line: `run.py --help` names the commands and every
environment variable, `--version` prints the one version the package and the API report, and a busy
port stops the start in one clear line (exit 2, no traceback)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from service.version import VERSION
from tests.harness.procs import free_ports
from web.openapi import openapi_document

REPO = Path(__file__).resolve().parents[2]


def run_py(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "run.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO, check=False)


def test_help_describes_the_commands_the_options_and_every_environment_variable_of_the_readme() -> None:
    done = run_py("--help")
    assert done.returncode == 0, done.stderr
    for word in ("serve", "check", "rotate-secrets", "--config", "--version", "exit codes"):
        assert word in done.stdout
    documented = set(re.findall(r"`(THREADCOUNT_[A-Z_]+)`", (REPO / "README.md").read_text().split("## The REST API")[0]))
    documented -= {"THREADCOUNT_TEST_PG"}  # the tests', not the service's
    assert documented and {name for name in documented if name not in done.stdout} == set()
    assert all(len(line) <= 110 for line in done.stdout.splitlines())


def test_version_prints_the_packages_version_which_the_openapi_document_also_carries() -> None:
    done = run_py("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"threadcount {VERSION}")
    pyproject = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert pyproject is not None and pyproject.group(1) == VERSION
    assert openapi_document()["info"]["version"] == VERSION


@pytest.mark.parametrize(("which", "variable"), [(0, "THREADCOUNT_WEB_PORT"), (1, "THREADCOUNT_INGRESS_PORT")])
def test_a_busy_port_is_named_with_the_variable_that_moves_it_in_one_line_and_exit_2(
        tmp_path: Path, which: int, variable: str) -> None:
    ports = free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THREADCOUNT_", "RAY_AUTH_"))}
    env.update(THREADCOUNT_DATA_DIR=str(tmp_path), THREADCOUNT_WEB_PORT=str(ports[0]),
               THREADCOUNT_INGRESS_PORT=str(ports[1]), THREADCOUNT_DEMO="0", THREADCOUNT_SHARDS="1")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[which]))
        holder.listen()
        done = run_py(env=env, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(ports[which]) in lines[0] and variable in lines[0] and "in use" in lines[0]
