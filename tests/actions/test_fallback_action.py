"""NLU fallback: ask to rephrase the first time, hand over the second time in a row."""

from __future__ import annotations

from actions.fallback import ActionHandleFallback, consecutive_fallbacks


def _user(intent: str) -> dict:
    return {"event": "user", "text": "...", "parse_data": {"intent": {"name": intent}}}


def _bot_turn(action: str = "action_handle_fallback") -> list[dict]:
    return [{"event": "action", "name": action}, {"event": "bot", "text": "..."}]


def test_counts_only_the_trailing_run_of_fallbacks():
    events = [
        _user("nlu_fallback"),
        *_bot_turn(),
        _user("greet"),
        *_bot_turn("utter_greet"),
        _user("nlu_fallback"),
        *_bot_turn(),
        _user("nlu_fallback"),
    ]
    assert consecutive_fallbacks(events) == 2


def test_count_stops_at_a_new_session():
    events = [_user("nlu_fallback"), {"event": "session_started"}, _user("nlu_fallback")]
    assert consecutive_fallbacks(events) == 1


def test_count_is_zero_after_an_understood_message():
    assert consecutive_fallbacks([_user("nlu_fallback"), _user("greet")]) == 0


def test_first_fallback_asks_to_rephrase(run, tracker_for):
    tracker = tracker_for(
        "nlu_fallback", confidence=0.2, events=[_user("greet"), *_bot_turn(), _user("nlu_fallback")]
    )

    result = run(ActionHandleFallback(), tracker)

    assert result.responses == ["utter_ask_rephrase"]
    assert result.handoff is None
    [step] = result.new_steps
    assert (step["step"], step["outcome"]) == ("ask_rephrase", "info")


def test_second_fallback_in_a_row_escalates_repeated_fallback(run, tracker_for):
    first = [_user("nlu_fallback"), *_bot_turn()]
    earlier_step = {
        "action": "action_handle_fallback",
        "step": "ask_rephrase",
        "outcome": "info",
        "summary": "asked to rephrase an unclear message",
        "at": "2024-11-27T09:59:00+00:00",
    }
    tracker = tracker_for(
        "nlu_fallback",
        confidence=0.21,
        events=[*first, _user("nlu_fallback")],
        slots={"attempted_steps": [earlier_step]},
    )

    result = run(ActionHandleFallback(), tracker)

    assert result.responses == ["utter_handoff_fallback"]
    payload = result.handoff
    assert (payload["reason"], payload["category"], payload["severity"], payload["team"]) == (
        "repeated_fallback",
        "technical",
        "sev4",
        "general",
    )
    assert payload["intent"] == "nlu_fallback"
    assert payload["confidence"] == 0.21
    assert [s["step"] for s in payload["attempted_steps"]] == ["ask_rephrase", "understand_message"]
    assert payload["attempted_steps"][-1]["outcome"] == "failed"
    assert result.slot("handoff_reason") == "repeated_fallback"


def test_fallback_with_a_truncated_tracker_counts_as_first(run, tracker_for):
    result = run(ActionHandleFallback(), tracker_for("nlu_fallback", events=[]))

    assert result.responses == ["utter_ask_rephrase"]
