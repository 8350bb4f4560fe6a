"""The event log behind the hub: committed facts fanned out to whoever listens (dashboards,
partner connectors). Pure; the EventHub actor wraps it.

Guarantees: events get rising sequence numbers; a listener asks for everything after the last one it
saw and gets it, or `reset=True` when those events have already left the bounded log (it must then
re-read the truth from the store: sync is level-triggered, the log only makes it fast)."""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from inventory.events import DomainEvent, Topic

HUB_NAME = "threadcount-hub"


class Event(NamedTuple):
    seq: int
    fact: DomainEvent

    @property
    def topic(self) -> Topic:
        return self.fact.topic


class Listening(NamedTuple):
    events: list[Event]
    head: int       # the newest seq: pass it back next time
    reset: bool     # events after `since` were dropped: re-read the store


class EventLog:
    def __init__(self, capacity: int = 50_000, first_seq: int = 0):
        self._events: deque[Event] = deque(maxlen=capacity)
        self.head = first_seq

    def append(self, facts: list[DomainEvent]) -> int:
        for fact in facts:
            self.head += 1
            self._events.append(Event(self.head, fact))
        return self.head

    def since(self, seq: int, limit: int = 5_000) -> Listening:
        if seq >= self.head:
            return Listening([], self.head, seq > self.head)  # ahead of us: the hub restarted
        oldest = self._events[0].seq if self._events else self.head + 1
        reset = seq < oldest - 1
        start = max(0, seq + 1 - oldest)
        events = [self._events[i] for i in range(start, min(len(self._events), start + limit))]
        head = events[-1].seq if events else self.head
        return Listening(events, head, reset)
