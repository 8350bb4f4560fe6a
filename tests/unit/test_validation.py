"""web/validation: every problem is a 422 whose message starts with the field it is about."""

from __future__ import annotations

import re
from typing import Any

import pytest

from web.problems import ApiError, invalid, not_found
from web.validation import CODE, body_object, choice, integer, items, optional_text, query_limit, text


def problem(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def assert_invalid(error: ApiError, field: str) -> None:
    assert (error.status, error.code) == (422, "invalid_field")
    assert error.message.startswith(f"{field}: "), error.message


def test_an_invalid_field_has_the_one_error_shape() -> None:
    error = invalid("sku", "is required")
    assert error.body() == {"error": {"code": "invalid_field", "message": "sku: is required"}}
    assert str(error) == "sku: is required"
    assert not_found("id: no order 'x'").status == 404


@pytest.mark.parametrize("data", [[], "x", None, 3])
def test_a_body_that_is_not_an_object_is_malformed(data: Any) -> None:
    error = problem(body_object, data)
    assert (error.status, error.code) == (400, "malformed_body")
    assert error.message.startswith("body: ")


def test_a_body_object_is_passed_through() -> None:
    assert body_object({"a": 1}) == {"a": 1}


# -- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["  Percale", "Percale ", "Percale\n", "\tPercale", "\u00a0Percale",
                                   "Percale\u3000"])
def test_text_that_begins_or_ends_with_a_space_is_refused_not_trimmed(value: str) -> None:
    error = problem(text, {"name": value}, "name")
    assert error.message == "name: must not begin or end with a space or a control character"


def test_text_may_hold_spaces_inside() -> None:
    assert text({"name": "Percale  sheet"}, "name") == "Percale  sheet"


@pytest.mark.parametrize(("data", "problem_text"), [
    ({}, "is required"),
    ({"name": None}, "is required"),
    ({"name": 5}, "must be a string"),
    ({"name": True}, "must be a string"),
    ({"name": "   "}, "must not be empty"),
    ({"name": "x" * 11}, "must be at most 10 characters"),
])
def test_a_bad_text_field_is_named_in_the_error(data: dict[str, Any], problem_text: str) -> None:
    error = problem(text, data, "name", max_length=10)
    assert_invalid(error, "name")
    assert error.message == f"name: {problem_text}"


def test_text_at_exactly_its_maximum_length_is_accepted() -> None:
    assert text({"name": "x" * 10}, "name", max_length=10) == "x" * 10


def test_text_must_match_its_pattern() -> None:
    assert text({"sku": "SHEET-Q.white_1"}, "sku", pattern=CODE) == "SHEET-Q.white_1"
    assert_invalid(problem(text, {"sku": "sheet white"}, "sku", pattern=CODE), "sku")
    assert_invalid(problem(text, {"sku": "sheet/white"}, "sku", pattern=CODE), "sku")


def test_a_field_inside_a_list_is_named_by_its_label() -> None:
    error = problem(text, {}, "sku", label="lines[2].sku")
    assert error.message == "lines[2].sku: is required"
    error = problem(integer, {"quantity": 0}, "quantity", minimum=1, label="lines[0].quantity")
    assert error.message == "lines[0].quantity: must be at least 1"


def test_an_optional_text_field_may_be_missing_or_empty() -> None:
    assert text({}, "note", required=False) == ""
    assert text({}, "note", required=False, default="none") == "none"
    assert text({"note": ""}, "note", required=False) == ""
    assert optional_text({}, "note") is None
    assert optional_text({"note": None}, "note") is None
    assert optional_text({"note": ""}, "note") is None
    assert optional_text({"note": "hi\nthere"}, "note") == "hi\nthere"
    assert_invalid(problem(optional_text, {"note": " hi "}, "note"), "note")
    assert_invalid(problem(optional_text, {"note": "  "}, "note"), "note")


def test_an_optional_text_field_still_has_a_maximum_length() -> None:
    assert_invalid(problem(optional_text, {"note": "x" * 2001}, "note"), "note")
    assert_invalid(problem(optional_text, {"note": 3}, "note"), "note")


# -- integer -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
def test_a_bool_is_not_an_integer(value: bool) -> None:
    error = problem(integer, {"quantity": value}, "quantity")
    assert error.message == "quantity: must be a whole number"


@pytest.mark.parametrize("value", [1.5, float("nan"), float("inf"), "3", [1], {"n": 1}])
def test_anything_but_an_int_is_not_a_whole_number(value: Any) -> None:
    assert_invalid(problem(integer, {"quantity": value}, "quantity"), "quantity")


