"""The SLA clock of a handoff: pure, time passed in.

Each handoff has two targets from the escalation matrix, *acknowledge* (an agent picks it up)
and *resolve* (the issue is solved), each with a due time fixed when the handoff is queued.
This module reads those clocks, lists the warning and breach events that are due, says what a
breach should trigger, and when the customer is owed a status update. It stores nothing:
because the due times are stored with the handoff and the events already recorded are passed
in, a restarted service computes the same events again and records each exactly once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from handoff.escalation.decision import EscalationDecision, Severity, SlaTargets, Tier

__all__ = [
    "DEFAULT_BREACH_BUMP",
    "DEFAULT_WARNING_FRACTION",
    "BreachAction",
    "EventKind",
    "SlaDue",
    "SlaEvent",
    "SlaReading",
    "SlaStatus",
    "SlaTarget",
    "breach_action",
    "customer_update_due",
    "due_times",
    "sla_events",
    "sla_state",
]

EventKind = Literal["warning", "breach"]
SlaTarget = Literal["acknowledge", "resolve"]

DEFAULT_WARNING_FRACTION = 0.8

# Queue points a breach takes off a handoff's priority (lower is served first). With the
# points of data/escalation.yml (10 between severities, tiers 0/3/6) 7 is one more than the
# tier spread: a breached handoff goes ahead of every non-breached one of its severity, of
# any tier, but never ahead of a more severe one. Per severity so a lead can tune them apart.
DEFAULT_BREACH_BUMP: Mapping[Severity, int] = {
    Severity.SEV1: 7,
    Severity.SEV2: 7,
    Severity.SEV3: 7,
    Severity.SEV4: 7,
}


class SlaStatus(StrEnum):
    """Where one target stands."""

    ACTIVE = "active"  # running, not yet near its due time
    WARNING = "warning"  # running, past the warning fraction of its interval
    BREACHED = "breached"  # past due while open, or done after its due time
    MET = "met"  # done by its due time


@dataclass(frozen=True, slots=True)
class SlaReading:
    """One target's clock.

    ``elapsed`` runs from the start to ``done_at`` (or ``now`` while open). ``remaining`` is
    ``due_at`` minus that end, negative when overdue, so it also says by how much.
    ``fraction`` is ``elapsed`` over the whole interval and exceeds 1 past due.
    """

    status: SlaStatus
    elapsed: timedelta
    remaining: timedelta
    fraction: float


@dataclass(frozen=True, slots=True)
class SlaDue:
    """The due times of one handoff, and how often its customer must hear from us."""

    acknowledge_due: datetime
    resolve_due: datetime
    customer_update_every: timedelta


@dataclass(frozen=True, slots=True)
class SlaEvent:
    """A warning or breach of one target; ``at`` is when its threshold was crossed."""

    kind: EventKind
    target: SlaTarget
    handoff_id: int
    at: datetime

    @property
    def key(self) -> tuple[EventKind, SlaTarget]:
        """What makes the event unique within its handoff (the ``already_recorded`` form)."""
        return (self.kind, self.target)


@dataclass(frozen=True, slots=True)
class BreachAction:
    """What a breach triggers besides its one recorded event.

    ``bump_priority_by`` is subtracted from the handoff's priority (lower is served first);
    it is 0 when the handoff is re-routed instead, since it then joins another queue.
    """

    bump_priority_by: int
    reroute_to: str | None
    alert_supervisors: bool


def _check_fraction(warning_fraction: float) -> None:
    if not 0.0 < warning_fraction <= 1.0:
        raise ValueError(f"warning_fraction must be in (0, 1], got {warning_fraction}")


def sla_state(
    *,
    started_at: datetime,
    due_at: datetime,
    now: datetime,
    done_at: datetime | None = None,
    warning_fraction: float = DEFAULT_WARNING_FRACTION,
) -> SlaReading:
    """Read one target's clock at ``now``.

    Open: ``breached`` strictly after ``due_at``, ``warning`` from ``warning_fraction`` of the
    interval on, ``active`` before. Done: ``met`` when ``done_at <= due_at``, else
    ``breached`` for good; the clock stops at ``done_at``.
    """
    _check_fraction(warning_fraction)
    interval = due_at - started_at
    if interval <= timedelta(0):
        raise ValueError(f"due_at ({due_at}) must be after started_at ({started_at})")
    end = done_at if done_at is not None else now
    # A clock read a moment before its start (clock skew between instances) has not run yet.
    elapsed = max(timedelta(0), end - started_at)
    remaining = due_at - (started_at + elapsed)
    fraction = elapsed / interval
    if done_at is not None:
        status = SlaStatus.MET if done_at <= due_at else SlaStatus.BREACHED
    elif now > due_at:
        status = SlaStatus.BREACHED
    elif fraction >= warning_fraction:
        status = SlaStatus.WARNING
    else:
        status = SlaStatus.ACTIVE
    return SlaReading(status=status, elapsed=elapsed, remaining=remaining, fraction=fraction)


def due_times(
    decision_or_targets: EscalationDecision | SlaTargets,
    *,
    queued_at: datetime,
    tier: Tier,
    tier_factors: Mapping[str, float] | None = None,
) -> SlaDue:
    """The due times of a handoff queued at ``queued_at`` under the matrix targets.

    ``tier_factors`` (from settings) scales every interval for a tier: 0.5 halves premium's
    targets; a tier it does not name keeps the matrix's (factor 1.0). The update interval is
    scaled too, so tighter tiers also hear from us more often.
    """
    targets = (
        decision_or_targets.sla
        if isinstance(decision_or_targets, EscalationDecision)
        else decision_or_targets
    )
    if targets is None:
        raise ValueError("the decision has no SLA targets: it did not escalate")
    factor = 1.0 if tier_factors is None else float(tier_factors.get(tier, 1.0))
    if factor <= 0.0:
        raise ValueError(f"the SLA factor of tier {tier} must be above 0, got {factor}")
    return SlaDue(
        acknowledge_due=queued_at + targets.acknowledge * factor,
        resolve_due=queued_at + targets.resolve * factor,
        customer_update_every=targets.customer_update * factor,
    )


def _target_events(
    target: SlaTarget,
    reading: SlaReading,
    *,
    handoff_id: int,
    started_at: datetime,
    due_at: datetime,
    warning_fraction: float,
) -> list[SlaEvent]:
    if reading.status is SlaStatus.BREACHED:
        # No warning once breached: a warning nobody saw in time helps no one now.
        return [SlaEvent("breach", target, handoff_id, due_at)]
    if reading.status is SlaStatus.WARNING:
        warned_at = started_at + (due_at - started_at) * warning_fraction
        return [SlaEvent("warning", target, handoff_id, warned_at)]
    return []


def sla_events(
    *,
    handoff_id: int,
    started_at: datetime,
    acknowledge_due: datetime,
    resolve_due: datetime,
    acknowledged_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
    already_recorded: Collection[tuple[str, str]],
    warning_fraction: float = DEFAULT_WARNING_FRACTION,
) -> list[SlaEvent]:
    """The events due at ``now`` that are not in ``already_recorded``, oldest first.

    ``already_recorded`` holds ``(kind, target)`` pairs such as ``("breach", "acknowledge")``.
    A target done in time yields nothing, and an open target past its warning point yields a
    warning until it is breached; a breach (open past due, or done late) yields one breach.
    """
    # Resolving a handoff that was never acknowledged still ends the wait for an agent.
    acknowledge_done = acknowledged_at if acknowledged_at is not None else resolved_at
    clocks: tuple[tuple[SlaTarget, datetime, datetime | None], ...] = (
        ("acknowledge", acknowledge_due, acknowledge_done),
        ("resolve", resolve_due, resolved_at),
    )
    events: list[SlaEvent] = []
    for target, due_at, done_at in clocks:
        reading = sla_state(
            started_at=started_at, due_at=due_at, now=now, done_at=done_at,
            warning_fraction=warning_fraction,
        )  # fmt: skip
        events += _target_events(
            target, reading, handoff_id=handoff_id, started_at=started_at, due_at=due_at,
            warning_fraction=warning_fraction,
        )  # fmt: skip
    recorded = set(already_recorded)
    fresh = [event for event in events if event.key not in recorded]
    return sorted(fresh, key=lambda event: event.at)


def breach_action(
    *,
    severity: Severity,
    team: str,
    next_team: str | None,
    bump_points: Mapping[Severity, int] = DEFAULT_BREACH_BUMP,
) -> BreachAction:
    """What a breach of a ``severity`` handoff in ``team`` triggers.

    The team's supervisors are always alerted. With a ``next_team`` (other than ``team``) the
    handoff is re-routed there; otherwise it moves up its own queue by ``bump_points``.
    """
    if next_team is not None and next_team != team:
        return BreachAction(bump_priority_by=0, reroute_to=next_team, alert_supervisors=True)
    bump = bump_points[Severity(severity)]
    if bump < 0:
        raise ValueError(f"a breach bump must not be negative, got {bump} for {severity}")
    return BreachAction(bump_priority_by=bump, reroute_to=None, alert_supervisors=True)


def customer_update_due(
    *,
    last_agent_message_at: datetime | None,
    last_update_at: datetime | None,
    interval: timedelta,
    now: datetime,
) -> bool:
    """Whether the customer is owed a status update at ``now``.

    Due once nobody has told them anything for ``interval``: neither an agent's message nor
    our last update (pass the queue notice's time before the first update). With neither,
    they have heard nothing at all, so an update is due.
    """
    if interval <= timedelta(0):
        raise ValueError(f"interval must be longer than zero, got {interval}")
    heard = [t for t in (last_agent_message_at, last_update_at) if t is not None]
    if not heard:
        return True
    return now - max(heard) >= interval
