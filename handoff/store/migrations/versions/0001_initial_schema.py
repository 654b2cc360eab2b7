"""Initial schema: conversations, messages, handoffs.

Revision ID: 0001
Revises:
Create Date: 2026-05-20

Written out by hand (not generated at run time): a migration is a fixed record of a schema
change, so later edits of the models must come with a new revision, never a change here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("customer_name", sa.String(200), nullable=True),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resume_token_hash", sa.String(64), nullable=False),
        sa.Column("last_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("closed_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.CheckConstraint(
            "state IN ('bot', 'queued', 'agent', 'closed')", name="ck_conversations_state"
        ),
        sa.CheckConstraint("last_seq >= 0", name="ck_conversations_last_seq"),
    )
    op.create_index(
        "ix_conversations_resume_token_hash", "conversations", ["resume_token_hash"], unique=True
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("client_message_id", sa.String(64), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_messages_conversation_id_conversations",
        ),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_id_seq"),
        sa.UniqueConstraint(
            "conversation_id",
            "client_message_id",
            name="uq_messages_conversation_id_client_message_id",
        ),
        sa.CheckConstraint(
            "sender IN ('customer', 'bot', 'agent', 'system')", name="ck_messages_sender"
        ),
        sa.CheckConstraint("seq >= 1", name="ck_messages_seq"),
    )

    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reasons", _json(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("acknowledge_due", _timestamp(), nullable=False),
        sa.Column("resolve_due", _timestamp(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("brief", _json(), nullable=False),
        sa.Column("customer_notice", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_handoffs_conversation_id_conversations",
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'assigned', 'resolved', 'cancelled')",
            name="ck_handoffs_status",
        ),
    )
    op.create_index("ix_handoffs_conversation_id", "handoffs", ["conversation_id"])
    op.create_index(
        "ix_handoffs_status_priority_created_at", "handoffs", ["status", "priority", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("handoffs")
    op.drop_table("messages")
    op.drop_table("conversations")
