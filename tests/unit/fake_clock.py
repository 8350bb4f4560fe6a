"""A clock the unit tests move by hand: time passes only when a test says so."""

from __future__ import annotations


class Clock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
