"""Catalog: products, variants and locations, and the in-process cache that turns SKUs and location
codes into ids. Other processes may add to the catalog, so a miss looks in the store again."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.kits import Kit
from store.kits import load_kits
from store.schema import locations, products, variants


class Conflict(Exception):
    """A unique field is taken; the message names it."""


@dataclass(frozen=True, slots=True)
class Location:
    id: int
    code: str
    name: str
    kind: str
    priority: int


@dataclass(frozen=True, slots=True)
class NewVariant:
    sku: str
    size: str = ""
    color: str = ""
    material: str = ""
    gtin: str | None = None   # UPC-12 or EAN-13, its check digit already validated


class Catalog:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._variant_ids: dict[str, int] = {}
        self._skus: dict[int, str] = {}
        self._gtins: dict[str, str] = {}   # as of the last refresh
        self._locations: dict[str, Location] = {}
        self._codes: dict[int, str] = {}
        self._ordered: list[Location] = []  # by allocation priority; kept with the rest on refresh
        self._rank: dict[int, int] = {}
        self._kits: dict[int, Kit] = {}
        self._kits_using: dict[int, list[Kit]] = {}
        self._settled: set[int] = set()  # variants known at the last refresh, kits or not

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def refresh(self) -> None:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(variants.c.id, variants.c.sku, variants.c.gtin))).all()
            self._variant_ids = {r.sku: r.id for r in rows}
            self._gtins = {r.sku: r.gtin for r in rows if r.gtin}
            self._skus = {r.id: r.sku for r in rows}
            loc_rows = (await conn.execute(select(locations))).all()
        self._settled = set(self._skus)
        self._set_kits(await load_kits(self._engine))
        self._locations = {
            r.code: Location(r.id, r.code, r.name, r.kind, r.priority) for r in loc_rows
        }
        self._codes = {loc.id: loc.code for loc in self._locations.values()}
        self._ordered = sorted(self._locations.values(), key=lambda loc: (loc.priority, loc.id))
        self._rank = {loc.id: n for n, loc in enumerate(self._ordered)}

    async def variant_id(self, sku: str) -> int | None:
        if sku not in self._variant_ids:
            async with self._engine.connect() as conn:
                found = (await conn.execute(select(variants.c.id).where(variants.c.sku == sku))).first()
            if found is None:
                return None
            self._variant_ids[sku], self._skus[found.id] = found.id, sku
        return self._variant_ids[sku]

    async def variant_by_gtin(self, gtin: str) -> tuple[int, str] | None:
        """(id, SKU) of the variant carrying this UPC/EAN. Not cached: a GTIN can be added later."""
        async with self._engine.connect() as conn:
            found = (await conn.execute(
                select(variants.c.id, variants.c.sku).where(variants.c.gtin == gtin))).first()
        if found is None:
            return None
        self._variant_ids[found.sku], self._skus[found.id] = found.id, found.sku
        return int(found.id), str(found.sku)

    def _set_kits(self, found: Mapping[int, Kit]) -> None:
        self._kits.update(found)
        self._kits_using = {}
        for kit in self._kits.values():
            for component_id in kit.component_ids:
                self._kits_using.setdefault(component_id, []).append(kit)

    @property
    def kits(self) -> Mapping[int, Kit]:
        """Every kit known at the last refresh (or looked up since), by its variant id."""
        return self._kits

    def kits_using(self, component_id: int) -> list[Kit]:
        return self._kits_using.get(component_id, [])

    async def kits_among(self, variant_ids: Iterable[int]) -> dict[int, Kit]:
        """The kits among these variants; a variant added since the last refresh is looked up (a
        kit is made with its variant in one transaction and never changes, so no other can be)."""
        ids = set(variant_ids)
        unsettled = ids - self._settled
        if unsettled:
            self._set_kits(await load_kits(self._engine, unsettled))
            self._settled |= unsettled
        return {variant_id: self._kits[variant_id] for variant_id in ids if variant_id in self._kits}

    def sku(self, variant_id: int) -> str:
        """For ids that came back from a shard, so the catalog already holds them."""
        return self._skus[variant_id]

    def gtin(self, sku: str) -> str:
        """The variant's GTIN as of the last refresh, "" when it has none."""
        return self._gtins.get(sku, "")

    @property
    def skus(self) -> Mapping[int, str]:
        return self._skus

    @property
    def variant_ids(self) -> Mapping[str, int]:
        """The variants loaded so far by SKU (no look-up in the store, unlike `variant_id`)."""
        return self._variant_ids

    async def location(self, code: str) -> Location | None:
        if code not in self._locations:
            await self.refresh()
        return self._locations.get(code)

    def location_code(self, location_id: int) -> str:
        return self._codes[location_id]

    def rank(self) -> Mapping[int, int]:
        """Location id -> its place in allocation priority order."""
        return self._rank

    def locations(self) -> list[Location]:
        return list(self._ordered)

    async def add_location(self, code: str, name: str, kind: str, priority: int = 100) -> Location:
        row = {"code": code, "name": name, "kind": kind, "priority": priority, "created_at": time.time()}
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(locations).values(**row))
        except IntegrityError:
            raise Conflict(f"code: location {code!r} already exists") from None
        await self.refresh()
        return self._locations[code]

    async def add_product(self, sku: str, name: str, description: str,
                          new_variants: list[NewVariant]) -> int:
        try:
            async with self._engine.begin() as conn:
                taken = (await conn.execute(
                    select(variants.c.sku).where(variants.c.sku.in_([v.sku for v in new_variants]))
                )).scalars().all()
                if taken:
                    raise Conflict(f"variants: sku {taken[0]!r} already exists")
                gtins = [v.gtin for v in new_variants if v.gtin]
                used = (await conn.execute(
                    select(variants.c.gtin).where(variants.c.gtin.in_(gtins)))).scalars().all()
                if used:
                    raise Conflict(f"variants: gtin {used[0]!r} already exists")
                product_id = (await conn.execute(insert(products).values(
                    sku=sku, name=name, description=description, created_at=time.time()
                ).returning(products.c.id))).scalar_one()
                if new_variants:
                    await conn.execute(insert(variants), [
                        {"product_id": product_id, "sku": v.sku, "size": v.size, "color": v.color,
                         "material": v.material, "gtin": v.gtin or None} for v in new_variants
                    ])
        except IntegrityError:
            raise Conflict(f"sku: product {sku!r} already exists") from None
        await self.refresh()
        return int(product_id)
