"""Who is calling: a Principal (the name the ledger and the audit trail write, and a role), and the
four roles, each allowed everything the one before it is: viewer < clerk < manager < admin."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"    # reads everything, changes nothing
    CLERK = "clerk"      # receipts, adjustments, transfers, stock-takes, fulfilling orders
    MANAGER = "manager"  # orders, cancels, catalog, locations, reorder points, partners, alerts
    ADMIN = "admin"      # users, API keys, settings

    @property
    def rank(self) -> int:
        return ORDER.index(self)

    def allows(self, needed: Role) -> bool:
        """This role may do what `needed` may (every role has everything of the ones below it)."""
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, raw: object) -> Role | None:
        return cls(raw) if isinstance(raw, str) and raw in cls._value2member_map_ else None


ORDER = (Role.VIEWER, Role.CLERK, Role.MANAGER, Role.ADMIN)


@dataclass(frozen=True)
class Principal:
    """`name` is what the ledger's and the audit trail's `actor` say: a user's name (`alice`),
    `key:<name>` for an API key, `admin-token` for THREADCOUNT_ADMIN_TOKEN."""

    name: str
    role: Role

    def may(self, needed: Role) -> bool:
        return self.role.allows(needed)


ADMIN_TOKEN = Principal("admin-token", Role.ADMIN)


def key_actor(name: str) -> str:
    return f"key:{name}"
