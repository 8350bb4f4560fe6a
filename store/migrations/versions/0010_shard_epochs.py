"""shard_epochs: each stock shard's incarnation, so a stale one (a cut-off node's) can never commit

Revision ID: 0010_shard_epochs
Revises: 0009_holds
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_shard_epochs"
down_revision = "0009_holds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shard_epochs",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_shard_epochs")),
    )


def downgrade() -> None:
    op.drop_table("shard_epochs")
