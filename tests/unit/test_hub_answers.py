"""The EventHub packs one answer for every listener that asks from the same place (actors/hub.py),
without Ray: the class itself, its logging and tracing set-up stubbed."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from actors import hub as hub_module
from inventory.commands import VariantStock
from inventory.events import StockChanged

pytestmark = pytest.mark.unit


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> hub_module.EventHub:
    monkeypatch.setattr(hub_module, "configure_actor", lambda name: None)
    monkeypatch.setattr(hub_module.tracing, "start", lambda name: None)
    return hub_module.EventHub(capacity=100)


def _publish(hub: hub_module.EventHub, variant_id: int) -> None:
    facts = [StockChanged(VariantStock(variant_id, {1: (5, 1)}, 0))]
    asyncio.run(hub.publish(pickle.dumps(facts)))


def test_listeners_asking_from_the_same_place_get_one_packed_answer(hub: hub_module.EventHub) -> None:
    since = hub.head()
    _publish(hub, 7)
    first = asyncio.run(hub.listen(since, timeout=0.01))
    second = asyncio.run(hub.listen(since, timeout=0.01))
    assert first is second
    assert [event.fact.stock.variant_id for event in pickle.loads(first).events] == [7]


def test_a_new_event_or_another_place_is_packed_anew(hub: hub_module.EventHub) -> None:
    since = hub.head()
    _publish(hub, 7)
    before = asyncio.run(hub.listen(since, timeout=0.01))
    _publish(hub, 8)
    after = asyncio.run(hub.listen(since, timeout=0.01))
    assert [e.fact.stock.variant_id for e in pickle.loads(after).events] == [7, 8]
    later = asyncio.run(hub.listen(since + 1, timeout=0.01))
    assert before is not after and later is not after
    assert [e.fact.stock.variant_id for e in pickle.loads(later).events] == [8]
