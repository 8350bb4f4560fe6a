"""Partners: what is configured, and for each listing what the partner should show and was told."""

from __future__ import annotations

from starlette.routing import Route

routes: list[Route] = []
