"""The SLA monitor: a periodic task that turns the SLA clock's verdicts into effects.

Split as the SLA clock is: :func:`scan` is pure (handoffs, the events already recorded, ``now``
and a :class:`MonitorPolicy` in; a list of actions out), and :class:`SlaMonitor` only loads its
inputs from the database and executes the actions. Everything :func:`scan` reads is stored
(due times, recorded events, the messages the customer was sent), so a restarted service, or a
second instance, computes the same actions again:

* :class:`RecordSlaEvent`: record one warning or breach. Its effects (the ``sla_alert`` frame
  to the team's supervisors and, for a breach, the priority bump or re-route) run only when
  the store says the event is new, so each event is acted on exactly once, across restarts and
  instances alike.
* :class:`SendCustomerUpdate`: a "thanks for your patience" system message to a customer who
  has heard nothing (no agent message, no notice, no earlier update) for the matrix's
  ``customer_update`` interval. The update itself is stored, so the next one is due one full
  interval later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from handoff.agents.routing import next_team
from handoff.agents.sla import (
    DEFAULT_BREACH_BUMP,
    DEFAULT_WARNING_FRACTION,
    BreachAction,
    EventKind,
    SlaEvent,
    SlaTarget,
    breach_action,
    customer_update_due,
    sla_events,
)
from handoff.brief.builder import humanize
from handoff.escalation.decision import Category, Severity
from handoff.escalation.policy import EscalationPolicy
from handoff.gateway.hub import ConversationHub
from handoff.gateway.transcript import INTERNAL, to_frame
from handoff.store.agent_work import AgentWorkStore
from handoff.store.errors import HandoffStateError
from handoff.store.repository import ConversationStore, HandoffRecord
from handoff.store.states import HandoffStatus, Sender

__all__ = [
    "CUSTOMER_UPDATE_EVENT",
    "Action",
    "MonitorPolicy",
    "RecordSlaEvent",
    "SendCustomerUpdate",
    "SlaAlertFrame",
    "SlaMonitor",
    "WatchedHandoff",
    "customer_update_text",
    "monitor_policy",
    "policy_fallbacks",
    "scan",
    "watched",
]

logger = logging.getLogger(__name__)

CUSTOMER_UPDATE_EVENT = "sla_customer_update"
"""Payload ``event`` of the status update system message."""

# System messages that told the customer where they stand: each restarts the update interval.
_NOTICE_EVENTS = frozenset({"handoff_notice", "agent_joined", CUSTOMER_UPDATE_EVENT})

Clock = Callable[[], datetime]


class SlaAlertFrame(BaseModel):
    """Sent to the supervisors of a handoff's team when a warning or breach is recorded."""

    type: Literal["sla_alert"] = "sla_alert"
    handoff_id: int
    kind: EventKind
    target: SlaTarget
    team: str
    severity: str
    due: datetime


@dataclass(frozen=True, slots=True)
class WatchedHandoff:
    """An open handoff with what the customer last heard (both since it was queued)."""

    handoff: HandoffRecord
    last_agent_message_at: datetime | None = None
    last_update_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MonitorPolicy:
    """What :func:`scan` needs of the settings and the escalation policy.

    ``update_every`` maps ``(category, severity)`` to the matrix's ``customer_update``
    interval; ``fallback`` maps a team to the team its breached handoffs are re-routed to.
    """

    update_every: Mapping[tuple[str, str], timedelta]
    fallback: Mapping[str, str] = field(default_factory=dict)
    warning_fraction: float = DEFAULT_WARNING_FRACTION
    bump_points: Mapping[Severity, int] = field(default_factory=lambda: DEFAULT_BREACH_BUMP)


@dataclass(frozen=True, slots=True)
class RecordSlaEvent:
    """Record ``event``; only if it is new, alert with ``alert`` and apply ``breach``."""

    event: SlaEvent
    alert: SlaAlertFrame
    breach: BreachAction | None


@dataclass(frozen=True, slots=True)
class SendCustomerUpdate:
    """Append and publish a status update to the customer of a handoff."""

    handoff_id: int
    conversation_id: str
    text: str


Action = RecordSlaEvent | SendCustomerUpdate


# --- the pure part ---------------------------------------------------------------------


def customer_update_text(team: str, status: HandoffStatus) -> str:
    """The status update a waiting customer reads, naming the team that has them."""
    team_name = humanize(team) or "our team"
    if status is HandoffStatus.ASSIGNED:
        rest = "your colleague is still working on it and will write again here shortly."
    else:
        rest = "you keep your place in the queue and a colleague will be with you soon."
    return f"Thanks for your patience — {team_name} still has your conversation; {rest}"


