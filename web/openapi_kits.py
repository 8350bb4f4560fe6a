"""The OpenAPI description of kits (web/api_kits.py) and of a kit line in an order answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from web.api_kits import MAX_COMPONENTS, MAX_PER_KIT
from web.openapi_schema import Schema, array, obj, ref, string, whole
from web.openapi_schema import text as field_text
from web.validation import CODE


def kit_schemas() -> dict[str, Schema]:
    sku_in = field_text(100, "A variant's SKU (not a kit's)")
    component_in = obj({"sku": sku_in, "quantity": whole(1, MAX_PER_KIT, description="Units per kit")})
    component = obj({"sku": string("Variant SKU"), "quantity": whole(1, MAX_PER_KIT)})
    return {
        "KitCreate": obj({
            "sku": field_text(100, "The kit's SKU, unique among variants and products", pattern=CODE.pattern),
            "name": field_text(200),
            "components": array(component_in, minItems=1, maxItems=MAX_COMPONENTS,
                                description="Existing variants, each once, none of them a kit"),
        }),
        "Kit": obj({"sku": string(), "name": string(), "components": array(component)}),
    }


def kit_paths(operation: Callable[..., Schema], ok: Callable[..., Schema]) -> dict[str, Any]:
    return {"/api/v1/kits": {"post": operation(
        "createKit", "Define a kit: one SKU sold as a set of components, its stock theirs", "kits",
        {"201": ok(ref("Kit"), "Created")}, body=ref("KitCreate"), errors=("409",))}}
