"""Every escalation reason: what the customer is told and the handoff signal's shape."""

from __future__ import annotations

import pytest

from actions.account import ActionAccountOverview
from actions.attempted_steps import MAX_KEPT
from actions.cards import ActionFreezeCard
from actions.escalation import HINTS_BY_REASON, INTENT_ESCALATIONS
from actions.handoff import ActionRequestHuman
from actions.payments import ActionReviewUnrecognisedPayments

PAYLOAD_KEYS = {
    "version",
    "reason",
    "intent",
    "confidence",
    "category",
    "severity",
    "team",
    "attempted_steps",
    "summary",
}
STEP_KEYS = {"action", "step", "outcome", "summary", "at"}


def _earlier_step(summary: str) -> dict[str, str]:
    return {
        "action": "action_transfer_status",
        "step": "transfer_status",
        "outcome": "info",
        "summary": summary,
        "at": "2024-11-27T09:55:00+00:00",
    }


def assert_signal(result, reason: str, category: str, severity: str, team: str) -> dict:
    payload = result.handoff
    assert payload is not None, "no handoff signal sent"
    assert set(payload) == PAYLOAD_KEYS
    assert payload["version"] == 1
    assert (payload["reason"], payload["category"], payload["severity"], payload["team"]) == (
        reason,
        category,
        severity,
        team,
    )
    assert isinstance(payload["confidence"], float)
    assert "\n" not in payload["summary"]
    assert all(set(step) == STEP_KEYS for step in payload["attempted_steps"])
    assert result.slot("handoff_reason") == reason
    return payload


def test_compromised_card_freezes_then_escalates_security_risk(run, tracker_for):
    tracker = tracker_for(
        "compromised_card",
        customer_id="cus_1002",
        confidence=0.88,
        slots={"attempted_steps": [_earlier_step("looked up transfer T-1010: completed")]},
    )

    result = run(ActionFreezeCard(), tracker)

    assert result.responses == [
        "utter_card_frozen_compromised",
        "utter_order_replacement_card",
        "utter_handoff_security",
    ]
    payload = assert_signal(result, "security_risk", "security", "sev1", "security")
    assert payload["intent"] == "compromised_card"
    assert payload["confidence"] == 0.88
    # The steps before this turn and the freeze of this turn, same as the slot.
    assert [s["summary"] for s in payload["attempted_steps"]] == [
        "looked up transfer T-1010: completed",
        "froze card ending 4242: done",
    ]
    assert payload["attempted_steps"] == result.slot("attempted_steps")
    assert payload["summary"] == "Customer reports a compromised card: froze card ending 4242: done"


def test_unrecognised_card_payment_lists_payments_and_escalates_possible_fraud(run, tracker_for):
    result = run(
        ActionReviewUnrecognisedPayments(),
        tracker_for("card_payment_not_recognised", customer_id="cus_1002"),
    )

    assert result.responses == [
        "utter_unrecognised_card_payments",
        "utter_advise_freeze_card",
        "utter_handoff_disputes",
    ]
    lines = result.message("utter_unrecognised_card_payments")["payments"].splitlines()
    assert lines == [
        "• £89.99 at SQ *HARBOUR LIGHTS on 26 November 2024 (completed)",
        "• £6.45 at Pret A Manger on 25 November 2024 (completed)",
        "• €412.80 at Booking.com on 24 November 2024 (pending)",
    ]
    assert result.message("utter_advise_freeze_card")["last4"] == "4242"
    payload = assert_signal(result, "possible_fraud", "billing", "sev2", "disputes")
    assert [s["step"] for s in payload["attempted_steps"]] == [
        "review_unrecognised_payments",
        "advise_freeze",
    ]


def test_unrecognised_cash_withdrawal_escalates_possible_fraud(run, tracker_for):
    result = run(
        ActionReviewUnrecognisedPayments(),
        tracker_for("cash_withdrawal_not_recognised", customer_id="cus_1005"),
    )

    # Elena's card is already frozen, so she is told so instead of being asked to freeze it.
    assert result.responses == [
        "utter_unrecognised_cash_withdrawals",
        "utter_card_already_frozen",
        "utter_handoff_disputes",
    ]
    assert len(result.message("utter_unrecognised_cash_withdrawals")["payments"].splitlines()) == 2
    assert_signal(result, "possible_fraud", "billing", "sev2", "disputes")


