"""A restart loses nothing and repeats nothing: the queue, the assignments, the SLA due times,
the recorded SLA events and the customer update cadence all live in the database.

A real SQLite file and the real stores; the "restart" disposes of every object and builds new
ones (engine included) on the same file, as a restarted process would.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from handoff.agents.monitor import CUSTOMER_UPDATE_EVENT, MonitorPolicy, SlaAlertFrame, SlaMonitor
from handoff.gateway.hub import ConversationHub
from handoff.store.agent_work import AgentWorkStore
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.repository import ConversationStore, HandoffRecord, NewHandoff
from handoff.store.states import HandoffStatus

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = MonitorPolicy(update_every={("technical", "sev3"): timedelta(minutes=30)})

_tokens = itertools.count(1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Desk:
    def __init__(self) -> None:
        self.alerts: list[tuple[int, str, str]] = []

    async def alert_supervisors(self, team: str, frame: BaseModel) -> None:
        assert isinstance(frame, SlaAlertFrame)
        self.alerts.append((frame.handoff_id, frame.kind, frame.target))

    async def on_handoff_queued(self, handoff: HandoffRecord) -> None:
        pass


class Process:
    """Everything one service process builds on the database file."""

    def __init__(self, url: str, now: datetime) -> None:
        self.engine: Engine = create_database_engine(url)
        upgrade_database(self.engine)
        self.store = ConversationStore(self.engine)
        self.work = AgentWorkStore(self.engine)
        self.desk = Desk()
        self.clock = Clock(now)
        self.monitor = SlaMonitor(
            work=self.work, store=self.store, hub=ConversationHub(), desk=self.desk,
            policy=POLICY, clock=self.clock,
        )  # fmt: skip

    async def scan_at(self, minute: float) -> None:
        self.clock.now = at(minute)
        await self.monitor.run_once()

    def updates(self, handoff: HandoffRecord) -> list[datetime]:
        return [
            m.created_at for m in self.store.transcript(handoff.conversation_id)
            if m.payload.get("event") == CUSTOMER_UPDATE_EVENT
        ]  # fmt: skip


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'handoff.sqlite'}"


@pytest.fixture
def first(url: str) -> Iterator[Process]:
    process = Process(url, T0)
    yield process
    process.engine.dispose()


def queue(store: ConversationStore, minute: float) -> HandoffRecord:
    token = hashlib.sha256(f"restart-{next(_tokens)}".encode()).hexdigest()
    conversation = store.create_conversation(
        customer_id="cus_1", customer_name="Ada", tier="standard", channel="web",
        resume_token_hash=token, now=at(minute),
    )  # fmt: skip
    new = NewHandoff(
        reasons=[{"code": "request_human"}], score=1.0, severity="sev3", category="technical",
        team="general", priority=36, mode="cold", acknowledge_due=at(minute + 100),
        resolve_due=at(minute + 1000), brief={"summary": "card blocked"},
        customer_notice="A colleague will reply shortly.",
    )  # fmt: skip
    return store.queue_handoff(
        conversation.id, handoff=new, notice="A colleague will reply shortly.",
        notice_payload={}, reason="request_human", now=at(minute),
    ).handoff  # fmt: skip


async def test_a_restart_keeps_the_queue_assignments_due_times_and_recorded_events(
    first: Process, url: str
) -> None:
    waiting = queue(first.store, 0)
    taken = queue(first.store, 10)
    claimed = first.work.claim_handoff(taken.id, agent_id="a1", agent_name="Grace", now=at(12))
    assert claimed is not None
    await first.scan_at(85)  # the waiting one's warning point is minute 80
    assert first.desk.alerts == [(waiting.id, "warning", "acknowledge")]
    assert first.updates(waiting) == [at(85)]
    before = {h.id: h for h in first.work.open_handoffs()}
    first.engine.dispose()

    second = Process(url, at(85))  # the restart: new engine, stores and monitor, same file
    try:
        after = {h.id: h for h in second.work.open_handoffs()}
        assert after == before
        assert after[waiting.id].status is HandoffStatus.QUEUED
        assert (after[taken.id].status, after[taken.id].agent_id) == (HandoffStatus.ASSIGNED, "a1")
        assert (after[waiting.id].acknowledge_due, after[waiting.id].resolve_due) == (
            at(100), at(1000)
        )  # fmt: skip
        assert [(e.kind.value, e.target.value) for e in second.work.sla_events_for(waiting.id)] == [
            ("warning", "acknowledge")
        ]

        await second.scan_at(90)  # the taken one reaches its warning point (minute 90)
        assert second.desk.alerts == [(taken.id, "warning", "acknowledge")]
        await second.scan_at(100)
        assert second.desk.alerts == [(taken.id, "warning", "acknowledge")]  # nothing again
        assert second.updates(waiting) == [at(85)]  # 15 minutes since the last: not yet due

        await second.scan_at(100.5)  # the fake clock passes the waiting one's due time
        assert second.desk.alerts[1:] == [(waiting.id, "breach", "acknowledge")]
        events = second.work.sla_events_for(waiting.id)
        assert [(e.kind.value, e.target.value, e.at) for e in events] == [
            ("warning", "acknowledge", at(80)),
            ("breach", "acknowledge", at(100)),
        ]
        assert second.store.get_handoff(waiting.id).priority == 36 - 7  # type: ignore[union-attr]

        await second.scan_at(115)  # the update cadence survived the restart too
        assert second.updates(waiting) == [at(85), at(115)]
    finally:
        second.engine.dispose()
