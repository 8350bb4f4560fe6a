"""kits: a kit is a variant whose stock comes from its components; kit_components lists them with
their quantity per kit; order_kit_lines keeps which order lines make each kit line of an order

Revision ID: 0008_kits
Revises: 0007_notifications
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_kits"
down_revision = "0007_notifications"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kits",
        sa.Column("variant_id", ID, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["variant_id"], ["variants.id"], name=op.f("fk_kits_variant_id_variants")),
        sa.PrimaryKeyConstraint("variant_id", name=op.f("pk_kits")),
    )
    op.create_table(
        "kit_components",
        sa.Column("kit_id", ID, nullable=False),
        sa.Column("component_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_kit_components_quantity_positive")),
        sa.ForeignKeyConstraint(["kit_id"], ["kits.variant_id"], name=op.f("fk_kit_components_kit_id_kits")),
        sa.ForeignKeyConstraint(["component_id"], ["variants.id"],
                                name=op.f("fk_kit_components_component_id_variants")),
        sa.PrimaryKeyConstraint("kit_id", "component_id", name=op.f("pk_kit_components")),
    )
    op.create_table(
        "order_kit_lines",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kit_id", ID, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("first_line", sa.Integer(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["kit_id"], ["variants.id"], name=op.f("fk_order_kit_lines_kit_id_variants")),
        sa.PrimaryKeyConstraint("order_id", "signature", "line_no", name=op.f("pk_order_kit_lines")),
    )


def downgrade() -> None:
    op.drop_table("order_kit_lines")
    op.drop_table("kit_components")
    op.drop_table("kits")
