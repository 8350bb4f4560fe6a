"""A partner with a plain REST API, described by its config.yaml entry alone (`kind: rest`).

No code per partner: the entry's `options` declare the base URL's auth, the push (method, path
template, body and item templates, batch size), the orders poll (path, query, a page-token or
timestamp cursor, JMESPath expressions for the orders, their id, status, lines, SKU and quantity,
and the next cursor), an optional listings read for reconciliation, the rate limit and the statuses
worth retrying. connectors/rest_declaration reads and checks all of it at start; this module and
rest_api carry it out. Credentials are whatever the declared auth names (`api_key`, `token`, or
`client_id` and `client_secret`).

Guarantees: a push of N listings makes ceil(N / batch_size) calls; an order is seen once per
status (its event id is "<order id>:<status>", so a page read twice dedupes); the cursor only ever
moves to what the partner handed back."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.base import Connector, Listing, OrderPage, PartnerSpec, PushResult
from connectors.limits import Limiter, RateSpec
from connectors.rest_api import RestApi
from connectors.rest_declaration import Declaration, declaration
from connectors.rest_orders import first_cursor, more_pages, next_cursor, order_events
from connectors.rest_template import render, render_path, render_query


class RestConnector(Connector):
    kind: ClassVar[str] = "rest"
    capabilities: ClassVar[tuple[str, ...]] = ("push", "poll")

    @classmethod
    def declared(cls, spec: PartnerSpec) -> Declaration:
        return declaration(spec.options, f"partners.{spec.id}.options")

    @classmethod
    def rates(cls, spec: PartnerSpec) -> Mapping[str, RateSpec]:
        declared = cls.declared(spec)
        return {"api": RateSpec(declared.rate, declared.burst)}

    def __init__(self, spec: PartnerSpec, session: Any = None, limiter: Limiter | None = None):
        super().__init__(spec, session, limiter)
        self.declaration = self.declared(spec)
        self.api = RestApi(self, self.declaration)

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        push = self.declaration.push
        results: list[PushResult] = []
        for start in range(0, len(listings), push.batch_size):
            batch = listings[start:start + push.batch_size]
            items = [render(push.item, {"sku": one.sku, "quantity": one.quantity}) for one in batch]
            now = datetime.fromtimestamp(time.time(), UTC).isoformat().replace("+00:00", "Z")
            body = render(push.body, {"items": items, "item": items[0], "now": now})
            first = {"sku": batch[0].sku, "quantity": batch[0].quantity}
            answer = await self.api.call(push.method, render_path(push.path, first), body=body)
            refused = push.rejected.search(answer) if push.rejected is not None else None
            refused_skus = {str(sku) for sku in refused} if isinstance(refused, list) else set()
            results.extend(PushResult(one.sku, one.sku not in refused_skus,
                                      "refused by the partner" if one.sku in refused_skus else "")
                           for one in batch)
        return results

    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        read = self.declaration.listings
        if read is None or not skus:
            return {}   # nothing declared to read: reconciliation has nothing to compare
        answer = await self.api.call("GET", read.path, params=render_query(read.params, {"skus": list(skus)}))
        items = read.items.search(answer)
        shown: dict[str, int] = {}
        for item in items if isinstance(items, list) else []:
            sku, quantity = read.sku.search(item), read.quantity.search(item)
            if isinstance(quantity, int) and str(sku) in skus:
                shown[str(sku)] = quantity
        return shown

    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        poll = self.declaration.orders
        at = cursor if cursor else first_cursor(poll)
        values = {"cursor": at, "page_size": page_size}
        params = [*render_query(poll.params, values), *([(poll.cursor.param, at)] if at else [])]
        answer = await self.api.call("GET", poll.path, params=params)
        events = order_events(answer, poll)
        after = next_cursor(answer, poll, at)
        found = poll.orders.search(answer)
        count = len(found) if isinstance(found, list) else 0
        return OrderPage(events, after, more=more_pages(answer, poll, count, page_size, after != at))
