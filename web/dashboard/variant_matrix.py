"""A product's variants from every combination of its sizes, colours and materials, each with a SKU:
PRODUCT-SIZE-COLOUR-MATERIAL from each option's code. Pure: no web framework, no store."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from web.problems import invalid
from web.validation import CODE

DIMENSIONS = ("sizes", "colors", "materials")
MAX_OPTIONS = 30
MAX_VARIANTS = 500
MAX_SKU = 100


@dataclass(frozen=True, slots=True)
class Option:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class PlannedVariant:
    sku: str
    size: str
    color: str
    material: str


def derived_code(name: str) -> str:
    """"queen" -> "QUE", "king size" -> "KIN": the first three letters or digits, upper case."""
    return re.sub(r"[^A-Za-z0-9]", "", name).upper()[:3]


def parse_options(raw: str, field: str) -> list[Option]:
    """"Q=queen, K=king" or "queen, king" (codes derived); blank entries are ignored."""
    options: list[Option] = []
    for entry in (part.strip() for part in raw.replace("\n", ",").split(",")):
        if not entry:
            continue
        code, sep, name = entry.partition("=")
        code, name = (code.strip().upper(), name.strip()) if sep else (derived_code(entry), entry)
        if not name or len(name) > 40:
            raise invalid(field, f"{entry!r}: a name of 1 to 40 characters is needed")
        if not code or not CODE.match(code) or len(code) > 20:
            raise invalid(field, f"{entry!r}: its code may hold only letters, digits, '-', '_' and '.'")
        options.append(Option(code, name))
    _unique(options, field)
    if len(options) > MAX_OPTIONS:
        raise invalid(field, f"at most {MAX_OPTIONS} options")
    return options


def _unique(options: list[Option], field: str) -> None:
    for attribute in ("code", "name"):
        seen: dict[str, Option] = {}
        for option in options:
            key = getattr(option, attribute).lower()
            if key in seen:
                raise invalid(field, f"{seen[key].name!r} and {option.name!r} share the {attribute} "
                                     f"{getattr(option, attribute)!r}; give codes like CODE=name")
            seen[key] = option


def plan_variants(product_sku: str, sizes: list[Option], colors: list[Option],
                  materials: list[Option]) -> list[PlannedVariant]:
    if not (sizes or colors or materials):
        raise invalid("sizes", "give at least one size, colour or material")
    axes = [axis or [Option("", "")] for axis in (sizes, colors, materials)]
    count = len(axes[0]) * len(axes[1]) * len(axes[2])
    if count > MAX_VARIANTS:
        raise invalid("sizes", f"{count} variants; at most {MAX_VARIANTS} in one product")
    planned = []
    for size, color, material in itertools.product(*axes):
        sku = "-".join(part for part in (product_sku, size.code, color.code, material.code) if part)
        if len(sku) > MAX_SKU:
            raise invalid("sku", f"the variant SKU {sku[:40]}… would be over {MAX_SKU} characters")
        planned.append(PlannedVariant(sku, size.name, color.name, material.name))
    return planned