def test_a_number_with_no_fraction_is_the_whole_number_it_spells() -> None:
    # JSON (and JSON Schema's "integer") do not tell 2.0 from 2: the OpenAPI document promises both
    assert integer({"quantity": 2.0}, "quantity", minimum=1) == 2
    assert isinstance(integer({"quantity": 2.0}, "quantity"), int)
    assert_invalid(problem(integer, {"quantity": 1e10}, "quantity"), "quantity")


def test_an_integer_is_accepted_within_its_limits() -> None:
    assert integer({"quantity": 1}, "quantity", minimum=1) == 1
    assert integer({"quantity": 10**9}, "quantity") == 10**9
    assert integer({"delta": -(10**9)}, "delta") == -(10**9)


@pytest.mark.parametrize(("value", "problem_text"), [
    (0, "must be at least 1"),
    (-3, "must be at least 1"),
    (10**9 + 1, "must be at most 1000000000"),
])
def test_an_integer_outside_its_limits_is_refused(value: int, problem_text: str) -> None:
    error = problem(integer, {"quantity": value}, "quantity", minimum=1)
    assert error.message == f"quantity: {problem_text}"


def test_a_negative_integer_beyond_the_maximum_magnitude_is_refused() -> None:
    assert_invalid(problem(integer, {"delta": -(10**9) - 1}, "delta"), "delta")


def test_an_integer_has_a_custom_maximum() -> None:
    assert integer({"n": 5}, "n", maximum=5) == 5
    assert problem(integer, {"n": 6}, "n", maximum=5).message == "n: must be at most 5"


def test_a_missing_integer_is_required_unless_it_has_a_default() -> None:
    assert problem(integer, {}, "quantity").message == "quantity: is required"
    assert integer({}, "quantity", required=False, default=7) == 7
    assert integer({"quantity": None}, "quantity", required=False, default=7) == 7


# -- choice, items, query_limit ------------------------------------------------------------------


def test_a_choice_must_be_one_of_its_options() -> None:
    options = ("count", "damage")
    assert choice({"reason": "damage"}, "reason", options) == "damage"
    assert choice({}, "reason", options, default="count") == "count"
    error = problem(choice, {"reason": "theft"}, "reason", options)
    assert error.message == "reason: must be one of count, damage, not 'theft'"
    assert problem(choice, {}, "reason", options).message == "reason: is required (one of count, damage)"
    assert_invalid(problem(choice, {"reason": 1}, "reason", options), "reason")


@pytest.mark.parametrize("value", [None, [], "abc", {"sku": "x"}])
def test_items_must_be_a_non_empty_list(value: Any) -> None:
    error = problem(items, {"lines": value}, "lines")
    assert error.message == "lines: must be a non-empty list"


def test_items_have_a_maximum_count() -> None:
    assert len(items({"lines": [{}] * 3}, "lines", max_items=3)) == 3
    error = problem(items, {"lines": [{}] * 4}, "lines", max_items=3)
    assert error.message == "lines: must have at most 3 entries"


def test_an_item_that_is_not_an_object_is_named_by_its_index() -> None:
    error = problem(items, {"lines": [{"sku": "a"}, "b"]}, "lines")
    assert error.message == "lines[1]: must be an object"


@pytest.mark.parametrize(("raw", "expected"), [(None, 50), ("1", 1), ("500", 500), ("07", 7)])
def test_a_query_limit_defaults_and_parses(raw: str | None, expected: int) -> None:
    assert query_limit(raw, 50, 500) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "501", "ten", "1.5", "", " 7", "+7", "1_0", "\u0663", "7\n", "9" * 5000])
def test_a_bad_query_limit_is_a_400_that_names_the_limit(raw: str) -> None:
    error = problem(query_limit, raw, 50, 500)
    assert (error.status, error.code) == (400, "invalid_query")
    assert error.message.startswith("limit: ")


def test_the_text_patterns_the_openapi_document_publishes_are_what_text_accepts() -> None:
    from web.validation import LINES_PATTERN, TEXT_PATTERN

    samples = ["a", "Percale sheet", " a", "a ", "a\tb", "a\nb", "\u00a0", "\ufeffa", "a\u2028", "é", "x" * 5]
    for value in samples:
        accepted = True
        try:
            text({"v": value}, "v")
        except ApiError:
            accepted = False
        assert accepted == bool(re.fullmatch(TEXT_PATTERN, value)), value
        try:
            kept = optional_text({"v": value}, "v") is not None
        except ApiError:
            kept = False
        assert kept == bool(re.fullmatch(LINES_PATTERN, value)), value
