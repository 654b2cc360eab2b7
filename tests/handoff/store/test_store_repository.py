"""The conversation store, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest

from handoff.exceptions import HandoffError
from handoff.store import repository
from handoff.store.errors import ConversationNotFound, IllegalTransition
from handoff.store.repository import ConversationRecord, ConversationStore, MessageRecord
from handoff.store.states import ALLOWED_TRANSITIONS, ConversationState, HandoffStatus, Sender

T = TypeVar("T")
NOW = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)
THREADS = 8


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_conversation(store: ConversationStore, token: str = "resume-me") -> ConversationRecord:
    return store.create_conversation(
        customer_id="cus_1001",
        customer_name="Ada Lovelace",
        tier="premium",
        channel="web",
        resume_token_hash=token_hash(token),
        now=NOW,
    )


def run_together(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` for i in range(count) in threads released at the same moment."""
    barrier = threading.Barrier(count)

    def started(index: int) -> T:
        barrier.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(started, range(count)))


# --- conversations ----------------------------------------------------------------------


def test_a_new_conversation_starts_with_the_bot_and_no_messages(store: ConversationStore) -> None:
    created = new_conversation(store)

    assert created.state is ConversationState.BOT
    assert created.last_seq == 0
    assert len(created.id) == 32
    assert created.created_at == created.updated_at == NOW
    assert created.closed_at is None
    assert store.get_conversation(created.id) == created
    assert store.find_by_token_hash(token_hash("resume-me")) == created
    assert store.find_by_token_hash(token_hash("another")) is None
    assert store.get_conversation("0" * 32) is None
    assert store.transcript(created.id) == []


def test_times_come_back_as_aware_utc(store: ConversationStore) -> None:
    paris = timezone(timedelta(hours=2))
    created = store.create_conversation(
        customer_id=None,
        customer_name=None,
        tier="standard",
        channel="web",
        resume_token_hash=token_hash("t"),
        now=datetime(2026, 5, 20, 11, 30, 0, 123456, tzinfo=paris),
    )
    stored = store.get_conversation(created.id)

    assert stored is not None
    assert stored.created_at == datetime(2026, 5, 20, 9, 30, 0, 123456, tzinfo=UTC)
    assert stored.created_at.tzinfo == UTC
    assert created.created_at.tzinfo == UTC


def test_the_store_refuses_a_raw_token_and_naive_times(store: ConversationStore) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        store.create_conversation(
            customer_id=None,
            customer_name=None,
            tier="standard",
            channel="web",
            resume_token_hash="the-token-itself",
            now=NOW,
        )
    with pytest.raises(ValueError, match="naive"):
        store.create_conversation(
            customer_id=None,
            customer_name=None,
            tier="standard",
            channel="web",
            resume_token_hash=token_hash("t"),
            now=datetime(2026, 5, 20, 9, 30),
        )


def test_resume_token_hashes_are_unique(store: ConversationStore) -> None:
    new_conversation(store, "same")
    with pytest.raises(Exception, match="(?i)unique"):
        new_conversation(store, "same")


