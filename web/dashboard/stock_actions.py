"""Manual stock changes from the dashboard, built and checked as the REST API builds them (the same
validators, the same commands through the desk and the shards), with the manager as the actor and
an entry in the audit trail saying who did what and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory.commands import ADJUST_REASONS, Adjust, Failure, Receive, StockCommand, Transfer, VariantStock
from service.runtime import Runtime
from service.views import stock_view
from store import audit, queries
from store.stock_grid import set_reorder_points
from web.dashboard.forms import command_id, whole_number
from web.http import refused
from web.lookups import location_of, variant_of
from web.problems import invalid
from web.validation import choice, integer, optional_text


async def adjust_command(rt: Runtime, values: Mapping[str, str], actor: str) -> Adjust:
    variant_id = await variant_of(rt, values)
    location_id = await location_of(rt, values, "location")
    mode = choice(dict(values), "mode", ("delta", "count"), default="delta")
    amount = whole_number(values, "quantity")
    if mode == "delta" and amount == 0:
        raise invalid("quantity", "must not be 0 for a change (use a counted quantity to confirm a count)")
    if mode == "count":
        integer({"quantity": amount}, "quantity", minimum=0)
    return Adjust(command_id=command_id(values), variant_id=variant_id, location_id=location_id,
                  reason=choice(dict(values), "reason", ADJUST_REASONS),
                  delta=amount if mode == "delta" else None, counted=amount if mode == "count" else None,
                  note=optional_text(dict(values), "note") or None, actor=actor)


async def receive_command(rt: Runtime, values: Mapping[str, str], actor: str) -> Receive:
    return Receive(command_id=command_id(values), variant_id=await variant_of(rt, values),
                   location_id=await location_of(rt, values, "location"),
                   quantity=integer({"quantity": whole_number(values, "quantity")}, "quantity", minimum=1),
                   reference=optional_text(dict(values), "reference", max_length=200) or None, actor=actor)


async def transfer_command(rt: Runtime, values: Mapping[str, str], actor: str) -> Transfer:
    variant_id = await variant_of(rt, values)
    source = await location_of(rt, values, "from_location")
    target = await location_of(rt, values, "to_location")
    if source == target:
        raise invalid("to_location", "must differ from from_location")
    return Transfer(command_id=command_id(values), variant_id=variant_id, from_location_id=source,
                    to_location_id=target,
                    quantity=integer({"quantity": whole_number(values, "quantity")}, "quantity", minimum=1),
                    reference=optional_text(dict(values), "reference", max_length=200) or None, actor=actor)


async def apply(rt: Runtime, command: StockCommand, why: str = "") -> dict[str, Any]:
    """Through the shards (committed when this returns), then into the audit trail."""
    result = await rt.desk.stock_command(command)
    if isinstance(result, Failure):
        raise refused(result)
    if not isinstance(result, VariantStock):
        raise TypeError(f"a stock command was answered with {result!r}")
    sku = rt.catalog.sku(command.variant_id)
    await audit.record(rt.engine, command.actor or "", f"stock.{type(command).__name__.lower()}", sku,
                       why=why, **_detail(rt, command))
    return stock_view(rt.catalog, sku, result)


def _detail(rt: Runtime, command: StockCommand) -> dict[str, Any]:
    detail = {name: value for name, value in command._asdict().items()
              if name not in ("actor", "variant_id") and value is not None}
    for name in ("location_id", "from_location_id", "to_location_id"):
        if name in detail:
            detail[name.removesuffix("_id")] = rt.catalog.location_code(detail.pop(name))
    return detail


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
    await rt.events.publish("catalog", {"products": product_skus})


async def announce_variant(rt: Runtime, variant_id: int) -> None:
    """Open stock pages re-render the row (its reorder point, so its highlight, changed)."""
    stock = await queries.variant_stock(rt.read_engine, variant_id)
    await rt.events.publish("variant", {"variant_id": variant_id,
                                        **stock_view(rt.catalog, rt.catalog.sku(variant_id), stock)})
