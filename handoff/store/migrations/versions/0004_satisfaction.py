"""Satisfaction: the customer's rating of a handoff, asked by the assistant afterwards.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Written out by hand, like the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: a plain ALTER TABLE on both backends. The 1..5 range is the store's
    # check (a CHECK added to an existing SQLite table would need a copy of the table).
    op.add_column("handoffs", sa.Column("satisfaction_rating", sa.Integer(), nullable=True))
    op.add_column("handoffs", sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("handoffs", "rated_at")
    op.drop_column("handoffs", "satisfaction_rating")
