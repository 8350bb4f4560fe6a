"""What one partner's sync keeps in the store besides its listings: the poll cursor and the
credentials the connector rewrites (a rotated refresh token, a new access token), sealed at rest.
Both are written together, the cursor only after the orders it moves past have committed."""

from __future__ import annotations

from typing import Any

from store import listings as store
from store.secrets import SecretBox


class StoredState:
    def __init__(self, engine: Any, partner_id: str, credentials: dict[str, str], box: SecretBox):
        """`credentials` is the connector's own dict, which it rewrites as tokens change; `box` seals
        them before they are stored and opens them when read back."""
        self._engine, self._partner_id, self._box = engine, partner_id, box
        self._credentials = credentials
        self._saved: dict[str, str] = dict(credentials)
        self.cursor: str | None = None

    async def load(self) -> None:
        self.cursor, saved = await store.load_state(self._engine, self._partner_id, self._box)
        self._credentials.update(saved)
        self._saved = dict(self._credentials)

    async def save(self) -> None:
        self._saved = dict(self._credentials)
        await store.save_state(self._engine, self._partner_id, self.cursor, self._saved, self._box)

    async def advance(self, cursor: str | None) -> None:
        """The events before `cursor` have committed: poll from there from now on."""
        self.cursor = cursor
        await self.save()

    async def save_if_credentials_changed(self) -> None:
        """At once: a rotated refresh token (Etsy) is the only one that works from now on."""
        if self._credentials != self._saved:
            await self.save()
