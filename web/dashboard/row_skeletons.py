"""The live stream's stock rows, rendered by the page's own macro at a fraction of its cost.

A flush renders the row of every variant that changed in it, whatever the number of streams open: at
0.25 s flushes under load that is up to every variant four times a second, and the macro took 46-49
microseconds a row with compacting (4 locations), most of what one open dashboard cost the orders. A
variant's row differs from one change to the next only in its numbers and in whether it is low. So
the macro renders a variant's row once with a marker in place of each number (a skeleton, kept for
the variant's details, the locations and low or not), and each change fills its numbers in: the same
bytes as the macro's (a property test compares them on random rows), in about a sixth of the time."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from store.stock_grid import VariantInfo
from web.dashboard.stock_rows import StockRow

MARK = "\x00"  # in no rendered text: names are escaped, numbers are digits
KEPT = 5_000  # skeletons (two a variant at most, low and not; about 3 KB each with 4 locations)
Macro = Callable[[Any, Sequence[str]], Any]  # the template's stock_row(row, locations)
Finish = Callable[[str], str]  # what is done to the rendered row (compacting it)


def _mark(name: str) -> str:
    return f"{MARK}{name}{MARK}"


class _MarkedRow:
    """A row as the macro reads it, with a marker for each number."""

    def __init__(self, info: VariantInfo, low: bool, codes: Sequence[str]):
        self.info, self.low = info, low
        self._index = {code: str(index) for index, code in enumerate(codes)}
        self.total_available, self.total_on_hand = _mark("ta"), _mark("to")
        self.total_reserved, self.backordered = _mark("tr"), _mark("b")

    def available(self, code: str) -> str:
        return _mark("a" + self._index[code])

    def on_hand(self, code: str) -> str:
        return _mark("o" + self._index[code])

    def reserved(self, code: str) -> str:
        return _mark("r" + self._index[code])


def numbers(row: StockRow, codes: Sequence[str]) -> dict[str, str]:
    """Each marker's number for `row`."""
    found = {"ta": str(row.total_available), "to": str(row.total_on_hand), "tr": str(row.total_reserved),
             "b": str(row.backordered)}
    for index, code in enumerate(codes):
        found[f"a{index}"] = str(row.available(code))
        found[f"o{index}"] = str(row.on_hand(code))
        found[f"r{index}"] = str(row.reserved(code))
    return found


class RowSkeletons:
    def __init__(self, kept: int = KEPT):
        self._kept = kept
        self._skeletons: OrderedDict[tuple[VariantInfo, tuple[str, ...], bool], list[str]] = OrderedDict()
        self.made = 0  # skeletons rendered

    def render(self, macro: Callable[[], Macro], row: StockRow, codes: Sequence[str], finish: Finish) -> str:
        """`finish(str(macro()(row, codes)))`, from the variant's skeleton (made by `macro` if need be).
        `finish` must leave a marker and a number as they are."""
        key = (row.info, tuple(codes), row.low)
        pieces = self._skeletons.get(key)
        if pieces is None:
            pieces = finish(str(macro()(_MarkedRow(row.info, row.low, codes), codes))).split(MARK)
            self._skeletons[key] = pieces
            self.made += 1
            while len(self._skeletons) > self._kept:
                self._skeletons.popitem(last=False)
        else:
            self._skeletons.move_to_end(key)
        values = numbers(row, codes)
        filled = list(pieces)
        filled[1::2] = [values[name] for name in pieces[1::2]]  # text, marker, text, marker, ..., text
        return "".join(filled)
