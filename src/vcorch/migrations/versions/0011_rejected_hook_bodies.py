"""hook bodies a bridge's adapter could not read, kept as rejected

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vcorch.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_hook_bodies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bridge", sa.String(length=64), nullable=False),
        sa.Column("received_at", vcorch.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("body_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_hook_bodies")),
    )
    with op.batch_alter_table("rejected_hook_bodies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rejected_hook_bodies_bridge", ["bridge", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rejected_hook_bodies", schema=None) as batch_op:
        batch_op.drop_index("ix_rejected_hook_bodies_bridge")
    op.drop_table("rejected_hook_bodies")
