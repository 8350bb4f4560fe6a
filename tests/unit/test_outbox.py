"""connectors/outbox: the partner's desired/pushed table, level-triggered and coalescing."""

from __future__ import annotations

import pytest

from sync.outbox import Outbox
from tests.unit.fake_clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(1_000.0)


@pytest.fixture
def outbox(clock: Clock) -> Outbox:
    return Outbox(clock=clock)


def test_many_changes_to_one_sku_become_one_push_of_the_latest_value(outbox: Outbox, clock: Clock) -> None:
    for quantity in (10, 9, 8, 7):
        assert outbox.want("SHEET-Q", quantity) is True
        clock.advance(0.1)
    taken = outbox.take(10)
    assert [(e.sku, e.desired) for e in taken] == [("SHEET-Q", 7)]
    assert (outbox.desired_changes, outbox.coalesced) == (4, 3)


def test_zero_quantities_are_taken_first(outbox: Outbox, clock: Clock) -> None:
    outbox.want("OLDEST", 5)
    clock.advance(1)
    outbox.want("GONE", 0)
    clock.advance(1)
    outbox.want("NEWEST", 3)
    assert [e.sku for e in outbox.take(10)] == ["GONE", "OLDEST", "NEWEST"]


def test_after_the_zeros_the_longest_waiting_listing_goes_first(outbox: Outbox, clock: Clock) -> None:
    for sku in ("A", "B", "C"):
        outbox.want(sku, 4)
        clock.advance(1)
    outbox.want("Z2", 0)
    outbox.want("A", 6)  # still waiting since its first change: keeps its place
    assert [e.sku for e in outbox.take(10)] == ["Z2", "A", "B", "C"]


def test_take_hands_out_no_more_than_the_limit_and_the_rest_next_time(outbox: Outbox, clock: Clock) -> None:
    for n in range(5):
        outbox.want(f"SKU-{n}", n + 1)
        clock.advance(1)
    assert [e.sku for e in outbox.take(2)] == ["SKU-0", "SKU-1"]
    assert [e.sku for e in outbox.take(2)] == ["SKU-2", "SKU-3"]
    assert [e.sku for e in outbox.take(2)] == ["SKU-4"]
    assert outbox.take(2) == []


def test_a_listing_in_flight_is_not_handed_out_again(outbox: Outbox) -> None:
    outbox.want("SKU", 5)
    (entry,) = outbox.take(10)
    assert entry.in_flight
    assert outbox.take(10) == []
    assert outbox.ready() == []
    assert outbox.pending() == 1


def test_a_pushed_listing_is_clean_until_its_desired_quantity_changes(outbox: Outbox, clock: Clock) -> None:
    outbox.want("SKU", 5)
    (entry,) = outbox.take(10)
    clock.advance(2)
    outbox.pushed(entry, 5)
    assert (entry.pushed, entry.pushed_at, entry.in_flight) == (5, clock.now, False)
    assert outbox.pending() == 0
    assert outbox.take(10) == []
    outbox.want("SKU", 4)
    assert [(e.sku, e.desired) for e in outbox.take(10)] == [("SKU", 4)]


def test_a_change_while_in_flight_is_pushed_after_the_in_flight_push_lands(outbox: Outbox) -> None:
    outbox.want("SKU", 5)
    (entry,) = outbox.take(10)
    outbox.want("SKU", 3)
    assert outbox.take(10) == []  # one push per listing at a time
    outbox.pushed(entry, 5)
    assert entry.pushed == 5
    assert [(e.sku, e.desired) for e in outbox.take(10)] == [("SKU", 3)]


def test_a_change_back_to_what_the_partner_was_told_needs_no_push(outbox: Outbox) -> None:
    outbox.load("SKU", desired=5, desired_at=0.0, pushed=5, pushed_at=0.0)
    outbox.want("SKU", 3)
    outbox.want("SKU", 5)
    assert outbox.pending() == 0
    assert outbox.take(10) == []
    assert (outbox.desired_changes, outbox.coalesced) == (2, 1)


def test_wanting_the_same_quantity_again_changes_nothing(outbox: Outbox) -> None:
    assert outbox.want("SKU", 5) is True
    outbox.unsaved.clear()
    assert outbox.want("SKU", 5) is False
    assert (outbox.desired_changes, outbox.coalesced) == (1, 0)
    assert outbox.unsaved == set()


def test_a_desired_change_is_remembered_as_unsaved_for_the_store(outbox: Outbox) -> None:
    outbox.want("A", 1)
    outbox.want("B", 2)
    assert outbox.unsaved == {"A", "B"}


