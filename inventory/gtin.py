"""GTINs as variants carry them: a 12-digit UPC-A or a 13-digit EAN-13, whose last digit is the
GS1 check digit (weights 3 and 1 from the right, over the digits before it). Pure."""

from __future__ import annotations

LENGTHS = {12: "UPC", 13: "EAN"}


def check_digit(body: str) -> int:
    """The GS1 check digit of the digits before it."""
    total = sum(int(digit) * (3 if position % 2 == 0 else 1)
                for position, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_problem(value: str) -> str | None:
    """What is wrong with `value` as a GTIN, or None when it is a valid UPC-12 or EAN-13."""
    if not value.isascii() or not value.isdigit() or len(value) not in LENGTHS:
        return "must be a 12-digit UPC or a 13-digit EAN"
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        return f"check digit is {value[-1]}, a {LENGTHS[len(value)]} with these digits ends in {expected}"
    return None
