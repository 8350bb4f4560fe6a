"""Connector classes by partner kind."""

from __future__ import annotations

import importlib
from typing import Any

KINDS = ("amazon", "etsy", "shopify", "square", "wholesale", "ebay", "rest")


def connector_class(kind: str) -> Any:
    return _load(f"connectors.{kind}", f"{kind.capitalize()}Connector")


def _load(module: str, name: str) -> Any:
    if module.rsplit(".", 1)[-1] not in KINDS:
        raise ValueError(f"unknown partner kind in {module!r}; known: {', '.join(KINDS)}")
    return getattr(importlib.import_module(module), name)