def test_records_are_frozen_and_detached(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    message, _ = store.append_customer_message(
        conversation.id, client_message_id="c1", text="hi", payload={"tags": ["a"]}, now=NOW
    )

    with pytest.raises(dataclasses.FrozenInstanceError):
        conversation.state = ConversationState.CLOSED  # type: ignore[misc]
    message.payload["tags"].append("changed")
    assert store.transcript(conversation.id)[0].payload == {"tags": ["a"]}
    assert "resume_token_hash" not in repr(conversation)


# --- messages and sequence numbers ------------------------------------------------------


def test_messages_are_numbered_from_one_without_gaps(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    later = NOW + timedelta(seconds=5)

    first, duplicate = store.append_customer_message(
        conversation.id, client_message_id="c1", text="my card is blocked", payload=None, now=NOW
    )
    second = store.append_message(
        conversation.id, sender="bot", text="Let me check.", payload={"intent": "x"}, now=later
    )

    assert not duplicate
    assert (first.seq, first.sender, first.payload) == (1, Sender.CUSTOMER, {})
    assert (second.seq, second.sender, second.payload) == (2, Sender.BOT, {"intent": "x"})
    assert store.transcript(conversation.id) == [first, second]
    stored = store.get_conversation(conversation.id)
    assert stored is not None
    assert (stored.last_seq, stored.updated_at) == (2, later)


def test_sequences_are_per_conversation(store: ConversationStore) -> None:
    one, two = new_conversation(store, "one"), new_conversation(store, "two")

    store.append_message(one.id, sender="bot", text="a", payload=None, now=NOW)
    store.append_message(one.id, sender="bot", text="b", payload=None, now=NOW)
    message = store.append_message(two.id, sender="agent", text="c", payload=None, now=NOW)

    assert message.seq == 1


def test_appending_to_an_unknown_conversation_fails(store: ConversationStore) -> None:
    with pytest.raises(ConversationNotFound, match="no conversation") as excinfo:
        store.append_message("0" * 32, sender="bot", text="a", payload=None, now=NOW)
    assert isinstance(excinfo.value, HandoffError)
    with pytest.raises(ConversationNotFound):
        store.append_customer_message(
            "0" * 32, client_message_id="c1", text="a", payload=None, now=NOW
        )


def test_append_message_is_for_bot_agent_and_system_only(store: ConversationStore) -> None:
    conversation = new_conversation(store)

    with pytest.raises(ValueError, match="append_customer_message"):
        store.append_message(conversation.id, sender="customer", text="a", payload=None, now=NOW)
    with pytest.raises(ValueError):
        store.append_message(conversation.id, sender="robot", text="a", payload=None, now=NOW)
    assert store.transcript(conversation.id) == []


def test_concurrent_appends_get_gapless_increasing_numbers(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    per_thread = 15

    def append_many(worker: int) -> list[MessageRecord]:
        written = []
        for index in range(per_thread):
            if index % 2:
                message = store.append_message(
                    conversation.id, sender="bot", text=f"{worker}-{index}", payload=None, now=NOW
                )
            else:
                message, _ = store.append_customer_message(
                    conversation.id,
                    client_message_id=f"{worker}-{index}",
                    text=f"{worker}-{index}",
                    payload=None,
                    now=NOW,
                )
            written.append(message)
        return written

    results = run_together(THREADS, append_many)

    total = THREADS * per_thread
    transcript = store.transcript(conversation.id)
    assert [message.seq for message in transcript] == list(range(1, total + 1))
    for written in results:  # each writer's own messages are numbered in its order
        seqs = [message.seq for message in written]
        assert seqs == sorted(seqs)
    assert sorted(m.seq for written in results for m in written) == list(range(1, total + 1))
    stored = store.get_conversation(conversation.id)
    assert stored is not None and stored.last_seq == total


def test_messages_after_returns_the_newer_ones_in_order(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    for index in range(5):
        store.append_message(conversation.id, sender="bot", text=str(index), payload=None, now=NOW)

    assert [m.seq for m in store.messages_after(conversation.id, 3)] == [4, 5]
    assert [m.text for m in store.messages_after(conversation.id, 0)] == list("01234")
    assert store.messages_after(conversation.id, 5) == []
    assert store.messages_after("0" * 32, 0) == []


def test_update_message_payload_merges_keys(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    message, _ = store.append_customer_message(
        conversation.id, client_message_id="c1", text="hi", payload={"a": 1, "b": 2}, now=NOW
    )

    updated = store.update_message_payload(message.id, {"b": 3, "sentiment": {"label": "neg"}})

    expected = {"a": 1, "b": 3, "sentiment": {"label": "neg"}}
    assert updated.payload == expected
    assert store.transcript(conversation.id)[0].payload == expected
    with pytest.raises(LookupError):
        store.update_message_payload(10_000_000, {"x": 1})


# --- idempotent customer messages -------------------------------------------------------


def test_a_resent_client_message_is_stored_once(store: ConversationStore) -> None:
    conversation = new_conversation(store)

    first, first_duplicate = store.append_customer_message(
        conversation.id, client_message_id="c1", text="hello", payload=None, now=NOW
    )
    again, duplicate = store.append_customer_message(
        conversation.id, client_message_id="c1", text="hello (resent)", payload=None, now=NOW
    )
    other = new_conversation(store, "other")
    elsewhere, elsewhere_duplicate = store.append_customer_message(
        other.id, client_message_id="c1", text="hello", payload=None, now=NOW
    )

    assert (first_duplicate, duplicate, elsewhere_duplicate) == (False, True, False)
    assert again == first
    assert elsewhere.id != first.id
    assert store.transcript(conversation.id) == [first]
    # The duplicate took no number: the next message follows without a gap.
    next_message = store.append_message(
        conversation.id, sender="bot", text="hi", payload=None, now=NOW
    )
    assert next_message.seq == 2


def test_messages_without_a_client_id_are_never_deduplicated(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    for _ in range(2):
        _, duplicate = store.append_customer_message(
            conversation.id, client_message_id=None, text="same", payload=None, now=NOW
        )
        assert not duplicate

    assert [m.seq for m in store.transcript(conversation.id)] == [1, 2]


def test_concurrent_copies_of_a_client_message_store_one(store: ConversationStore) -> None:
    conversation = new_conversation(store)

    results = run_together(
        THREADS,
        lambda worker: store.append_customer_message(
            conversation.id, client_message_id="c1", text=f"copy {worker}", payload=None, now=NOW
        ),
    )

    transcript = store.transcript(conversation.id)
    assert len(transcript) == 1
    assert [duplicate for _, duplicate in results].count(False) == 1
    assert all(message == transcript[0] for message, _ in results)


def test_losing_the_insert_race_returns_the_winner(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Make the first lookup miss, as when another copy is inserted between lookup and insert:
    # the unique constraint must refuse this copy and the store must answer with the winner.
    conversation = new_conversation(store)
    winner, _ = store.append_customer_message(
        conversation.id, client_message_id="c1", text="first", payload=None, now=NOW
    )
    real_lookup = repository._client_message
    calls: list[str] = []

    def lookup_missing_once(session: Any, conversation_id: str, client_message_id: str) -> Any:
        calls.append(client_message_id)
        if len(calls) == 1:
            return None
        return real_lookup(session, conversation_id, client_message_id)

    monkeypatch.setattr(repository, "_client_message", lookup_missing_once)

    message, duplicate = store.append_customer_message(
        conversation.id, client_message_id="c1", text="second", payload=None, now=NOW
    )

    assert (message, duplicate) == (winner, True)
    assert len(calls) == 2
    stored = store.get_conversation(conversation.id)
    assert stored is not None and stored.last_seq == 1  # the refused insert's number rolled back


# --- state transitions ------------------------------------------------------------------


def test_the_state_graph(store: ConversationStore) -> None:
    assert set(ALLOWED_TRANSITIONS) == set(ConversationState)
    assert ALLOWED_TRANSITIONS[ConversationState.CLOSED] == frozenset()
    for state in (ConversationState.BOT, ConversationState.QUEUED, ConversationState.AGENT):
        assert ConversationState.CLOSED in ALLOWED_TRANSITIONS[state]
    assert ALLOWED_TRANSITIONS[ConversationState.BOT] == {"queued", "closed"}
    assert ALLOWED_TRANSITIONS[ConversationState.QUEUED] == {"agent", "bot", "closed"}
    assert ALLOWED_TRANSITIONS[ConversationState.AGENT] == {"bot", "queued", "closed"}


def test_a_handoff_round_trip_writes_one_system_message_per_move(
    store: ConversationStore,
) -> None:
    conversation = new_conversation(store)
    store.append_customer_message(
        conversation.id, client_message_id="c1", text="I want a human", payload=None, now=NOW
    )
    moves = [
        ("bot", "queued", "explicit_request", {"handoff_id": 7}),
        ("queued", "agent", "assigned", {"agent_name": "Grace"}),
        ("agent", "bot", "resolved_by_agent", None),
        ("bot", "closed", "customer_left", None),
    ]

    messages = []
    for index, (source, target, reason, detail) in enumerate(moves, start=1):
        at = NOW + timedelta(minutes=index)
        messages.append(
            store.transition(
                conversation.id,
                allowed_from=[source],
                to=target,
                reason=reason,
                now=at,
                detail=detail,
            )
        )

    assert [m.seq for m in messages] == [2, 3, 4, 5]
    assert all(m.sender is Sender.SYSTEM for m in messages)
    assert messages[0].payload == {
        "event": "state_changed",
        "from": "bot",
        "to": "queued",
        "reason": "explicit_request",
        "handoff_id": 7,
    }
    assert messages[1].payload["agent_name"] == "Grace"
    assert store.transcript(conversation.id)[1:] == messages
    closed = store.get_conversation(conversation.id)
    assert closed is not None
    assert closed.state is ConversationState.CLOSED
    assert closed.closed_at == closed.updated_at == NOW + timedelta(minutes=4)


def test_an_illegal_transition_says_why_and_writes_nothing(store: ConversationStore) -> None:
    conversation = new_conversation(store)

    with pytest.raises(IllegalTransition) as excinfo:
        store.transition(
            conversation.id, allowed_from=["queued"], to="agent", reason="assigned", now=NOW
        )

    error = excinfo.value
    assert isinstance(error, HandoffError)
    assert (error.current, error.wanted) == ("bot", "agent")
    assert str(error) == (
        f"conversation {conversation.id!r} is bot, cannot move it to agent"
        " (allowed only from: queued)"
    )
    assert store.get_conversation(conversation.id) == conversation
    assert store.transcript(conversation.id) == []


def test_a_closed_conversation_stays_closed(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    store.transition(conversation.id, allowed_from=["bot"], to="closed", reason="done", now=NOW)

    with pytest.raises(IllegalTransition, match="is closed"):
        store.transition(
            conversation.id,
            allowed_from=["bot", "queued", "agent"],
            to="closed",
            reason="again",
            now=NOW,
        )


def test_requests_the_graph_forbids_are_programming_errors(store: ConversationStore) -> None:
    conversation = new_conversation(store)

    with pytest.raises(ValueError, match="bot -> agent"):
        store.transition(conversation.id, allowed_from=["bot"], to="agent", reason="x", now=NOW)
    with pytest.raises(ValueError, match="closed -> closed"):
        store.transition(conversation.id, allowed_from=["closed"], to="closed", reason="x", now=NOW)
    with pytest.raises(ValueError):
        store.transition(conversation.id, allowed_from=["bot"], to="limbo", reason="x", now=NOW)
    with pytest.raises(ValueError, match="override"):
        store.transition(
            conversation.id,
            allowed_from=["bot"],
            to="queued",
            reason="x",
            now=NOW,
            detail={"to": "agent"},
        )
    with pytest.raises(ConversationNotFound):
        store.transition("0" * 32, allowed_from=["bot"], to="queued", reason="x", now=NOW)
    assert store.get_conversation(conversation.id) == conversation


def test_state_and_system_message_are_one_transaction(store: ConversationStore) -> None:
    # The state is updated first; a message that cannot be stored must undo it.
    conversation = new_conversation(store)

    with pytest.raises(Exception, match="(?i)serializ"):
        store.transition(
            conversation.id,
            allowed_from=["bot"],
            to="queued",
            reason="x",
            now=NOW,
            detail={"not_json": object()},
        )

    assert store.get_conversation(conversation.id) == conversation
    assert store.transcript(conversation.id) == []


def test_concurrent_transitions_let_exactly_one_win(store: ConversationStore) -> None:
    conversation = new_conversation(store)

    def try_to_queue(worker: int) -> str:
        try:
            store.transition(
                conversation.id, allowed_from=["bot"], to="queued", reason=f"w{worker}", now=NOW
            )
        except IllegalTransition:
            return "refused"
        return "moved"

    outcomes = run_together(THREADS, try_to_queue)

    assert outcomes.count("moved") == 1
    assert len(store.transcript(conversation.id)) == 1


# --- handoffs ---------------------------------------------------------------------------


def handoff_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "reasons": [{"code": "explicit_request", "value": True}],
        "score": 1.5,
        "severity": "sev2",
        "category": "technical",
        "team": "cards",
        "priority": 2,
        "mode": "warm",
        "acknowledge_due": NOW + timedelta(minutes=5),
        "resolve_due": NOW + timedelta(hours=4),
        "brief": {"summary": "Card blocked after three wrong PINs"},
        "customer_notice": "I'm passing you to a colleague; they will reply within 5 minutes.",
        "now": NOW,
    }
    fields.update(overrides)
    return fields


def test_a_handoff_is_stored_as_queued(store: ConversationStore) -> None:
    conversation = new_conversation(store)

    created = store.create_handoff(conversation.id, **handoff_fields())

    assert created.status is HandoffStatus.QUEUED
    assert created.reasons == [{"code": "explicit_request", "value": True}]
    assert created.brief == {"summary": "Card blocked after three wrong PINs"}
    assert (created.score, created.priority, created.mode) == (1.5, 2, "warm")
    assert created.acknowledge_due == NOW + timedelta(minutes=5)
    assert store.get_handoff(created.id) == created
    assert store.latest_handoff(conversation.id) == created
    assert store.get_handoff(10_000_000) is None
    assert store.latest_handoff("0" * 32) is None
    with pytest.raises(ConversationNotFound):
        store.create_handoff("0" * 32, **handoff_fields())


def test_queued_handoffs_are_ordered_by_priority_then_age(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    plan = [(3, 0), (1, 2), (2, 1), (1, 1), (2, 3)]  # (priority, minutes after NOW)
    created = {
        (priority, minutes): store.create_handoff(
            conversation.id,
            **handoff_fields(priority=priority, now=NOW + timedelta(minutes=minutes)),
        )
        for priority, minutes in plan
    }

    queue = store.queued_handoffs()

    assert [created[key].id for key in sorted(plan)] == [handoff.id for handoff in queue]
    assert store.latest_handoff(conversation.id) == created[(2, 3)]
