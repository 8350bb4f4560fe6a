"""What a receipt, an adjustment or a transfer asks for, read and checked field by field from a
request's values in the JSON body's shape. The REST routes give their body; the dashboard turns its
form into the same shape first, so both doors refuse the same things in the same words. The
commands come back without an actor: the use cases in service.stock stamp who asked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory.commands import ADJUST_REASONS, MAX_ADJUSTMENT, REASON_SIGN, Adjust, Receive, Transfer
from service.runtime import Runtime
from web.lookups import location_of, stocked_variant_of
from web.problems import invalid
from web.validation import choice, integer, optional_text


async def receipt(rt: Runtime, data: Mapping[str, Any], command_id: str) -> Receive:
    return Receive(
        command_id=command_id,
        variant_id=await stocked_variant_of(rt, data),
        location_id=await location_of(rt, data, "location"),
        quantity=integer(dict(data), "quantity", minimum=1),
        reference=optional_text(dict(data), "reference", max_length=200),
    )


async def adjustment(rt: Runtime, data: Mapping[str, Any], command_id: str) -> Adjust:
    """Either `delta` (a change, not 0) or `count` (the counted on-hand quantity)."""
    values = dict(data)
    variant_id = await stocked_variant_of(rt, values)
    location_id = await location_of(rt, values, "location")
    if ("delta" in values) == ("count" in values):
        raise invalid("delta", "give either delta or count, not both and not neither")
    reason = choice(values, "reason", ADJUST_REASONS)
    delta = count = None
    if "delta" in values:
        delta = integer(values, "delta", maximum=MAX_ADJUSTMENT)
        if delta == 0:
            raise invalid("delta", "must not be 0")
        if delta * REASON_SIGN.get(reason, delta) < 0:
            raise invalid("delta", f"a {reason!r} adjustment must {'lower' if delta > 0 else 'raise'} stock")
    else:
        count = integer(values, "count", minimum=0, maximum=MAX_ADJUSTMENT)
    return Adjust(command_id=command_id, variant_id=variant_id, location_id=location_id,
                  reason=reason, delta=delta, counted=count, note=optional_text(values, "note"))


async def transfer(rt: Runtime, data: Mapping[str, Any], command_id: str) -> Transfer:
    values = dict(data)
    variant_id = await stocked_variant_of(rt, values)
    source = await location_of(rt, values, "from_location")
    target = await location_of(rt, values, "to_location")
    if source == target:
        raise invalid("to_location", "must differ from from_location")
    return Transfer(command_id=command_id, variant_id=variant_id, from_location_id=source,
                    to_location_id=target, quantity=integer(values, "quantity", minimum=1),
                    reference=optional_text(values, "reference", max_length=200))
