"""partner dead letters: partner orders that could not be applied, kept for a retry

Revision ID: 0003_partner_dead_letters
Revises: 0003_variant_gtin
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_partner_dead_letters"
down_revision = "0003_variant_gtin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_dead_letters")),
    )
    with op.batch_alter_table("partner_dead_letters", schema=None) as batch_op:
        batch_op.create_index("uq_partner_dead_letters_event", ["partner_id", "event_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("partner_dead_letters", schema=None) as batch_op:
        batch_op.drop_index("uq_partner_dead_letters_event")
    op.drop_table("partner_dead_letters")
