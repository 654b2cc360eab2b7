"""The trainers' inbox in the store: written with its turn, read in groups of near-identical
messages (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from handoff.store.repository import ConversationStore, NewMessage
from handoff.store.review import NewReviewItem, ReviewStore
from handoff.store.states import ReviewStatus

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
REASON = {"source": "fallback", "value": "nlu_fallback", "threshold": None, "detail": "..."}


def item(text: str, key: str, intent: str = "nlu_fallback") -> NewReviewItem:
    return NewReviewItem(
        text=text, occurrence_key=key, intent=intent, confidence=0.45,
        ranking=[{"name": intent, "confidence": 0.45}], reasons=[REASON], suggestion=None,
    )  # fmt: skip


def turn(
    store: ConversationStore, text: str, review: NewReviewItem | None, at: datetime, n: int = 0
) -> str:
    record = store.create_conversation(
        customer_id=None, customer_name=None, tier="standard", channel="web",
        resume_token_hash=f"{n:064x}", now=at,
    )  # fmt: skip
    message, _ = store.append_customer_message(
        record.id, client_message_id="c1", text=text, payload={}, now=at
    )
    store.complete_turn(
        message.id, extra={"processed": True}, replies=[NewMessage("bot", "Sorry?")], now=at,
        review=review,
    )  # fmt: skip
    return record.id


def test_a_turn_for_review_is_written_with_its_turn_and_grouped(
    store: ConversationStore, engine: Engine
) -> None:
    first = turn(store, "wheres my card??", item("wheres my card??", "wheres my card"), NOW, 1)
    turn(store, "how do I top up", None, NOW + timedelta(minutes=1), 2)
    later = NOW + timedelta(minutes=5)
    second = turn(store, "Where's my card", item("Where's my card", "wheres my card"), later, 3)
    third = turn(store, "tell me a joke", item("tell me a joke", "tell me a joke"), later, 4)

    groups = ReviewStore(engine).groups()

    assert [(g.occurrence_key, g.count) for g in groups] == [
        ("wheres my card", 2),
        ("tell me a joke", 1),
    ]
    card = groups[0]
    assert (card.first_seen, card.last_seen) == (NOW, later)
    assert card.text == "Where's my card"  # the latest message's
    assert card.conversation_ids == [second, first]
    assert card.reasons == [REASON] and card.intent == "nlu_fallback"
    assert groups[1].conversation_ids == [third]


def test_a_failed_turn_leaves_no_review_item(store: ConversationStore, engine: Engine) -> None:
    record = store.create_conversation(
        customer_id=None, customer_name=None, tier="standard", channel="web",
        resume_token_hash="b" * 64, now=NOW,
    )  # fmt: skip
    message, _ = store.append_customer_message(
        record.id, client_message_id="c1", text="hi", payload={}, now=NOW
    )

    with pytest.raises(ValueError, match="customer"):
        store.complete_turn(
            message.id, extra={"processed": True}, replies=[NewMessage("customer", "forged")],
            now=NOW, review=item("hi", "hi"),
        )  # fmt: skip

    assert ReviewStore(engine).groups() == []


def test_groups_page_and_filter_by_status(store: ConversationStore, engine: Engine) -> None:
    for n in range(5):
        turn(store, f"odd message {n}", item(f"odd message {n}", f"odd message {n}"), NOW, n)
    reviews = ReviewStore(engine)

    first_page = reviews.groups(limit=2)
    second_page = reviews.groups(limit=2, offset=2)

    assert len(first_page) == 2 and len(second_page) == 2
    assert {g.occurrence_key for g in first_page}.isdisjoint(g.occurrence_key for g in second_page)
    assert reviews.groups(ReviewStatus.IGNORED) == []
    with pytest.raises(ValueError):
        reviews.groups(limit=0)