def scan(
    handoffs: Sequence[WatchedHandoff],
    recorded: Mapping[int, Collection[tuple[str, str]]],
    now: datetime,
    policy: MonitorPolicy,
) -> list[Action]:
    """The actions due at ``now`` for the open ``handoffs``.

    ``recorded`` holds each handoff's recorded ``(kind, target)`` pairs; an event in it yields
    nothing. A breach re-routes a *queued* handoff to its team's fallback; an assigned one (or
    one without a fallback) moves up its queue instead: re-routing would take it from its agent.
    """
    actions: list[Action] = []
    for item in handoffs:
        handoff = item.handoff
        if handoff.status not in (HandoffStatus.QUEUED, HandoffStatus.ASSIGNED):
            continue
        actions += _event_actions(handoff, recorded.get(handoff.id, ()), now, policy)
        update = _customer_update(item, now, policy)
        if update is not None:
            actions.append(update)
    return actions


def _event_actions(
    handoff: HandoffRecord,
    recorded: Collection[tuple[str, str]],
    now: datetime,
    policy: MonitorPolicy,
) -> list[Action]:
    events = sla_events(
        handoff_id=handoff.id, started_at=handoff.created_at,
        acknowledge_due=handoff.acknowledge_due, resolve_due=handoff.resolve_due,
        acknowledged_at=handoff.acknowledged_at, resolved_at=handoff.resolved_at, now=now,
        already_recorded=recorded, warning_fraction=policy.warning_fraction,
    )  # fmt: skip
    actions: list[Action] = []
    for event in events:
        due = handoff.acknowledge_due if event.target == "acknowledge" else handoff.resolve_due
        alert = SlaAlertFrame(
            handoff_id=handoff.id, kind=event.kind, target=event.target, team=handoff.team,
            severity=handoff.severity, due=due,
        )  # fmt: skip
        breach = None
        if event.kind == "breach":
            fallback = (
                next_team(handoff.team, policy.fallback)
                if handoff.status is HandoffStatus.QUEUED
                else None
            )
            breach = breach_action(
                severity=Severity(handoff.severity), team=handoff.team, next_team=fallback,
                bump_points=policy.bump_points,
            )  # fmt: skip
        actions.append(RecordSlaEvent(event=event, alert=alert, breach=breach))
    return actions


def _customer_update(
    item: WatchedHandoff, now: datetime, policy: MonitorPolicy
) -> SendCustomerUpdate | None:
    handoff = item.handoff
    interval = policy.update_every.get((handoff.category, handoff.severity))
    if interval is None:  # a category or severity the matrix does not know: no cadence
        return None
    # Before any notice or update, the handoff's own start counts: the queue notice is
    # written in the same transaction, so a customer is never owed an update at once.
    last_update = item.last_update_at or handoff.created_at
    due = customer_update_due(
        last_agent_message_at=item.last_agent_message_at, last_update_at=last_update,
        interval=interval, now=now,
    )  # fmt: skip
    if not due:
        return None
    return SendCustomerUpdate(
        handoff_id=handoff.id,
        conversation_id=handoff.conversation_id,
        text=customer_update_text(handoff.team, handoff.status),
    )


def watched(
    handoff: HandoffRecord, staff_messages: Sequence[tuple[str, datetime, Mapping[str, Any]]]
) -> WatchedHandoff:
    """What the customer of ``handoff`` last heard, from the conversation's agent and system
    messages (``(sender, created_at, payload)``).

    Agent messages count (internal notes do not: the customer never sees them), and so do the
    queue notice, the "has joined" line and earlier status updates; only those since the
    handoff was queued.
    """
    last_agent: datetime | None = None
    last_update: datetime | None = None
    for sender, created_at, payload in staff_messages:
        if created_at < handoff.created_at:
            continue
        if sender == Sender.AGENT.value and payload.get(INTERNAL) is not True:
            last_agent = _latest(last_agent, created_at)
        elif sender == Sender.SYSTEM.value and payload.get("event") in _NOTICE_EVENTS:
            last_update = _latest(last_update, created_at)
    return WatchedHandoff(handoff, last_agent, last_update)


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def policy_fallbacks(policy: EscalationPolicy) -> dict[str, str]:
    """``team -> fallback_team`` from the policy's ``teams`` section; ``{}`` when it has none
    (the policy format has no ``teams`` yet, so breaches bump priority)."""
    teams: Any = getattr(policy, "teams", None)
    if not isinstance(teams, Mapping):
        return {}
    fallbacks: dict[str, str] = {}
    for team, rules in teams.items():
        target = getattr(rules, "fallback_team", None)
        if target is None and isinstance(rules, Mapping):
            target = rules.get("fallback_team")
        if isinstance(target, str) and target:
            fallbacks[str(team)] = target
    return fallbacks


