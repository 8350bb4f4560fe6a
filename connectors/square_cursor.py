"""Where polling Square's orders stands, as the opaque cursor the sync stores between polls. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class PollCursor:
    """Where polling stands. `watermark` is the newest updated_at seen in a finished scan. A scan
    in progress keeps its `start` and Square's `page` cursor. Every `sweep` seconds a scan starts
    `lookback` before the watermark to pick up offline sales that synced late with an old
    updated_at; between sweeps a scan starts `overlap` before it (clock skew). Events repeat across
    scans by design: their ids dedupe them."""

    watermark: float
    last_sweep: float
    start: float | None = None
    page: str | None = None
    high: float = 0.0
    sweeping: bool = False

    @classmethod
    def first(cls, now: float) -> PollCursor:
        """No cursor yet: the first scan is a sweep, so it reaches `lookback` before now."""
        return cls(watermark=now, last_sweep=0.0)

    def encode(self) -> str:
        return json.dumps([self.watermark, self.last_sweep, self.start, self.page, self.high, self.sweeping],
                          separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> PollCursor:
        watermark, last_sweep, start, page, high, sweeping = json.loads(text)
        return cls(float(watermark), float(last_sweep), start, page, float(high), bool(sweeping))

    def scan(self, now: float, lookback: float, sweep_every: float,
             overlap: float) -> tuple[float, PollCursor]:
        """(updated_at to search from, the scan): the one in progress, else a new sweep or a short
        look back."""
        if self.start is not None:
            return self.start, self
        sweeping = now - self.last_sweep >= sweep_every
        start = self.watermark - (lookback if sweeping else overlap)
        return start, replace(self, start=start, high=self.watermark, sweeping=sweeping)

    def after_page(self, high: float, page: str | None, now: float) -> PollCursor:
        high = max(self.high, high)
        if page:
            return replace(self, page=page, high=high)
        return PollCursor(watermark=max(self.watermark, high),
                          last_sweep=now if self.sweeping else self.last_sweep)
