"""sync/outbox after a partner's own sale: the partner lowered what it shows by itself, so the listing
is pushed again even when our desired quantity did not move (a capped or pooled listing), and a push
that was in flight when the sale was taken does not count as telling the partner."""

from __future__ import annotations

from sync.outbox import Outbox
from tests.unit.fake_clock import Clock


def told(outbox: Outbox, sku: str, quantity: int) -> None:
    outbox.want(sku, quantity)
    (entry,) = outbox.take(10)
    outbox.pushed(entry, quantity)


def test_a_listing_the_partner_sold_from_is_pushed_again_though_desired_did_not_move() -> None:
    outbox = Outbox(clock=Clock(1_000.0))
    told(outbox, "SHEET-Q", 500)            # max_shown 500: a sale of 2 leaves desired at 500
    assert outbox.want("SHEET-Q", 500) is False and outbox.take(10) == []
    outbox.restate(["SHEET-Q"])
    assert [(e.sku, e.desired) for e in outbox.take(10)] == [("SHEET-Q", 500)]


def test_a_push_in_flight_when_the_sale_was_taken_is_followed_by_another() -> None:
    outbox = Outbox(clock=Clock(1_000.0))
    outbox.want("SHEET-Q", 20)
    (in_flight,) = outbox.take(10)          # the 846 may have been written before the distributor's PO
    outbox.restate(["SHEET-Q"])
    outbox.pushed(in_flight, 20)
    assert [(e.sku, e.desired) for e in outbox.take(10)] == [("SHEET-Q", 20)]


def test_restating_an_unknown_listing_or_a_failed_push_changes_nothing_else() -> None:
    outbox = Outbox(clock=Clock(1_000.0))
    outbox.restate(["NEVER-LISTED"])
    assert outbox.entries == {}
    outbox.want("SHEET-Q", 3)
    (entry,) = outbox.take(10)
    outbox.restate(["SHEET-Q"])
    outbox.failed(entry, "down", 0.0)
    assert entry.restate is False and entry.dirty
