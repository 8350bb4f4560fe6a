"""Dead letters of one partner: order events the intake set aside because they can never apply as
they stand. Each is kept in the store with the event itself and raises a `dead_letter` alert (once
while that order's alert is open); the events around it are taken and the cursor moves on. A retry
feeds the kept event through the same intake: applied, the letter is closed; still unusable, it
stays open with the new reason and one more attempt counted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from connectors.base import OrderEvent, OrderEventKind, OrderLine
from store import dead_letters as store
from sync.calls import Alert
from sync.intake import OrderIntake


class UnknownLetter(LookupError):
    pass


def event_json(event: OrderEvent) -> dict[str, Any]:
    raw = json.loads(json.dumps(dict(event.raw), default=str))   # what JSON cannot hold, as text
    return {"event_id": event.event_id, "kind": str(event.kind), "order_id": event.order_id,
            "lines": [[line.sku, line.quantity] for line in event.lines],
            "occurred_at": event.occurred_at, "raw": raw}


def event_from(data: dict[str, Any]) -> OrderEvent:
    return OrderEvent(str(data["event_id"]), OrderEventKind(data["kind"]), str(data["order_id"]),
                      tuple(OrderLine(str(sku), int(quantity)) for sku, quantity in data["lines"]),
                      data.get("occurred_at"), data.get("raw") or {})


class DeadLetters:
    def __init__(self, partner_id: str, intake: OrderIntake, engine: Any, alert: Alert):
        self._partner_id, self._intake, self._engine, self._alert = partner_id, intake, engine, alert
        self.kept = 0

    async def keep(self, dead: Sequence[tuple[OrderEvent, str]]) -> None:
        for event, reason in dead:
            letter_id, new = await store.keep(self._engine, self._partner_id, event.event_id, event.order_id,
                                              event_json(event), reason)
            self.kept += int(new)
            await self._alert("dead_letter", f"{self._partner_id}:{event.order_id}",
                              f"{self._partner_id} order {event.order_id} cannot be applied ({reason}); "
                              f"kept as dead letter {letter_id} for a retry")

    async def retry(self, letter_id: int) -> dict[str, Any]:
        letter = await store.find(self._engine, self._partner_id, letter_id)
        if letter is None:
            raise UnknownLetter(f"{self._partner_id} has no dead letter {letter_id}")
        if letter.status == "applied":
            return {"id": letter_id, "status": "applied", "reason": letter.reason}
        report = await self._intake.take([event_from(letter.event)])
        if report.dead:
            reason = report.dead[0][1]
            await store.keep(self._engine, self._partner_id, letter.event_id, letter.order_id,
                             letter.event, reason)
            return {"id": letter_id, "status": "open", "reason": reason}
        await store.applied(self._engine, letter_id)
        return {"id": letter_id, "status": "applied", "reason": letter.reason}
