"""The SLA monitor: :func:`scan` with a fake clock (no loop, no database), then the task's
execution of its actions against the real store on a SQLite file."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from handoff.agents.monitor import (
    CUSTOMER_UPDATE_EVENT,
    MonitorPolicy,
    RecordSlaEvent,
    SendCustomerUpdate,
    SlaAlertFrame,
    SlaMonitor,
    WatchedHandoff,
    customer_update_text,
    monitor_policy,
    policy_fallbacks,
    scan,
    watched,
)
from handoff.agents.sla import BreachAction, SlaEvent
from handoff.escalation.policy import load_policy
from handoff.gateway.hub import ConversationHub
from handoff.settings import repo_root
from handoff.store.agent_work import AgentWorkStore
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.repository import ConversationStore, HandoffRecord, MessageRecord, NewHandoff
from handoff.store.states import HandoffStatus, Sender

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = MonitorPolicy(update_every={("technical", "sev3"): timedelta(minutes=30)})
QUIET = timedelta(days=30)  # an update interval long enough to keep updates out of a test


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def handoff(**changes: Any) -> HandoffRecord:
    """A queued technical sev3 handoff of team general: acknowledge in 100 min, resolve in
    1000 min, so the warning points are at minutes 80 and 800."""
    record = HandoffRecord(
        id=7, conversation_id="conv-7", status=HandoffStatus.QUEUED, reasons=[], score=1.0,
        severity="sev3", category="technical", team="general", priority=36, mode="cold",
        acknowledge_due=at(100), resolve_due=at(1000), created_at=T0, brief={},
        customer_notice="A colleague will reply shortly.",
    )  # fmt: skip
    return dataclasses.replace(record, **changes)


def quiet_policy(**changes: Any) -> MonitorPolicy:
    return dataclasses.replace(POLICY, update_every={("technical", "sev3"): QUIET}, **changes)


def events(actions: list[Any]) -> list[tuple[str, str]]:
    return [(a.event.kind, a.event.target) for a in actions if isinstance(a, RecordSlaEvent)]


# --- SLA events --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minute", "expected"),
    [(0, []), (79, []), (80, [("warning", "acknowledge")]), (100, [("warning", "acknowledge")]),
     (101, [("breach", "acknowledge")]), (801, [("breach", "acknowledge"), ("warning", "resolve")]),
     (1001, [("breach", "acknowledge"), ("breach", "resolve")])],
)  # fmt: skip
def test_warning_at_80_percent_then_breach(minute: int, expected: list[tuple[str, str]]) -> None:
    assert events(scan([WatchedHandoff(handoff())], {}, at(minute), quiet_policy())) == expected


def test_the_warning_fraction_comes_from_the_policy() -> None:
    policy = quiet_policy(warning_fraction=0.5)
    assert events(scan([WatchedHandoff(handoff())], {}, at(50), policy)) == [
        ("warning", "acknowledge")
    ]


def test_a_warning_carries_an_alert_for_the_teams_supervisors_and_no_breach_action() -> None:
    (action,) = scan([WatchedHandoff(handoff())], {}, at(85), quiet_policy())

    assert isinstance(action, RecordSlaEvent)
    assert action.event == SlaEvent("warning", "acknowledge", 7, at(80))
    assert action.breach is None
    assert action.alert.model_dump(mode="json") == {
        "type": "sla_alert", "handoff_id": 7, "kind": "warning", "target": "acknowledge",
        "team": "general", "severity": "sev3", "due": "2026-11-26T13:40:00Z",
    }  # fmt: skip


def test_an_event_already_recorded_yields_nothing_so_each_is_alerted_once() -> None:
    item = WatchedHandoff(handoff())
    recorded = {7: {("warning", "acknowledge")}}

    assert scan([item], recorded, at(90), quiet_policy()) == []
    assert events(scan([item], recorded, at(101), quiet_policy())) == [("breach", "acknowledge")]
    recorded[7].add(("breach", "acknowledge"))
    assert scan([item], recorded, at(500), quiet_policy()) == []


def test_an_acknowledged_handoff_has_no_acknowledge_events() -> None:
    acknowledged = handoff(status=HandoffStatus.ASSIGNED, agent_id="a1", acknowledged_at=at(10))
    assert scan([WatchedHandoff(acknowledged)], {}, at(500), quiet_policy()) == []


def test_a_breach_without_a_fallback_bumps_priority_by_the_severitys_points() -> None:
    (action,) = scan([WatchedHandoff(handoff())], {}, at(101), quiet_policy())

    assert isinstance(action, RecordSlaEvent)
    assert action.breach == BreachAction(
        bump_priority_by=7, reroute_to=None, alert_supervisors=True
    )


def test_a_breach_of_a_queued_handoff_with_a_fallback_reroutes_it() -> None:
    policy = quiet_policy(fallback={"general": "technical_support"})

    (action,) = scan([WatchedHandoff(handoff())], {}, at(101), policy)

    assert isinstance(action, RecordSlaEvent)
    assert action.breach == BreachAction(
        bump_priority_by=0, reroute_to="technical_support", alert_supervisors=True
    )


def test_an_assigned_handoff_is_bumped_not_taken_from_its_agent() -> None:
    policy = quiet_policy(fallback={"general": "technical_support"})
    assigned = handoff(status=HandoffStatus.ASSIGNED, agent_id="a1", acknowledged_at=at(10))

    (action,) = scan([WatchedHandoff(assigned)], {}, at(1001), policy)

    assert isinstance(action, RecordSlaEvent)
    assert action.event.key == ("breach", "resolve")
    assert action.breach == BreachAction(
        bump_priority_by=7, reroute_to=None, alert_supervisors=True
    )


def test_a_fallback_to_the_same_team_is_no_fallback() -> None:
    policy = quiet_policy(fallback={"general": "general"})
    (action,) = scan([WatchedHandoff(handoff())], {}, at(101), policy)
    assert isinstance(action, RecordSlaEvent) and action.breach is not None
    assert action.breach.reroute_to is None


def test_resolved_handoffs_are_ignored() -> None:
    done = handoff(status=HandoffStatus.RESOLVED, resolved_at=at(2000))
    assert scan([WatchedHandoff(done)], {}, at(3000), POLICY) == []


# --- customer updates --------------------------------------------------------------------


def updates(item: WatchedHandoff, minute: float) -> list[SendCustomerUpdate]:
    return [a for a in scan([item], {}, at(minute), POLICY) if isinstance(a, SendCustomerUpdate)]


def test_the_first_update_is_due_one_interval_after_the_queue_notice() -> None:
    assert updates(WatchedHandoff(handoff(), last_update_at=T0), 29) == []
    assert updates(WatchedHandoff(handoff()), 29) == []  # no notice read: queued_at counts
    (update,) = updates(WatchedHandoff(handoff(), last_update_at=T0), 30)
    assert (update.handoff_id, update.conversation_id) == (7, "conv-7")
    assert update.text.startswith("Thanks for your patience — general still has your")


def test_one_update_per_interval() -> None:
    after_first = WatchedHandoff(handoff(), last_update_at=at(30))
    assert updates(after_first, 59) == []
    assert len(updates(after_first, 60)) == 1


def test_an_agent_message_restarts_the_interval() -> None:
    assigned = handoff(status=HandoffStatus.ASSIGNED, agent_id="a1", acknowledged_at=at(10))
    item = WatchedHandoff(assigned, last_agent_message_at=at(50), last_update_at=at(10))
    assert updates(item, 79) == []
    (update,) = updates(item, 80)
    assert "still working on it" in update.text


def test_no_cadence_for_a_cell_the_matrix_does_not_know() -> None:
    assert updates(WatchedHandoff(handoff(category="cards")), 10_000) == []


def test_the_update_text_names_the_team_in_plain_words() -> None:
    text = customer_update_text("technical_support", HandoffStatus.QUEUED)
    assert text.startswith("Thanks for your patience — technical support still has your")
    assert "queue" in text


def message(seq: int, sender: Sender, minute: float, **payload: Any) -> MessageRecord:
    return MessageRecord(
        id=seq, conversation_id="conv-7", seq=seq, sender=sender, text="...",
        client_message_id=None, payload=payload, created_at=at(minute),
    )  # fmt: skip


def test_watched_reads_what_the_customer_last_heard_since_the_handoff() -> None:
    transcript = [
        message(1, Sender.AGENT, -50),  # an earlier handoff's agent
        message(2, Sender.SYSTEM, 0, event="handoff_notice", handoff_id=7),
        message(3, Sender.AGENT, 20),
        message(4, Sender.AGENT, 25, internal=True),  # a note: the customer never saw it
        message(5, Sender.CUSTOMER, 26),
        message(6, Sender.SYSTEM, 40, event=CUSTOMER_UPDATE_EVENT, handoff_id=7),
        message(7, Sender.SYSTEM, 45, event="state_changed"),
    ]
    staff = [
        (m.sender.value, m.created_at, m.payload)
        for m in transcript
        if m.sender in (Sender.AGENT, Sender.SYSTEM)
    ]
    item = watched(handoff(), staff)
    assert (item.last_agent_message_at, item.last_update_at) == (at(20), at(40))


# --- the policy --------------------------------------------------------------------------


def test_monitor_policy_reads_the_matrix_and_the_fallbacks() -> None:
    policy = load_policy(repo_root() / "data" / "escalation.yml")

    built = monitor_policy(policy, warning_fraction=0.75)

    assert built.update_every[("technical", "sev1")] == timedelta(minutes=5)
    assert built.update_every[("security", "sev4")] == timedelta(minutes=60)
    assert built.warning_fraction == 0.75
    teams: Any = getattr(policy, "teams", {})  # the teams section, where the policy has one
    expected = {t: r.fallback_team for t, r in teams.items() if r.fallback_team is not None}
    assert built.fallback == expected == policy_fallbacks(policy)


def test_policy_fallbacks_reads_a_teams_section_when_there_is_one() -> None:
    class Rules(BaseModel):
        fallback_team: str | None = None

    class WithTeams(BaseModel):
        teams: dict[str, Rules]

    policy: Any = WithTeams(
        teams={"general": Rules(fallback_team="technical_support"), "security": Rules()}
    )
    assert policy_fallbacks(policy) == {"general": "technical_support"}


# --- the task, on the real store -------------------------------------------------------


class FakeDesk:
    def __init__(self) -> None:
        self.alerts: list[tuple[str, SlaAlertFrame]] = []
        self.pushed: list[HandoffRecord] = []

    async def alert_supervisors(self, team: str, frame: BaseModel) -> None:
        assert isinstance(frame, SlaAlertFrame)
        self.alerts.append((team, frame))

    async def on_handoff_queued(self, handoff: HandoffRecord) -> None:
        self.pushed.append(handoff)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


_tokens = itertools.count(1)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'handoff.sqlite'}")
    upgrade_database(engine)
    yield engine
    engine.dispose()


def queue(store: ConversationStore, *, team: str = "general") -> HandoffRecord:
    token = hashlib.sha256(f"monitor-{next(_tokens)}".encode()).hexdigest()
    conversation = store.create_conversation(
        customer_id="cus_1", customer_name="Ada", tier="standard", channel="web",
        resume_token_hash=token, now=T0,
    )  # fmt: skip
    new = NewHandoff(
        reasons=[{"code": "request_human"}], score=1.0, severity="sev3", category="technical",
        team=team, priority=36, mode="cold", acknowledge_due=at(100), resolve_due=at(1000),
        brief={}, customer_notice="A colleague will reply shortly.",
    )  # fmt: skip
    return store.queue_handoff(
        conversation.id, handoff=new, notice="A colleague will reply shortly.",
        notice_payload={}, reason="request_human", now=T0,
    ).handoff  # fmt: skip


def monitor(
    engine: Engine, desk: FakeDesk, clock: FakeClock, policy: MonitorPolicy = POLICY
) -> SlaMonitor:
    return SlaMonitor(
        work=AgentWorkStore(engine), store=ConversationStore(engine), hub=ConversationHub(),
        desk=desk, policy=policy, clock=clock,
    )  # fmt: skip


async def test_two_monitors_on_one_database_alert_once_per_event(engine: Engine) -> None:
    store = ConversationStore(engine)
    queued = queue(store)
    desk_a, desk_b, clock = FakeDesk(), FakeDesk(), FakeClock(at(85))

    await monitor(engine, desk_a, clock, quiet_policy()).run_once()
    await monitor(engine, desk_b, clock, quiet_policy()).run_once()
    await monitor(engine, desk_a, clock, quiet_policy()).run_once()

    assert [(team, f.kind, f.target) for team, f in desk_a.alerts + desk_b.alerts] == [
        ("general", "warning", "acknowledge")
    ]
    recorded = AgentWorkStore(engine).sla_events_for(queued.id)
    assert [(e.kind.value, e.target.value, e.at) for e in recorded] == [
        ("warning", "acknowledge", at(80))
    ]


async def test_a_breach_bumps_priority_once(engine: Engine) -> None:
    queued = queue(store := ConversationStore(engine))
    desk, clock = FakeDesk(), FakeClock(at(101))
    watcher = monitor(engine, desk, clock, quiet_policy())

    await watcher.run_once()
    await watcher.run_once()

    assert store.get_handoff(queued.id).priority == 36 - 7  # type: ignore[union-attr]
    assert [(f.kind, f.target) for _, f in desk.alerts] == [("breach", "acknowledge")]


async def test_a_breach_reroutes_a_queued_handoff_to_the_fallback_team(engine: Engine) -> None:
    queued = queue(store := ConversationStore(engine))
    desk, clock = FakeDesk(), FakeClock(at(101))
    policy = quiet_policy(fallback={"general": "technical_support"})

    await monitor(engine, desk, clock, policy).run_once()

    moved = store.get_handoff(queued.id)
    assert moved is not None and (moved.team, moved.priority) == ("technical_support", 36)
    assert [h.team for h in desk.pushed] == ["technical_support"]
    assert [(team, f.team) for team, f in desk.alerts] == [("general", "general")]


async def test_customer_updates_are_stored_published_and_spaced_by_the_interval(
    engine: Engine,
) -> None:
    queued = queue(store := ConversationStore(engine))
    desk, clock = FakeDesk(), FakeClock(at(29))
    watcher = monitor(engine, desk, clock, MonitorPolicy(update_every=POLICY.update_every))
    sent: list[str] = []

    class Socket:
        def deliver(self, frame: Any) -> None:
            sent.append(frame.text)

        def send_control(self, text: str) -> None:
            pass

    watcher._hub.subscribe(queued.conversation_id, Socket())  # type: ignore[arg-type]

    for minute in (29, 30, 45, 59, 60, 61):
        clock.now = at(minute)
        await watcher.run_once()

    updates = [
        m for m in store.transcript(queued.conversation_id)
        if m.payload.get("event") == CUSTOMER_UPDATE_EVENT
    ]  # fmt: skip
    assert [m.created_at for m in updates] == [at(30), at(60)]
    assert all(m.sender is Sender.SYSTEM for m in updates)
    assert len(sent) == 2 and sent[0].startswith("Thanks for your patience — general")
