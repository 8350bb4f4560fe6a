"""Simulator classes by partner kind."""

from __future__ import annotations

import importlib
from typing import Any

KINDS = ("amazon", "etsy", "shopify", "square", "wholesale", "ebay", "boutique")


def simulator_class(kind: str) -> Any:
    if kind not in KINDS:
        raise ValueError(f"unknown partner kind {kind!r}; known: {', '.join(KINDS)}")
    return getattr(importlib.import_module(f"simulators.{kind}"), f"{kind.capitalize()}Simulator")
