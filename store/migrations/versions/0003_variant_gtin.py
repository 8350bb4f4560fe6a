"""a GTIN (UPC-12 or EAN-13) per variant

Revision ID: 0003_variant_gtin
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_variant_gtin"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gtin", sa.String(length=14), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_variants_gtin"), ["gtin"])


def downgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_variants_gtin"), type_="unique")
        batch_op.drop_column("gtin")
