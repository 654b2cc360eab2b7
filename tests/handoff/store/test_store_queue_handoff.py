"""Queueing a handoff in one transaction, handoff statuses and unprocessed customer turns, on
SQLite and PostgreSQL alike (the ``store`` fixture runs each test on both)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, func, select

from handoff.exceptions import HandoffError
from handoff.store.errors import ConversationNotFound, HandoffStateError, IllegalTransition
from handoff.store.models import Handoff
from handoff.store.repository import (
    ConversationRecord,
    ConversationStore,
    NewHandoff,
    QueuedHandoff,
)
from handoff.store.states import ConversationState, HandoffStatus, Sender

T = TypeVar("T")
NOW = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)
THREADS = 8
NOTICE = "I'm passing you to a colleague; they will reply within 5 minutes."


def new_conversation(store: ConversationStore, token: str = "resume-me") -> ConversationRecord:
    return store.create_conversation(
        customer_id="cus_1001",
        customer_name="Ada Lovelace",
        tier="premium",
        channel="web",
        resume_token_hash=hashlib.sha256(token.encode()).hexdigest(),
        now=NOW,
    )


def new_handoff(**overrides: Any) -> NewHandoff:
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
        "customer_notice": NOTICE,
    }
    fields.update(overrides)
    return NewHandoff(**fields)


def queue(store: ConversationStore, conversation_id: str, **overrides: Any) -> QueuedHandoff:
    arguments: dict[str, Any] = {
        "handoff": new_handoff(),
        "notice": NOTICE,
        "notice_payload": {"mode": "warm", "eta_minutes": 5},
        "reason": "explicit_request",
        "now": NOW,
    }
    arguments.update(overrides)
    return store.queue_handoff(conversation_id, **arguments)


def handoff_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Handoff)).scalar_one()


def run_together(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` for i in range(count) in threads released at the same moment."""
    barrier = threading.Barrier(count)

    def started(index: int) -> T:
        barrier.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(started, range(count)))


# --- queue_handoff ----------------------------------------------------------------------


