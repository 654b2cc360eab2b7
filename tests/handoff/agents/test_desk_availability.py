"""Availability: business hours (pure), the outside-hours notice, and the disconnect grace."""

# ruff: noqa: F811 - the shared fixtures are imported from test_agent_socket
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from desk_harness import desk_harness, escalate_open
from pydantic import ValidationError
from sqlalchemy import Engine
from test_agent_socket import (  # noqa: F401 - fixtures
    Harness,
    auth,
    claim,
    event,
    hand_over,
    migrated_engine,
    moved_to,
    of_type,
    policy,
    receive,
    receive_until,
    service_engine,
    start,
)

from handoff.agents.desk import AGENT_DISCONNECTED
from handoff.brief.notice import closed_notice
from handoff.escalation.hours import BusinessHours, is_open, next_opening
from handoff.escalation.policy import EscalationPolicy, TeamRules
from handoff.store.states import HandoffStatus

PARIS = ZoneInfo("Europe/Paris")
OFFICE = BusinessHours.model_validate(
    {"days": "mon-fri", "start": "08:00", "end": "20:00", "timezone": "Europe/Paris"}
)


# --------------------------------------------------------------------------- pure: hours


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2024, 11, 27, 7, 0, tzinfo=UTC), True),  # Wed 08:00 Paris (UTC+1): opens
        (datetime(2024, 11, 27, 6, 59, tzinfo=UTC), False),  # Wed 07:59 Paris
        (datetime(2024, 11, 27, 18, 59, tzinfo=UTC), True),  # Wed 19:59 Paris
        (datetime(2024, 11, 27, 19, 0, tzinfo=UTC), False),  # Wed 20:00 Paris: closed
        (datetime(2024, 11, 30, 12, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2024, 7, 3, 6, 30, tzinfo=UTC), True),  # summer (UTC+2): 08:30 Paris
        (datetime(2024, 7, 3, 18, 30, tzinfo=UTC), False),  # summer: 20:30 Paris
        (datetime(2024, 11, 27, 2, 0, tzinfo=ZoneInfo("America/New_York")), True),  # 08:00 Paris
    ],
)
def test_is_open_reads_the_window_in_the_teams_own_time_zone(now: datetime, expected: bool) -> None:
    assert is_open(OFFICE, now) is expected


def test_always_is_always_open_and_never_has_a_next_opening() -> None:
    now = datetime(2024, 11, 30, 3, 0, tzinfo=UTC)
    assert is_open("always", now) and next_opening("always", now) is None


@pytest.mark.parametrize(
    ("now", "opening"),
    [
        (datetime(2024, 11, 27, 6, 0, tzinfo=UTC), datetime(2024, 11, 27, 8, 0, tzinfo=PARIS)),
        (datetime(2024, 11, 27, 20, 0, tzinfo=UTC), datetime(2024, 11, 28, 8, 0, tzinfo=PARIS)),
        (datetime(2024, 11, 29, 19, 30, tzinfo=UTC), datetime(2024, 12, 2, 8, 0, tzinfo=PARIS)),
        (datetime(2024, 11, 27, 12, 0, tzinfo=UTC), None),  # open now
    ],
    ids=["later-today", "tomorrow", "after-the-weekend", "open"],
)
def test_next_opening(now: datetime, opening: datetime | None) -> None:
    assert next_opening(OFFICE, now) == opening


def test_days_accept_ranges_lists_and_wrapping_ranges() -> None:
    def days(value: object) -> frozenset[int]:
        return BusinessHours.model_validate(
            {"days": value, "start": "09:00", "end": "17:00", "timezone": "UTC"}
        ).days

    assert days("mon-fri") == frozenset(range(5))
    assert days("mon,wed,fri") == frozenset({0, 2, 4})
    assert days(["sat", "sun"]) == frozenset({5, 6})
    assert days("fri-mon") == frozenset({4, 5, 6, 0})
    with pytest.raises(ValidationError, match="unknown day"):
        days("monday")
    with pytest.raises(ValidationError, match="must be before end"):
        BusinessHours.model_validate(
            {"days": "mon", "start": "18:00", "end": "09:00", "timezone": "UTC"}
        )


