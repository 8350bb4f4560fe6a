"""The house rules that tools can check: ruff, mypy and bandit (medium severity and up) are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ruff_finds_nothing() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "inventory", "actors", "sync", "connectors", "simulators", "store", "service", "web", "run.py"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bandit_finds_nothing_of_medium_severity_or_more() -> None:
    """What bandit flags is fixed, or justified where it stands (`# nosec BXXX` with the reason beside)."""
    done = subprocess.run([sys.executable, "-m", "bandit", "-r", "inventory", "actors", "sync", "connectors", "simulators", "store", "service", "web", "-ll", "-q"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
