"""Manual stock changes from the dashboard's forms: each form is turned into the REST body's shape
and checked by the same validators (web.stock_input), then goes through the same use case
(service.stock) with the manager as the actor, so the ledger and the audit trail say who did it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory.commands import Failure, VariantStock
from inventory.events import CatalogChanged, VariantChanged
from service import stock
from service.runtime import Runtime
from store import audit, queries
from store.stock_grid import set_reorder_points
from web import stock_input
from web.dashboard.forms import command_id, whole_number
from web.lookups import variant_of
from web.problems import invalid, refused
from web.validation import choice, integer
from web.views import stock_view


def _body(values: Mapping[str, str], required: tuple[str, ...], optional: tuple[str, ...] = ()
          ) -> dict[str, Any]:
    """The form's text fields as a REST body holds them: an empty optional field is one not given."""
    return {**{name: values.get(name, "") for name in required},
            **{name: values.get(name) or None for name in optional}}


async def adjust(rt: Runtime, values: Mapping[str, str], actor: str) -> dict[str, Any]:
    mode = choice(dict(values), "mode", ("delta", "count"), default="delta")
    amount = whole_number(values, "quantity")
    if mode == "delta" and amount == 0:
        raise invalid("quantity", "must not be 0 for a change (use a counted quantity to confirm a count)")
    body = {**_body(values, ("sku", "location", "reason"), ("note",)), mode: amount}
    command = await stock_input.adjustment(rt, body, command_id(values))
    return _shown(rt, await stock.adjust(rt, command, actor))


async def receive(rt: Runtime, values: Mapping[str, str], actor: str) -> dict[str, Any]:
    body = {**_body(values, ("sku", "location"), ("reference",)),
            "quantity": whole_number(values, "quantity")}
    command = await stock_input.receipt(rt, body, command_id(values))
    return _shown(rt, await stock.receive(rt, command, actor))


async def transfer(rt: Runtime, values: Mapping[str, str], actor: str) -> dict[str, Any]:
    body = {**_body(values, ("sku", "from_location", "to_location"), ("reference",)),
            "quantity": whole_number(values, "quantity")}
    command = await stock_input.transfer(rt, body, command_id(values))
    return _shown(rt, await stock.transfer(rt, command, actor))


def _shown(rt: Runtime, result: VariantStock | Failure) -> dict[str, Any]:
    if isinstance(result, Failure):
        raise refused(result)
    return stock_view(rt.catalog, rt.catalog.sku(result.variant_id), result)


async def set_reorder_point(rt: Runtime, values: Mapping[str, str], actor: str) -> int | None:
    variant_id = await variant_of(rt, values)
    point = whole_number(values, "reorder_point", required=False)
    if point is not None:
        point = integer({"reorder_point": point}, "reorder_point", minimum=0)
    await set_reorder_points(rt.engine, {variant_id: point})
    sku = rt.catalog.sku(variant_id)
    await audit.record(rt.engine, actor, "variant.reorder_point", sku, reorder_point=point)
    await announce_variant(rt, variant_id)
    return point


async def announce_catalog(rt: Runtime, product_skus: list[str]) -> None:
    """New products or variants: whoever watches the catalog (the alert watcher) reads it again."""
    await rt.events.publish(CatalogChanged(tuple(product_skus)))


async def announce_variant(rt: Runtime, variant_id: int) -> None:
    """Open stock pages re-render the row (its reorder point, so its highlight, changed)."""
    stock_now = await queries.variant_stock(rt.read_engine, variant_id)
    await rt.events.publish(VariantChanged(stock_now))
