"""Where the key that seals partner secrets at rest comes from, and its rotation.

THREADCOUNT_SECRET_KEY (several keys separated by commas, newest first; THREADCOUNT_SECRET_KEY_PREVIOUS
adds older ones after them) when set; else DATA_DIR/secret.key, generated once with mode 0600, one
key a line, newest first. At every start each stored secret is re-encrypted with the newest key;
`python run.py rotate-secrets` makes a new key file and moves everything to it."""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography.fernet import Fernet

from service.config import Settings
from store.engine import make_engine
from store.migrate import upgrade
from store.private_files import private_file, replace_private_file
from store.secrets import KEY_VARIABLE, SecretBox, reseal

log = logging.getLogger(__name__)


def key_file(settings: Settings) -> Path:
    return settings.data_dir / "secret.key"


def secret_box(settings: Settings) -> SecretBox:
    """The keys from the environment, or from the key file (generated when missing)."""
    if settings.secret_keys:
        return SecretBox(settings.secret_keys)
    path = key_file(settings)
    existed = path.exists()
    keys = private_file(path, Fernet.generate_key().decode("ascii")).split()
    if not existed:
        log.warning("partner secrets are encrypted with a key generated into %s: back it up with the "
                    "database (or set %s)", path, KEY_VARIABLE)
    return SecretBox(keys, f"{KEY_VARIABLE} (unset, so the key file {path})")


async def reseal_stored(settings: Settings, box: SecretBox) -> int:
    engine = make_engine(settings.database_url, settings.sqlite_synchronous)
    try:
        return await reseal(engine, box)
    finally:
        await engine.dispose()


async def rotate_secrets(settings: Settings) -> str:
    """With the service stopped: every stored secret re-encrypted with a new key. From the key file:
    a new key is written first, before the old one (so a crash meanwhile leaves both readable), the
    rows are re-encrypted, then the file keeps the new key only. From the environment: the rows move
    to its first key, and the operator removes the older ones from it."""
    await upgrade(settings.database_url)
    if settings.secret_keys:
        moved = await reseal_stored(settings, SecretBox(settings.secret_keys))
        return (f"{moved} partners' secrets re-encrypted with the first key of {KEY_VARIABLE}; "
                f"the older keys in it (and {KEY_VARIABLE}_PREVIOUS) can now be removed")
    path = key_file(settings)
    old = secret_box(settings).keys
    new = Fernet.generate_key().decode("ascii")
    replace_private_file(path, "\n".join([new, *old]) + "\n")
    moved = await reseal_stored(settings, SecretBox([new, *old]))
    replace_private_file(path, new + "\n")
    return (f"{moved} partners' secrets re-encrypted with a new key in {path}; the old key is gone: "
            f"back up the new key file")