# --------------------------------------------------------------------------- pure: notice


def test_the_outside_hours_notice_names_the_day_time_and_zone() -> None:
    friday_evening = datetime(2024, 11, 29, 19, 30, tzinfo=UTC)
    assert closed_notice(
        team_display_name="disputes",
        opens_at=next_opening(OFFICE, friday_evening),  # type: ignore[arg-type]
        now=friday_evening,
    ) == (
        "Our disputes team is closed right now. It opens again on Monday at 08:00 "
        "(Europe/Paris time). Your conversation stays in the queue with everything you've "
        "told us, and the first colleague to come in will pick it up."
    )
    early = datetime(2024, 11, 27, 6, 0, tzinfo=UTC)
    assert "It opens again today at 08:00 (Europe/Paris time)." in closed_notice(
        team_display_name="Security team",
        opens_at=next_opening(OFFICE, early),
        now=early,  # type: ignore[arg-type]
    )
    late = datetime(2024, 11, 27, 22, 0, tzinfo=UTC)
    text = closed_notice(
        team_display_name="Security team",
        opens_at=next_opening(OFFICE, late),
        now=late,  # type: ignore[arg-type]
    )
    assert text.startswith("Our Security team is closed right now. It opens again tomorrow at")


# --------------------------------------------------------------------------- the desk


def closed_conversation(harness: Harness, handoff_id: int) -> str:
    handoff = harness.store.get_handoff(handoff_id)
    assert handoff is not None
    return str(handoff.conversation_id)


def test_a_customer_queued_outside_hours_is_told_and_the_ticket_waits_for_an_agent(
    service_engine: Engine,  # noqa: F811
    policy: EscalationPolicy,  # noqa: F811
) -> None:
    rules = {"security": TeamRules(routing="auto_assign", business_hours=OFFICE)}
    with desk_harness(service_engine, policy, team_rules=rules) as harness:
        harness.clock.now = datetime(2024, 11, 30, 10, 0, tzinfo=UTC)  # Saturday
        with harness.connect_customer() as customer:
            start(customer)
            handoff_id = escalate_open(harness, customer, hand_over("security"))
            closed = receive_until(customer, event("outside_hours"))
            assert closed["sender"] == "system"
            assert closed["text"].startswith(
                "Our security team is closed right now. It opens again on Monday at 08:00 "
                "(Europe/Paris time)."
            )
            assert closed["data"] == {"event": "outside_hours", "team": "security"}
            stored = harness.store.transcript(closed_conversation(harness, handoff_id))[-1]
            assert stored.payload["opens_at"] == "2024-12-02T08:00:00+01:00"  # for agents
            handoff = harness.store.get_handoff(handoff_id)
            assert handoff is not None and handoff.status is HandoffStatus.QUEUED
            with harness.connect_agent() as ana:  # someone logs in: offered and auto-assigned
                welcome = auth(ana, harness.token("ana"))
                assert [h["id"] for h in welcome["queue"]] == [handoff_id]
                assert receive_until(ana, of_type("claimed"))["handoff"]["id"] == handoff_id
                receive_until(customer, moved_to("agent"))


def test_no_outside_hours_notice_while_the_team_is_open(
    service_engine: Engine,  # noqa: F811
    policy: EscalationPolicy,  # noqa: F811
) -> None:
    rules = {"security": TeamRules(business_hours=OFFICE)}
    with desk_harness(service_engine, policy, team_rules=rules) as harness:  # Wed 10:00 UTC
        with harness.connect_customer() as customer:
            start(customer)
            escalate_open(harness, customer, hand_over("security"))
            harness.drain()
            messages = harness.store.transcript(harness.work.open_handoffs()[0].conversation_id)
        assert not [m for m in messages if (m.payload or {}).get("event") == "outside_hours"]


