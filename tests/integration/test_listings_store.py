"""The partner side of the store on SQLite and PostgreSQL: desired and pushed quantities per
listing, refused pushes, drift forgetting what was told, cursors and credentials, processed events."""

from __future__ import annotations

from store import listings as store
from store.engine import make_engine
from tests.harness.secret_box import fresh_box
from tests.integration.conftest import small_catalog


async def test_listings_keep_desired_pushed_refusals_and_forgotten_pushes(database_url: str) -> None:
    fx = await small_catalog(database_url, variants=3)
    a, b, c = fx.variants
    engine = make_engine(database_url)
    try:
        await store.ensure_partner(engine, "shop", "shopify", "Shop", "http://x", "reject", {})
        await store.save_desired(engine, "shop", [(a, 5, 1.0), (b, 0, 2.0), (c, 9, 3.0)])
        await store.save_desired(engine, "shop", [(a, 4, 4.0)])  # newer value replaces the row
        await store.save_pushed(engine, "shop", [(a, 4, 10.0, ""), (b, 0, 11.0, ""),
                                                 (c, None, None, "quantity too large")])
        rows = {row.sku: row for row in await store.load_listings(engine, "shop")}
        assert [(r.desired, r.desired_at, r.pushed, r.pushed_at, r.last_error) for r in rows.values()] == [
            (4, 4.0, 4, 10.0, ""), (0, 2.0, 0, 11.0, ""), (9, 3.0, None, None, "quantity too large")]
        await store.save_pushed(engine, "shop", [(c, 9, 12.0, "")])  # a later try succeeds
        await store.forget_pushed(engine, "shop", [a])  # drift: push it again
        rows = {row.sku: row for row in await store.load_listings(engine, "shop")}
        assert [(r.pushed, r.last_error) for r in rows.values()] == [(None, ""), (0, ""), (9, "")]
        assert await store.drift_counts(engine) == {"shop": 1}
    finally:
        await engine.dispose()


async def test_cursor_credentials_and_processed_events_are_kept_per_partner(database_url: str) -> None:
    await small_catalog(database_url, variants=1)
    engine = make_engine(database_url)
    try:
        await store.ensure_partner(engine, "etsy", "etsy", "Etsy", "http://x", "backorder", {})
        box = fresh_box()
        assert await store.load_state(engine, "etsy", box) == (None, {})
        await store.save_state(engine, "etsy", "c1", {"refresh_token": "r1"}, box)
        await store.save_state(engine, "etsy", "c2", {"refresh_token": "r2"}, box)
        assert await store.load_state(engine, "etsy", box) == ("c2", {"refresh_token": "r2"})
        await store.record_events(engine, "etsy", ["e1", "e2", "e1"])
        await store.record_events(engine, "etsy", ["e2", "e3"])  # a replay adds nothing twice
        assert await store.seen_events(engine, "etsy", ["e1", "e3", "e4"]) == {"e1", "e3"}
        assert await store.seen_events(engine, "other", ["e1"]) == set()
    finally:
        await engine.dispose()
