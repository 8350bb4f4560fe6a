"""Reconciliation and the status report of one partner's sync."""

from __future__ import annotations

import functools
import statistics
import time
from typing import TYPE_CHECKING, Any

from store import listings as store

if TYPE_CHECKING:
    from sync.partner_sync import PartnerSync

READ_BATCH = 100


async def reconcile(sync: PartnerSync) -> dict[str, int]:
    """Compare what the partner shows with what it was last told. A listing that was told and shows
    something else drifted (edited by hand at the partner, a lost push): push it again. Listings
    still waiting for a push are skipped: their push is coming anyway."""
    told = {sku: e.pushed for sku, e in sync.outbox.entries.items() if not e.dirty and not e.in_flight}
    skus = sorted(told)
    shown: dict[str, int] = {}
    for start in range(0, len(skus), READ_BATCH):
        chunk = skus[start:start + READ_BATCH]
        shown.update(await sync.call("reconcile", functools.partial(sync.connector.read_listings, chunk)))
    drifted = sorted(sku for sku, quantity in shown.items()
                     if sku in told and told[sku] is not None and quantity != told[sku])
    sync.counters["reconciled"] += 1
    sync.counters["drift_corrected"] += len(drifted)
    if drifted:
        # The store forgets what was pushed first, then memory: a push of these listings can only
        # start after the second step, so its record of what it told cannot be overwritten.
        await store.forget_pushed(sync.engine, sync.config.id, [sync.catalog_id(sku) for sku in drifted])
        sync.outbox.force(drifted)
        await sync.save_desired()
        sample = ", ".join(f"{sku} showed {shown[sku]} not {told[sku]}" for sku in drifted[:5])
        await sync.alert("drift", sync.config.id,
                          f"{sync.config.name}: {len(drifted)} listing(s) drifted ({sample}); corrected")
        sync.wake.set()
    await store.log_sync(sync.engine, sync.config.id, "reconcile", True,
                         f"checked {len(shown)}, corrected {len(drifted)}"
                         + (f": {', '.join(drifted[:20])}" if drifted else ""), synced=True)
    return {"checked": len(shown), "corrected": len(drifted)}


def status(sync: PartnerSync) -> dict[str, Any]:
    now = time.time()
    lags = sorted(sync.lags)
    return {
        "id": sync.config.id,
        "kind": sync.config.kind,
        "name": sync.config.name,
        "base_url": sync.connector.spec.base_url,
        "status": _state(sync),
        "last_sync_at": sync.last_sync_at,
        "circuit": sync.breaker.state,
        "rate_limit_use": sync.limiter.usage(),
        "errors_recent": sum(1 for at in sync.errors if at > now - 15 * 60),
        "last_error": sync.last_error,
        "pending": sync.outbox.pending(),
        "oldest_pending_s": round(sync.outbox.oldest_pending_age(), 3),
        "listings": len(sync.outbox.entries),
        "desired_changes": sync.outbox.desired_changes,
        "pushes_saved_by_coalescing": sync.outbox.coalesced,
        "lag_p50_s": round(statistics.median(lags), 4) if lags else None,
        "lag_p99_s": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 4) if lags else None,
        **sync.counters,
    }


def _state(sync: PartnerSync) -> str:
    if not sync.connected:
        return "connecting"
    if sync.breaker.state != "closed":
        return "failing"
    return "syncing" if sync.outbox.pending() else "in_sync"
