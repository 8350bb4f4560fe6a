"""The kit use cases: define a kit, and read its stock (derived from its components' stock, see
inventory.kits). Ordering a kit is an ordinary order (service.orders): the desk expands it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from inventory.events import CatalogChanged
from inventory.kits import Kit, KitStock, kit_stock
from store import audit, queries
from store.kits import add_kit

if TYPE_CHECKING:
    from service.runtime import Runtime


async def create(rt: Runtime, sku: str, name: str, components: Sequence[tuple[str, int]], actor: str
                 ) -> int:
    """The kit's variant id; store.kits.KitInvalid or KitTaken when it cannot be made. Every
    process reads the catalog again (CatalogChanged), so partners list the kit at once."""
    kit_id = await add_kit(rt.engine, sku, name, components)
    await rt.catalog.refresh()
    await audit.record(rt.engine, actor, "kit.create", sku, name=name,
                       components=[{"sku": c, "quantity": q} for c, q in components])
    await rt.events.publish(CatalogChanged((sku,)))
    return kit_id


async def stock(rt: Runtime, kit: Kit) -> KitStock:
    levels = {variant_id: (await queries.variant_stock(rt.read_engine, variant_id)).levels
              for variant_id in kit.component_ids}
    return kit_stock(kit, levels)
