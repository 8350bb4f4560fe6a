"""The partner's desired/pushed table as the connector actor holds it in memory: level-triggered and
coalescing. Any number of changes to one SKU leave one entry holding the newest desired quantity;
`take` hands out what differs from what the partner was last told, zeros first (a listing that must
go to zero is an oversell waiting to happen), then the longest waiting. Pure."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(slots=True)
class Entry:
    sku: str
    desired: int
    desired_at: float
    pushed: int | None = None
    pushed_at: float | None = None
    not_before: float = 0.0      # a failed item waits before its next try
    in_flight: bool = False
    sending: int | None = None   # the quantity in flight
    last_error: str = ""
    restate: bool = False        # the partner's copy moved while in flight: what lands is not enough

    @property
    def dirty(self) -> bool:
        return self.pushed != self.desired


class Outbox:
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self.entries: dict[str, Entry] = {}
        self.coalesced = 0   # changes that never needed a push of their own
        self.desired_changes = 0
        self.unsaved: set[str] = set()   # desired changed since the store last saw it

    def load(self, sku: str, desired: int, desired_at: float, pushed: int | None, pushed_at: float | None,
             ) -> None:
        self.entries[sku] = Entry(sku, desired, desired_at, pushed, pushed_at)

    def want(self, sku: str, desired: int) -> bool:
        """The partner should show `desired`. True when that changed anything."""
        entry = self.entries.get(sku)
        now = self._clock()
        if entry is None:
            self.entries[sku] = Entry(sku, desired, now)
        elif entry.desired == desired:
            return False
        else:
            if entry.dirty and not (entry.in_flight and entry.sending == entry.desired):
                self.coalesced += 1  # the value waiting to go out is replaced, never sent
            if not entry.dirty:
                entry.desired_at = now
            entry.desired = desired
            entry.not_before = 0.0
        self.desired_changes += 1
        self.unsaved.add(sku)
        return True

    def force(self, skus: Iterable[str]) -> None:
        """The partner does not show what we think it was told (drift): push again."""
        for sku in skus:
            entry = self.entries.get(sku)
            if entry is not None:
                entry.pushed, entry.not_before = None, 0.0
                entry.desired_at = self._clock()
                self.unsaved.add(sku)

    def restate(self, skus: Iterable[str]) -> None:
        """The partner changed what it shows by itself (it sold): push the desired quantity again even
        if it did not move. A push in flight may have been written before the partner's sale and
        land after it, so it does not count as telling the partner."""
        for sku in skus:
            entry = self.entries.get(sku)
            if entry is not None and entry.in_flight:
                entry.restate = True
            elif entry is not None:
                self.force([sku])

    def ready(self) -> list[Entry]:
        now = self._clock()
        return [e for e in self.entries.values() if e.dirty and not e.in_flight and e.not_before <= now]

    def take(self, limit: int) -> list[Entry]:
        chosen = sorted(self.ready(), key=lambda e: (e.desired != 0, e.desired_at))[:limit]
        for entry in chosen:
            entry.in_flight, entry.sending = True, entry.desired
        return chosen

    def pushed(self, entry: Entry, quantity: int) -> None:
        entry.in_flight, entry.sending = False, None
        entry.pushed, entry.pushed_at, entry.last_error = quantity, self._clock(), ""
        entry.not_before = 0.0
        if entry.restate:
            entry.restate = False
            self.force([entry.sku])

    def failed(self, entry: Entry, error: str, retry_in: float) -> None:
        entry.in_flight, entry.sending, entry.restate = False, None, False
        entry.last_error = error
        entry.not_before = self._clock() + retry_in

    def pending(self) -> int:
        return sum(1 for e in self.entries.values() if e.dirty)

    def next_ready_at(self) -> float | None:
        waiting = [e.not_before for e in self.entries.values() if e.dirty and not e.in_flight]
        return min(waiting) if waiting else None

    def oldest_pending_age(self) -> float:
        ages = [self._clock() - e.desired_at for e in self.entries.values() if e.dirty]
        return max(ages, default=0.0)
