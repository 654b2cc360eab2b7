"""Agent work: handoff assignment columns, resolutions, SLA events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-05-27

Written out by hand, like 0001: later edits of the models come with a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_HANDOFF_COLUMNS = (
    "agent_id",
    "assigned_at",
    "acknowledged_at",
    "resolved_at",
    "transfer_count",
)


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    # Adding columns is a plain ALTER TABLE on both backends (SQLite included: every new
    # column is nullable or has a default), so no batch copy of the table is needed.
    op.add_column("handoffs", sa.Column("agent_id", sa.String(32), nullable=True))
    op.add_column("handoffs", sa.Column("assigned_at", _timestamp(), nullable=True))
    op.add_column("handoffs", sa.Column("acknowledged_at", _timestamp(), nullable=True))
    op.add_column("handoffs", sa.Column("resolved_at", _timestamp(), nullable=True))
    op.add_column(
        "handoffs",
        sa.Column("transfer_count", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_index("ix_handoffs_agent_id", "handoffs", ["agent_id"])

    # CHECK names go through op.f(): the metadata's naming convention would otherwise prefix
    # them again ("ck_resolutions_ck_resolutions_root_cause"), unlike the models' names.
    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("avoidable", sa.Boolean(), nullable=False),
        sa.Column("within_sla", sa.Boolean(), nullable=False),
        sa.Column("root_cause", sa.String(32), nullable=False),
        sa.Column("correct_intent", sa.String(100), nullable=True),
        sa.Column("misunderstood_message_seq", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_resolutions"),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name="fk_resolutions_handoff_id_handoffs"
        ),
        sa.UniqueConstraint("handoff_id", name="uq_resolutions_handoff_id"),
        sa.CheckConstraint(
            "root_cause IN ('product_bug', 'policy_ambiguity', 'agent_knowledge_gap',"
            " 'process_failure', 'other')",
            name=op.f("ck_resolutions_root_cause"),
        ),
    )

    op.create_table(
        "sla_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sla_events"),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name="fk_sla_events_handoff_id_handoffs"
        ),
        sa.UniqueConstraint(
            "handoff_id", "kind", "target", name="uq_sla_events_handoff_id_kind_target"
        ),
        sa.CheckConstraint("kind IN ('warning', 'breach')", name=op.f("ck_sla_events_kind")),
        sa.CheckConstraint(
            "target IN ('acknowledge', 'resolve')", name=op.f("ck_sla_events_target")
        ),
    )


def downgrade() -> None:
    op.drop_table("sla_events")
    op.drop_table("resolutions")
    op.drop_index("ix_handoffs_agent_id", table_name="handoffs")
    # SQLite drops columns by copying the table (batch mode), which reflects and keeps the
    # table's CHECK, foreign key and indexes; PostgreSQL drops them in place.
    with op.batch_alter_table("handoffs") as batch:
        for column in reversed(_NEW_HANDOFF_COLUMNS):
            batch.drop_column(column)
