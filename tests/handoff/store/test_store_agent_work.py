"""The agents' work on handoffs (claim, acknowledge, transfer, release, hand back, resolve,
SLA events) and migration 0003, on SQLite and PostgreSQL alike (the ``store``, ``work`` and
``empty_database_url`` fixtures run each test on both)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, text
from sqlalchemy.exc import IntegrityError

from handoff.store.agent_work import AgentWorkStore, ResolutionInput
from handoff.store.database import alembic_config, create_database_engine, upgrade_database
from handoff.store.errors import HandoffStateError, IllegalTransition, NotAssignedAgent
from handoff.store.models import Resolution
from handoff.store.repository import ConversationStore, HandoffRecord, NewHandoff
from handoff.store.states import ConversationState, HandoffStatus, RootCause, Sender

T = TypeVar("T")
NOW = datetime(2026, 5, 27, 9, 0, tzinfo=UTC)
THREADS = 8
ROUNDS = 10

_tokens = itertools.count(1)


@pytest.fixture
def work(engine: Engine) -> AgentWorkStore:
    return AgentWorkStore(engine)


def queued(
    store: ConversationStore,
    *,
    team: str = "cards",
    priority: int = 20,
    at: datetime = NOW,
    resolve_due: datetime | None = None,
    brief: dict[str, Any] | None = None,
) -> HandoffRecord:
    """A conversation with one customer message, handed to the queue of ``team``."""
    token = hashlib.sha256(f"token-{next(_tokens)}".encode()).hexdigest()
    conversation = store.create_conversation(
        customer_id="cus_1",
        customer_name="Ada",
        tier="premium",
        channel="web",
        resume_token_hash=token,
        now=at,
    )
    store.append_customer_message(
        conversation.id, client_message_id=None, text="my card is blocked", payload=None, now=at
    )
    handoff = NewHandoff(
        reasons=[{"code": "explicit_request"}],
        score=1.5,
        severity="sev2",
        category="cards",
        team=team,
        priority=priority,
        mode="warm",
        acknowledge_due=at + timedelta(minutes=5),
        resolve_due=resolve_due or at + timedelta(hours=1),
        brief=brief if brief is not None else {"summary": "Card blocked"},
        customer_notice="A colleague will reply shortly.",
    )
    return store.queue_handoff(
        conversation.id,
        handoff=handoff,
        notice="A colleague will reply shortly.",
        notice_payload={},
        reason="explicit_request",
        now=at,
    ).handoff


def claimed(
    store: ConversationStore, work: AgentWorkStore, agent_id: str = "a1", **kwargs: Any
) -> HandoffRecord:
    handoff = queued(store, **kwargs)
    result = work.claim_handoff(handoff.id, agent_id=agent_id, agent_name="Grace", now=NOW)
    assert result is not None
    return result


def state_of(store: ConversationStore, handoff: HandoffRecord) -> ConversationState:
    conversation = store.get_conversation(handoff.conversation_id)
    assert conversation is not None
    return conversation.state


def last_message_payload(store: ConversationStore, handoff: HandoffRecord) -> dict[str, Any]:
    return store.transcript(handoff.conversation_id)[-1].payload


def run_together(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` for i in range(count) in threads released at the same moment."""
    barrier = threading.Barrier(count)

    def started(index: int) -> T:
        barrier.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(started, range(count)))


# --- queued_customers -------------------------------------------------------------------


