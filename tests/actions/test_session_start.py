"""action_session_start: carries slots over and takes customer_id from the metadata."""

from __future__ import annotations

from actions.session import ActionSessionStart

SESSION_CONFIG = {"session_config": {"carry_over_slots_to_new_session": True}}


def _names(events: list[dict]) -> list[str]:
    return [e["event"] for e in events]


def test_customer_id_is_copied_from_the_session_metadata(run, tracker_for):
    tracker = tracker_for(
        None,
        slots={"session_started_metadata": {"customer_id": "cus_1003", "channel": "app"}},
        events=[],
    )

    result = run(ActionSessionStart(), tracker, SESSION_CONFIG)

    assert result.events[0]["event"] == "session_started"
    assert result.events[-1] == {
        "event": "action",
        "name": "action_listen",
        "policy": None,
        "confidence": None,
        "timestamp": None,
    }
    assert result.slot("customer_id") == "cus_1003"
    assert result.messages == []


def test_metadata_from_the_session_started_event(run, tracker_for):
    events = [{"event": "session_started", "metadata": {"customer_id": "cus_1005"}}]

    result = run(ActionSessionStart(), tracker_for(None, events=events), SESSION_CONFIG)

    assert result.slot("customer_id") == "cus_1005"


def test_existing_slots_are_carried_over_and_metadata_wins(run, tracker_for):
    steps = [{"action": "a", "step": "s", "outcome": "info", "summary": "x", "at": "t"}]
    tracker = tracker_for(
        None,
        customer_id="cus_1001",
        slots={"attempted_steps": steps, "session_started_metadata": {"customer_id": "cus_1002"}},
        events=[],
    )

    result = run(ActionSessionStart(), tracker, SESSION_CONFIG)

    assert result.slot("attempted_steps") == steps
    assert result.slot("customer_id") == "cus_1002"
    set_names = [e["name"] for e in result.events if e["event"] == "slot"]
    assert "handoff_reason" not in set_names  # unset slots are not carried
    assert _names(result.events)[0] == "session_started"
    assert _names(result.events)[-1] == "action"


def test_no_carry_over_when_the_domain_says_so(run, tracker_for):
    tracker = tracker_for(None, customer_id="cus_1001", events=[])
    domain = {"session_config": {"carry_over_slots_to_new_session": False}}

    result = run(ActionSessionStart(), tracker, domain)

    assert _names(result.events) == ["session_started", "action"]


def test_anonymous_session_sets_no_customer(run, tracker_for):
    result = run(ActionSessionStart(), tracker_for(None, events=[]), SESSION_CONFIG)

    assert not result.sets_slot("customer_id")
