"""notifications: every attempt to send an alert by e-mail or SMS, with its outcome; the rules a
manager saved on the dashboard (replacing config.yaml's)

Revision ID: 0007_notifications
Revises: 0006_roles_keys_sessions
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_notifications"
down_revision = "0006_roles_keys_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("alert_kind", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_at", ["at"], unique=False)
    op.create_table(
        "notification_rules",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_rules")),
    )


def downgrade() -> None:
    op.drop_table("notification_rules")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_at")
    op.drop_table("notifications")
