"""dial-in numbers and in-call control state of a run's conferences

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:30:00


"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_conferences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dial_in_number", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("dial_in_pin", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("dial_in_uri", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("layout", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("locked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("all_muted", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("run_conferences", schema=None) as batch_op:
        for name in ("all_muted", "locked", "layout", "dial_in_uri", "dial_in_pin"):
            batch_op.drop_column(name)
        batch_op.drop_column("dial_in_number")
