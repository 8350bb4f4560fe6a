"""holds: short reservations (carts, checkouts) that expire, are released or become an order

Revision ID: 0009_holds
Revises: 0007_notifications
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_holds"
down_revision = "0008_kits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("closed_at", sa.Float(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("order_external_id", sa.String(length=200), nullable=True),
        sa.Column("order_lines", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('held', 'released', 'expired', 'converted')", name=op.f("ck_holds_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index("ix_holds_status_expires_at", ["status", "expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_status_expires_at")
    op.drop_table("holds")
