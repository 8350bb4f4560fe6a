"""A partner's published rates, as data, and what a connector asks of the rate limiter it is given:
a token before each request, and a Retry-After passed on. The buckets themselves are the sync's
(sync.limits), which whoever builds a connector passes in."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateSpec:
    rate: float   # tokens per second
    burst: float  # bucket size

    def scaled(self, factor: float) -> RateSpec:
        return RateSpec(self.rate * factor, max(1.0, self.burst * factor))


class Limiter(Protocol):
    async def acquire(self, operation: str, cost: float = 1.0) -> None:
        """Wait until a request of this operation may be made, and take its tokens."""

    def sending(self, operation: str, cost: float = 1.0) -> AbstractAsyncContextManager[None]:
        """`acquire` on entering; the request is made inside. The partner counts it when it
        arrives, which may be as late as its answer: the limiter learns when that was."""

    def would_wait(self, operation: str, cost: float = 1.0) -> bool:
        """Would `acquire` wait now? Takes nothing."""

    def honour(self, operation: str, retry_after: float) -> None:
        """The partner said wait: take nothing for this operation until then."""


class NoLimiter:
    """The limiter of a connector made only to verify webhooks: a request it would pace is a
    mistake, so it is refused rather than sent unpaced."""

    async def acquire(self, operation: str, cost: float = 1.0) -> None:
        raise RuntimeError(f"{operation}: this connector was made without a rate limiter")

    def sending(self, operation: str, cost: float = 1.0) -> AbstractAsyncContextManager[None]:
        raise RuntimeError(f"{operation}: this connector was made without a rate limiter")

    def would_wait(self, operation: str, cost: float = 1.0) -> bool:
        raise RuntimeError(f"{operation}: this connector was made without a rate limiter")

    def honour(self, operation: str, retry_after: float) -> None:
        pass
