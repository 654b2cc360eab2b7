"""Who the customer is: metadata, slot, anonymous and unknown customers."""

from __future__ import annotations

import pytest

from actions.account import ActionAccountOverview, ActionTierLimits
from actions.base import AccountAction, general_response_for
from actions.cards import ActionCardDeliveryStatus, ActionCardStatus, ActionFreezeCard
from actions.escalation import INTENT_ESCALATIONS
from actions.payments import (
    ActionCardPaymentStatus,
    ActionCashWithdrawalStatus,
    ActionReviewUnrecognisedPayments,
)
from actions.refunds import ActionRefundStatus
from actions.top_ups import ActionTopUpStatus
from actions.transfers import ActionTransferStatus
from demobank.models import Card, CardStatus

ACCOUNT_ACTIONS: list[AccountAction] = [
    ActionCardDeliveryStatus(),
    ActionFreezeCard(),
    ActionCardStatus(),
    ActionTransferStatus(),
    ActionTopUpStatus(),
    ActionRefundStatus(),
    ActionCardPaymentStatus(),
    ActionCashWithdrawalStatus(),
    ActionReviewUnrecognisedPayments(),
    ActionAccountOverview(),
    ActionTierLimits(),
]
ACCOUNT_INTENTS = [(action, intent) for action in ACCOUNT_ACTIONS for intent in action.intents]


def _id(value: object) -> str:
    return value.name() if isinstance(value, AccountAction) else str(value)


@pytest.mark.parametrize(("action", "intent"), ACCOUNT_INTENTS, ids=_id)
def test_anonymous_customer_gets_general_guidance_and_sign_in_hint(
    run, tracker_for, action, intent
):
    result = run(action, tracker_for(intent))

    assert result.responses[:2] == [general_response_for(intent), "utter_sign_in_for_details"]
    [step] = result.new_steps
    assert (step["action"], step["step"], step["outcome"]) == (
        action.name(),
        action.step,
        "needs_sign_in",
    )
    assert step["summary"] == "gave general guidance only: customer is not signed in"
    hint = INTENT_ESCALATIONS.get(intent)
    if hint is None:
        assert result.responses == [general_response_for(intent), "utter_sign_in_for_details"]
        assert result.handoff is None
    else:
        # The risk does not depend on being signed in: the hand-over still happens.
        assert result.responses[-1] == hint.response
        assert result.handoff["reason"] == hint.reason
        assert result.handoff["attempted_steps"] == [step]


def test_unknown_customer_is_treated_as_not_signed_in(run, tracker_for):
    result = run(ActionTransferStatus(), tracker_for("pending_transfer", customer_id="cus_9999"))

    assert result.responses == ["utter_general_pending_transfer", "utter_sign_in_for_details"]
    assert result.new_steps[0]["outcome"] == "needs_sign_in"
    assert (
        result.new_steps[0]["summary"] == "gave general guidance only: unknown customer id cus_9999"
    )


def test_customer_from_metadata_is_used_and_stored_in_the_slot(run, tracker_for, db):
    tracker = tracker_for("lost_or_stolen_card", metadata={"customer_id": "cus_1002"})

    result = run(ActionFreezeCard(), tracker)

    assert result.slot("customer_id") == "cus_1002"
    assert result.events[0] == {
        "event": "slot",
        "timestamp": None,
        "name": "customer_id",
        "value": "cus_1002",
    }
    assert db.get(Card, "card_1002_1").status is CardStatus.FROZEN


def test_metadata_wins_over_a_stale_slot(run, tracker_for):
    tracker = tracker_for(
        "pending_transfer", customer_id="cus_1002", metadata={"customer_id": "cus_1001"}
    )

    result = run(ActionTransferStatus(), tracker)

    assert result.message("utter_transfer_pending")["transfer_id"] == "T-1009"
    assert result.slot("customer_id") == "cus_1001"


def test_customer_from_the_slot_sets_no_slot(run, tracker_for):
    result = run(ActionTransferStatus(), tracker_for("pending_transfer", customer_id="cus_1001"))

    assert not result.sets_slot("customer_id")


def test_metadata_matching_the_slot_sets_no_slot(run, tracker_for):
    tracker = tracker_for(
        "pending_transfer", customer_id="cus_1001", metadata={"customer_id": "cus_1001"}
    )

    assert not run(ActionTransferStatus(), tracker).sets_slot("customer_id")