def test_unrecognised_direct_debit_escalates_possible_fraud(run, tracker_for):
    result = run(
        ActionReviewUnrecognisedPayments(),
        tracker_for("direct_debit_payment_not_recognised", customer_id="cus_1005"),
    )

    assert result.responses == [
        "utter_unrecognised_direct_debits",
        "utter_advise_direct_debit",
        "utter_handoff_disputes",
    ]
    debits = result.message("utter_unrecognised_direct_debits")["payments"]
    assert "Unknown Media Ltd" in debits.splitlines()[0]
    payload = assert_signal(result, "possible_fraud", "billing", "sev2", "disputes")
    assert payload["intent"] == "direct_debit_payment_not_recognised"


def test_unrecognised_payment_with_nothing_to_list_still_escalates(run, tracker_for):
    result = run(
        ActionReviewUnrecognisedPayments(),
        tracker_for("direct_debit_payment_not_recognised", customer_id="cus_1001"),
    )

    assert result.responses[0] == "utter_unrecognised_no_direct_debits"
    assert result.new_steps[0]["outcome"] == "not_found"
    assert_signal(result, "possible_fraud", "billing", "sev2", "disputes")


def test_terminate_account_summarises_then_escalates_churn_risk(run, tracker_for):
    result = run(ActionAccountOverview(), tracker_for("terminate_account", customer_id="cus_1001"))

    assert result.responses == [
        "utter_account_overview_pending",
        "utter_account_overview_cards",
        "utter_account_closing_steps",
        "utter_handoff_relationship",
    ]
    items = result.message("utter_account_overview_pending")["items"].splitlines()
    assert items == [
        "• outgoing transfer T-1009: €250.00 to Lena Fischer",
        "• top-up TU-3002: £300.00 by bank transfer",
    ]
    cards = result.message("utter_account_overview_cards")["cards"]
    assert cards == "• card ending 7702 (virtual, active)"
    assert_signal(result, "churn_risk", "relationship", "sev3", "relationship")


def test_terminate_account_with_nothing_pending(run, tracker_for):
    result = run(ActionAccountOverview(), tracker_for("terminate_account", customer_id="cus_1003"))

    assert result.responses[0] == "utter_account_overview_nothing_pending"


def test_request_human_escalates_with_the_steps_so_far(run, tracker_for):
    earlier = [_earlier_step("looked up transfer T-1009: pending since 2 days")]
    tracker = tracker_for(
        "request_human", customer_id="cus_1001", slots={"attempted_steps": earlier}
    )

    result = run(ActionRequestHuman(), tracker)

    assert result.responses == ["utter_handoff_requested"]
    payload = assert_signal(result, "request_human", "general", "sev4", "general")
    assert payload["attempted_steps"] == earlier
    assert payload["summary"] == "Customer asked to talk to a person"
    # Nothing new was tried, so the slot is left as it is.
    assert not result.sets_slot("attempted_steps")


def test_request_human_without_any_history(run, tracker_for):
    result = run(ActionRequestHuman(), tracker_for("request_human"))

    payload = assert_signal(result, "request_human", "general", "sev4", "general")
    assert payload["attempted_steps"] == []


def test_attempted_steps_keep_only_the_last_twenty(run, tracker_for):
    earlier = [_earlier_step(f"step {n}") for n in range(MAX_KEPT)]
    tracker = tracker_for(
        "compromised_card", customer_id="cus_1002", slots={"attempted_steps": earlier}
    )

    result = run(ActionFreezeCard(), tracker)

    steps = result.slot("attempted_steps")
    assert len(steps) == MAX_KEPT
    assert steps[0]["summary"] == "step 1"
    assert steps[-1]["summary"] == "froze card ending 4242: done"
    assert result.handoff["attempted_steps"] == steps


@pytest.mark.parametrize("reason", sorted(HINTS_BY_REASON))
def test_every_reason_has_a_complete_hint(reason):
    hint = HINTS_BY_REASON[reason]
    assert hint.reason == reason
    assert hint.category and hint.team and hint.headline
    assert hint.response.startswith("utter_")


def test_escalating_intents():
    assert {intent: hint.reason for intent, hint in INTENT_ESCALATIONS.items()} == {
        "compromised_card": "security_risk",
        "card_payment_not_recognised": "possible_fraud",
        "cash_withdrawal_not_recognised": "possible_fraud",
        "direct_debit_payment_not_recognised": "possible_fraud",
        "terminate_account": "churn_risk",
        "request_human": "request_human",
        "complain_about_assistant": "assistant_complaint",
        "complain_about_service": "service_complaint",
        "leave_bank": "leaving_bank",
        "make_formal_complaint": "formal_complaint",
        "financial_hardship": "financial_hardship",
        "report_fraud": "fraud_report",
    }
