"""Turning a SKU or a location code in a request (JSON body or form) into its id, with the error
naming the field; the REST API and the dashboard share them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.runtime import Runtime
from web.problems import invalid
from web.validation import text


async def variant_of(rt: Runtime, values: Mapping[str, Any], field: str = "sku") -> int:
    sku = text(dict(values), field, max_length=100)
    variant_id = await rt.catalog.variant_id(sku)
    if variant_id is None:
        raise invalid(field, f"unknown sku {sku!r}")
    return variant_id


async def stocked_variant_of(rt: Runtime, values: Mapping[str, Any], field: str = "sku") -> int:
    """A variant that holds stock of its own: a kit's stock is its components'."""
    variant_id = await variant_of(rt, values, field)
    if await rt.catalog.kits_among([variant_id]):
        raise invalid(field, f"{values[field]!r} is a kit: its stock is its components' stock; "
                             "receive, adjust or move the components")
    return variant_id


async def location_of(rt: Runtime, values: Mapping[str, Any], field: str) -> int:
    code = text(dict(values), field, max_length=64)
    location = await rt.catalog.location(code)
    if location is None:
        raise invalid(field, f"unknown location {code!r}")
    return location.id
