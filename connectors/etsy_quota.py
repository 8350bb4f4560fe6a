"""What Etsy's quota looked like on the last answers, and what a 429 therefore means. Pure.

Etsy's successful answers carry `x-limit-per-second`, `x-remaining-this-second`, `x-limit-per-day`
and `x-remaining-today`; its 429 carries none of them (nor a Retry-After), so a spent day and a
busy second look alike. We tell them apart by the counts seen last, less the calls sent since:
- the last answer came within this second and left no call of it: a busy second, wait a second
  (doubling while 429s follow one another, up to BUSY_WAIT_MOST);
- the day had at most DAY_MARGIN calls left (other tools on the same key spend some too): the day is
  spent, wait `spent_day_wait` (Etsy's day is rolling: calls come back as old ones age out, and we
  cannot know when; one probe per wait costs nothing);
- no counts to go by: a busy second, until SPENT_AFTER 429s in a row say it is the day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BUSY_WAIT = 1.0
BUSY_WAIT_MOST = 30.0
SPENT_DAY_WAIT = 1800.0   # default; option `spent_day_wait_s`
SPENT_AFTER = 6           # 429s in a row with no counts to explain them: 1+2+4+8+16 s of busy seconds
DAY_MARGIN = 10           # one second's worth of calls at Etsy's published 10/s


@dataclass(frozen=True, slots=True)
class Throttle:
    """What to do about one 429: wait `wait` seconds; `day_spent` says whether the day is gone."""

    wait: float
    day_spent: bool
    reason: str


class QuotaWatch:
    def __init__(self, spent_day_wait: float = SPENT_DAY_WAIT):
        self._spent_day_wait = spent_day_wait
        self._per_second: float | None = None
        self._left_second: float | None = None
        self._left_today: float | None = None
        self._seen_at = float("-inf")
        self._sent_since = 0
        self._in_a_row = 0

    @property
    def left_today(self) -> float | None:
        """x-remaining-today as last seen, less the calls we sent since."""
        return None if self._left_today is None else self._left_today - self._sent_since

    def sent(self) -> None:
        self._sent_since += 1

    def answered(self, headers: Mapping[str, str], at: float) -> None:
        """A successful answer: its counts are now the ones to go by."""
        self._in_a_row = 0
        counts = {name: _number(headers.get(name)) for name in
                  ("x-limit-per-second", "x-remaining-this-second", "x-remaining-today")}
        if counts["x-remaining-today"] is None and counts["x-remaining-this-second"] is None:
            return  # an answer without counts (the OAuth endpoint) tells us nothing new
        self._per_second = counts["x-limit-per-second"] or self._per_second
        self._left_second, self._left_today = counts["x-remaining-this-second"], counts["x-remaining-today"]
        self._seen_at, self._sent_since = at, 0

    def throttled(self, at: float) -> Throttle:
        self._in_a_row += 1
        left_today = self.left_today
        if self._left_second is not None and at - self._seen_at < 1.0 \
                and self._left_second - self._sent_since <= 0:
            return self._busy("this second's calls were spent")
        if left_today is not None and left_today <= DAY_MARGIN:
            return Throttle(self._spent_day_wait, True,
                            f"the day's calls are spent (x-remaining-today was {self._left_today:g} "
                            f"{self._sent_since} call(s) ago)")
        if self._in_a_row >= SPENT_AFTER:
            return Throttle(self._spent_day_wait, True, f"{self._in_a_row} 429s in a row: the day's calls "
                            "look spent (another tool on the same key?)")
        return self._busy("a busy second")

    def _busy(self, reason: str) -> Throttle:
        wait = min(BUSY_WAIT_MOST, BUSY_WAIT * 2 ** (self._in_a_row - 1))
        return Throttle(wait, False, reason)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
