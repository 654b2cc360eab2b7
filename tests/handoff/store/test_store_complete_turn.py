"""complete_turn: a customer message's readings and its replies in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handoff.store.repository import ConversationStore, NewMessage
from handoff.store.states import Sender

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TOKEN_HASH = "a" * 64


def conversation(store: ConversationStore) -> str:
    record = store.create_conversation(
        customer_id=None, customer_name=None, tier="standard", channel="web",
        resume_token_hash=TOKEN_HASH, now=NOW,
    )  # fmt: skip
    return record.id


def test_marks_the_message_and_stores_the_replies_in_order(store: ConversationStore) -> None:
    cid = conversation(store)
    message, _ = store.append_customer_message(
        cid, client_message_id="c1", text="hi", payload={"kept": 1}, now=NOW
    )

    updated, replies = store.complete_turn(
        message.id,
        extra={"processed": True},
        replies=[NewMessage("bot", "Hello!"), NewMessage("bot", "How can I help?", {"x": 1})],
        now=NOW,
    )

    assert updated.payload == {"kept": 1, "processed": True}
    assert [(r.seq, r.sender, r.text) for r in replies] == [
        (2, Sender.BOT, "Hello!"),
        (3, Sender.BOT, "How can I help?"),
    ]
    assert [m.seq for m in store.transcript(cid)] == [1, 2, 3]


def test_a_bad_reply_writes_nothing(store: ConversationStore) -> None:
    cid = conversation(store)
    message, _ = store.append_customer_message(
        cid, client_message_id="c1", text="hi", payload={}, now=NOW
    )

    with pytest.raises(ValueError, match="customer"):
        store.complete_turn(
            message.id,
            extra={"processed": True},
            replies=[NewMessage("bot", "ok"), NewMessage("customer", "forged")],
            now=NOW,
        )

    assert [m.seq for m in store.transcript(cid)] == [1]
    assert store.transcript(cid)[0].payload == {}


def test_an_unknown_message_is_a_lookup_error(store: ConversationStore) -> None:
    with pytest.raises(LookupError):
        store.complete_turn(424242, extra={}, replies=[], now=NOW)
