"""How the e2e tier shares its slow services: one service started by the first module that asks for it
and stopped after the last, and an order of the modules that keeps each shared service's users together.

Starting `python run.py` costs seconds (Ray, the shards), the demo tens of seconds (seven partners and
their simulators, and the wait until every partner shows what it should), and stopping one seconds
more. A service nobody needs any more is stopped at once, so it never runs beside the next tier's Ray.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.harness.procs import ServerError

if TYPE_CHECKING:
    from tests.e2e.conftest import Service


class Shared:
    """A service started on the first `get` (again if it has died since), stopped by `stop`."""

    def __init__(self, start: Callable[[], Service]) -> None:
        self._start = start
        self.running: Service | None = None

    def get(self) -> Service:
        if self.running is not None and not alive(self.running):
            self.stop()   # it died under an earlier module: the next one gets a new one
        if self.running is None:
            self.running = self._start()
        return self.running

    def stop(self) -> None:
        if self.running is not None:
            self.running.process.stop()
            self.running = None


def alive(service: Service) -> bool:
    try:
        service.process.check_alive()
    except ServerError:
        return False
    return True


def needed_after(request: pytest.FixtureRequest, fixture: str) -> bool:
    """Whether a test after the requesting module's last one uses the shared `fixture` (not a module's
    own fixture of that name)."""
    items = request.session.items
    mine = [i for i, item in enumerate(items) if item.path == request.path]
    later = items[max(mine) + 1:] if mine else items
    return any(_uses_shared(item, fixture) for item in later)


def in_sharing_order(items: list[pytest.Item], folder: Path, demo_modules: Sequence[str]) -> None:
    """Reorder, in place, the items under `folder` (and only among their own places): the users of the
    session's `service` first, then the modules that use no shared service, then the demo's users in
    `demo_modules`' order (an unlisted one just before the last listed). The sort is stable: tests
    keep their order inside a module and modules theirs inside a group."""
    places = [i for i, item in enumerate(items) if Path(str(item.path)).is_relative_to(folder)]
    ordered = sorted((items[i] for i in places), key=lambda item: _rank(item, demo_modules))
    for place, item in zip(places, ordered, strict=True):
        items[place] = item


def _rank(item: pytest.Item, demo_modules: Sequence[str]) -> float:
    shared = shared_by(item)
    if shared == "demo":
        module = Path(str(item.path)).stem
        return 2 + (demo_modules.index(module) if module in demo_modules else len(demo_modules) - 1.5)
    return 0 if shared == "service" else 1


def shared_by(item: pytest.Item) -> str | None:
    """The shared service the test uses: "demo", "service" (the demo, if it used both), or None."""
    return next((fixture for fixture in ("demo", "service") if _uses_shared(item, fixture)), None)


def _uses_shared(item: pytest.Item, fixture: str) -> bool:
    """The test uses `fixture` as tests/e2e/conftest.py defines it (a module may define its own)."""
    definitions = getattr(item, "_fixtureinfo", None)
    if definitions is None or fixture not in getattr(item, "fixturenames", ()):
        return False
    chain: Sequence[Any] = definitions.name2fixturedefs.get(fixture, ())
    return bool(chain) and str(chain[-1].baseid).rstrip("/").endswith("e2e")
