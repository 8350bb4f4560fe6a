"""inventory/gtin: a UPC-12 or EAN-13 with its GS1 check digit."""

from __future__ import annotations

import pytest

from inventory.gtin import check_digit, gtin_problem


@pytest.mark.parametrize("gtin", ["012345678905", "036000291452", "4006381333931", "5901234123457"])
def test_published_upcs_and_eans_are_valid(gtin: str) -> None:
    assert gtin_problem(gtin) is None and check_digit(gtin[:-1]) == int(gtin[-1])


@pytest.mark.parametrize(("gtin", "says"), [
    ("012345678901", "check digit is 1"), ("4006381333932", "ends in 1"), ("01234567890", "12-digit"),
    ("0123456789055", "check digit"), ("01234567890X", "12-digit"), ("\uff1012345678905", "12-digit")])
def test_a_wrong_length_or_check_digit_is_named(gtin: str, says: str) -> None:
    assert says in (gtin_problem(gtin) or "")