def test_new_handoff_takes_exactly_create_handoffs_fields() -> None:
    names = [field.name for field in dataclasses.fields(NewHandoff)]

    assert names == [
        "reasons",
        "score",
        "severity",
        "category",
        "team",
        "priority",
        "mode",
        "acknowledge_due",
        "resolve_due",
        "brief",
        "customer_notice",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        new_handoff().team = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        NewHandoff([], 1.0, "sev2", "c", "t", 1, "warm", NOW, NOW, {}, "n")  # type: ignore[misc]


def test_queueing_writes_state_handoff_and_notice_together(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    store.append_customer_message(
        conversation.id, client_message_id="c1", text="I want a human", payload=None, now=NOW
    )
    at = NOW + timedelta(minutes=1)

    queued = queue(store, conversation.id, now=at)

    state, handoff, notice = queued.state_message, queued.handoff, queued.notice_message
    assert (state.seq, notice.seq) == (2, 3)
    assert state.sender is notice.sender is Sender.SYSTEM
    assert state.payload == {
        "event": "state_changed",
        "from": "bot",
        "to": "queued",
        "reason": "explicit_request",
        "handoff_team": "cards",
        "severity": "sev2",
    }
    assert state.text == "Conversation moved from bot to queued: explicit_request"
    assert notice.text == NOTICE
    assert notice.payload == {
        "event": "handoff_notice",
        "mode": "warm",
        "eta_minutes": 5,
        "handoff_id": handoff.id,
    }
    assert handoff.status is HandoffStatus.QUEUED
    assert (handoff.conversation_id, handoff.team, handoff.created_at) == (
        conversation.id,
        "cards",
        at,
    )
    assert handoff.brief == {"summary": "Card blocked after three wrong PINs"}
    assert store.get_handoff(handoff.id) == handoff
    assert store.queued_handoffs() == [handoff]
    assert store.transcript(conversation.id)[1:] == [state, notice]
    stored = store.get_conversation(conversation.id)
    assert stored is not None
    assert (stored.state, stored.last_seq, stored.updated_at) == (ConversationState.QUEUED, 3, at)
    with pytest.raises(dataclasses.FrozenInstanceError):
        queued.handoff = handoff  # type: ignore[misc]


@pytest.mark.parametrize("state", ["queued", "agent", "closed"])
def test_queueing_from_another_state_writes_nothing(
    store: ConversationStore, engine: Engine, state: str
) -> None:
    conversation = new_conversation(store)
    path = {"queued": ["queued"], "agent": ["queued", "agent"], "closed": ["closed"]}[state]
    source = "bot"
    for target in path:
        store.transition(conversation.id, allowed_from=[source], to=target, reason="x", now=NOW)
        source = target
    before = store.get_conversation(conversation.id)
    transcript = store.transcript(conversation.id)

    with pytest.raises(IllegalTransition) as excinfo:
        queue(store, conversation.id)

    assert (excinfo.value.current, excinfo.value.wanted) == (state, "queued")
    assert store.get_conversation(conversation.id) == before
    assert store.transcript(conversation.id) == transcript
    assert handoff_count(engine) == 0


def test_queueing_an_unknown_conversation_fails(store: ConversationStore, engine: Engine) -> None:
    with pytest.raises(ConversationNotFound):
        queue(store, "0" * 32)
    assert handoff_count(engine) == 0


def test_a_failed_handoff_insert_undoes_the_state_change(
    store: ConversationStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = new_conversation(store)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(store, "_add_handoff", broken)

    with pytest.raises(RuntimeError, match="went away"):
        queue(store, conversation.id)

    assert store.get_conversation(conversation.id) == conversation
    assert store.transcript(conversation.id) == []
    assert handoff_count(engine) == 0


def test_a_notice_that_cannot_be_stored_undoes_everything(
    store: ConversationStore, engine: Engine
) -> None:
    conversation = new_conversation(store)

    with pytest.raises(Exception, match="(?i)serializ"):
        queue(store, conversation.id, notice_payload={"not_json": object()})

    assert store.get_conversation(conversation.id) == conversation
    assert store.transcript(conversation.id) == []
    assert handoff_count(engine) == 0


def test_the_notice_payload_cannot_override_the_event_or_the_id(
    store: ConversationStore, engine: Engine
) -> None:
    conversation = new_conversation(store)

    for payload in ({"event": "other"}, {"handoff_id": 1}):
        with pytest.raises(ValueError, match="override"):
            queue(store, conversation.id, notice_payload=payload)

    assert store.get_conversation(conversation.id) == conversation
    assert handoff_count(engine) == 0


def test_concurrent_queueing_lets_exactly_one_win(store: ConversationStore, engine: Engine) -> None:
    conversation = new_conversation(store)

    def try_to_queue(worker: int) -> QueuedHandoff | None:
        try:
            return queue(store, conversation.id, reason=f"w{worker}")
        except IllegalTransition:
            return None

    outcomes = run_together(THREADS, try_to_queue)

    winners = [outcome for outcome in outcomes if outcome is not None]
    assert len(winners) == 1
    assert handoff_count(engine) == 1
    transcript = store.transcript(conversation.id)
    assert transcript == [winners[0].state_message, winners[0].notice_message]
    assert [message.seq for message in transcript] == [1, 2]


def test_create_handoff_still_works_alone(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    fields = dataclasses.asdict(new_handoff())

    created = store.create_handoff(conversation.id, **fields, now=NOW)

    assert created.status is HandoffStatus.QUEUED
    assert store.get_handoff(created.id) == created
    assert store.transcript(conversation.id) == []  # no message, no state change
    stored = store.get_conversation(conversation.id)
    assert stored is not None and stored.state is ConversationState.BOT


# --- handoff statuses -------------------------------------------------------------------


def test_handoff_status_moves_along_its_life_cycle(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    handoff = queue(store, conversation.id).handoff

    assigned = store.set_handoff_status(
        handoff.id, status="assigned", allowed_from=["queued"], now=NOW
    )
    resolved = store.set_handoff_status(
        handoff.id, status="resolved", allowed_from=["assigned"], now=NOW
    )

    assert assigned.status is HandoffStatus.ASSIGNED
    assert resolved.status is HandoffStatus.RESOLVED
    assert resolved == dataclasses.replace(handoff, status=HandoffStatus.RESOLVED)
    assert store.get_handoff(handoff.id) == resolved
    assert store.queued_handoffs() == []


def test_a_refused_handoff_status_change_says_why_and_writes_nothing(
    store: ConversationStore,
) -> None:
    conversation = new_conversation(store)
    handoff = queue(store, conversation.id).handoff

    with pytest.raises(HandoffStateError) as excinfo:
        store.set_handoff_status(handoff.id, status="resolved", allowed_from=["assigned"], now=NOW)

    error = excinfo.value
    assert isinstance(error, HandoffError)
    assert (error.handoff_id, error.current, error.wanted) == (handoff.id, "queued", "resolved")
    assert str(error) == (
        f"handoff {handoff.id} is queued, cannot set it to resolved (allowed only from: assigned)"
    )
    assert store.get_handoff(handoff.id) == handoff
    with pytest.raises(LookupError):
        store.set_handoff_status(10_000_000, status="cancelled", allowed_from=["queued"], now=NOW)
    with pytest.raises(ValueError):
        store.set_handoff_status(handoff.id, status="lost", allowed_from=["queued"], now=NOW)
    with pytest.raises(ValueError):
        store.set_handoff_status(handoff.id, status="cancelled", allowed_from=[], now=NOW)
    assert store.get_handoff(handoff.id) == handoff


def test_concurrent_handoff_status_changes_let_exactly_one_win(store: ConversationStore) -> None:
    conversation = new_conversation(store)
    handoff = queue(store, conversation.id).handoff

    def try_to_take(worker: int) -> str:
        status = "assigned" if worker % 2 else "cancelled"
        try:
            store.set_handoff_status(handoff.id, status=status, allowed_from=["queued"], now=NOW)
        except HandoffStateError:
            return "refused"
        return status

    outcomes = run_together(THREADS, try_to_take)

    assert outcomes.count("refused") == THREADS - 1
    (won,) = [outcome for outcome in outcomes if outcome != "refused"]
    stored = store.get_handoff(handoff.id)
    assert stored is not None and stored.status == won


# --- unprocessed customer messages ------------------------------------------------------


def test_unprocessed_customer_messages_are_the_turns_to_run_again(
    store: ConversationStore,
) -> None:
    conversation = new_conversation(store)
    other = new_conversation(store, "other")

    def customer(text: str, payload: dict[str, Any] | None = None, on: str = conversation.id):
        message, _ = store.append_customer_message(
            on, client_message_id=text, text=text, payload=payload, now=NOW
        )
        return message

    done = customer("done")
    store.update_message_payload(done.id, {"processed": True})
    store.append_message(
        conversation.id, sender="bot", text="bot reply", payload={"processed": False}, now=NOW
    )
    pending = customer("pending", {"sentiment": {"label": "neg"}})
    not_true = customer("not true", {"processed": "true"})
    explicit_false = customer("false", {"processed": False})
    customer("elsewhere", on=other.id)

    unprocessed = store.unprocessed_customer_messages(conversation.id)

    assert [message.id for message in unprocessed] == [pending.id, not_true.id, explicit_false.id]
    assert [message.seq for message in unprocessed] == [3, 4, 5]
    store.update_message_payload(pending.id, {"processed": True})
    assert [m.text for m in store.unprocessed_customer_messages(conversation.id)] == [
        "not true",
        "false",
    ]
    assert store.unprocessed_customer_messages("0" * 32) == []


def test_queue_entries_are_the_queue_in_order_without_briefs(store: ConversationStore) -> None:
    routine = new_conversation(store, "a")
    urgent_later = new_conversation(store, "b")
    other_team = new_conversation(store, "c")
    queue(store, routine.id, handoff=new_handoff(priority=40))
    queue(store, urgent_later.id, handoff=new_handoff(priority=10))
    queue(store, other_team.id, handoff=new_handoff(priority=5, team="security"))

    disputes = store.queue_entries("cards")
    everyone = store.queue_entries()

    assert [e.conversation_id for e in disputes] == [urgent_later.id, routine.id]
    assert [e.conversation_id for e in everyone] == [other_team.id, urgent_later.id, routine.id]
    assert all(e.acknowledge_due.tzinfo is not None for e in everyone)
    assert [e.conversation_id for e in store.queue_entries(teams=["security", "fraud"])] == [
        other_team.id
    ]
    assert store.queue_entries(teams=[]) == []


def test_an_agents_message_is_stored_once_per_client_id(store: ConversationStore) -> None:
    conversation = new_conversation(store, "agent-retry")
    customer, _ = store.append_customer_message(
        conversation.id, client_message_id="x1", text="hello", payload={}, now=NOW
    )

    first, first_dup = store.append_agent_message(
        conversation.id, agent_id="ag-1", client_message_id="x1", text="Hi!", payload={},
        now=NOW,
    )  # fmt: skip
    again, again_dup = store.append_agent_message(
        conversation.id, agent_id="ag-1", client_message_id="x1", text="Hi!", payload={},
        now=NOW,
    )  # fmt: skip
    other, other_dup = store.append_agent_message(
        conversation.id, agent_id="ag-2", client_message_id="x1", text="Me too", payload={},
        now=NOW,
    )  # fmt: skip

    assert (first_dup, again_dup, other_dup) == (False, True, False)
    assert again.seq == first.seq and first.sender.value == "agent"
    assert [m.seq for m in store.transcript(conversation.id)] == [customer.seq, 2, 3]
    assert first.client_message_id == "ag-1:x1"  # namespaced: never the customer's "x1"
