"""An order line's allocations, kept on the line itself as "location_id:quantity,..." (one row per
line instead of one per line and location: fewer rows to write in the hot group commit)."""

from __future__ import annotations


def encode_allocations(allocations: dict[int, int]) -> str:
    if len(allocations) == 1:  # the usual case, on the hot path
        for location, quantity in allocations.items():
            return f"{location}:{quantity}" if quantity else ""
    return ",".join(f"{location}:{quantity}" for location, quantity in allocations.items() if quantity)


def decode_allocations(text: str) -> dict[int, int]:
    found: dict[int, int] = {}
    for pair in text.split(","):
        if pair:
            location, _, quantity = pair.partition(":")
            found[int(location)] = int(quantity)
    return found
