from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff.agents.sla import (
    BreachAction,
    SlaDue,
    SlaEvent,
    SlaStatus,
    breach_action,
    customer_update_due,
    due_times,
    sla_events,
    sla_state,
)
from handoff.escalation.decision import EscalationDecision, Severity, SlaTargets, Tier

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def mins(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


# A 100-minute interval: the warning point is at minute 80.
@pytest.mark.parametrize(
    ("now", "done", "status", "elapsed", "remaining", "fraction"),
    [
        (0, None, SlaStatus.ACTIVE, 0, 100, 0.0),
        (79, None, SlaStatus.ACTIVE, 79, 21, 0.79),
        (80, None, SlaStatus.WARNING, 80, 20, 0.8),
        (100, None, SlaStatus.WARNING, 100, 0, 1.0),
        (101, None, SlaStatus.BREACHED, 101, -1, 1.01),
        (90, 50, SlaStatus.MET, 50, 50, 0.5),
        (200, 100, SlaStatus.MET, 100, 0, 1.0),
        (200, 130, SlaStatus.BREACHED, 130, -30, 1.3),
        (-5, None, SlaStatus.ACTIVE, 0, 100, 0.0),
    ],
    ids=[
        "start", "just-before-warning", "warning-point", "due-exactly", "past-due",
        "met-early", "met-on-due", "done-late-stays-breached", "clock-skew-before-start",
    ],
)  # fmt: skip
def test_sla_state(
    now: int, done: int | None, status: SlaStatus, elapsed: int, remaining: int, fraction: float
) -> None:
    reading = sla_state(
        started_at=T0, due_at=at(100), now=at(now), done_at=None if done is None else at(done)
    )
    assert reading.status is status
    assert reading.elapsed == mins(elapsed)
    assert reading.remaining == mins(remaining)
    assert reading.fraction == pytest.approx(fraction)


def test_sla_state_honours_a_custom_warning_fraction() -> None:
    reading = sla_state(started_at=T0, due_at=at(100), now=at(50), warning_fraction=0.5)
    assert reading.status is SlaStatus.WARNING


@pytest.mark.parametrize(
    ("due", "fraction"),
    [(0, 0.8), (-10, 0.8), (100, 0.0), (100, 1.5)],
    ids=["zero-interval", "due-before-start", "fraction-zero", "fraction-above-one"],
)
def test_sla_state_refuses_nonsense(due: int, fraction: float) -> None:
    with pytest.raises(ValueError):
        sla_state(started_at=T0, due_at=at(due), now=at(1), warning_fraction=fraction)


TARGETS = SlaTargets(acknowledge=mins(60), resolve=mins(480), customer_update=mins(15))
FACTORS = {"premium": 0.5, "plus": 0.75}


@pytest.mark.parametrize(
    ("tier", "factors", "expected"),
    [
        (Tier.STANDARD, None, SlaDue(at(60), at(480), mins(15))),
        (Tier.STANDARD, FACTORS, SlaDue(at(60), at(480), mins(15))),
        (Tier.PLUS, FACTORS, SlaDue(at(45), at(360), mins(11.25))),
        (Tier.PREMIUM, FACTORS, SlaDue(at(30), at(240), mins(7.5))),
        (Tier.PREMIUM, None, SlaDue(at(60), at(480), mins(15))),
    ],
    ids=["no-factors", "standard-unlisted", "plus", "premium-tighter", "premium-default-1"],
)
def test_due_times_from_targets(
    tier: Tier, factors: dict[str, float] | None, expected: SlaDue
) -> None:
    assert due_times(TARGETS, queued_at=T0, tier=tier, tier_factors=factors) == expected


def test_due_times_from_a_decision() -> None:
    decision = EscalationDecision(escalate=True, reasons=(), score=1.0, sla=TARGETS)
    due = due_times(decision, queued_at=T0, tier=Tier.PREMIUM, tier_factors=FACTORS)
    assert due == SlaDue(at(30), at(240), mins(7.5))


@pytest.mark.parametrize(
    ("subject", "factors"),
    [
        (EscalationDecision(escalate=False, reasons=(), score=0.0), None),
        (TARGETS, {"standard": 0.0}),
    ],
    ids=["decision-without-sla", "zero-factor"],
)
def test_due_times_refuses(
    subject: EscalationDecision | SlaTargets, factors: dict[str, float] | None
) -> None:
    with pytest.raises(ValueError):
        due_times(subject, queued_at=T0, tier=Tier.STANDARD, tier_factors=factors)


# Acknowledge due at minute 60 (warning at 48), resolve due at minute 480 (warning at 384).
@pytest.mark.parametrize(
    ("now", "ack", "resolved", "recorded", "expected"),
    [
        (10, None, None, (), []),
        (48, None, None, (), [("warning", "acknowledge", 48)]),
        (50, None, None, {("warning", "acknowledge")}, []),
        (61, None, None, {("warning", "acknowledge")}, [("breach", "acknowledge", 60)]),
        (61, None, None, (), [("breach", "acknowledge", 60)]),
        (70, None, None, [("warning", "acknowledge"), ("breach", "acknowledge")], []),
        (100, 30, None, (), []),
        (100, 75, None, (), [("breach", "acknowledge", 60)]),
        (400, 30, None, (), [("warning", "resolve", 384)]),
        (500, None, None, (), [("breach", "acknowledge", 60), ("breach", "resolve", 480)]),
        (500, 30, 450, (), []),
        (500, None, 50, (), []),
        (600, 30, 490, {("warning", "resolve")}, [("breach", "resolve", 480)]),
    ],
    ids=[
        "nothing-yet", "ack-warning", "ack-warning-recorded", "ack-breach",
        "ack-breach-skips-missed-warning", "all-recorded", "ack-met",
        "ack-late-is-a-breach", "resolve-warning", "restart-after-both-due",
        "both-met", "resolved-without-ack-met", "resolved-late",
    ],
)  # fmt: skip
def test_sla_events(
    now: int,
    ack: int | None,
    resolved: int | None,
    recorded: object,
    expected: list[tuple[str, str, int]],
) -> None:
    events = sla_events(
        handoff_id=7, started_at=T0, acknowledge_due=at(60), resolve_due=at(480),
        acknowledged_at=None if ack is None else at(ack),
        resolved_at=None if resolved is None else at(resolved),
        now=at(now), already_recorded=recorded,  # type: ignore[arg-type]
    )  # fmt: skip
    assert events == [SlaEvent(kind, target, 7, at(m)) for kind, target, m in expected]  # type: ignore[arg-type]


def test_sla_events_are_recorded_once_across_repeated_runs() -> None:
    recorded: set[tuple[str, str]] = set()
    seen: list[SlaEvent] = []
    for minute in range(0, 600, 7):  # a scheduler ticking; each run records what it got
        for event in sla_events(
            handoff_id=1, started_at=T0, acknowledge_due=at(60), resolve_due=at(480),
            acknowledged_at=at(55) if minute >= 55 else None, resolved_at=None, now=at(minute),
            already_recorded=recorded,
        ):  # fmt: skip
            recorded.add(event.key)
            seen.append(event)
    assert [(e.kind, e.target, e.at) for e in seen] == [
        ("warning", "acknowledge", at(48)),
        ("warning", "resolve", at(384)),
        ("breach", "resolve", at(480)),
    ]


@pytest.mark.parametrize(
    ("severity", "team", "next_team", "expected"),
    [
        (Severity.SEV2, "disputes", "general", BreachAction(0, "general", True)),
        (Severity.SEV2, "disputes", None, BreachAction(7, None, True)),
        (Severity.SEV1, "security", "security", BreachAction(7, None, True)),
        (Severity.SEV4, "general", None, BreachAction(7, None, True)),
    ],
    ids=["reroute", "bump", "next-is-same-team-bumps", "sev4-bump"],
)
def test_breach_action(
    severity: Severity, team: str, next_team: str | None, expected: BreachAction
) -> None:
    assert breach_action(severity=severity, team=team, next_team=next_team) == expected


def test_breach_bump_is_per_severity() -> None:
    bumps = {Severity.SEV1: 2, Severity.SEV2: 4, Severity.SEV3: 6, Severity.SEV4: 8}
    action = breach_action(
        severity=Severity.SEV3, team="general", next_team=None, bump_points=bumps
    )
    assert action == BreachAction(6, None, True)


# Interval 15 minutes.
@pytest.mark.parametrize(
    ("agent", "update", "now", "expected"),
    [
        (None, 0, 14, False),
        (None, 0, 15, True),
        (10, 0, 20, False),
        (10, 0, 25, True),
        (0, 15, 20, False),
        (0, 15, 30, True),
        (20, 15, 34, False),
        (None, None, 0, True),
    ],
    ids=[
        "queued-silence-short", "queued-silence-long", "agent-wrote-recently",
        "agent-silent-interval", "update-sent-recently", "next-interval-passed",
        "agent-wrote-after-update", "never-heard-anything",
    ],
)  # fmt: skip
def test_customer_update_due(
    agent: int | None, update: int | None, now: int, expected: bool
) -> None:
    due = customer_update_due(
        last_agent_message_at=None if agent is None else at(agent),
        last_update_at=None if update is None else at(update),
        interval=mins(15), now=at(now),
    )  # fmt: skip
    assert due is expected
