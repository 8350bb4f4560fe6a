"""Partner secrets at rest: what the store keeps of a partner's credentials (app secrets, refresh and
access tokens, passwords, signing secrets) is sealed with Fernet (AES-128-CBC with HMAC-SHA256) and
stored as `{"enc": "v1", "token": "<fernet token>"}`; the plain JSON an older version wrote is still
read, and sealed by the next start.

Keys, newest first: each is a Fernet key (44 characters of URL-safe base64, as
`Fernet.generate_key()` makes) used as it is, or any other string of at least 16 characters, from
which a Fernet key is derived with HKDF-SHA256. A token sealed with any of the keys opens; new
tokens are sealed with the first. `reseal` moves every stored row to the first key (rotation)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import partner_state

VERSION = "v1"
MIN_PASSPHRASE = 16
KEY_VARIABLE = "THREADCOUNT_SECRET_KEY"
_SALT = b"threadcount partner secrets"
_INFO = b"fernet key v1"


class SecretKeyError(ValueError):
    """No usable key, or stored secrets that none of the keys opens."""


def fernet_key(key: str) -> str:
    """The Fernet key a configured key stands for: itself when it is one, else derived from it."""
    key = key.strip()
    try:
        if len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32 and len(key) == 44:
            return key
    except (binascii.Error, ValueError, UnicodeEncodeError):
        pass
    if len(key) < MIN_PASSPHRASE:
        raise SecretKeyError(f"{KEY_VARIABLE}: each key must be a Fernet key or a passphrase of at least "
                             f"{MIN_PASSPHRASE} characters (one was {len(key)})")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(key.encode())
    return base64.urlsafe_b64encode(derived).decode("ascii")


def split_keys(*values: str | None) -> list[str]:
    """Comma-separated key lists, in order, without blanks."""
    return [part.strip() for value in values if value for part in value.split(",") if part.strip()]


class SecretBox:
    def __init__(self, keys: Sequence[str], source: str = KEY_VARIABLE):
        """`keys` newest first; `source` names where they came from, for error messages."""
        if not keys:
            raise SecretKeyError(f"{KEY_VARIABLE} holds no key")
        self.keys: tuple[str, ...] = tuple(fernet_key(key) for key in keys)
        self.source = source
        self._newest = Fernet(self.keys[0])
        self._any = MultiFernet([Fernet(key) for key in self.keys])

    def seal(self, secrets: dict[str, str]) -> str:
        token = self._newest.encrypt(json.dumps(secrets, sort_keys=True).encode())
        return json.dumps({"enc": VERSION, "token": token.decode("ascii")})

    def open(self, stored: str | None, what: str = "stored secrets") -> dict[str, str]:
        """The secrets a stored value holds, sealed or (as an older version wrote them) plain."""
        found = _parse(stored)
        if not _is_sealed(found):
            return {str(k): str(v) for k, v in found.items()}
        try:
            plain = self._any.decrypt(str(found["token"]).encode("ascii"))
        except InvalidToken:
            raise SecretKeyError(
                f"the {what} were encrypted with a key that is not in {self.source}: set "
                f"{KEY_VARIABLE} to that key (or keep it readable in {KEY_VARIABLE}_PREVIOUS), or restore "
                f"the key file from the backup of this data folder") from None
        return {str(k): str(v) for k, v in json.loads(plain).items()}

    def sealed_with_newest(self, stored: str | None) -> bool:
        found = _parse(stored)
        if not _is_sealed(found):
            return False
        try:
            self._newest.decrypt(str(found["token"]).encode("ascii"))
        except InvalidToken:
            return False
        return True


def _parse(stored: str | None) -> dict[str, Any]:
    found = json.loads(stored or "{}")
    if not isinstance(found, dict):
        raise SecretKeyError("a stored secret is neither sealed nor a JSON object")
    return found


def _is_sealed(found: dict[str, Any]) -> bool:
    return found.get("enc") == VERSION and isinstance(found.get("token"), str)


async def reseal(engine: AsyncEngine, box: SecretBox) -> int:
    """Every partner's stored credentials sealed with the newest key: plain rows (an older version)
    and rows sealed with an older key are rewritten; a row no key opens raises SecretKeyError, before
    anything is written.
    A row changed meanwhile (its partner saved new tokens) is left to that newer save."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(partner_state.c.partner_id, partner_state.c.credentials))).all()
    # every row opened before any is written: with a wrong key, plain rows are not sealed with it
    moving = [(partner_id, stored, box.open(stored, f"credentials of partner {partner_id!r}"))
              for partner_id, stored in rows if not box.sealed_with_newest(stored)]
    changed = 0
    for partner_id, stored, secrets in moving:
        sealed = box.seal(secrets)
        async with engine.begin() as conn:
            done = await conn.execute(update(partner_state).where(and_(
                partner_state.c.partner_id == partner_id, partner_state.c.credentials == stored,
            )).values(credentials=sealed))
            changed += done.rowcount
    return changed
