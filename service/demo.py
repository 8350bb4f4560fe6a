"""The demo catalog: a sheets-and-linens range over two warehouses and a store, with stock."""

from __future__ import annotations

import itertools
import random
from typing import TYPE_CHECKING

from inventory.commands import Receive
from inventory.events import CatalogChanged
from inventory.gtin import check_digit
from store.catalog import NewVariant
from store.kits import add_kit
from store.stock_grid import set_reorder_points

if TYPE_CHECKING:
    from service.runtime import Runtime

LOCATIONS = [
    ("WH-EAST", "East warehouse (Newark)", "warehouse", 10),
    ("WH-WEST", "West warehouse (Reno)", "warehouse", 20),
    ("STORE-SOHO", "SoHo store", "store", 30),
]
BED_SIZES = [("T", "twin"), ("F", "full"), ("Q", "queen"), ("K", "king")]
PILLOW_SIZES = [("STD", "standard"), ("KG", "king")]
COLORS = [("WHT", "white"), ("IVR", "ivory"), ("SGE", "sage"), ("SLT", "slate"), ("NVY", "navy")]
MATERIALS = [("COT", "cotton"), ("LIN", "linen"), ("SLK", "silk"), ("PER", "percale")]
PRODUCTS = [
    ("FSHEET", "Fitted sheet", BED_SIZES),
    ("FLAT", "Flat sheet", BED_SIZES),
    ("DUVET", "Duvet cover", BED_SIZES),
    ("SET", "Sheet set", BED_SIZES),
    ("PILLOW", "Pillowcase pair", PILLOW_SIZES),
    ("SHAM", "Pillow sham", PILLOW_SIZES),
]


# Sheet sets sold as kits, made of the range's own sheets and pillowcases: a queen set is a flat
# sheet, a fitted sheet and a pair of pillowcases (the demo sells pillowcases in pairs). "BEDSET"
# sorts before every other product, so a new user sees them at the top of the stock page.
KIT_SIZES = [("Q", "queen", "STD"), ("K", "king", "KG")]
KIT_COLORS = [("WHT", "white"), ("SGE", "sage")]


def demo_kits() -> list[tuple[str, str, list[tuple[str, int]]]]:
    """(kit SKU, name, [(component SKU, quantity per kit)])."""
    found = []
    for (mcode, material), (scode, size, pillow), (ccode, color) in itertools.product(
            MATERIALS, KIT_SIZES, KIT_COLORS):
        found.append((f"BEDSET-{mcode}-{scode}-{ccode}", f"{material.title()} {size} sheet set, {color}", [
            (f"FLAT-{mcode}-{scode}-{ccode}", 1), (f"FSHEET-{mcode}-{scode}-{ccode}", 1),
            (f"PILLOW-{mcode}-{pillow}-{ccode}", 1)]))
    return found


# Every REORDER_EVERY-th variant gets a reorder point one unit under its opening stock, so the stock
# page's low-stock highlighting and the alerts show in the first minutes of the demo, as the
# simulators' shoppers buy; every LOW_EVERY-th is at its point from the start.
REORDER_EVERY = 8
LOW_EVERY = 40

# The demo's UPCs: a made-up GS1 company prefix, then an item number per variant.
UPC_PREFIX = "084123"


def demo_upc(item: int) -> str:
    body = f"{UPC_PREFIX}{item:05d}"
    return body + str(check_digit(body))


def demo_products() -> list[tuple[str, str, list[NewVariant]]]:
    found = []
    items = itertools.count(1)
    for (code, name, sizes), (mcode, material) in itertools.product(PRODUCTS, MATERIALS):
        sku = f"{code}-{mcode}"
        found.append((sku, f"{material.title()} {name.lower()}", [
            NewVariant(f"{sku}-{scode}-{ccode}", size, color, material, demo_upc(next(items)))
            for (scode, size), (ccode, color) in itertools.product(sizes, COLORS)
        ]))
    return found


async def seed_demo(runtime: Runtime) -> None:
    """Seed once: an existing catalog is left alone."""
    catalog = runtime.catalog
    if catalog.locations() or await catalog.variant_id(demo_products()[0][2][0].sku) is not None:
        return
    for code, name, kind, priority in LOCATIONS:
        await catalog.add_location(code, name, kind, priority)
    rng = random.Random(7)
    receipts = []
    points: dict[int, int] = {}
    numbers = itertools.count()
    for sku, name, variants in demo_products():
        await catalog.add_product(sku, name, f"{name}, demo range", variants)
        for variant in variants:
            variant_id = await catalog.variant_id(variant.sku)
            if variant_id is None:
                raise RuntimeError(f"demo variant {variant.sku} was not stored")
            opening = 0
            for location in catalog.locations():
                quantity = rng.choice([0, 2, 5, 12, 20, 40, 80]) // (3 if location.kind == "store" else 1)
                opening += quantity
                if quantity:
                    receipts.append(Receive(f"demo-seed:{variant.sku}:{location.code}", variant_id,
                                            location.id, quantity, "demo opening stock", "demo"))
            number = next(numbers)
            if number % REORDER_EVERY == 0:
                points[variant_id] = opening if number % LOW_EVERY == 0 else max(opening - 1, 0)
    for sku, name, components in demo_kits():
        await add_kit(runtime.engine, sku, name, components)
    await catalog.refresh()
    await runtime.desk.stock_commands(receipts)
    await set_reorder_points(runtime.engine, points)
    # the alert watcher reads the reorder points again
    products = [*(sku for sku, _, _ in demo_products()), *(sku for sku, _, _ in demo_kits())]
    await runtime.events.publish(CatalogChanged(tuple(products)))