def test_queued_customers_are_read_from_inside_the_briefs(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    named = queued(store, brief={"customer": {"id": "cus_1", "name": "Ada", "tier": "premium"}})
    anonymous = queued(store, brief={"customer": {"id": None, "name": None, "tier": "standard"}})
    without = queued(store, brief={"summary": "no customer part"})
    taken = claimed(store, work)

    customers = work.queued_customers()

    assert customers == {
        named.id: ("Ada", "premium"),
        anonymous.id: (None, "standard"),
        without.id: (None, None),
    }
    assert taken.id not in customers


# --- claim_handoff ----------------------------------------------------------------------


def test_claiming_assigns_the_handoff_and_moves_the_conversation(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = queued(store)
    at = NOW + timedelta(minutes=1)

    result = work.claim_handoff(handoff.id, agent_id="a1", agent_name="Grace", now=at)

    assert result is not None
    assert (result.status, result.agent_id, result.assigned_at) == ("assigned", "a1", at)
    assert (result.acknowledged_at, result.resolved_at, result.transfer_count) == (None, None, 0)
    assert store.get_handoff(handoff.id) == result
    assert state_of(store, handoff) is ConversationState.AGENT
    message = store.transcript(handoff.conversation_id)[-1]
    assert message.sender is Sender.SYSTEM
    assert message.payload == {
        "event": "state_changed",
        "from": "queued",
        "to": "agent",
        "reason": "agent_claimed",
        "handoff_id": handoff.id,
        "agent_id": "a1",
        "agent_name": "Grace",
    }


def test_a_handoff_that_is_not_queued_cannot_be_claimed(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = claimed(store, work, "a1")
    transcript = store.transcript(handoff.conversation_id)

    assert work.claim_handoff(handoff.id, agent_id="a2", agent_name="Bob", now=NOW) is None
    assert store.get_handoff(handoff.id) == handoff
    assert store.transcript(handoff.conversation_id) == transcript
    with pytest.raises(LookupError):
        work.claim_handoff(10**6, agent_id="a1", agent_name="Grace", now=NOW)


def test_a_claim_whose_conversation_moved_on_writes_nothing(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = queued(store)
    store.transition(
        handoff.conversation_id, allowed_from=["queued"], to="closed", reason="left", now=NOW
    )

    with pytest.raises(IllegalTransition):
        work.claim_handoff(handoff.id, agent_id="a1", agent_name="Grace", now=NOW)

    assert store.get_handoff(handoff.id) == handoff  # the claim was rolled back with it


def test_exactly_one_of_many_concurrent_claimers_wins(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    for _ in range(ROUNDS):
        handoff = queued(store)

        results = run_together(
            THREADS,
            lambda i, h=handoff: work.claim_handoff(
                h.id, agent_id=f"a{i}", agent_name=f"Agent {i}", now=NOW
            ),
        )

        winners = [result for result in results if result is not None]
        assert len(winners) == 1
        assert store.get_handoff(handoff.id) == winners[0]
        moves = [
            message
            for message in store.transcript(handoff.conversation_id)
            if message.payload.get("to") == "agent"
        ]
        assert len(moves) == 1
        assert moves[0].payload["agent_id"] == winners[0].agent_id


# --- claim_next -------------------------------------------------------------------------


def test_claim_next_takes_the_most_urgent_then_the_oldest(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    late_urgent = queued(store, priority=10, at=NOW + timedelta(minutes=2))
    early = queued(store, priority=20, at=NOW)
    later = queued(store, priority=20, at=NOW + timedelta(minutes=1))
    other_team = queued(store, team="loans", priority=0)

    def next_id() -> int | None:
        result = work.claim_next(agent_id="a1", agent_name="Grace", teams=["cards"], now=NOW)
        return None if result is None else result.id

    assert [next_id() for _ in range(4)] == [late_urgent.id, early.id, later.id, None]
    assert store.get_handoff(other_team.id) == other_team
    result = work.claim_next(agent_id="a1", agent_name="Grace", teams={"loans", "x"}, now=NOW)
    assert result is not None and result.id == other_team.id


def test_claim_next_without_teams_claims_nothing(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = queued(store)

    assert work.claim_next(agent_id="a1", agent_name="Grace", teams=[], now=NOW) is None
    with pytest.raises(TypeError, match="collection"):
        work.claim_next(agent_id="a1", agent_name="Grace", teams="cards", now=NOW)
    assert store.get_handoff(handoff.id) == handoff


def test_concurrent_claim_next_claims_every_handoff_exactly_once(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    for round_number in range(3):
        handoffs = [
            queued(store, team=("cards", "loans")[i % 2], priority=i % 3) for i in range(24)
        ]

        def drain(index: int) -> list[int]:
            taken = []
            while (
                result := work.claim_next(
                    agent_id=f"a{index}",
                    agent_name=f"Agent {index}",
                    teams=["cards", "loans"],
                    now=NOW,
                )
            ) is not None:
                assert result.agent_id == f"a{index}"
                taken.append(result.id)
            return taken

        per_agent = run_together(THREADS, drain)

        everything = [handoff_id for taken in per_agent for handoff_id in taken]
        assert Counter(everything) == Counter(handoff.id for handoff in handoffs), round_number
        for index, taken in enumerate(per_agent):
            assert sorted(h.id for h in work.assigned_handoffs(f"a{index}")) == sorted(taken)
        assert all(state_of(store, h) is ConversationState.AGENT for h in handoffs)
        for handoff in handoffs:
            moves = [
                m
                for m in store.transcript(handoff.conversation_id)
                if m.payload.get("to") == "agent"
            ]
            assert len(moves) == 1
        # Leave the next round a clean queue of its own.
        for handoff in handoffs:
            stored = store.get_handoff(handoff.id)
            assert stored is not None and stored.agent_id is not None
            work.hand_back_to_bot(handoff.id, agent_id=stored.agent_id, summary="", now=NOW)


# --- acknowledge ------------------------------------------------------------------------


def test_acknowledging_is_recorded_once_and_only_by_the_assigned_agent(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = claimed(store, work, "a1")
    first = NOW + timedelta(minutes=2)

    with pytest.raises(NotAssignedAgent, match="assigned to agent 'a1', not to 'a2'"):
        work.acknowledge_handoff(handoff.id, agent_id="a2", now=first)
    acknowledged = work.acknowledge_handoff(handoff.id, agent_id="a1", now=first)
    again = work.acknowledge_handoff(handoff.id, agent_id="a1", now=first + timedelta(minutes=1))

    assert acknowledged.acknowledged_at == again.acknowledged_at == first
    assert store.get_handoff(handoff.id) == acknowledged


def test_only_an_assigned_handoff_can_be_acknowledged(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = queued(store)

    with pytest.raises(HandoffStateError, match="is queued"):
        work.acknowledge_handoff(handoff.id, agent_id="a1", now=NOW)
    with pytest.raises(LookupError):
        work.acknowledge_handoff(10**6, agent_id="a1", now=NOW)
    assert store.get_handoff(handoff.id) == handoff


# --- transfer and release ---------------------------------------------------------------


def test_transferring_queues_the_handoff_for_another_team(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = claimed(store, work, "a1")
    work.acknowledge_handoff(handoff.id, agent_id="a1", now=NOW)
    at = NOW + timedelta(minutes=3)

    moved = work.transfer_handoff(
        handoff.id, to_team="loans", reason="needs a loan officer", now=at
    )

    assert (moved.status, moved.agent_id, moved.assigned_at) == ("queued", None, None)
    assert (moved.team, moved.transfer_count) == ("loans", 1)
    assert (moved.brief, moved.priority, moved.created_at) == (
        handoff.brief,
        handoff.priority,
        handoff.created_at,
    )
    assert moved.acknowledged_at == NOW  # the SLA's first acknowledgement stays
    assert state_of(store, handoff) is ConversationState.QUEUED
    assert last_message_payload(store, handoff) == {
        "event": "state_changed",
        "from": "agent",
        "to": "queued",
        "reason": "needs a loan officer",
        "handoff_id": handoff.id,
        "from_team": "cards",
        "to_team": "loans",
    }
    assert work.claim_next(agent_id="a1", agent_name="Grace", teams=["cards"], now=at) is None
    again = work.claim_next(agent_id="a2", agent_name="Bob", teams=["loans"], now=at)
    assert again is not None and (again.id, again.agent_id) == (handoff.id, "a2")


def test_only_an_assigned_handoff_can_be_transferred_or_released(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = queued(store)

    with pytest.raises(HandoffStateError):
        work.transfer_handoff(handoff.id, to_team="loans", reason="x", now=NOW)
    with pytest.raises(HandoffStateError):
        work.release_handoff(handoff.id, reason="x", now=NOW)
    with pytest.raises(ValueError, match="team"):
        work.transfer_handoff(handoff.id, to_team="", reason="x", now=NOW)
    with pytest.raises(LookupError):
        work.release_handoff(10**6, reason="x", now=NOW)
    assert store.get_handoff(handoff.id) == handoff


def test_a_released_handoff_goes_back_to_the_front_of_its_queue(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    first = claimed(store, work, "a1", at=NOW)
    second = queued(store, at=NOW + timedelta(minutes=1))

    released = work.release_handoff(
        first.id, reason="agent_disconnected", now=NOW + timedelta(minutes=5)
    )

    assert (released.status, released.agent_id, released.created_at) == ("queued", None, NOW)
    assert released.transfer_count == 0
    assert state_of(store, first) is ConversationState.QUEUED
    assert last_message_payload(store, first) == {
        "event": "state_changed",
        "from": "agent",
        "to": "queued",
        "reason": "agent_disconnected",
        "handoff_id": first.id,
        "agent_id": "a1",
    }
    taken = [
        work.claim_next(agent_id="a2", agent_name="Bob", teams=["cards"], now=NOW) for _ in range(2)
    ]
    assert [h.id for h in taken if h is not None] == [first.id, second.id]


# --- hand back and resolve --------------------------------------------------------------


def test_handing_back_resolves_the_handoff_and_gives_the_customer_to_the_bot(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = claimed(store, work, "a1")
    at = NOW + timedelta(minutes=10)

    with pytest.raises(NotAssignedAgent):
        work.hand_back_to_bot(handoff.id, agent_id="a2", summary="x", now=at)
    assert state_of(store, handoff) is ConversationState.AGENT
    done = work.hand_back_to_bot(handoff.id, agent_id="a1", summary="PIN reset", now=at)

    assert (done.status, done.resolved_at) == ("resolved", at)
    assert state_of(store, handoff) is ConversationState.BOT
    assert last_message_payload(store, handoff) == {
        "event": "state_changed",
        "from": "agent",
        "to": "bot",
        "reason": "handed_back",
        "handoff_id": handoff.id,
        "agent_id": "a1",
        "summary": "PIN reset",
    }
    with pytest.raises(HandoffStateError, match="is resolved"):
        work.hand_back_to_bot(handoff.id, agent_id="a1", summary="again", now=at)


def resolution(**overrides: Any) -> ResolutionInput:
    fields: dict[str, Any] = {
        "trigger": "explicit_request",
        "avoidable": True,
        "root_cause": "agent_knowledge_gap",
        "note": "bot did not know PIN resets",
        "correct_intent": "reset_pin",
        "misunderstood_message_seq": 1,
    }
    fields.update(overrides)
    return ResolutionInput(**fields)


@pytest.mark.parametrize(
    ("minutes_after_due", "within"), [(-1, True), (0, True), (1, False)], ids=str
)
def test_resolving_records_the_resolution_with_a_computed_sla_flag(
    store: ConversationStore, work: AgentWorkStore, minutes_after_due: int, within: bool
) -> None:
    due = NOW + timedelta(hours=1)
    handoff = claimed(store, work, "a1", resolve_due=due)
    at = due + timedelta(minutes=minutes_after_due)

    resolved = work.resolve_handoff(handoff.id, agent_id="a1", resolution=resolution(), now=at)

    assert (resolved.handoff.status, resolved.handoff.resolved_at) == ("resolved", at)
    record = resolved.resolution
    assert record.within_sla is within
    assert (record.handoff_id, record.trigger, record.avoidable) == (
        handoff.id,
        "explicit_request",
        True,
    )
    assert (record.root_cause, record.correct_intent, record.misunderstood_message_seq) == (
        RootCause.AGENT_KNOWLEDGE_GAP,
        "reset_pin",
        1,
    )
    assert (record.note, record.created_at) == ("bot did not know PIN resets", at)
    assert work.get_resolution(handoff.id) == record
    assert state_of(store, handoff) is ConversationState.BOT
    assert last_message_payload(store, handoff)["reason"] == "resolved"
    assert "within_sla" not in {field.name for field in dataclasses.fields(ResolutionInput)}


def test_resolving_refuses_bad_input_and_the_wrong_agent(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = claimed(store, work, "a1")
    bad = [
        (resolution(root_cause="bad_luck"), ValueError),
        (resolution(trigger=""), ValueError),
        (resolution(correct_intent="x" * 101), ValueError),
        (resolution(misunderstood_message_seq=2), ValueError),  # a system message
        (resolution(misunderstood_message_seq=99), ValueError),  # no such message
    ]
    for given, error in bad:
        with pytest.raises(error):
            work.resolve_handoff(handoff.id, agent_id="a1", resolution=given, now=NOW)
    with pytest.raises(NotAssignedAgent):
        work.resolve_handoff(handoff.id, agent_id="a2", resolution=resolution(), now=NOW)
    with pytest.raises(TypeError):
        ResolutionInput(trigger="t", avoidable=False, root_cause="other", within_sla=True)  # type: ignore[call-arg]

    assert store.get_handoff(handoff.id) == handoff
    assert work.get_resolution(handoff.id) is None
    assert state_of(store, handoff) is ConversationState.AGENT

    work.resolve_handoff(handoff.id, agent_id="a1", resolution=resolution(), now=NOW)
    with pytest.raises(HandoffStateError):
        work.resolve_handoff(handoff.id, agent_id="a1", resolution=resolution(), now=NOW)


def test_a_conversation_the_customer_closed_can_still_be_resolved(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = claimed(store, work, "a1")
    store.transition(
        handoff.conversation_id, allowed_from=["agent"], to="closed", reason="left", now=NOW
    )

    resolved = work.resolve_handoff(handoff.id, agent_id="a1", resolution=resolution(), now=NOW)

    assert resolved.handoff.status is HandoffStatus.RESOLVED
    assert state_of(store, handoff) is ConversationState.CLOSED


def test_the_database_refuses_an_unknown_root_cause_and_a_second_resolution(
    store: ConversationStore, work: AgentWorkStore, engine: Engine
) -> None:
    handoff = claimed(store, work, "a1")
    work.resolve_handoff(handoff.id, agent_id="a1", resolution=resolution(), now=NOW)
    row = {
        "trigger": "t",
        "avoidable": False,
        "within_sla": True,
        "note": "",
        "created_at": NOW,
    }
    other = queued(store)

    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(Resolution).values(handoff_id=other.id, root_cause="bad_luck", **row)
        )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(Resolution).values(handoff_id=handoff.id, root_cause="other", **row)
        )


def test_training_examples_are_the_resolutions_naming_an_intent(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    with_message = claimed(store, work, "a1")
    without_message = claimed(store, work, "a1")
    without_intent = claimed(store, work, "a1")
    work.resolve_handoff(with_message.id, agent_id="a1", resolution=resolution(), now=NOW)
    work.resolve_handoff(
        without_message.id,
        agent_id="a1",
        resolution=resolution(misunderstood_message_seq=None, correct_intent="card_blocked"),
        now=NOW + timedelta(minutes=1),
    )
    work.resolve_handoff(
        without_intent.id,
        agent_id="a1",
        resolution=resolution(correct_intent=None, root_cause="product_bug"),
        now=NOW + timedelta(minutes=2),
    )

    examples = work.resolutions_for_training()

    assert [(e.handoff_id, e.correct_intent, e.message_seq, e.message_text) for e in examples] == [
        (with_message.id, "reset_pin", 1, "my card is blocked"),
        (without_message.id, "card_blocked", None, None),
    ]
    assert examples[0].conversation_id == with_message.conversation_id
    assert examples[0].root_cause is RootCause.AGENT_KNOWLEDGE_GAP


# --- SLA events and breach actions ------------------------------------------------------


def test_an_sla_event_is_recorded_once(store: ConversationStore, work: AgentWorkStore) -> None:
    handoff = queued(store)
    at = NOW + timedelta(minutes=4)

    assert work.record_sla_event(handoff.id, kind="warning", target="acknowledge", at=at)
    assert not work.record_sla_event(handoff.id, kind="warning", target="acknowledge", at=NOW)
    assert work.record_sla_event(
        handoff.id, kind="breach", target="acknowledge", at=at + timedelta(minutes=1)
    )
    assert work.record_sla_event(handoff.id, kind="warning", target="resolve", at=at)

    events = work.sla_events_for(handoff.id)
    assert [(e.kind, e.target, e.at) for e in events] == [
        ("warning", "acknowledge", at),
        ("warning", "resolve", at),
        ("breach", "acknowledge", at + timedelta(minutes=1)),
    ]
    with pytest.raises(ValueError):
        work.record_sla_event(handoff.id, kind="late", target="resolve", at=at)
    with pytest.raises(ValueError):
        work.record_sla_event(handoff.id, kind="breach", target="reply", at=at)
    with pytest.raises(LookupError):
        work.record_sla_event(10**6, kind="breach", target="resolve", at=at)
    assert work.sla_events_for(10**6) == []


def test_concurrent_recorders_of_one_sla_event_record_it_once(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    for _ in range(ROUNDS):
        handoff = queued(store)

        results = run_together(
            THREADS,
            lambda _i, h=handoff: work.record_sla_event(
                h.id, kind="breach", target="resolve", at=NOW
            ),
        )

        assert sorted(results) == [False] * (THREADS - 1) + [True]
        assert len(work.sla_events_for(handoff.id)) == 1


def test_bumping_moves_an_open_handoff_up_its_queue(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    first = queued(store, priority=20, at=NOW)
    breached = queued(store, priority=20, at=NOW + timedelta(minutes=1))

    bumped = work.bump_priority(breached.id, by=7)

    assert bumped.priority == 13
    result = work.claim_next(agent_id="a1", agent_name="Grace", teams=["cards"], now=NOW)
    assert result is not None and result.id == breached.id
    assert work.bump_priority(breached.id, by=0).priority == 13  # assigned is open too
    with pytest.raises(ValueError):
        work.bump_priority(first.id, by=-1)
    work.hand_back_to_bot(breached.id, agent_id="a1", summary="", now=NOW)
    with pytest.raises(HandoffStateError):
        work.bump_priority(breached.id, by=1)
    with pytest.raises(LookupError):
        work.bump_priority(10**6, by=1)


def test_rerouting_moves_a_queued_handoff_to_another_team(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = queued(store, team="cards")
    transcript = store.transcript(handoff.conversation_id)

    moved = work.reroute(handoff.id, to_team="fraud")

    assert (moved.team, moved.status, moved.transfer_count) == ("fraud", "queued", 0)
    assert store.transcript(handoff.conversation_id) == transcript
    assert work.claim_next(agent_id="a1", agent_name="Grace", teams=["cards"], now=NOW) is None
    assert work.claim_handoff(handoff.id, agent_id="a1", agent_name="Grace", now=NOW)
    with pytest.raises(HandoffStateError, match="is assigned"):
        work.reroute(handoff.id, to_team="cards")


# --- reading after a restart ------------------------------------------------------------


def test_open_and_assigned_handoffs_survive_a_restart(
    store: ConversationStore, work: AgentWorkStore, engine: Engine
) -> None:
    waiting = queued(store, priority=30)
    urgent = queued(store, priority=10)
    mine = claimed(store, work, "a1", priority=20)
    theirs = claimed(store, work, "a2", priority=20)
    done = claimed(store, work, "a1")
    work.hand_back_to_bot(done.id, agent_id="a1", summary="", now=NOW)
    work.record_sla_event(waiting.id, kind="warning", target="acknowledge", at=NOW)

    restarted = AgentWorkStore(engine)  # a new process: everything comes from the database

    assert [h.id for h in restarted.open_handoffs()] == [urgent.id, mine.id, theirs.id, waiting.id]
    assert [h.id for h in restarted.assigned_handoffs("a1")] == [mine.id]
    assert restarted.assigned_handoffs("nobody") == []
    assert [e.kind for e in restarted.sla_events_for(waiting.id)] == ["warning"]


# --- internal notes and the state graph -------------------------------------------------


def test_an_internal_note_is_an_agent_message_marked_internal(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    handoff = claimed(store, work, "a1")

    note = store.append_message(
        handoff.conversation_id,
        sender="agent",
        text="Customer verified by phone",
        payload={"internal": True},
        now=NOW,
    )

    assert (note.sender, note.payload) == (Sender.AGENT, {"internal": True})
    assert store.transcript(handoff.conversation_id)[-1] == note
    assert state_of(store, handoff) is ConversationState.AGENT  # a note moves nothing


def test_agent_to_queued_is_a_legal_move(store: ConversationStore, work: AgentWorkStore) -> None:
    handoff = claimed(store, work, "a1")

    message = store.transition(
        handoff.conversation_id, allowed_from=["agent"], to="queued", reason="x", now=NOW
    )

    assert (message.payload["from"], message.payload["to"]) == ("agent", "queued")


# --- migration 0003 ---------------------------------------------------------------------


def test_migration_0003_upgrades_existing_handoffs_and_downgrades(
    empty_database_url: str,
) -> None:
    engine = create_database_engine(empty_database_url)
    try:
        upgrade_database(engine, "0002")
        store = ConversationStore(engine)
        with engine.begin() as connection:  # a handoff written before 0003, by raw SQL
            connection.execute(
                text(
                    "INSERT INTO conversations (id, tier, channel, state, resume_token_hash,"
                    " last_seq, created_at, updated_at) VALUES ('c1', 'basic', 'web', 'queued',"
                    " :token, 0, :now, :now)"
                ),
                {"token": "0" * 64, "now": NOW},
            )
            connection.execute(
                text(
                    "INSERT INTO handoffs (conversation_id, status, reasons, score, severity,"
                    " category, team, priority, mode, acknowledge_due, resolve_due, created_at,"
                    " brief, customer_notice) VALUES ('c1', 'queued', '[]', 1.0, 'sev2',"
                    " 'cards', 'cards', 20, 'warm', :now, :now, :now, '{}', 'n')"
                ),
                {"now": NOW},
            )

        upgrade_database(engine)

        (old,) = AgentWorkStore(engine).open_handoffs()
        assert (old.agent_id, old.assigned_at, old.transfer_count) == (None, None, 0)
        assert {"resolutions", "sla_events"} <= set(inspect(engine).get_table_names())
        assert "ix_handoffs_agent_id" in {
            i["name"] for i in inspect(engine).get_indexes("handoffs")
        }

        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")

        inspector = inspect(engine)
        assert {"resolutions", "sla_events"}.isdisjoint(inspector.get_table_names())
        columns = {column["name"] for column in inspector.get_columns("handoffs")}
        assert columns.isdisjoint({"agent_id", "assigned_at", "transfer_count", "resolved_at"})
        indexes = {index["name"] for index in inspector.get_indexes("handoffs")}
        assert indexes == {"ix_handoffs_conversation_id", "ix_handoffs_status_priority_created_at"}
        assert store.get_conversation("c1") is not None
        with pytest.raises(IntegrityError), engine.begin() as connection:  # CHECK kept
            connection.execute(text("UPDATE handoffs SET status = 'lost'"))

        upgrade_database(engine)  # and up again
        assert len(AgentWorkStore(engine).open_handoffs()) == 1
    finally:
        engine.dispose()


def test_the_monitor_reads_open_handoffs_events_and_staff_messages_in_bulk(
    store: ConversationStore, work: AgentWorkStore
) -> None:
    first = queued(store, priority=10)
    second = claimed(store, work, priority=30)
    finished = claimed(store, work, agent_id="a2", priority=20)
    work.hand_back_to_bot(finished.id, agent_id="a2", summary="done", now=NOW)
    work.record_sla_event(first.id, kind="warning", target="acknowledge", at=NOW)
    work.record_sla_event(finished.id, kind="warning", target="acknowledge", at=NOW)
    store.append_message(
        second.conversation_id, sender="agent", text="hello", payload={"agent_name": "Grace"},
        now=NOW + timedelta(minutes=1),
    )  # fmt: skip

    light = work.open_handoffs(with_briefs=False)
    events = work.open_sla_events()
    staff = work.staff_messages_since({h.conversation_id: h.created_at for h in light})

    assert [h.id for h in light] == [first.id, second.id]
    assert all(h.brief == {} for h in light)
    assert [h.brief for h in work.open_handoffs()] == [{"summary": "Card blocked"}] * 2
    assert list(events) == [first.id]  # the closed handoff's event is not open work
    assert [(s, t) for s, t, _ in staff[second.conversation_id]][-1] == (
        "agent",
        NOW + timedelta(minutes=1),
    )
    assert all(sender in ("agent", "system") for rows in staff.values() for sender, _, _ in rows)
