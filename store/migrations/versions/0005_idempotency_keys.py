"""idempotency keys: an API Idempotency-Key scoped to its caller and route, with its body's hash

Revision ID: 0005_idempotency_keys
Revises: 0003_partner_dead_letters
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_idempotency_keys"
down_revision = "0003_partner_dead_letters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_at")
    op.drop_table("idempotency_keys")
