"""The tables. Stock rows and the ledger are written in the same transaction; CHECK constraints
forbid negative stock and reserving more than is on hand, whatever the code above them does."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")

locations = Table(
    "locations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("priority", Integer, nullable=False, server_default="100"),
    Column("created_at", Float, nullable=False),
    CheckConstraint("kind IN ('warehouse', 'store')", name="kind"),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sku", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
)

variants = Table(
    "variants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("product_id", Id, ForeignKey("products.id"), nullable=False, index=True),
    Column("sku", String(100), nullable=False, unique=True),
    Column("size", String(40), nullable=False, server_default=""),
    Column("color", String(40), nullable=False, server_default=""),
    Column("material", String(40), nullable=False, server_default=""),
    Column("reorder_point", Integer, nullable=True),
    # UPC-12 or EAN-13 as given (migration 0003_variant_gtin); partners name products by it.
    Column("gtin", String(14), nullable=True, unique=True),
)

inventory = Table(
    "inventory",
    metadata,
    Column("variant_id", Id, ForeignKey("variants.id"), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id"), primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
    CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("variant_id", Id, ForeignKey("variants.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("delta_on_hand", Integer, nullable=False),
    Column("delta_reserved", Integer, nullable=False),
    Column("reason", String(40)),
    Column("reference", String(200)),
    Column("note", Text),
    Column("actor", String(100)),
    Column("command_id", String(100)),
    CheckConstraint(
        "kind IN ('receipt', 'adjustment', 'transfer_out', 'transfer_in', 'reserve', 'release', 'fulfil')",
        name="kind",
    ),
    Index("ix_ledger_variant_location", "variant_id", "location_id", "id"),
)

orders = Table(
    "orders",
    metadata,
    # Stored by a key that rises with time (inventory.partition.OrderSeqs), so inserts append; the
    # public id is derived from (channel, external_id), so its unique index is their uniqueness too.
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("id", String(40), nullable=False, unique=True),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("policy", String(16), nullable=False),
    Column("locations", String(400), nullable=False),
    Column("placed_at", Float, nullable=False),
    Column("signature", String(64), nullable=False, server_default=""),
    Index("ix_orders_channel_seq", "channel", "seq"),  # newest first by channel; seq is time order
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_seq", Id, ForeignKey("orders.seq"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("variant_id", Id, ForeignKey("variants.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("backordered", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    # where the line's units were taken: "location_id:quantity,..." (see store/lines.py)
    Column("allocations", String(400), nullable=False, server_default=""),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("backordered >= 0 AND backordered <= quantity", name="backordered_within_quantity"),
    CheckConstraint("state IN ('open', 'fulfilled', 'cancelled', 'rejected')", name="state"),
    # Only lines still waiting for stock: most lines never enter it, which keeps the hot insert cheap.
    Index("ix_order_lines_backordered", "variant_id", sqlite_where=text("backordered > 0"),
          postgresql_where=text("backordered > 0")),
)

processed_commands = Table(
    "processed_commands",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("result", Text, nullable=False),
    Column("at", Float, nullable=False),
)

partners = Table(
    "partners",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("base_url", String(400), nullable=False, server_default=""),
    Column("status", String(32), nullable=False, server_default="configured"),
    Column("policy", String(16), nullable=False, server_default="reject"),
    Column("last_sync_at", Float),
    Column("config", Text, nullable=False, server_default="{}"),
)

sync_logs = Table(
    "sync_logs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", String(64), ForeignKey("partners.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("message", Text, nullable=False, server_default=""),
    Index("ix_sync_logs_partner_at", "partner_id", "at"),
)

# --- partner sync, alerts, audit, users (migration 0002) ---------------------------------------

listings = Table(
    "listings",
    metadata,
    Column("partner_id", String(64), ForeignKey("partners.id"), primary_key=True),
    Column("variant_id", Id, ForeignKey("variants.id"), primary_key=True),
    Column("desired", Integer, nullable=False),
    Column("desired_at", Float, nullable=False),
    Column("pushed", Integer),
    Column("pushed_at", Float),
    Column("last_error", Text, nullable=False, server_default=""),
    CheckConstraint("desired >= 0", name="desired_not_negative"),
)

partner_state = Table(
    "partner_state",
    metadata,
    Column("partner_id", String(64), ForeignKey("partners.id"), primary_key=True),
    Column("cursor", Text),
    Column("credentials", Text, nullable=False, server_default="{}"),
    Column("updated_at", Float, nullable=False),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("partner_id", String(64), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("at", Float, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("raised_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("acknowledged_at", Float),
    Column("acknowledged_by", String(100)),
    # one open alert per (kind, key): a storm of the same problem raises it once
    Index("uq_alerts_open", "kind", "key", unique=True,
          sqlite_where=text("acknowledged_at IS NULL"), postgresql_where=text("acknowledged_at IS NULL")),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(200), nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
    Index("ix_audit_log_at", "at"),
)

users = Table(
    "users",
    metadata,
    Column("username", String(100), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # migration 0006: roles, contact, disabling; a password change or a disable ends the sessions
    Column("role", String(16), nullable=False, server_default="viewer"),
    Column("email", String(200), nullable=True),
    Column("phone", String(50), nullable=True),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("password_changed_at", Float, nullable=True),
    CheckConstraint("role IN ('viewer', 'clerk', 'manager', 'admin')", name="role"),
)

# --- API keys and dashboard sessions (migration 0006) -------------------------------------------

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),   # sha256 hex of the key; never the key
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    CheckConstraint("role IN ('viewer', 'clerk', 'manager', 'admin')", name="role"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),                     # sha256 hex of the cookie's session id
    Column("username", String(100), ForeignKey("users.username"), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# --- partner orders that could not be applied (migration 0003_partner_dead_letters) -----------

partner_dead_letters = Table(
    "partner_dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", String(64), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("order_id", String(200), nullable=False),
    Column("event", Text, nullable=False),             # the order event as JSON, to apply on retry
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),   # open | applied
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("uq_partner_dead_letters_event", "partner_id", "event_id", unique=True),
)

# --- API idempotency keys (migration 0005_idempotency_keys) -----------------------------------

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # sha256 of (caller, route, Idempotency-Key): one key means something else for another caller or route
    Column("scope", String(64), primary_key=True),
    Column("body_hash", String(64), nullable=False),   # sha256 of the canonical JSON body first sent
    Column("at", Float, nullable=False),
    Index("ix_idempotency_keys_at", "at"),
)

# --- alert notifications sent, one row per attempt (migration 0007) ------------------------------

notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("alert_kind", String(32), nullable=False),   # the alert's kind; "digest" for several, "test"
    Column("channel", String(8), nullable=False),       # email | sms
    Column("recipient", String(200), nullable=False),
    Column("outcome", String(16), nullable=False),      # sent | retrying | failed
    Column("error", Text, nullable=True),
    Index("ix_notifications_at", "at"),
)

notification_rules = Table(
    "notification_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),   # always 1: one set of rules
    Column("rules", Text, nullable=False),                          # YAML, as the manager wrote it
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(100), nullable=False),
)

# --- kits: a SKU sold as a set of component variants (migration 0008) -----------------------------

kits = Table(
    "kits",
    metadata,
    # a kit is also a variant (of a product of its own), so its SKU is unique among variants and
    # partners list it like any variant; its stock is derived from its components (inventory.kits)
    Column("variant_id", Id, ForeignKey("variants.id"), primary_key=True),
    Column("created_at", Float, nullable=False),
)

kit_components = Table(
    "kit_components",
    metadata,
    Column("kit_id", Id, ForeignKey("kits.variant_id"), primary_key=True),
    Column("component_id", Id, ForeignKey("variants.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

order_kit_lines = Table(
    "order_kit_lines",
    metadata,
    # An order's kit lines as the client sent them: order lines first_line .. first_line+line_count-1
    # are its components. Written before the order's parts (inventory.desk), so read only through
    # the order's signature: a plan whose order was never placed, or placed with other lines, is ignored.
    Column("order_id", String(40), primary_key=True),
    Column("signature", String(64), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("kit_id", Id, ForeignKey("variants.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("first_line", Integer, nullable=False),
    Column("line_count", Integer, nullable=False),
)

# --- holds: short reservations kept by the shards as order parts (migration 0009) ----------------

holds = Table(
    "holds",
    metadata,
    Column("id", String(40), primary_key=True),     # also the order id of its parts on the shards
    Column("channel", String(64), nullable=False),
    Column("status", String(16), nullable=False),   # held | released | expired | converted
    Column("lines", Text, nullable=False),          # JSON [[variant_id, quantity], ...] in request order
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("closed_at", Float, nullable=True),
    Column("actor", String(100), nullable=True),    # who made it
    Column("closed_by", String(100), nullable=True),
    # a conversion: the order it became, kept so a restart can finish it (service.hold_keeper)
    Column("order_id", String(40), nullable=True),
    Column("order_external_id", String(200), nullable=True),
    Column("order_lines", Text, nullable=True),     # JSON, the order's lines in its order
    CheckConstraint("status IN ('held', 'released', 'expired', 'converted')", name="status"),
    Index("ix_holds_status_expires_at", "status", "expires_at"),
)

# --- shard_epochs: each stock shard's incarnation, to fence off stale ones (migration 0010) --------

shard_epochs = Table(
    "shard_epochs",
    metadata,
    # A shard incarnation takes the next epoch when it starts, before it loads; every group commit
    # checks in its own transaction that the epoch is still its own (store/shard_epochs.py).
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("epoch", BigInteger, nullable=False),
    Column("started_at", Float, nullable=False),
)
