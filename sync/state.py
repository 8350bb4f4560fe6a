"""What one partner's sync keeps in the store besides its listings: the poll cursor and the
credentials the connector rewrites (a rotated refresh token, a new access token), sealed at rest.
Both are written together, the cursor only after the orders it moves past have committed.

A stored credential replaces the configured one only while the configuration still gives what it
gave when that credential was stored: a token the connector rotated survives a restart, but a password,
secret or host key fingerprint changed in config.yaml since wins over the stored copy. (The store keeps a
digest of each configured value for this, under `CONFIGURED`; rows written before it had none and are
taken whole, as they always were.)"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from store import listings as store
from store.secrets import SecretBox


class StoredState:
    def __init__(self, engine: Any, partner_id: str, credentials: dict[str, str], box: SecretBox):
        """`credentials` is the connector's own dict, which it rewrites as tokens change; `box` seals
        them before they are stored and opens them when read back."""
        self._engine, self._partner_id, self._box = engine, partner_id, box
        self._credentials = credentials
        self._configured = {name: _digest(value) for name, value in credentials.items()}
        self._saved: dict[str, str] = dict(credentials)
        self.cursor: str | None = None

    async def load(self) -> None:
        self.cursor, saved = await store.load_state(self._engine, self._partner_id, self._box)
        self._credentials.update(kept(saved, self._configured))
        self._saved = dict(self._credentials)

    async def save(self) -> None:
        self._saved = dict(self._credentials)
        row = {**self._saved, CONFIGURED: json.dumps(self._configured, sort_keys=True)}
        await store.save_state(self._engine, self._partner_id, self.cursor, row, self._box)

    async def advance(self, cursor: str | None) -> None:
        """The events before `cursor` have committed: poll from there from now on."""
        self.cursor = cursor
        await self.save()

    async def save_if_credentials_changed(self) -> None:
        """At once: a rotated refresh token (Etsy) is the only one that works from now on."""
        if self._credentials != self._saved:
            await self.save()


CONFIGURED = "_configured_digests"


def _digest(value: Any) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()


def kept(saved: dict[str, str], configured: dict[str, str]) -> dict[str, str]:
    """The stored credentials that still apply, given the digests of what is configured now."""
    saved = dict(saved)
    then: dict[str, str] | None = json.loads(saved.pop(CONFIGURED)) if CONFIGURED in saved else None
    if then is None:
        return saved
    return {name: value for name, value in saved.items()
            if name not in configured or then.get(name) == configured[name]}
