"""site groups: saved sets of rooms (listed, or by a rule over the unit tree)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import vcorch.db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("rule_unit_id", sa.Integer(), nullable=True),
        sa.Column("rule_level", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", vcorch.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", vcorch.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_unit_id"], ["units.id"], name=op.f("fk_site_groups_rule_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_site_groups_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_groups")),
    )
    with op.batch_alter_table("site_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_groups_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "site_group_rooms",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["site_groups.id"],
            name=op.f("fk_site_group_rooms_group_id_site_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_site_group_rooms_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "room_id", name=op.f("pk_site_group_rooms")),
    )
    with op.batch_alter_table("site_group_rooms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_group_rooms_room_id"), ["room_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("site_group_rooms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_group_rooms_room_id"))
    op.drop_table("site_group_rooms")
    with op.batch_alter_table("site_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_groups_unit_id"))
    op.drop_table("site_groups")
