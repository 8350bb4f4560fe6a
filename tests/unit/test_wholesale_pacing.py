"""The wholesale connector's pacing, as logic: the limiter's token is taken once the SFTP session is
open, just before the request. (Over real SFTP the pace is tested against the distributor simulator
in tests/integration/test_wholesale_connector.py; a slow reconnect is hard to time there.)"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from connectors.base import PartnerSpec
from connectors.wholesale import WholesaleConnector
from sync.limits import RateLimiter

INTERVAL = 0.3  # seconds between two 846s, the distributor's pace shortened for the test


class SlowToReconnect(WholesaleConnector):
    """Its SFTP session opens only once `opened` is set, as a reconnect to a slow server would."""

    def __init__(self, spec: PartnerSpec, limiter: RateLimiter):
        super().__init__(spec, None, limiter)
        self.opened = asyncio.Event()

    async def _client(self) -> Any:
        await self.opened.wait()
        return object()  # the session the requests below are given and ignore


async def test_846s_queued_behind_a_slow_reconnect_still_go_out_at_the_distributors_pace() -> None:
    spec = PartnerSpec("acme", "wholesale", "sftp://127.0.0.1:22", {"username": "u", "password": "p"},
                       {"min_846_interval_s": INTERVAL})
    connector = SlowToReconnect(spec, RateLimiter.under(WholesaleConnector.rates(spec)))
    sent: list[float] = []

    async def rename(_session: Any) -> None:
        sent.append(time.monotonic())

    first = asyncio.ensure_future(connector._do("upload_846", rename))
    # Longer than the pace: a token taken before the session opened would be there for the second
    # rename as well, and both would go out the moment it opens.
    await asyncio.sleep(INTERVAL + 0.1)
    second = asyncio.ensure_future(connector._do("upload_846", rename))
    await asyncio.sleep(0.05)
    connector.opened.set()
    await asyncio.gather(first, second)
    assert sent[1] - sent[0] >= INTERVAL
