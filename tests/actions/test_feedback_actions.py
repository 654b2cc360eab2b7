"""Back from an agent: the welcome back with or without the agent's summary, and the rating."""

from __future__ import annotations

import pytest

from actions.feedback import (
    SUMMARY_MAX_CHARS,
    ActionRecordRating,
    ActionWelcomeBack,
    asked_again,
    summary_for_customer,
)


def _action(name: str) -> dict:
    return {"event": "action", "name": name}


def _user(text: str, intent: str = "rate_support") -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def _welcomed_back() -> list[dict]:
    return [
        _user("EXTERNAL: EXTERNAL_back_from_agent", "EXTERNAL_back_from_agent"),
        _action("action_welcome_back"),
    ]


# ------------------------------------------------------------------------- action_welcome_back


def test_welcome_back_repeats_the_agents_summary(run, tracker_for):
    tracker = tracker_for(
        "EXTERNAL_back_from_agent",
        slots={"handback_summary": "Refunded the double charge.\nNew PIN sent by post."},
    )

    result = run(ActionWelcomeBack(), tracker)

    assert result.responses == ["utter_welcome_back_with_summary"]
    message = result.message("utter_welcome_back_with_summary")
    assert message["summary"] == "Refunded the double charge. New PIN sent by post"
    assert result.slot("rating_requested") is True


@pytest.mark.parametrize("summary", [None, "", "  \n "])
def test_welcome_back_without_a_summary(run, tracker_for, summary):
    tracker = tracker_for("EXTERNAL_back_from_agent", slots={"handback_summary": summary})

    result = run(ActionWelcomeBack(), tracker)

    assert result.responses == ["utter_welcome_back"]
    assert result.slot("rating_requested") is True


def test_welcome_back_clears_the_rating_of_an_earlier_hand_back(run, tracker_for):
    tracker = tracker_for("EXTERNAL_back_from_agent", slots={"satisfaction_rating": 2.0})

    result = run(ActionWelcomeBack(), tracker)

    assert result.slot("satisfaction_rating") is None


def test_welcome_back_is_one_message_naming_the_scale(domain_responses):
    for response in ("utter_welcome_back", "utter_welcome_back_with_summary"):
        [variant] = domain_responses[response]
        assert "1 (poor) to 5 (excellent)" in variant["text"]
    assert domain_responses["utter_welcome_back_with_summary"][0]["text"].count("{summary}") == 1


def test_long_summary_is_cut_at_a_word():
    summary = summary_for_customer("word " * 100)

    assert summary is not None
    assert len(summary) <= SUMMARY_MAX_CHARS + 1
    assert summary.endswith("word…")


# ------------------------------------------------------------------------ action_record_rating


def test_rating_is_recorded_and_thanked_for(run, tracker_for):
    tracker = tracker_for(
        "rate_support",
        text="4/5, quick and friendly",
        slots={"rating_requested": True},
        events=[*_welcomed_back(), _user("4/5, quick and friendly")],
    )

    result = run(ActionRecordRating(), tracker)

    assert result.responses == ["utter_rating_thanks"]
    assert result.message("utter_rating_thanks")["rating"] == 4
    assert result.slot("satisfaction_rating") == 4.0
    assert isinstance(result.slot("satisfaction_rating"), float)
    assert result.slot("rating_requested") is False


def test_unclear_rating_is_asked_for_again(run, tracker_for):
    tracker = tracker_for(
        "rate_support",
        text="4 or 5",
        slots={"rating_requested": True},
        events=[*_welcomed_back(), _user("4 or 5")],
    )

    result = run(ActionRecordRating(), tracker)

    assert result.responses == ["utter_ask_rating_again"]
    assert result.events == []  # still requested


def test_second_unclear_rating_drops_the_request(run, tracker_for):
    events = [*_welcomed_back(), _user("4 or 5"), _action("action_record_rating"), _user("meh")]
    tracker = tracker_for(
        "rate_support", text="meh", slots={"rating_requested": True}, events=events
    )

    result = run(ActionRecordRating(), tracker)

    assert result.responses == ["utter_rating_skipped"]
    assert result.slot("rating_requested") is False
    assert not result.sets_slot("satisfaction_rating")


def test_clear_rating_after_being_asked_again_is_recorded(run, tracker_for):
    events = [*_welcomed_back(), _user("4 or 5"), _action("action_record_rating"), _user("5")]
    tracker = tracker_for("rate_support", text="5", slots={"rating_requested": True}, events=events)

    result = run(ActionRecordRating(), tracker)

    assert result.slot("satisfaction_rating") == 5.0


@pytest.mark.parametrize("requested", [None, False])
def test_nothing_to_rate_when_no_rating_was_asked_for(run, tracker_for, requested):
    tracker = tracker_for("rate_support", text="5", slots={"rating_requested": requested})

    result = run(ActionRecordRating(), tracker)

    assert result.responses == ["utter_nothing_to_rate"]
    assert result.events == []


def test_asked_again_looks_only_since_the_latest_welcome_back():
    earlier = [*_welcomed_back(), _user("meh"), _action("action_record_rating")]

    assert asked_again([*earlier, _user("meh")])
    assert not asked_again([*earlier, *_welcomed_back(), _user("meh")])
    assert not asked_again([_user("meh")])
