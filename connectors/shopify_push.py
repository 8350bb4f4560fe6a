"""Setting `available` at one Shopify location: inventorySetQuantities with an idempotency key kept
while the push's outcome is unknown, the quantities Shopify refuses reported alone while the rest
go again, and items not stocked at the location activated there (inventoryActivate) first."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from connectors.base import PartnerError, PartnerRejected, PushResult
from connectors.shopify_format import NOT_STOCKED, set_cost, set_quantities_request, split_user_errors
from connectors.shopify_graphql import ACTIVATE_COST, activate_problem, activate_request

GraphQL = Callable[[Mapping[str, Any], int], Awaitable[Mapping[str, Any]]]
Level = tuple[str, int, int]   # our SKU, Shopify's inventory item, the quantity to show
BATCH_REFUSED = "not applied: Shopify refused another quantity in the same call"
CONCURRENT_RETRIES = 3
CONCURRENT_WAIT = 0.2     # seconds before asking again while the key's first attempt runs
PENDING_KEYS = 1_000      # keys of pushes whose outcome is unknown, kept for their retries


class LevelSetter:
    def __init__(self, graphql: GraphQL, location_id: int):
        self._graphql, self.location_id = graphql, location_id
        self._keys: dict[str, str] = {}   # a push's input -> its idempotency key, until answered

    async def push(self, chunk: Sequence[Level]) -> list[PushResult]:
        """Shopify applies a call whole or not at all: when it names the quantities it objects to, the
        others are sent once more on their own so that one bad SKU does not hold back the rest. An
        item not stocked at our location is activated there and goes with them."""
        indexed, general = await self._set_quantities(chunk)
        if general or not indexed:
            return _outcome(chunk, indexed, general)
        activated = await self._activate([chunk[i] for i, m in indexed.items() if m.startswith(NOT_STOCKED)])
        refused = [PushResult(chunk[i][0], False, activated.get(chunk[i][0]) or message)
                   for i, message in indexed.items() if activated.get(chunk[i][0]) != ""]
        rest = [level for i, level in enumerate(chunk) if i not in indexed or activated.get(level[0]) == ""]
        if not rest:
            return refused
        return refused + _outcome(rest, *await self._set_quantities(rest))

    async def _activate(self, levels: Sequence[Level]) -> dict[str, str]:
        """inventoryActivate for each item at our location: SKU -> "" when stocked now, else why not."""
        outcome: dict[str, str] = {}
        for sku, item, _quantity in levels:
            body = activate_request(item, self.location_id, str(uuid.uuid4()))
            try:
                problem = activate_problem(await self._graphql(body, ACTIVATE_COST))
            except PartnerRejected as exc:
                problem = str(exc)
            outcome[sku] = "" if problem is None else f"{NOT_STOCKED}: inventoryActivate: {problem}"
        return outcome

    async def _set_quantities(self, chunk: Sequence[Level]) -> tuple[dict[int, str], list[str]]:
        """changeFromQuantity is null (no compare-and-set): the quantity we send is already the
        whole truth (our stock, Shopify's orders included once they reach us), so a stale check
        would only refuse, after a Shopify sale raced the push, the same absolute value we would
        send again. The idempotency key is kept until Shopify gives a definite answer, so every
        retry of this push (ours, or the sync's after an exception) is the same request to it."""
        # Shopify refuses a negative `available` for the whole call; nothing shown is the same thing.
        body = set_quantities_request([(item, max(0, quantity)) for _, item, quantity in chunk],
                                      self.location_id, "")
        fingerprint = json.dumps(body["variables"]["input"], sort_keys=True)
        for attempt in range(CONCURRENT_RETRIES + 1):
            body["variables"]["key"] = self._key(fingerprint)
            data = await self._graphql(body, set_cost(len(chunk)))
            result = data.get("inventorySetQuantities") or {}
            indexed, general = split_user_errors(result.get("userErrors") or [])
            if any(m.startswith("IDEMPOTENCY_CONCURRENT_REQUEST") for m in general):
                await asyncio.sleep(CONCURRENT_WAIT * 2 ** attempt)   # the first attempt is still running
                continue
            self._keys.pop(fingerprint, None)
            if not any(m.startswith("IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED") for m in general):
                return indexed, general
        raise PartnerError("Shopify: an earlier attempt of this push is still running "
                           "(IDEMPOTENCY_CONCURRENT_REQUEST)")

    def _key(self, fingerprint: str) -> str:
        if fingerprint not in self._keys and len(self._keys) >= PENDING_KEYS:
            del self._keys[next(iter(self._keys))]
        return self._keys.setdefault(fingerprint, str(uuid.uuid4()))


def _outcome(chunk: Sequence[Level], indexed: Mapping[int, str], general: Sequence[str]) -> list[PushResult]:
    if not indexed and not general:
        return [PushResult(sku, True) for sku, _, _ in chunk]
    fallback = "; ".join(general) or BATCH_REFUSED
    return [PushResult(sku, False, indexed.get(i, fallback)) for i, (sku, _, _) in enumerate(chunk)]
