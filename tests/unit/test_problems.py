"""Every domain refusal and unavailability gets its HTTP status in web.problems, and only there."""

from __future__ import annotations

import pytest

from inventory.commands import Failure
from web.problems import ApiError, partner_unavailable, refused, starting, taken, unavailable


@pytest.mark.parametrize(("code", "status"), [
    ("not_found", 404),
    ("invalid_adjustment", 422),
    ("below_reserved", 409),
    ("insufficient_stock", 409),
    ("external_id_reused", 409),
    ("order_backordered", 409),
    ("order_fulfilled", 409),
    ("order_cancelled", 409),
    ("order_rejected", 409),
])
def test_a_refusal_answers_with_the_status_its_code_maps_to(code: str, status: int) -> None:
    problem = refused(Failure(code, "why"))
    assert (problem.status, problem.body()) == (status, {"error": {"code": code, "message": "why"}})


def test_a_shard_that_does_not_answer_is_503_and_says_a_retry_is_safe() -> None:
    problem = unavailable("shard 1 did not answer")
    assert (problem.status, problem.code) == (503, "unavailable")
    assert problem.message == "shard 1 did not answer; retrying the same request is safe"


def test_a_service_still_starting_is_503() -> None:
    assert isinstance(starting(), ApiError) and (starting().status, starting().code) == (503, "starting")


def test_a_taken_name_is_409_and_a_partner_that_does_not_answer_is_502() -> None:
    assert (taken("code: WH-EAST exists").status, taken("x").code) == (409, "already_exists")
    assert (partner_unavailable("etsy down").status, partner_unavailable("x").code) == (502, "partner_unavailable")
