"""Kits: one SKU sold as a set of component variants (a queen sheet set is a flat sheet, a fitted
sheet and two pillowcases). A kit has no stock of its own; everything here is derived from its
components' stock and order lines.

Availability. Per location: min over components of floor(available / quantity per kit). In total
(over all locations, or a channel's): min over components of floor(the component's total available /
quantity per kit), which can be more than the sum of the per-location figures. That total is what an
order can actually get: an ordered kit becomes one order line per component, and each line is
allocated on its own over the channel's locations in priority order (inventory.allocation), so a
kit's flat sheet may come from one warehouse and its pillowcases from another.

Orders. `expand` turns the client's lines into component lines (a plain line stays one line) and a
plan saying which component lines make each kit line; `fold` turns component lines back into the
client's kit lines: whole kits reserved (the scarcest component decides), kits backordered, and per
location the whole kits that location supplies alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inventory.commands import LineState, LineStatus

Levels = Mapping[Any, tuple[int, int]]  # location (its id, or its code) -> (on hand, reserved)


@dataclass(frozen=True, slots=True)
class Kit:
    variant_id: int
    components: tuple[tuple[int, int], ...]  # (component variant id, quantity per kit), in order

    @property
    def component_ids(self) -> tuple[int, ...]:
        return tuple(variant_id for variant_id, _ in self.components)


@dataclass(frozen=True, slots=True)
class KitStock:
    """A kit's stock in kits: per location (on hand, reserved) where reserved is on hand less what
    can still be sold, and the totals, which are not the sums of the per-location figures."""

    variant_id: int
    levels: dict[Any, tuple[int, int]]
    on_hand: int
    available: int


def kit_stock(kit: Kit, levels_of: Mapping[int, Levels], locations: Iterable[Any] | None = None
              ) -> KitStock:
    """`levels_of`: each component's levels (a missing component has none). `locations`: those
    counted (None: every location any component has)."""
    comps = [(levels_of.get(variant_id, {}), per_kit) for variant_id, per_kit in kit.components]
    wanted = sorted(set(locations) if locations is not None else {loc for lv, _ in comps for loc in lv})

    def kits(units: Iterable[int]) -> int:
        figures = [max(0, u) // per_kit for u, (_, per_kit) in zip(units, comps, strict=True)]
        return min(figures) if figures else 0

    levels: dict[Any, tuple[int, int]] = {}
    for loc in wanted:
        on_hand = kits(lv.get(loc, (0, 0))[0] for lv, _ in comps)
        available = kits(_free(lv, [loc]) for lv, _ in comps)
        levels[loc] = (on_hand, on_hand - available)
    on_hand = kits(sum(lv.get(loc, (0, 0))[0] for loc in wanted) for lv, _ in comps)
    available = kits(_free(lv, wanted) for lv, _ in comps)
    return KitStock(kit.variant_id, levels, on_hand, available)


def _free(levels: Levels, locations: Iterable[Any]) -> int:
    return sum(levels.get(loc, (0, 0))[0] - levels.get(loc, (0, 0))[1] for loc in locations)


@dataclass(frozen=True, slots=True)
class KitLine:
    """Client line `line_no` ordered `quantity` of kit `kit_id`; its components are the expanded
    lines first .. first + count - 1."""

    line_no: int
    kit_id: int
    quantity: int
    first: int
    count: int


def expand(lines: Sequence[tuple[int, int]], kits: Mapping[int, Kit]
           ) -> tuple[list[tuple[int, int]], tuple[KitLine, ...]]:
    """(variant id, quantity) lines with every kit line replaced by its component lines, in order,
    and the plan that folds them back."""
    expanded: list[tuple[int, int]] = []
    plan: list[KitLine] = []
    for line_no, (variant_id, quantity) in enumerate(lines, start=1):
        kit = kits.get(variant_id)
        if kit is None:
            expanded.append((variant_id, quantity))
            continue
        plan.append(KitLine(line_no, variant_id, quantity, len(expanded) + 1, len(kit.components)))
        expanded.extend((component, per_kit * quantity) for component, per_kit in kit.components)
    return expanded, tuple(plan)


@dataclass(frozen=True, slots=True)
class ClientLine:
    """A line as the client ordered it: a plain line, or a kit line with its component lines."""

    line_no: int
    variant_id: int
    quantity: int
    reserved: int
    backordered: int
    state: LineStatus
    allocations: dict[int, int]  # location -> units (kits, for a kit line)
    components: tuple[LineState, ...] = ()


def fold(lines: Sequence[LineState], plan: Sequence[KitLine]) -> list[ClientLine]:
    """The client's lines from the component lines (sorted by line number) and the plan."""
    by_no = {line.line_no: line for line in lines}
    in_kits = {no for kit in plan for no in range(kit.first, kit.first + kit.count)}
    folded: list[tuple[int, ClientLine]] = []
    for kit in plan:
        parts = tuple(by_no[no] for no in range(kit.first, kit.first + kit.count) if no in by_no)
        if parts:
            folded.append((kit.first, _kit_line(kit, parts)))
    for line in lines:
        if line.line_no not in in_kits:
            folded.append((line.line_no, ClientLine(line.line_no, line.variant_id, line.quantity,
                                                   line.reserved, line.backordered, line.state,
                                                   dict(line.allocations))))
    return [line for _, line in sorted(folded, key=lambda pair: pair[0])]


def _kit_line(kit: KitLine, parts: tuple[LineState, ...]) -> ClientLine:
    per_kit = [part.quantity // kit.quantity for part in parts]
    reserved = min(part.reserved // q for part, q in zip(parts, per_kit, strict=True))
    backordered = max(-(-part.backordered // q) for part, q in zip(parts, per_kit, strict=True))
    locations = {loc for part in parts for loc in part.allocations}
    allocations = {}
    for loc in locations:
        whole = min(part.allocations.get(loc, 0) // q for part, q in zip(parts, per_kit, strict=True))
        if whole:
            allocations[loc] = whole
    return ClientLine(kit.line_no, kit.kit_id, kit.quantity, reserved, min(backordered, kit.quantity),
                     _state(part.state for part in parts), allocations, parts)


def _state(states: Iterable[LineStatus]) -> LineStatus:
    found = set(states)
    for state in (LineStatus.REJECTED, LineStatus.OPEN):
        if state in found:
            return state
    if found == {LineStatus.CANCELLED}:
        return LineStatus.CANCELLED
    return LineStatus.FULFILLED


class ComponentLevels:
    """The latest levels of kit components as stock events bring them, so a kit's stock is derived
    again the moment one of its components changes. Levels read from the store only fill gaps: an
    event may already have brought newer ones."""

    def __init__(self) -> None:
        self.levels: dict[int, dict[int, tuple[int, int]]] = {}

    def seed(self, levels: Mapping[int, Levels]) -> None:
        for variant_id, found in levels.items():
            self.levels.setdefault(variant_id, dict(found))

    def update(self, variant_id: int, levels: Levels) -> None:
        self.levels[variant_id] = dict(levels)

    def missing(self, kits: Iterable[Kit]) -> set[int]:
        return {c for kit in kits for c in kit.component_ids if c not in self.levels}

    def stock(self, kit: Kit, locations: Iterable[int] | None = None) -> KitStock:
        return kit_stock(kit, self.levels, locations)
