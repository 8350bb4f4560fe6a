"""What one partner should show, per listing: the channel's show rule applied to the available
stock of the channel's locations. It follows stock events, and a level pass over the store heals any
event that was lost; changes coalesce in the Outbox and are saved to the listings table before the
pusher promises them to the partner."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from inventory.commands import VariantStock
from inventory.desk import Channel
from inventory.kits import ComponentLevels, Kit
from store import listings as store
from store.catalog import Catalog
from sync.buffers import AdaptiveBuffers
from sync.outbox import Outbox
from sync.rules import ShowRule, available_in


class DesiredQuantities:
    def __init__(self, partner_id: str, channel: Channel, show: ShowRule, catalog: Catalog, engine: Any,
                 outbox: Outbox | None = None, follow: tuple[str, ...] | bool | None = False,
                 order_delay_s: float = 0.0):
        """`follow`: the channel's location codes (None: every location), resolved again from the
        catalog whenever it is read, so a location added after start counts; False: the channel's
        locations stay as given. `order_delay_s`: the longest wait of the partner's orders to reach
        us (its poll interval and jitter when it sends no webhooks), which an auto buffer covers."""
        self._partner_id, self._channel, self._show = partner_id, channel, show
        self._follow = follow
        self._catalog, self._engine = catalog, engine
        self.outbox = outbox or Outbox()
        self._saving = asyncio.Lock()
        # `buffer: auto`: each listing's buffer follows how fast its available stock goes
        self.buffers = (None if show.auto is None
                        else AdaptiveBuffers(show.auto, order_delay_s=order_delay_s))
        self._components = ComponentLevels()  # kits' components, to derive the kits' quantities

    async def load(self) -> None:
        for row in await store.load_listings(self._engine, self._partner_id):
            self.outbox.load(row.sku, row.desired, row.desired_at, row.pushed, row.pushed_at)

    def desired(self, sku: str, levels: Mapping[int, tuple[int, int]]) -> int:
        return self._shown(sku, available_in(levels, self._channel.locations))

    def _shown(self, sku: str, available: int) -> int:
        if self.buffers is None:
            return self._show.shown(available)
        self.buffers.seen(sku, available)
        return self._show.shown(available, self.buffers.size(sku))

    def rebuffer(self) -> bool:
        """Derive again the listings whose auto buffer moved. True when a desired quantity changed."""
        changed = False
        if self.buffers is not None:
            for sku in self.buffers.moved():
                available = self.buffers.available(sku)
                if available is not None:
                    changed |= self.outbox.want(sku, self._show.shown(available, self.buffers.size(sku)))
        return changed

    def on_stock(self, stocks: list[VariantStock]) -> bool:
        """True when a listing's desired quantity changed. A component's change changes the kits
        made of it in the same step (once the level pass has brought their other components)."""
        changed = False
        kits: dict[int, Kit] = {}
        for stock in stocks:
            sku = self._catalog.skus.get(stock.variant_id)
            if sku is not None:
                changed |= self.outbox.want(sku, self.desired(sku, stock.levels))
            for kit in self._catalog.kits_using(stock.variant_id):
                self._components.update(stock.variant_id, stock.levels)
                kits[kit.variant_id] = kit
        for kit in kits.values():
            if not self._components.missing([kit]):
                changed |= self._want_kit(kit)
        return changed

    def _want_kit(self, kit: Kit) -> bool:
        sku = self._catalog.skus.get(kit.variant_id)
        if sku is None:
            return False
        available = self._components.stock(kit, self._channel.locations).available
        return self.outbox.want(sku, self._shown(sku, available))

    @property
    def channel(self) -> Channel:
        return self._channel

    async def catalog_changed(self) -> None:
        """Read the catalog again, and with it the channel's locations."""
        await self._catalog.refresh()
        if self._follow is not False:
            known = self._catalog.locations()
            codes = self._follow if isinstance(self._follow, tuple) else tuple(loc.code for loc in known)
            by_code = {loc.code: loc.id for loc in known}
            ids = tuple(by_code[code] for code in codes if code in by_code)
            self._channel = Channel(self._channel.name, self._channel.policy, ids)

    async def level_pass(self) -> None:
        """Derive every listing's desired quantity from the store: heals any lost event."""
        await self.catalog_changed()
        kits = self._catalog.kits
        for variant_id, levels in (await store.all_levels(self._engine)).items():
            sku = self._catalog.skus.get(variant_id)
            if self._catalog.kits_using(variant_id):
                self._components.update(variant_id, levels)
            if sku is not None and variant_id not in kits:
                self.outbox.want(sku, self.desired(sku, levels))
        for kit in kits.values():
            self._want_kit(kit)
        await self.save()

    async def save(self) -> None:
        """One save at a time: two overlapping ones could commit out of order and leave an older
        desired quantity in the store, which the outbox would then believe saved."""
        async with self._saving:
            await self._save_now()

    async def _save_now(self) -> None:
        if not self.outbox.unsaved:
            return
        skus, self.outbox.unsaved = self.outbox.unsaved, set()
        entries = [self.outbox.entries[sku] for sku in skus]
        rows = [(self.catalog_id(e.sku), e.desired, e.desired_at) for e in entries]
        try:
            await store.save_desired(self._engine, self._partner_id, rows)
        except Exception:
            self.outbox.unsaved |= skus
            raise

    def gtin(self, sku: str) -> str:
        return self._catalog.gtin(sku)

    def catalog_id(self, sku: str) -> int:
        """Listings only ever name SKUs the catalog has loaded."""
        return self._catalog.variant_ids[sku]

    def figures(self) -> dict[str, Any]:
        return {
            "pending": self.outbox.pending(),
            "oldest_pending_s": round(self.outbox.oldest_pending_age(), 3),
            "listings": len(self.outbox.entries),
            "desired_changes": self.outbox.desired_changes,
            "pushes_saved_by_coalescing": self.outbox.coalesced,
            "buffer": (self.buffers.reasoning() if self.buffers is not None
                       else {"mode": "fixed", "units": self._show.buffer}),
        }
