"""When the assistant hands a conversation to a person, and the hints it sends along.

These are *hints*: the escalation engine of the handoff service makes the final decision
(it also weighs sentiment, customer tier and queue load) and may pick another team or
severity. The assistant only says why it is handing over and what it already tried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Severity(StrEnum):
    """Urgency, sev1 being the most urgent."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


@dataclass(frozen=True)
class EscalationHint:
    """Why the assistant hands over, and where it suggests the conversation should go."""

    reason: str  # machine-readable reason code, stored in the handoff_reason slot
    category: str
    severity: Severity
    team: str
    response: str  # the domain response that tells the customer a colleague takes over
    headline: str  # first words of the handoff summary an agent reads


SECURITY_RISK = EscalationHint(
    reason="security_risk",
    category="security",
    severity=Severity.SEV1,
    team="security",
    response="utter_handoff_security",
    headline="Customer reports a compromised card",
)
POSSIBLE_FRAUD = EscalationHint(
    reason="possible_fraud",
    category="billing",
    severity=Severity.SEV2,
    team="disputes",
    response="utter_handoff_disputes",
    headline="Customer does not recognise a payment",
)
CHURN_RISK = EscalationHint(
    reason="churn_risk",
    category="relationship",
    severity=Severity.SEV3,
    team="relationship",
    response="utter_handoff_relationship",
    headline="Customer wants to close their account",
)
REQUEST_HUMAN = EscalationHint(
    reason="request_human",
    category="general",  # the customer gave no topic, so no more specific category
    severity=Severity.SEV4,
    team="general",
    response="utter_handoff_requested",
    headline="Customer asked to talk to a person",
)
# The customer is unhappy with us, wants to leave, wants to complain formally or is in money
# trouble (data/nlu/customer_care.yml): a person takes over at once.
ASSISTANT_COMPLAINT = EscalationHint(
    reason="assistant_complaint",
    category="general",  # the assistant failed, whatever the topic; the engine routes by topic
    severity=Severity.SEV3,
    team="general",
    response="utter_handoff_assistant_complaint",
    headline="Customer says the assistant is not helping",
)
SERVICE_COMPLAINT = EscalationHint(
    reason="service_complaint",
    category="relationship",
    severity=Severity.SEV3,
    team="relationship",
    response="utter_handoff_service_complaint",
    headline="Customer complains about our service",
)
LEAVING = EscalationHint(
    reason="leaving_bank",
    category="relationship",
    severity=Severity.SEV3,
    team="relationship",
    response="utter_handoff_leaving",
    headline="Customer is unhappy and says they will leave us",
)
FORMAL_COMPLAINT = EscalationHint(
    reason="formal_complaint",
    category="compliance",  # complaint-handling rules and deadlines apply from now
    severity=Severity.SEV2,
    team="compliance",
    response="utter_handoff_formal_complaint",
    headline="Customer wants to make a formal complaint",
)
FINANCIAL_HARDSHIP = EscalationHint(
    reason="financial_hardship",
    category="relationship",
    severity=Severity.SEV2,  # a customer who may be vulnerable: priority care
    team="relationship",
    response="utter_handoff_hardship",
    headline="Customer describes financial hardship",
)
# The customer reports fraud on their account rather than on a card (data/nlu/security.yml):
# someone else in the account, phishing, a scam. Money or credentials are at risk now, so the
# security team at once; nothing for the assistant to freeze first.
FRAUD_REPORT = EscalationHint(
    reason="fraud_report",
    category="security",
    severity=Severity.SEV1,
    team="security",
    response="utter_handoff_fraud",
    headline="Customer reports fraud, a scam or someone else in their account",
)
REPEATED_FALLBACK = EscalationHint(
    reason="repeated_fallback",
    category="technical",
    severity=Severity.SEV4,
    team="general",
    response="utter_handoff_fallback",
    headline="Assistant did not understand the customer twice in a row",
)
BOT_ERROR = EscalationHint(
    reason="bot_error",
    category="technical",
    severity=Severity.SEV3,
    team="general",
    response="utter_backend_error",
    headline="Assistant could not reach the bank's systems",
)

HINTS_BY_REASON: Mapping[str, EscalationHint] = MappingProxyType(
    {
        hint.reason: hint
        for hint in (
            SECURITY_RISK,
            POSSIBLE_FRAUD,
            CHURN_RISK,
            REQUEST_HUMAN,
            ASSISTANT_COMPLAINT,
            SERVICE_COMPLAINT,
            LEAVING,
            FORMAL_COMPLAINT,
            FINANCIAL_HARDSHIP,
            FRAUD_REPORT,
            REPEATED_FALLBACK,
            BOT_ERROR,
        )
    }
)

# Intents that always end in a handoff, after the action has taken the first safe step.
INTENT_ESCALATIONS: Mapping[str, EscalationHint] = MappingProxyType(
    {
        "compromised_card": SECURITY_RISK,
        "card_payment_not_recognised": POSSIBLE_FRAUD,
        "cash_withdrawal_not_recognised": POSSIBLE_FRAUD,
        "direct_debit_payment_not_recognised": POSSIBLE_FRAUD,
        "terminate_account": CHURN_RISK,
        "request_human": REQUEST_HUMAN,
        "complain_about_assistant": ASSISTANT_COMPLAINT,
        "complain_about_service": SERVICE_COMPLAINT,
        "leave_bank": LEAVING,
        "make_formal_complaint": FORMAL_COMPLAINT,
        "financial_hardship": FINANCIAL_HARDSHIP,
        "report_fraud": FRAUD_REPORT,
    }
)

# The customer-care intents: what the customer feels rather than a task; each is handed over by
# action_hand_over_with_care with its own acknowledgement.
CARE_INTENTS: frozenset[str] = frozenset(
    {
        "complain_about_assistant",
        "complain_about_service",
        "leave_bank",
        "make_formal_complaint",
        "financial_hardship",
    }
)

# Intents handed over at once by action_hand_over_with_care, each with its own acknowledgement:
# the customer-care intents and a report of fraud on the account.
HAND_OVER_AT_ONCE_INTENTS: frozenset[str] = CARE_INTENTS | {"report_fraud"}


def escalation_for_intent(intent: str | None) -> EscalationHint | None:
    """The hint for an intent that always escalates, else None."""
    if intent is None:
        return None
    return INTENT_ESCALATIONS.get(intent)
