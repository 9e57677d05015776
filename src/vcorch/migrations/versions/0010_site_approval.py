"""a site in another unit's room is a request its unit accepts or declines

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vcorch.db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meeting_sites", schema=None) as batch_op:
        # Sites booked before requests existed keep holding their rooms.
        batch_op.add_column(
            sa.Column("approval", sa.String(length=16), nullable=False, server_default="accepted")
        )
        batch_op.add_column(sa.Column("decided_by", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("decided_at", vcorch.db.base.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("decision_note", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meeting_sites", schema=None) as batch_op:
        batch_op.drop_column("decision_note")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("approval")
