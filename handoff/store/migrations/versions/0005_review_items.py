"""Review items: the bot trainers' inbox of messages the assistant got wrong.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Written out by hand, like the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("occurrence_key", sa.String(500), nullable=False),
        sa.Column("intent", sa.String(100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("ranking", _json(), nullable=False),
        sa.Column("reasons", _json(), nullable=False),
        sa.Column("suggestion", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("decided_by", sa.String(32), nullable=True),
        sa.Column("decided_at", _timestamp(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_review_items_message_id_messages"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_review_items_conversation_id_conversations",
        ),
        sa.UniqueConstraint("message_id", name="uq_review_items_message_id"),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'relabelled', 'out_of_scope', 'ignored')",
            name=op.f("ck_review_items_status"),
        ),
    )
    op.create_index("ix_review_items_conversation_id", "review_items", ["conversation_id"])
    op.create_index(
        "ix_review_items_status_occurrence_key_created_at",
        "review_items",
        ["status", "occurrence_key", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_review_items_status_occurrence_key_created_at", table_name="review_items")
    op.drop_index("ix_review_items_conversation_id", table_name="review_items")
    op.drop_table("review_items")