# --------------------------------------------------------------------------- grace


def test_past_the_grace_period_the_customer_goes_back_to_the_front_of_the_queue(
    service_engine: Engine,  # noqa: F811
    policy: EscalationPolicy,  # noqa: F811
) -> None:
    with (
        desk_harness(service_engine, policy, grace=timedelta(seconds=0.2)) as harness,
        harness.connect_customer() as customer,
        harness.connect_agent() as bo,
    ):
        start(customer)
        auth(bo, harness.token("bo"))
        handoff_id = escalate_open(harness, customer, hand_over("security"))
        with harness.connect_agent() as ana:
            auth(ana, harness.token("ana"))
            assert claim(ana, handoff_id)["type"] == "claimed"
            receive_until(customer, moved_to("agent"))
        # Ana's socket is gone; 0.2 s later her customer is released.
        told = receive_until(customer, event("agent_disconnected"))
        assert told["sender"] == "system" and told["text"] == AGENT_DISCONNECTED
        assert AGENT_DISCONNECTED.startswith(
            "Sorry, your agent got disconnected. You're back at the front of the queue"
        )
        offered = receive_until(
            bo, lambda f: f["type"] == "handoff_queued" and f["handoff"]["id"] == handoff_id
        )
        assert offered["handoff"]["brief"]["team"] == "security"
        handoff = harness.store.get_handoff(handoff_id)
        assert handoff is not None and handoff.status is HandoffStatus.QUEUED
        assert handoff.agent_id is None
        assert claim(bo, handoff_id)["type"] == "claimed"


def test_an_agent_back_within_the_grace_period_keeps_their_conversations(
    service_engine: Engine,  # noqa: F811
    policy: EscalationPolicy,  # noqa: F811
) -> None:
    with (
        # A grace far longer than a reconnect takes on a loaded machine; the wait after it is
        # longer still, so a countdown left running would have fired.
        desk_harness(service_engine, policy, grace=timedelta(seconds=2)) as harness,
        harness.connect_customer() as customer,
    ):
        start(customer)
        handoff_id = escalate_open(harness, customer, hand_over("security"))
        with harness.connect_agent() as ana:
            auth(ana, harness.token("ana"))
            claim(ana, handoff_id)
        with harness.connect_agent() as ana:
            welcome = auth(ana, harness.token("ana"))
            assert [h["id"] for h in welcome["assigned"]] == [handoff_id]
            time.sleep(4)  # twice the grace: the countdown was cancelled
            ana.send_json({"type": "ping"})
            assert receive_until(ana, of_type("pong")) == {"type": "pong"}
            handoff = harness.store.get_handoff(handoff_id)
            assert handoff is not None and handoff.agent_id == harness.agents["ana"].id


def test_past_the_grace_an_auto_assign_team_gives_the_customer_to_another_agent(
    service_engine: Engine,  # noqa: F811
    policy: EscalationPolicy,  # noqa: F811
) -> None:
    rules = {"security": TeamRules(routing="auto_assign")}
    with (
        desk_harness(
            service_engine, policy, team_rules=rules, grace=timedelta(seconds=0.2)
        ) as harness,
        harness.connect_customer() as customer,
    ):
        start(customer)
        with harness.connect_agent() as ana:
            auth(ana, harness.token("ana"))
            handoff_id = escalate_open(harness, customer, hand_over("security"))
            assert receive_until(ana, of_type("claimed"))["handoff"]["id"] == handoff_id
        with harness.connect_agent() as bo:
            auth(bo, harness.token("bo"))
            claimed = receive_until(bo, of_type("claimed"))
            assert claimed["handoff"]["id"] == handoff_id
            receive_until(customer, event("agent_disconnected"))
