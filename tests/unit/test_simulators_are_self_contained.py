"""The simulators are the partners, written from the partners' documentation: none of them may
import the project's own code (a simulator that shared the connector's formats could not catch the
connector's mistakes). Only the standard library, third-party packages and `simulators` itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = {"actors", "connectors", "inventory", "service", "store", "sync", "web", "run"}
MODULES = sorted((ROOT / "simulators").rglob("*.py"))


def imported_packages(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _imports_by_name(node):
            found.add(node.args[0].value.split(".")[0])  # type: ignore[attr-defined]
    return found


def _imports_by_name(call: ast.Call) -> bool:
    """importlib.import_module("x") or __import__("x") with a literal name."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return (name in ("import_module", "__import__") and bool(call.args)
            and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str))


def test_there_are_simulator_modules_to_check() -> None:
    assert len(MODULES) > 10


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_simulator_module_imports_no_project_package(module: Path) -> None:
    tree = ast.parse(module.read_text(), filename=str(module))
    assert imported_packages(tree) & PROJECT_PACKAGES == set()


def test_the_check_sees_every_kind_of_import() -> None:
    tree = ast.parse("import connectors.x12\nfrom sync import rules\nimport importlib\n"
                     "importlib.import_module('store.db')\nfrom . import sibling\n")
    assert imported_packages(tree) >= {"connectors", "sync", "store"}
