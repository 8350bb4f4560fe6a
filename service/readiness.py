"""GET /readyz's checks, each given a timeout, and what they leave in the log. An orchestrator probes
every few seconds, so a check's failure is logged when it begins or its reason changes, and its
recovery once; the same failure is not logged again at every probe. While the service (or its
partners, which connect in the background) is still starting, a failure is logged at INFO and says
nothing when it comes up; after that a failure is a WARNING, its recovery INFO."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from actors.logs import reason

log = logging.getLogger("service.runtime")  # the logger these lines always had


class ReadinessLog:
    def __init__(self, starting: Callable[[], bool] = lambda: False):
        """`starting`: whether the service is still starting (a part that does not answer yet is no
        surprise)."""
        self._starting = starting
        self._failing: dict[str, tuple[str, bool]] = {}  # check name -> (reason logged, still starting)

    async def check(self, name: str, probe: Callable[[], Awaitable[None]], timeout: float) -> str:
        """"ok", or "failed" (and the log says why) when `probe` fails or takes over `timeout` s."""
        try:
            await asyncio.wait_for(probe(), timeout)
        except TimeoutError:
            self.failed(name, f"no answer within {timeout:g} s", starting=self._starting())
            return "failed"
        except Exception as exc:  # whatever the failure, the check failed; the log says why
            self.failed(name, reason(exc), starting=self._starting())
            return "failed"
        self.passed(name)
        return "ok"

    def passed(self, name: str) -> None:
        failing = self._failing.pop(name, None)
        if failing is not None and not failing[1]:
            log.info("readiness: %s ok again", name)

    def failed(self, name: str, reason: str, starting: bool = False) -> None:
        if self._failing.get(name, ("", False))[0] == reason:
            return
        self._failing[name] = (reason, starting)
        log.log(logging.INFO if starting else logging.WARNING, "readiness: %s failed: %s", name, reason)
