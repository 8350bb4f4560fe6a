"""The distributor's item master: how it names the products it buys from its vendor (us) on a PO
line. Its own part number goes under BP (buyer's part number), the vendor's (our SKU) under VP, and
the GTIN under UP (12-digit UPC) or EN (13-digit EAN) where it has one. Some distributors' systems
know only their own numbers: `item_ids` says which of VP, BP and UP/EN its lines carry.

Options: `part_numbers` {our SKU: its part number} (else one derived from the SKU), `gtins` {our SKU:
GTIN}, `item_ids` (["VP", "BP", "GTIN"]).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

ALL_IDS = ("VP", "BP", "GTIN")


class ItemMaster:
    def __init__(self, options: Mapping[str, Any]):
        self.part_numbers = {str(k): str(v) for k, v in dict(options.get("part_numbers", {})).items()}
        self.gtins = {str(k): str(v) for k, v in dict(options.get("gtins", {})).items()}
        self.item_ids = tuple(str(name) for name in options.get("item_ids", ALL_IDS))
        unknown = set(self.item_ids) - set(ALL_IDS)
        if unknown or not self.item_ids:
            raise ValueError(f"item_ids: {sorted(unknown)} are not among {ALL_IDS}")

    def part_number(self, sku: str) -> str:
        """Its own number for the item: configured, else a stable one of its own making."""
        return self.part_numbers.get(sku) or f"DIST-{zlib.crc32(sku.encode()) % 100000:05d}"

    def line_ids(self, sku: str) -> list[tuple[str, str]]:
        """(qualifier, id) pairs for a PO1, in the order distributors write them."""
        ids: list[tuple[str, str]] = []
        if "VP" in self.item_ids:
            ids.append(("VP", sku))
        if "BP" in self.item_ids:
            ids.append(("BP", self.part_number(sku)))
        gtin = self.gtins.get(sku, "")
        if "GTIN" in self.item_ids and gtin:
            ids.append(("UP" if len(gtin) == 12 else "EN", gtin))
        return ids