def monitor_policy(
    policy: EscalationPolicy, *, warning_fraction: float = DEFAULT_WARNING_FRACTION
) -> MonitorPolicy:
    """The monitor's policy from the escalation policy's matrix (and ``teams``, if any)."""
    update_every = {
        (category.value, severity.value): policy.matrix.cell(category, severity).customer_update
        for category in Category
        for severity in Severity
    }
    return MonitorPolicy(
        update_every=update_every,
        fallback=policy_fallbacks(policy),
        warning_fraction=warning_fraction,
    )


# --- the task ----------------------------------------------------------------------------


class SupervisorDesk(Protocol):
    """What the monitor needs of the agent desk."""

    async def alert_supervisors(self, team: str, frame: BaseModel) -> None:
        """Send ``frame`` to the supervisors of ``team``."""
        ...

    async def on_handoff_queued(self, handoff: HandoffRecord) -> None:
        """Push a handoff that joined a queue to those who may take it."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SlaMonitor:
    """Runs :func:`scan` every ``interval_seconds`` and executes its actions."""

    def __init__(
        self,
        *,
        work: AgentWorkStore,
        store: ConversationStore,
        hub: ConversationHub,
        desk: SupervisorDesk,
        policy: MonitorPolicy,
        interval_seconds: float = 15.0,
        clock: Clock = _utc_now,
        announce_queue: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        self._work = work
        self._store = store
        self._hub = hub
        self._desk = desk
        self._policy = policy
        self._interval = interval_seconds
        self._clock = clock
        self._announce_queue = announce_queue
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        """Start the periodic task (the app's lifespan does, after the desk is built)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="sla-monitor")
        return self._task

    async def stop(self) -> None:
        """Cancel the task and wait for it to end."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run_once(self) -> list[Action]:
        """One pass: load, scan, execute. Returns the actions that took effect."""
        now = self._clock()
        items, recorded = await asyncio.to_thread(self._load)
        done: list[Action] = []
        for action in scan(items, recorded, now, self._policy):
            try:
                if await self._execute(action, now):
                    done.append(action)
            except (LookupError, HandoffStateError) as exc:
                # Resolved, claimed or deleted since it was read: the next pass sees the truth.
                logger.info("SLA monitor: %s skipped: %s", type(action).__name__, exc)
        return done

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except SQLAlchemyError as exc:
                logger.error("SLA monitor: the database failed, retrying next pass: %s", exc)
            except Exception:
                # One bad pass must not end the monitor for the life of the process.
                logger.exception("SLA monitor: a pass failed")

    def _load(self) -> tuple[list[WatchedHandoff], dict[int, set[tuple[str, str]]]]:
        # Three queries for the whole scan, and no briefs: it runs every few seconds over
        # every open handoff, and one read per handoff stalled the service under load.
        handoffs = self._work.open_handoffs(with_briefs=False)
        events = self._work.open_sla_events()
        since: dict[str, datetime] = {}
        for handoff in handoffs:
            earlier = since.get(handoff.conversation_id)
            since[handoff.conversation_id] = min(earlier or handoff.created_at, handoff.created_at)
        staff = self._work.staff_messages_since(since)
        recorded = {
            h.id: {(e.kind.value, e.target.value) for e in events.get(h.id, [])} for h in handoffs
        }
        items = [watched(h, staff.get(h.conversation_id, [])) for h in handoffs]
        return items, recorded

    async def _execute(self, action: Action, now: datetime) -> bool:
        if isinstance(action, SendCustomerUpdate):
            await self._send_update(action, now)
            return True
        event = action.event
        fresh = await asyncio.to_thread(
            self._work.record_sla_event, event.handoff_id, kind=event.kind, target=event.target,
            at=event.at,
        )  # fmt: skip
        if not fresh:  # another instance (or an earlier pass) recorded it and acted on it
            return False
        await self._desk.alert_supervisors(action.alert.team, action.alert)
        if action.breach is not None:
            await self._apply_breach(event.handoff_id, action.alert.team, action.breach)
        return True

    async def _apply_breach(self, handoff_id: int, team: str, breach: BreachAction) -> None:
        if breach.reroute_to is not None:
            moved = await asyncio.to_thread(
                self._work.reroute, handoff_id, to_team=breach.reroute_to
            )
            await self._desk.on_handoff_queued(moved)
            if self._announce_queue is not None:
                await self._announce_queue(team)
                await self._announce_queue(breach.reroute_to)
        elif breach.bump_priority_by > 0:
            await asyncio.to_thread(
                self._work.bump_priority, handoff_id, by=breach.bump_priority_by
            )
            if self._announce_queue is not None:
                await self._announce_queue(team)

    async def _send_update(self, action: SendCustomerUpdate, now: datetime) -> None:
        message = await asyncio.to_thread(
            self._store.append_message, action.conversation_id, sender=Sender.SYSTEM.value,
            text=action.text, payload={"event": CUSTOMER_UPDATE_EVENT,
                                       "handoff_id": action.handoff_id},
            now=now,
        )  # fmt: skip
        self._hub.publish(action.conversation_id, [to_frame(message)])
