"""The customer-care intents and report_fraud: acknowledged, then handed over at once with their
own reason."""

from __future__ import annotations

import pytest
from test_escalations import _earlier_step, assert_signal

from actions.care import ActionHandOverWithCare

# intent -> (response, reason, category, severity, team, headline)
CARE = {
    "complain_about_assistant": (
        "utter_handoff_assistant_complaint",
        "assistant_complaint",
        "general",
        "sev3",
        "general",
        "Customer says the assistant is not helping",
    ),
    "complain_about_service": (
        "utter_handoff_service_complaint",
        "service_complaint",
        "relationship",
        "sev3",
        "relationship",
        "Customer complains about our service",
    ),
    "leave_bank": (
        "utter_handoff_leaving",
        "leaving_bank",
        "relationship",
        "sev3",
        "relationship",
        "Customer is unhappy and says they will leave us",
    ),
    "make_formal_complaint": (
        "utter_handoff_formal_complaint",
        "formal_complaint",
        "compliance",
        "sev2",
        "compliance",
        "Customer wants to make a formal complaint",
    ),
    "financial_hardship": (
        "utter_handoff_hardship",
        "financial_hardship",
        "relationship",
        "sev2",
        "relationship",
        "Customer describes financial hardship",
    ),
    "report_fraud": (
        "utter_handoff_fraud",
        "fraud_report",
        "security",
        "sev1",
        "security",
        "Customer reports fraud, a scam or someone else in their account",
    ),
}


@pytest.mark.parametrize("intent", sorted(CARE))
def test_care_intent_is_acknowledged_and_handed_over(run, tracker_for, intent):
    response, reason, category, severity, team, headline = CARE[intent]
    earlier = [_earlier_step("looked up transfer T-1009: pending since 2 days")]
    tracker = tracker_for(
        intent, customer_id="cus_1001", confidence=0.87, slots={"attempted_steps": earlier}
    )

    result = run(ActionHandOverWithCare(), tracker)

    assert result.responses == [response]
    payload = assert_signal(result, reason, category, severity, team)
    assert (payload["intent"], payload["confidence"]) == (intent, 0.87)
    assert payload["attempted_steps"] == earlier
    assert payload["summary"] == headline
    # Acknowledging is not a resolution step, so the slot is left as it is.
    assert not result.sets_slot("attempted_steps")


def test_another_intent_still_reaches_a_person(run, tracker_for):
    result = run(ActionHandOverWithCare(), tracker_for("card_arrival"))

    assert result.responses == ["utter_handoff_requested"]
    assert_signal(result, "request_human", "general", "sev4", "general")
