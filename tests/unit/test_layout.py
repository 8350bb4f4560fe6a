"""The layout is the architecture: which package may import which, read from the code itself, so the
borders cannot drift back. Also: no module over 400 lines."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = ("inventory", "actors", "sync", "connectors", "simulators", "store", "service", "web", "run")
# What each package may import from the project besides itself. Third-party libraries are checked
# separately where a package must do without them.
MAY_IMPORT: dict[str, set[str]] = {
    "inventory": set(),
    "connectors": {"inventory"},
    "simulators": set(),
    "store": {"inventory"},
    "sync": {"inventory", "connectors", "store"},
    "actors": {"inventory", "sync", "connectors", "store"},
    "service": {"inventory", "actors", "sync", "connectors", "simulators", "store"},
    "web": {"inventory", "service", "store", "sync", "connectors"},
    "run": {"service", "store", "web"},
}
NOT_IN_SYNC = {"ray"}
MAX_LINES = 400


def _modules() -> Iterator[Path]:
    for package in PROJECT:
        if package == "run":
            yield from [REPO / "run.py"] if (REPO / "run.py").exists() else []
        else:
            yield from sorted((REPO / package).rglob("*.py"))


def _package(path: Path) -> str:
    return path.relative_to(REPO).parts[0].removesuffix(".py")


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _crossings() -> list[str]:
    found = []
    for path in _modules():
        package = _package(path)
        for line, module in _imports(path):
            top = module.split(".")[0]
            where = f"{path.relative_to(REPO)}:{line} imports {module}"
            if top in PROJECT and top != package and top not in MAY_IMPORT[package]:
                found.append(where)
            elif package == "inventory" and top not in PROJECT and top not in sys.stdlib_module_names:
                found.append(f"{where} (inventory/ uses the standard library only)")
            elif package == "sync" and top in NOT_IN_SYNC:
                found.append(f"{where} (sync/ runs without Ray)")
    return found


def test_every_package_imports_only_what_the_layout_allows() -> None:
    assert _crossings() == []


def test_the_layout_checker_sees_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "store" / "leak.py"
    module.parent.mkdir()
    module.write_text("from web.app import build_app\nimport ray\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert _crossings() == ["store/leak.py:1 imports web.app"]


def test_no_module_is_over_400_lines() -> None:
    tracked = [*_modules(), *sorted((REPO / "tests").rglob("*.py"))]
    long = {str(p.relative_to(REPO)): n for p in tracked if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
