"""The house rules that tools can check: ruff, mypy and bandit (medium severity and up) are clean.
Each runs in the background from the start of the session (tests/harness/code_checks.py)."""

from __future__ import annotations

from tests.harness import code_checks


def test_ruff_finds_nothing() -> None:
    status, out = code_checks.result("ruff")
    assert status == 0, out


def test_mypy_finds_nothing() -> None:
    status, out = code_checks.result("mypy")
    assert status == 0, out


def test_bandit_finds_nothing_of_medium_severity_or_more() -> None:
    """What bandit flags is fixed, or justified where it stands (`# nosec BXXX` with the reason beside)."""
    status, out = code_checks.result("bandit")
    assert status == 0, out
