"""inventory/event_log: the bounded event log behind the hub. A listener gets everything after the last
event it saw, or is told to reset (re-read the store) when those events are gone."""

from __future__ import annotations

from inventory.commands import VariantStock
from inventory.event_log import Event, EventLog, Listening
from inventory.events import AlertRaised, CatalogChanged, StockChanged, Topic


def stock(n: int) -> StockChanged:
    return StockChanged(VariantStock(n, {}, 0))


def filled(count: int, capacity: int = 50_000, first_seq: int = 0) -> EventLog:
    log = EventLog(capacity=capacity, first_seq=first_seq)
    log.append([stock(n) for n in range(1, count + 1)])
    return log


def test_events_get_rising_sequence_numbers_and_append_returns_the_head() -> None:
    log = EventLog()
    oversold = AlertRaised(1, "oversell", "SHEET-Q", "short by 1", 0.0)
    assert log.append([stock(1), oversold]) == 2
    assert log.append([CatalogChanged(("SHEET",))]) == 3
    assert log.head == 3
    assert log.since(0) == Listening([Event(1, stock(1)), Event(2, oversold), Event(3, CatalogChanged(("SHEET",)))],
                                     3, False)
    assert [e.topic for e in log.since(0).events] == [Topic.STOCK, Topic.ALERT, Topic.CATALOG]


def test_appending_nothing_keeps_the_head() -> None:
    log = filled(2)
    assert log.append([]) == 2
    assert log.head == 2


def test_a_listener_gets_everything_after_the_last_event_it_saw() -> None:
    log = filled(5)
    listening = log.since(3)
    assert [e.seq for e in listening.events] == [4, 5]
    assert (listening.head, listening.reset) == (5, False)


def test_a_listener_that_is_up_to_date_gets_nothing_and_no_reset() -> None:
    log = filled(5)
    assert log.since(5) == Listening([], 5, False)
    assert EventLog().since(0) == Listening([], 0, False)


def test_a_listener_ahead_of_the_log_is_told_to_reset_because_the_hub_restarted() -> None:
    log = filled(2)
    assert log.since(40) == Listening([], 2, True)


def test_events_that_left_the_bounded_log_make_the_listener_reset() -> None:
    log = filled(10, capacity=3)
    listening = log.since(4)
    assert [e.seq for e in listening.events] == [8, 9, 10]
    assert (listening.head, listening.reset) == (10, True)
    assert log.since(0).reset is True


def test_a_listener_just_behind_the_oldest_kept_event_misses_nothing() -> None:
    log = filled(10, capacity=3)
    listening = log.since(7)
    assert [e.seq for e in listening.events] == [8, 9, 10]
    assert listening.reset is False


def test_the_limit_pages_and_head_points_at_the_last_event_returned() -> None:
    log = filled(10)
    first = log.since(0, limit=4)
    assert ([e.seq for e in first.events], first.head, first.reset) == ([1, 2, 3, 4], 4, False)
    second = log.since(first.head, limit=4)
    assert ([e.seq for e in second.events], second.head) == ([5, 6, 7, 8], 8)
    last = log.since(second.head, limit=4)
    assert ([e.seq for e in last.events], last.head) == ([9, 10], 10)
    assert log.since(last.head, limit=4) == Listening([], 10, False)


def test_a_reset_listener_pages_from_the_oldest_kept_event() -> None:
    log = filled(10, capacity=5)
    listening = log.since(1, limit=2)
    assert ([e.seq for e in listening.events], listening.head, listening.reset) == ([6, 7], 7, True)
    assert log.since(listening.head, limit=2).reset is False


def test_a_log_started_after_a_restart_numbers_on_from_first_seq() -> None:
    log = EventLog(first_seq=100)
    assert log.since(100) == Listening([], 100, False)
    assert log.since(60) == Listening([], 100, True)  # what came before the restart is gone
    assert log.append([stock(1)]) == 101
    assert log.since(100).events == [Event(101, stock(1))]
    assert log.since(99).reset is True


def test_capacity_keeps_only_the_newest_events() -> None:
    log = filled(6, capacity=4)
    assert [e.seq for e in log.since(2).events] == [3, 4, 5, 6]
    assert [e.fact.stock.variant_id for e in log.since(2).events if isinstance(e.fact, StockChanged)] == [3, 4, 5, 6]
