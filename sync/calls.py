"""Every call to one partner goes through here: its circuit breaker (a failing partner is left
alone for a while, then one trial call goes through), 429s waited out as the partner said, other
failures counted, alerted on when the circuit opens, and paced with jittered backoff by the loop
that made them. Rewritten credentials are stored after every call, whatever its outcome."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from connectors.base import AuthExpired, PartnerError, PartnerRejected, RateLimited
from sync.resilience import Backoff, CircuitBreaker
from sync.state import StoredState

T = TypeVar("T")
RECENT = 15 * 60  # seconds of errors the status counts
LONG_WAIT = 60.0  # a 429 that asks for this long is news for a person, not a blip
Alert = Callable[[str, str, str], Awaitable[None]]  # kind, key, message


class PartnerDown(Exception):
    """The circuit is open: the partner is not being called right now."""


class PartnerCalls:
    def __init__(self, partner_id: str, partner_name: str, state: StoredState, alert: Alert,
                 breaker: CircuitBreaker | None = None, backoff: Backoff | None = None):
        self._partner_id, self._partner_name = partner_id, partner_name
        self._state, self._alert = state, alert
        self.breaker = breaker or CircuitBreaker()
        self._backoff = backoff or Backoff()
        self.rate_limited = 0
        self.errors_total = 0  # failed calls since start (for threadcount_partner_errors_total)
        self._errors: deque[float] = deque(maxlen=1000)
        self.last_error = ""

    async def call(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """One partner call through the breaker; 429s wait as told, other failures count against
        the breaker and are raised for the loop to back off."""
        while True:
            if not self.breaker.try_acquire():
                raise PartnerDown(f"{self._partner_id}: circuit {self.breaker.state}; "
                                  f"next try in {self.breaker.wait():.1f} s")
            try:
                result = await make()
            except RateLimited as exc:
                self.breaker.release()
                await self._state.save_if_credentials_changed()
                self.rate_limited += 1
                if exc.retry_after >= LONG_WAIT:
                    await self._waiting_long(what, exc)
                await asyncio.sleep(max(exc.retry_after, 0.05))
                continue
            except (PartnerError, AuthExpired) as exc:
                await self._state.save_if_credentials_changed()
                await self._failed(what, exc)
                raise
            except PartnerRejected as exc:   # refused as asked (a host key not the one pinned, a 4xx):
                self.breaker.release()        # retrying cannot help, but the status says why
                self.last_error = f"{what}: {exc}"
                raise
            except BaseException:
                self.breaker.release()
                raise
            await self._state.save_if_credentials_changed()
            self.breaker.success()
            self._backoff.reset()
            return result

    async def _waiting_long(self, what: str, exc: RateLimited) -> None:
        """A quota spent for long (Etsy's day): say so on the status and in an alert, then wait
        quietly instead of calling again."""
        self.last_error = f"{what}: {exc}"
        await self._alert("sync_failure", self._partner_id, f"{self._partner_name} is rate limited for "
                          f"{exc.retry_after:g} s ({exc}); calls paused until then")

    async def _failed(self, what: str, exc: Exception) -> None:
        was_open = self.breaker.state != "closed"
        self.breaker.failure()
        self.errors_total += 1
        self._errors.append(time.time())
        self.last_error = f"{what}: {exc}"
        if not was_open and self.breaker.state == "open":
            await self._alert("sync_failure", self._partner_id, f"{self._partner_name} is failing ({exc}); "
                              "calls paused, retrying with backoff")

    async def pause(self) -> None:
        """After a failed pass: until the breaker would let a call through, and a jittered backoff."""
        await asyncio.sleep(max(self.breaker.wait(), self._backoff.next_delay()))

    def reset(self) -> None:
        """A person asked to retry now: close the circuit and start the backoff over."""
        self.breaker.success()
        self._backoff.reset()

    def figures(self) -> dict[str, Any]:
        since = time.time() - RECENT
        return {"errors_recent": sum(1 for at in self._errors if at > since), "last_error": self.last_error}
