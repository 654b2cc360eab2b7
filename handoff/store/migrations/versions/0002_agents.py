"""Agents: the human agents' and supervisors' accounts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-27

Written out by hand, like 0001: later edits of the models come with a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column(
            "teams", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("capacity", sa.Integer(), server_default="3", nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("username", name="uq_agents_username"),
        sa.CheckConstraint("role IN ('agent', 'supervisor')", name="ck_agents_role"),
        sa.CheckConstraint("capacity >= 1", name="ck_agents_capacity"),
        sa.CheckConstraint("username = lower(username)", name="ck_agents_username_lowercase"),
    )


def downgrade() -> None:
    op.drop_table("agents")
