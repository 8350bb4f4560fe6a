"""Kits in the store: their definitions (a kit is a variant of a product of its own, plus its
components) and the kit plans of orders (inventory.kits.KitLine). A kit is defined once and never
changed, so an order's plan and its component lines always agree with the definition."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlalchemy import insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inventory.kits import Kit, KitLine
from store.schema import inventory, kit_components, kits, order_kit_lines, products, variants


class KitInvalid(Exception):
    """The kit cannot be made as asked; `field` names the part of the request at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class KitTaken(Exception):
    """The kit's SKU is already a variant's or a product's."""


async def add_kit(engine: AsyncEngine, sku: str, name: str, components: Sequence[tuple[str, int]]) -> int:
    """The kit's variant id. Components are (SKU, quantity per kit), quantities already > 0."""
    try:
        async with engine.begin() as conn:
            ids = await _component_ids(conn, components)
            if (await conn.execute(select(variants.c.id).where(variants.c.sku == sku))).first():
                raise KitTaken(f"sku: {sku!r} is already a variant's sku")
            now = time.time()
            product_id = (await conn.execute(insert(products).values(
                sku=sku, name=name, description="", created_at=now).returning(products.c.id))).scalar_one()
            kit_id = (await conn.execute(insert(variants).values(
                product_id=product_id, sku=sku).returning(variants.c.id))).scalar_one()
            await conn.execute(insert(kits).values(variant_id=kit_id, created_at=now))
            await conn.execute(insert(kit_components), [
                {"kit_id": kit_id, "component_id": component_id, "position": n, "quantity": quantity}
                for n, (component_id, (_, quantity)) in enumerate(zip(ids, components, strict=True))])
    except IntegrityError:
        raise KitTaken(f"sku: {sku!r} is already a product's sku") from None
    return int(kit_id)


async def _component_ids(conn: AsyncConnection, components: Sequence[tuple[str, int]]) -> list[int]:
    if not components:
        raise KitInvalid("components", "a kit needs at least one component")
    skus = [sku for sku, _ in components]
    found = {r.sku: r.id for r in (await conn.execute(
        select(variants.c.sku, variants.c.id).where(variants.c.sku.in_(skus)))).all()}
    nested = set((await conn.execute(
        select(kits.c.variant_id).where(kits.c.variant_id.in_(list(found.values()))))).scalars().all())
    seen: set[str] = set()
    for index, sku in enumerate(skus):
        field = f"components[{index}].sku"
        if sku in seen:
            raise KitInvalid(field, f"{sku!r} appears twice")
        seen.add(sku)
        if sku not in found:
            raise KitInvalid(field, f"unknown sku {sku!r}")
        if found[sku] in nested:
            raise KitInvalid(field, f"{sku!r} is a kit: a kit is made of variants, not of kits")
    return [found[sku] for sku in skus]


async def load_kits(engine: AsyncEngine, kit_ids: Iterable[int] | None = None) -> dict[int, Kit]:
    """Every kit (or those among `kit_ids`), by its variant id."""
    query = select(kit_components).order_by(kit_components.c.kit_id, kit_components.c.position)
    if kit_ids is not None:
        query = query.where(kit_components.c.kit_id.in_(list(kit_ids)))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    parts: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        parts.setdefault(row.kit_id, []).append((row.component_id, row.quantity))
    return {kit_id: Kit(kit_id, tuple(comps)) for kit_id, comps in parts.items()}


async def record_plan(engine: AsyncEngine, order_id: str, signature: str, plan: Sequence[KitLine]) -> None:
    """Idempotent: a retry of the same order writes the same rows, and they are kept."""
    rows = [{"order_id": order_id, "signature": signature, "line_no": k.line_no, "kit_id": k.kit_id,
             "quantity": k.quantity, "first_line": k.first, "line_count": k.count} for k in plan]
    async with engine.begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(dialect.insert(order_kit_lines).on_conflict_do_nothing(), rows)


async def plans(conn: AsyncConnection, signed: Sequence[tuple[str, str]], skus: dict[int, str]
                ) -> dict[str, tuple[KitLine, ...]]:
    """The kit plans of these (order id, signature) pairs; orders without kits are left out. The
    kits' SKUs are added to `skus`."""
    found: dict[str, list[KitLine]] = {}
    for start in range(0, len(signed), 500):
        chunk = list(signed[start:start + 500])
        rows = (await conn.execute(
            select(order_kit_lines, variants.c.sku).join(variants, variants.c.id == order_kit_lines.c.kit_id)
            .where(tuple_(order_kit_lines.c.order_id, order_kit_lines.c.signature).in_(chunk))
            .order_by(order_kit_lines.c.line_no))).all()
        for r in rows:
            skus[r.kit_id] = r.sku
            found.setdefault(r.order_id, []).append(
                KitLine(r.line_no, r.kit_id, r.quantity, r.first_line, r.line_count))
    return {order_id: tuple(lines) for order_id, lines in found.items()}


async def component_levels(engine: AsyncEngine, variant_ids: Iterable[int]
                           ) -> dict[int, dict[int, tuple[int, int]]]:
    """These variants' levels by location (a variant with no stock row has none)."""
    ids = list(variant_ids)
    found: dict[int, dict[int, tuple[int, int]]] = {variant_id: {} for variant_id in ids}
    async with engine.connect() as conn:
        rows = await conn.execute(select(inventory.c.variant_id, inventory.c.location_id, inventory.c.on_hand,
                                         inventory.c.reserved).where(inventory.c.variant_id.in_(ids)))
        for variant_id, location_id, on_hand, reserved in rows:
            found[variant_id][location_id] = (on_hand, reserved)
    return found
