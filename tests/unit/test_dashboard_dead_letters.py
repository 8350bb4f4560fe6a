"""The partners page template: a partner's open dead letters are listed, each with a retry form
that carries the CSRF token and posts to that letter."""

from __future__ import annotations

from types import SimpleNamespace

from store.dead_letters import DeadLetter
from web.dashboard import build_environment


def test_each_open_dead_letter_is_listed_with_its_reason_and_a_retry_form() -> None:
    letter = DeadLetter(7, "boutique", "LL-1004:paid", "LL-1004", {}, "line 1 is malformed", "open", 2, 0.0, 0.0)
    health = SimpleNamespace(partner_id="boutique", name="Boutique", kind="rest", last_ok_at=None, error_rate=None,
                             recent_failures=0, recent_calls=0, drifting=0)
    view = SimpleNamespace(health=health, status="in_sync", live=None, drift=[], lag=None, rate_limit_use=[],
                           ago=lambda _at: "3 s")
    template = build_environment().get_template("partners.html")
    context = {"partners": [view], "live": True, "letters": {"boutique": [letter]}, "notice": "", "error": "",
               "duration": str, "csrf_token": "tok-123"}
    html = "".join(template.blocks["partner_list"](template.new_context(context)))
    assert 'data-dead-letter="7"' in html and "LL-1004" in html and "line 1 is malformed" in html
    assert 'action="/partners/boutique/dead-letters/7/retry"' in html and ">Retry order</button>" in html
    assert "tok-123" in html
