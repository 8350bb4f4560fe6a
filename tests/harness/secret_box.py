"""A box with a key of its own, for tests that store partner credentials."""

from __future__ import annotations

from cryptography.fernet import Fernet

from store.secrets import SecretBox


def fresh_box() -> SecretBox:
    return SecretBox([Fernet.generate_key().decode("ascii")])
