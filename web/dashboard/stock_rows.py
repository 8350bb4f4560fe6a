"""A variant's line in the dashboard's stock grid, and the grid's filters as the query string carries
them: what the page and the live events both render. Built from the store's plain rows
(store.stock_grid) or from a live stock event (service.events.stock_data) alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.kits import KitStock
from store.stock_grid import MAX_ROWS, StockQuery, VariantInfo, kit_levels, stock_levels


@dataclass(frozen=True, slots=True)
class StockRow:
    info: VariantInfo
    levels: Mapping[str, tuple[int, int]]  # location code -> (on hand, reserved)
    backordered: int = 0
    totals: tuple[int, int] | None = None  # (on hand, reserved) of a kit: not its locations' sums

    def on_hand(self, location: str) -> int:
        return self.levels.get(location, (0, 0))[0]

    def reserved(self, location: str) -> int:
        return self.levels.get(location, (0, 0))[1]

    def available(self, location: str) -> int:
        on_hand, reserved = self.levels.get(location, (0, 0))
        return on_hand - reserved

    @property
    def total_on_hand(self) -> int:
        if self.totals is not None:
            return self.totals[0]
        return sum(on_hand for on_hand, _ in self.levels.values())

    @property
    def total_reserved(self) -> int:
        if self.totals is not None:
            return self.totals[1]
        return sum(reserved for _, reserved in self.levels.values())

    @property
    def total_available(self) -> int:
        return self.total_on_hand - self.total_reserved

    @property
    def low(self) -> bool:
        point = self.info.reorder_point
        return point is not None and self.total_available <= point


def row_from_event(info: VariantInfo, data: Mapping[str, Any], location_code: Callable[[int], str]
                   ) -> StockRow:
    """A live stock event as a grid row; its levels are by location id."""
    levels = {location_code(int(loc)): (int(pair[0]), int(pair[1])) for loc, pair in data["levels"].items()}
    totals = data.get("totals")
    return StockRow(info, levels, int(data.get("backordered", 0)),
                    None if totals is None else (int(totals[0]), int(totals[1])))


@dataclass(frozen=True, slots=True)
class StockFilters(StockQuery):
    """The grid's filters, as the query string carries them (empty: no filter)."""

    low_only: bool = False

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> StockFilters:
        def value(name: str) -> str:
            return str(params.get(name) or "").strip()[:100]

        return cls(product=value("product"), size=value("size"), color=value("color"),
                   material=value("material"), location=value("location"), sku=value("sku"),
                   search=value("q"), low_only=value("low") in ("1", "on", "true"))

    def query(self) -> dict[str, str]:
        pairs = {"product": self.product, "size": self.size, "color": self.color,
                 "material": self.material, "location": self.location, "sku": self.sku, "q": self.search,
                 "low": "1" if self.low_only else ""}
        return {name: value for name, value in pairs.items() if value}


async def grid_rows(engine: AsyncEngine, filters: StockFilters, limit: int = MAX_ROWS) -> list[StockRow]:
    rows = [StockRow(*found) for found in await stock_levels(engine, filters, limit)]
    kits = await kit_levels(engine, [row.info.variant_id for row in rows])
    rows = [row if row.info.variant_id not in kits else _kit_row(row.info, kits[row.info.variant_id])
            for row in rows]
    return [row for row in rows if row.low] if filters.low_only else rows


def _kit_row(info: VariantInfo, stock: KitStock) -> StockRow:
    return StockRow(info, stock.levels, 0, (stock.on_hand, stock.on_hand - stock.available))
