"""The one version of Threadcount: the installed package's (pyproject.toml), shown by `run.py
--version`, GET /api/v1/version and the OpenAPI document's info.version."""

from __future__ import annotations

from importlib import metadata

FALLBACK = "0.1.0"  # keep equal to pyproject.toml's version: a source tree not installed reports this


def version() -> str:
    try:
        return metadata.version("threadcount")
    except metadata.PackageNotFoundError:
        return FALLBACK


VERSION = version()
