"""The benchmark catalog, created in an empty Threadcount through its public REST API (API.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

LOCATION = "WH-BENCH"
PRODUCTS = (("BENCH-PERCALE", "percale"), ("BENCH-SATEEN", "sateen"))
SIZES = ("twin", "full", "queen", "king", "cal-king")
COLORS = (
    "white", "ivory", "sand", "stone", "grey", "charcoal", "navy", "sky", "sage", "olive",
    "blush", "rose", "clay", "rust", "mustard", "lilac", "plum", "teal", "black", "oat",
)  # fmt: skip


class CatalogError(RuntimeError):
    """Threadcount refused a request that sets up the benchmark catalog."""


def variant_rows(product_sku: str, material: str, count: int) -> list[dict[str, str]]:
    rows = []
    for n in range(count):
        size = SIZES[n % len(SIZES)]
        shade = n // len(SIZES)
        color = COLORS[shade] if shade < len(COLORS) else f"shade-{shade}"
        rows.append({"sku": f"{product_sku}-{n:03d}", "size": size, "color": color, "material": material})
    return rows


async def _post(session: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> None:
    async with session.post(path, json=body) as resp:
        if not 200 <= resp.status < 300:
            text = await resp.text()
            raise CatalogError(f"POST {path} answered {resp.status}: {text[:400]}")


async def create_catalog(base_url: str, token: str, *, variants: int, quantity: int) -> list[str]:
    """One location, two products sharing ``variants`` variants, ``quantity`` received of each.

    Returns the variant SKUs, the pool the load orders from.
    """
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url=base_url, headers=headers, timeout=timeout) as session:
        location = {"code": LOCATION, "name": "Benchmark warehouse", "kind": "warehouse"}
        await _post(session, "/api/v1/locations", location)
        skus: list[str] = []
        for index, (product_sku, material) in enumerate(PRODUCTS):
            share = variants // len(PRODUCTS) + (1 if index < variants % len(PRODUCTS) else 0)
            rows = variant_rows(product_sku, material, share)
            product = {
                "sku": product_sku,
                "name": f"Benchmark {material} sheet",
                "description": "Created by python -m tests.benchmark",
                "variants": rows,
            }
            await _post(session, "/api/v1/products", product)
            skus += [row["sku"] for row in rows]
        gate = asyncio.Semaphore(8)

        async def receive(sku: str) -> None:
            receipt = {"sku": sku, "location": LOCATION, "quantity": quantity, "reference": "benchmark"}
            async with gate:
                await _post(session, "/api/v1/stock/receipts", receipt)

        await asyncio.gather(*(receive(sku) for sku in skus))
    return skus
