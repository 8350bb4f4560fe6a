"""A product's variant matrix: sizes x colours x materials, each variant with a generated SKU."""

from __future__ import annotations

import pytest

from web.dashboard.variant_matrix import Option, PlannedVariant, derived_code, parse_options, plan_variants
from web.problems import ApiError


def test_options_take_given_codes_or_derive_them_from_the_first_three_letters() -> None:
    assert parse_options("Q=queen, king size,\n twin", "sizes") == [
        Option("Q", "queen"), Option("KIN", "king size"), Option("TWI", "twin")]
    assert derived_code("off-white") == "OFF"


def test_every_combination_becomes_a_variant_named_product_size_colour_material() -> None:
    planned = plan_variants("SHEET", parse_options("Q=queen, K=king", "sizes"),
                            parse_options("WHT=white, NVY=navy", "colors"), parse_options("PER=percale", "materials"))
    assert [v.sku for v in planned] == ["SHEET-Q-WHT-PER", "SHEET-Q-NVY-PER", "SHEET-K-WHT-PER", "SHEET-K-NVY-PER"]
    assert planned[1] == PlannedVariant("SHEET-Q-NVY-PER", "queen", "navy", "percale")


def test_an_empty_dimension_is_left_out_of_the_sku() -> None:
    planned = plan_variants("THROW", parse_options("S=small", "sizes"), [], parse_options("wool", "materials"))
    assert planned == [PlannedVariant("THROW-S-WOO", "small", "", "wool")]


def test_two_options_that_would_share_a_code_are_refused_naming_the_field() -> None:
    with pytest.raises(ApiError, match="colors: 'grey' and 'green' share the code 'GRE'"):
        parse_options("grey, green", "colors")
    with pytest.raises(ApiError, match=r"sizes: .* share the name"):
        parse_options("Q=queen, QN=Queen", "sizes")


def test_a_matrix_needs_a_dimension_and_stays_within_its_limits() -> None:
    with pytest.raises(ApiError, match="sizes: give at least one"):
        plan_variants("SHEET", [], [], [])
    many = [Option(f"C{i}", f"colour {i}") for i in range(30)]
    with pytest.raises(ApiError, match="900 variants"):
        plan_variants("SHEET", many, many, [])
    with pytest.raises(ApiError, match=r"colors: .*its code"):
        parse_options("W H=white", "colors")