def test_a_restart_resumes_from_the_table(outbox: Outbox) -> None:
    outbox.load("TOLD", desired=4, desired_at=10.0, pushed=4, pushed_at=11.0)
    outbox.load("DIFFERS", desired=2, desired_at=12.0, pushed=7, pushed_at=9.0)
    outbox.load("NEVER-TOLD", desired=0, desired_at=13.0, pushed=None, pushed_at=None)
    assert outbox.pending() == 2
    assert [e.sku for e in outbox.take(10)] == ["NEVER-TOLD", "DIFFERS"]
    assert (outbox.desired_changes, outbox.unsaved) == (0, set())  # loading is not a change


def test_a_failed_item_waits_before_its_next_try(outbox: Outbox, clock: Clock) -> None:
    outbox.want("SKU", 5)
    (entry,) = outbox.take(10)
    outbox.failed(entry, "listing not found", retry_in=30.0)
    assert (entry.in_flight, entry.last_error) == (False, "listing not found")
    assert outbox.next_ready_at() == clock.now + 30.0
    clock.advance(29.9)
    assert outbox.take(10) == []
    assert outbox.pending() == 1
    clock.advance(0.1)
    (again,) = outbox.take(10)
    outbox.pushed(again, 5)
    assert again.last_error == ""
    assert outbox.next_ready_at() is None


def test_a_failed_item_does_not_hold_up_the_others(outbox: Outbox, clock: Clock) -> None:
    outbox.want("BAD", 0)
    (bad,) = outbox.take(10)
    outbox.failed(bad, "refused", retry_in=30.0)
    outbox.want("GOOD", 2)
    assert [e.sku for e in outbox.take(10)] == ["GOOD"]


def test_a_new_desired_quantity_lets_a_failed_item_try_again_at_once(outbox: Outbox) -> None:
    outbox.want("SKU", 5)
    (entry,) = outbox.take(10)
    outbox.failed(entry, "refused", retry_in=30.0)
    outbox.want("SKU", 0)
    assert [(e.sku, e.desired) for e in outbox.take(10)] == [("SKU", 0)]


def test_force_pushes_again_a_listing_the_partner_has_drifted_from(outbox: Outbox, clock: Clock) -> None:
    outbox.load("SKU", desired=5, desired_at=0.0, pushed=5, pushed_at=0.0)
    outbox.force(["SKU", "NOT-LISTED"])
    assert "NOT-LISTED" not in outbox.entries
    assert outbox.unsaved == {"SKU"}
    (entry,) = outbox.take(10)
    assert (entry.desired, entry.pushed, entry.desired_at) == (5, None, clock.now)


def test_force_lifts_a_failed_items_wait(outbox: Outbox) -> None:
    outbox.want("SKU", 5)
    (entry,) = outbox.take(10)
    outbox.failed(entry, "timeout", retry_in=30.0)
    outbox.force(["SKU"])
    assert [e.sku for e in outbox.take(10)] == ["SKU"]


def test_pending_counts_every_listing_that_differs_including_those_in_flight(outbox: Outbox) -> None:
    outbox.load("CLEAN", desired=1, desired_at=0.0, pushed=1, pushed_at=0.0)
    outbox.want("A", 1)
    outbox.want("B", 2)
    outbox.take(1)
    assert outbox.pending() == 2


def test_oldest_pending_age_counts_from_the_first_unpushed_change(outbox: Outbox, clock: Clock) -> None:
    assert outbox.oldest_pending_age() == 0.0
    outbox.want("SKU", 5)
    clock.advance(3)
    outbox.want("SKU", 6)
    clock.advance(2)
    assert outbox.oldest_pending_age() == 5.0
    (entry,) = outbox.take(10)
    outbox.pushed(entry, 6)
    assert outbox.oldest_pending_age() == 0.0


def test_next_ready_at_ignores_clean_and_in_flight_listings(outbox: Outbox) -> None:
    outbox.load("CLEAN", desired=1, desired_at=0.0, pushed=1, pushed_at=0.0)
    assert outbox.next_ready_at() is None
    outbox.want("SKU", 3)
    assert outbox.next_ready_at() == 0.0  # ready now
    outbox.take(10)
    assert outbox.next_ready_at() is None


def test_a_value_replaced_while_another_is_in_flight_counts_as_coalesced(outbox: Outbox) -> None:
    outbox.want("SKU", 5)
    (entry,) = outbox.take(10)
    for quantity in (3, 4, 6):  # 3 and 4 are replaced before anyone sends them
        outbox.want("SKU", quantity)
    outbox.pushed(entry, 5)
    (again,) = outbox.take(10)
    outbox.pushed(again, 6)
    assert (outbox.desired_changes, outbox.coalesced) == (4, 2)
