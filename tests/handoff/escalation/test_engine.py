"""The escalation engine against the shipped policy: every trigger, every tier effect, combinations.

The expected numbers are the ones in ``data/escalation.yml`` (pinned in test_policy.py): an edit
of the policy that changes a decision shows up here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from handoff.escalation import reasons
from handoff.escalation.decision import Category, HandoffMode, ReasonHit, Severity, Tier
from handoff.escalation.engine import decide, past_turn
from handoff.escalation.policy import EscalationPolicy
from handoff.escalation.signals import PastTurn, Polarity, RasaSignal, TurnSignals

NOW = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)

CALM = Polarity("neutral", 0.10, 0.80, 0.10)


def negative(p: float = 0.60) -> Polarity:
    """A polarity labelled negative with negative probability ``p``."""
    rest = (1.0 - p) / 2
    return Polarity("negative", p, rest, rest)


def turn(**changes: Any) -> TurnSignals:
    """A turn that fires no trigger, with ``changes`` applied."""
    base: dict[str, Any] = {
        "text": "when will my card arrive?",
        "intent": "card_arrival",
        "confidence": 0.95,
        "polarity": CALM,
        "frustration": 0.10,
    }
    return TurnSignals(**(base | changes))


def unanswered(**changes: Any) -> TurnSignals:
    """A turn with no topic to answer ("no, that's not it"), so nothing is held for an answer."""
    return turn(**({"text": "no, that's not it", "intent": "deny"} | changes))


def past(**changes: Any) -> PastTurn:
    """An earlier turn that helps no trigger, with ``changes`` applied."""
    base: dict[str, Any] = {
        "intent": "greet",
        "confidence": 0.95,
        "polarity": "neutral",
        "frustration": 0.10,
    }
    return PastTurn(**(base | changes))


@dataclass(frozen=True)
class Case:
    """One row of a decision table; ``None`` means "not checked" except for escalate/codes."""

    turn: TurnSignals
    escalate: bool
    codes: tuple[str, ...]
    history: tuple[PastTurn, ...] = ()
    tier: Tier = Tier.STANDARD
    severity: Severity | None = None
    category: Category | None = None
    team: str | None = None
    priority: int | None = None
    mode: HandoffMode | None = None
    score: float | None = None
    first: dict[str, Any] = field(default_factory=dict)  # value/threshold/detail of reasons[0]


def check(case: Case, policy: EscalationPolicy) -> None:
    decision = decide(case.turn, case.history, case.tier, policy, NOW)

    assert decision.reason_codes == case.codes
    assert decision.escalate is case.escalate
    if case.escalate:
        assert decision.severity is case.severity
        assert decision.category is case.category
        assert decision.team == case.team
        assert decision.priority == case.priority
        assert decision.mode is case.mode
    else:
        assert (decision.severity, decision.team, decision.mode, decision.sla) == (
            None,
            None,
            None,
            None,
        )
    if case.score is not None:
        assert decision.score == case.score
    for name, expected in case.first.items():
        assert getattr(decision.reasons[0], name) == expected


# --- each trigger on its own ----------------------------------------------------------------

TRIGGERS = {
    "request_human": Case(
        turn(text="can I talk to a person", intent="request_human", requested_human=True),
        history=(past(intent="card_arrival"),),
        escalate=True,
        codes=("request_human",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.COLD,
        first={"value": True, "threshold": None, "detail": "the customer asked for a person"},
    ),
    "risk_phrase-legal": Case(
        turn(text="I'll take LEGAL action"),
        escalate=True,
        codes=("risk_phrase",),
        severity=Severity.SEV2,
        category=Category.COMPLIANCE,
        team="compliance",
        priority=26,
        mode=HandoffMode.COLD,
        first={
            "value": "legal action",
            "threshold": None,
            "detail": 'the message says "legal action" (risk group legal: compliance, sev2)',
        },
    ),
    "risk_phrase-regulator": Case(
        turn(text="I am writing to the ombudsman"),
        escalate=True,
        codes=("risk_phrase",),
        severity=Severity.SEV2,
        category=Category.COMPLIANCE,
        team="compliance",
        priority=26,
        mode=HandoffMode.COLD,
        first={"value": "ombudsman"},
    ),
    "risk_phrase-fraud": Case(
        turn(text="This is fraud"),
        escalate=True,
        codes=("risk_phrase",),
        severity=Severity.SEV1,
        category=Category.SECURITY,
        team="security",
        priority=16,
        mode=HandoffMode.WARM,  # sev1 is always warm
        first={"value": "fraud"},
    ),
    "risk_phrase-hacked": Case(
        turn(text="I think I've been hacked"),
        escalate=True,
        codes=("risk_phrase",),
        severity=Severity.SEV1,
        category=Category.SECURITY,
        team="security",
        priority=16,
        mode=HandoffMode.WARM,
        first={"value": "hacked"},
    ),
    "risk_phrase-churn": Case(
        turn(text="just close my account"),
        escalate=True,
        codes=("risk_phrase",),
        severity=Severity.SEV3,
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=36,
        mode=HandoffMode.COLD,
        first={"value": "close my account"},
    ),
    "risk_phrase-third-time": Case(
        turn(text="This is the third time I ask"),
        escalate=True,
        codes=("risk_phrase",),
        severity=Severity.SEV3,
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=36,
        mode=HandoffMode.COLD,
        first={"value": "third time"},
    ),
    "risk_phrase-not-a-word": Case(
        turn(text="there is an issue with the antifraud app"), escalate=False, codes=()
    ),
    "high_frustration": Case(
        unanswered(frustration=0.80),
        escalate=True,
        codes=("high_frustration",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.WARM,  # 0.80 >= warm_frustration 0.70
        first={
            "value": 0.80,
            "threshold": 0.75,
            "detail": "frustration 0.80 is at or above the standard threshold 0.75",
        },
    ),
    "high_frustration-at-threshold": Case(
        unanswered(frustration=0.75),
        escalate=True,
        codes=("high_frustration",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.WARM,
    ),
    "high_frustration-below": Case(turn(frustration=0.74), escalate=False, codes=()),
    "rising_frustration": Case(
        turn(frustration=0.55),
        history=(past(frustration=0.10), past(frustration=0.20)),
        escalate=False,  # weight 0.5 alone
        codes=("rising_frustration",),
        score=0.5,
        first={
            "value": 0.45,
            "threshold": 0.30,
            "detail": "frustration rose by 0.45 (from 0.10 to 0.55) within the last 3 turns, "
            "at or above the rise 0.30, and is at or above the floor 0.50",
        },
    ),
    "rising_frustration-exact-rise": Case(
        turn(frustration=0.60),
        history=(past(frustration=0.30),),
        escalate=False,
        codes=("rising_frustration",),
        first={"value": 0.30},
    ),
    "rising_frustration-below-floor": Case(
        turn(frustration=0.45), history=(past(frustration=0.05),), escalate=False, codes=()
    ),
    "rising_frustration-outside-window": Case(
        turn(frustration=0.60),
        history=(past(frustration=0.10), past(frustration=0.50), past(frustration=0.50)),
        escalate=False,
        codes=(),
    ),
    "negative_polarity": Case(
        turn(polarity=negative(0.85)),
        escalate=False,
        codes=("negative_polarity",),
        score=0.25,
        first={
            "value": 0.85,
            "threshold": 0.80,
            "detail": "negative polarity 0.85 is at or above the threshold 0.80",
        },
    ),
    "sustained_negative": Case(
        turn(polarity=negative(0.60)),
        history=(past(polarity="negative"), past(polarity="negative")),
        escalate=False,
        codes=("sustained_negative",),
        score=0.5,
        first={"value": 3, "threshold": 3},
    ),
    "sustained_negative-interrupted": Case(
        turn(polarity=negative(0.60)),
        history=(past(polarity="negative"), past(polarity="neutral")),
        escalate=False,
        codes=(),
    ),
    "repeated_fallback": Case(
        turn(intent="nlu_fallback", confidence=0.45),
        history=(past(intent="nlu_fallback", confidence=0.45),),
        escalate=True,
        codes=("repeated_fallback", "low_confidence"),
        severity=Severity.SEV4,
        category=Category.TECHNICAL,
        team="general",
        priority=46,
        mode=HandoffMode.COLD,
        score=1.25,
        first={
            "value": 2,
            "threshold": 2,
            "detail": "the assistant could not serve 2 turns in a row (nlu_fallback, "
            "out_of_scope or confidence below 0.50; threshold 2)",
        },
    ),
    "repeated_fallback-by-low-confidence": Case(
        turn(intent="top_up_failed", confidence=0.48),
        history=(past(intent="card_arrival", confidence=0.30),),
        escalate=True,
        codes=("repeated_fallback", "low_confidence"),
        severity=Severity.SEV4,
        category=Category.TECHNICAL,  # the trigger's own category beats the intent's billing
        team="general",
        priority=46,
        mode=HandoffMode.COLD,
    ),
    "repeated_fallback-out-of-scope-in-the-streak": Case(
        turn(intent="out_of_scope", confidence=0.9),
        history=(past(intent="nlu_fallback", confidence=0.45),),
        escalate=True,
        codes=("repeated_fallback",),
        severity=Severity.SEV4,
        category=Category.TECHNICAL,
        team="general",
        priority=46,
        mode=HandoffMode.COLD,
        first={"value": 2, "threshold": 2},
    ),
    "repeated_fallback-out-of-scope-twice": Case(
        turn(intent="out_of_scope", confidence=0.9),
        history=(past(intent="out_of_scope", confidence=0.9),),
        escalate=True,
        codes=("repeated_fallback",),
        severity=Severity.SEV4,
        category=Category.TECHNICAL,
        team="general",
        priority=46,
        mode=HandoffMode.COLD,
        first={"value": 2, "threshold": 2},
    ),
    "out-of-scope-once-stays-with-the-bot": Case(
        turn(intent="out_of_scope", confidence=0.9),
        history=(past(intent="card_arrival", confidence=0.9),),
        escalate=False,
        codes=(),
    ),
    "low_confidence": Case(
        turn(confidence=0.40),
        escalate=False,
        codes=("low_confidence",),
        score=0.25,
        first={
            "value": 0.40,
            "threshold": 0.50,
            "detail": "intent card_arrival has confidence 0.40, below the threshold 0.50",
        },
    ),
    "intent_loop": Case(
        turn(),
        history=(past(intent="card_arrival"), past(intent="card_arrival")),
        escalate=True,
        codes=("intent_loop",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.WARM,  # a loop is a multi-step issue
        first={
            "value": 3,
            "threshold": 3,
            "detail": "intent card_arrival came up in the customer's last 3 turns "
            "(threshold 3): the issue is not resolved",
        },
    ),
    "intent_loop-broken": Case(
        turn(),
        history=(past(intent="card_arrival"), past(intent="greet")),
        escalate=False,
        codes=(),
    ),
    "intent_loop-conversational": Case(
        turn(intent="greet"),
        history=(past(intent="greet"), past(intent="greet")),
        escalate=False,
        codes=(),
    ),
    "rasa_signal-possible_fraud": Case(
        turn(rasa=RasaSignal("possible_fraud", "billing", Severity.SEV2, "disputes")),
        escalate=True,
        codes=("rasa_signal",),
        severity=Severity.SEV2,
        category=Category.BILLING,
        team="disputes",
        priority=26,
        mode=HandoffMode.COLD,
        first={
            "value": "possible_fraud",
            "threshold": None,
            "detail": "the assistant handed over with reason possible_fraud "
            "(it suggested billing, sev2, disputes)",
        },
    ),
    "rasa_signal-security_risk": Case(
        turn(rasa=RasaSignal("security_risk", "security", Severity.SEV1, "security")),
        escalate=True,
        codes=("rasa_signal",),
        severity=Severity.SEV1,
        category=Category.SECURITY,
        team="security",
        priority=16,
        mode=HandoffMode.WARM,
    ),
    "rasa_signal-general-category": Case(
        turn(rasa=RasaSignal("request_human", "general", Severity.SEV4, "general")),
        escalate=True,
        codes=("rasa_signal",),
        severity=Severity.SEV4,
        category=Category.TECHNICAL,
        team="general",
        priority=46,
        mode=HandoffMode.COLD,
    ),
    "rasa_signal-no-hints": Case(
        turn(rasa=RasaSignal("churn_risk")),
        escalate=True,
        codes=("rasa_signal",),
        severity=Severity.SEV4,
        category=Category.TECHNICAL,
        team="general",
        priority=46,
        mode=HandoffMode.COLD,
        first={"detail": "the assistant handed over with reason churn_risk"},
    ),
    "bot_error": Case(
        turn(intent=None, confidence=None, bot_error="Rasa unreachable: timed out after 10 s"),
        escalate=True,
        codes=("bot_error",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.COLD,
        first={
            "value": "Rasa unreachable: timed out after 10 s",
            "threshold": None,
            "detail": "the assistant failed on this turn: Rasa unreachable: timed out after 10 s",
        },
    ),
    "risk_intent-leave_bank": Case(
        turn(text="I'll find a bank that actually helps", intent="leave_bank", confidence=0.93),
        escalate=True,
        codes=("risk_intent",),
        severity=Severity.SEV3,
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=36,
        mode=HandoffMode.COLD,
        first={
            "value": "leave_bank 0.93",
            "threshold": 0.60,
            "detail": "intent leave_bank has confidence 0.93, at or above the threshold 0.60 "
            "(risk intent: relationship, sev3)",
        },
    ),
    "risk_intent-at-threshold": Case(
        turn(intent="leave_bank", confidence=0.60),
        escalate=True,
        codes=("risk_intent",),
        severity=Severity.SEV3,
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=36,
        mode=HandoffMode.COLD,
        first={"value": "leave_bank 0.60", "threshold": 0.60},
    ),
    "risk_intent-below-threshold": Case(
        turn(intent="leave_bank", confidence=0.59), escalate=False, codes=()
    ),
    "risk_intent-no-confidence": Case(
        turn(intent="leave_bank", confidence=None), escalate=False, codes=()
    ),
    "risk_intent-service-complaint": Case(
        turn(text="nobody ever calls me back", intent="complain_about_service", confidence=0.88),
        escalate=True,
        codes=("risk_intent",),
        severity=Severity.SEV3,
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=36,
        mode=HandoffMode.COLD,
        first={"value": "complain_about_service 0.88"},
    ),
    "risk_intent-formal-complaint": Case(
        turn(text="I'd like to lodge a complaint", intent="make_formal_complaint", confidence=0.9),
        escalate=True,
        codes=("risk_intent",),
        severity=Severity.SEV2,
        category=Category.COMPLIANCE,
        team="compliance",
        priority=26,
        mode=HandoffMode.COLD,
        first={
            "value": "make_formal_complaint 0.90",
            "detail": "intent make_formal_complaint has confidence 0.90, at or above the "
            "threshold 0.60 (risk intent: compliance, sev2)",
        },
    ),
    "risk_intent-hardship-is-priority-care": Case(
        turn(
            text="this has left me unable to pay my rent",
            intent="financial_hardship",
            confidence=0.81,
        ),
        escalate=True,
        codes=("risk_intent",),
        severity=Severity.SEV2,
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=26,
        mode=HandoffMode.WARM,  # the policy's warm: true, with nothing else warm here
        first={
            "value": "financial_hardship 0.81",
            "threshold": 0.50,
            "detail": "intent financial_hardship has confidence 0.81, at or above the threshold "
            "0.50 (risk intent: relationship, sev2, warm)",
        },
    ),
    "risk_intent-fraud-report-goes-to-security-at-sev1": Case(
        # No risk phrase in the words: only the intent says this is fraud.
        turn(
            text="a caller said he was from the bank and I read him the code",
            intent="report_fraud",
            confidence=0.88,
        ),
        escalate=True,
        codes=("risk_intent",),
        severity=Severity.SEV1,
        category=Category.SECURITY,
        team="security",
        priority=16,
        mode=HandoffMode.WARM,  # sev1 is always warm (handoff_mode.warm_severities)
        first={
            "value": "report_fraud 0.88",
            "threshold": 0.60,
            "detail": "intent report_fraud has confidence 0.88, at or above the threshold "
            "0.60 (risk intent: security, sev1)",
        },
    ),
    "risk_intent-fraud-report-below-its-bar": Case(
        turn(text="someone rang me about my account", intent="report_fraud", confidence=0.55),
        escalate=False,
        codes=(),
    ),
    "risk_intent-hardship-has-a-lower-bar": Case(
        turn(intent="financial_hardship", confidence=0.52),
        escalate=True,
        codes=("risk_intent",),
        severity=Severity.SEV2,
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=26,
        mode=HandoffMode.WARM,
    ),
    "risk_intent-assistant-complaint-goes-by-topic": Case(
        turn(text="you're not listening to me", intent="complain_about_assistant", confidence=0.97),
        history=(past(intent="Refund_not_showing_up"),),
        escalate=True,
        codes=("risk_intent",),
        severity=Severity.SEV3,
        category=Category.BILLING,  # no category of its own: the refund the customer asked about
        team="disputes",
        priority=36,
        mode=HandoffMode.COLD,
        first={
            "value": "complain_about_assistant 0.97",
            "detail": "intent complain_about_assistant has confidence 0.97, at or above the "
            "threshold 0.60 (risk intent: sev3)",
        },
    ),
    "nothing": Case(turn(), escalate=False, codes=(), score=0.0),
    "nothing-measured": Case(TurnSignals(), escalate=False, codes=(), score=0.0),
}


@pytest.mark.parametrize("case", TRIGGERS.values(), ids=TRIGGERS.keys())
def test_each_trigger(case: Case, policy: EscalationPolicy) -> None:
    check(case, policy)


# --- what the tier changes ------------------------------------------------------------------

ASKS = turn(text="agent please", intent="request_human", requested_human=True)

TIERS = {
    "frustration-0.65-standard": Case(turn(frustration=0.65), escalate=False, codes=()),
    "frustration-0.65-plus": Case(turn(frustration=0.65), tier=Tier.PLUS, escalate=False, codes=()),
    "frustration-0.65-premium": Case(
        unanswered(frustration=0.65),
        tier=Tier.PREMIUM,
        escalate=True,
        codes=("high_frustration", "premium_tier"),
        severity=Severity.SEV2,  # sev3 raised one level
        category=Category.TECHNICAL,
        team="technical_support",
        priority=20,
        mode=HandoffMode.WARM,
        first={
            "threshold": 0.60,
            "detail": "frustration 0.65 is at or above the premium threshold 0.60",
        },
    ),
    "frustration-0.72-plus": Case(
        unanswered(frustration=0.72),
        tier=Tier.PLUS,
        escalate=True,
        codes=("high_frustration",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=33,
        mode=HandoffMode.WARM,
        first={"threshold": 0.70},
    ),
    "request-standard": Case(
        ASKS,
        escalate=True,
        codes=("request_human",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.COLD,
    ),
    "request-plus": Case(
        ASKS,
        tier=Tier.PLUS,
        escalate=True,
        codes=("request_human",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=33,
        mode=HandoffMode.COLD,
    ),
    "request-premium": Case(
        ASKS,
        tier=Tier.PREMIUM,
        escalate=True,
        codes=("request_human", "premium_tier"),
        severity=Severity.SEV2,
        category=Category.TECHNICAL,
        team="technical_support",
        priority=20,
        mode=HandoffMode.WARM,
    ),
    "legal-premium-stays-below-ceiling": Case(
        turn(text="my lawyer will call"),
        tier=Tier.PREMIUM,
        escalate=True,
        codes=("risk_phrase", "premium_tier"),
        severity=Severity.SEV2,  # not raised to sev1: the boost ceiling is sev2
        category=Category.COMPLIANCE,
        team="compliance",
        priority=20,
        mode=HandoffMode.WARM,
    ),
    "fraud-premium-keeps-sev1": Case(
        turn(text="fraud!"),
        tier=Tier.PREMIUM,
        escalate=True,
        codes=("risk_phrase", "premium_tier"),
        severity=Severity.SEV1,
        category=Category.SECURITY,
        team="security",
        priority=10,
        mode=HandoffMode.WARM,
    ),
    "fallback-premium": Case(
        turn(intent="nlu_fallback", confidence=0.45),
        history=(past(intent="nlu_fallback", confidence=0.45),),
        tier=Tier.PREMIUM,
        escalate=True,
        codes=("repeated_fallback", "low_confidence", "premium_tier"),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=30,
        mode=HandoffMode.WARM,
    ),
    "very-high-frustration-standard": Case(
        unanswered(frustration=0.92),
        escalate=True,
        codes=("high_frustration",),
        severity=Severity.SEV2,  # frustration >= 0.90 raises one level
        category=Category.TECHNICAL,
        team="technical_support",
        priority=26,
        mode=HandoffMode.WARM,
    ),
    "very-high-frustration-premium-at-most-one-level": Case(
        unanswered(frustration=0.95),
        tier=Tier.PREMIUM,
        escalate=True,
        codes=("high_frustration", "premium_tier"),
        severity=Severity.SEV2,
        category=Category.TECHNICAL,
        team="technical_support",
        priority=20,
        mode=HandoffMode.WARM,
    ),
}


@pytest.mark.parametrize("case", TIERS.values(), ids=TIERS.keys())
def test_tier_effects(case: Case, policy: EscalationPolicy) -> None:
    check(case, policy)


def test_premium_tier_hit_explains_itself(policy: EscalationPolicy) -> None:
    decision = decide(ASKS, (), Tier.PREMIUM, policy, NOW)

    assert decision.reasons[-1] == ReasonHit(
        code=reasons.PREMIUM_TIER,
        value="premium",
        threshold=None,
        detail="premium tier: severity raised from sev3 to sev2, warm handoff",
        weight=0.0,
    )
    assert decision.score == 1.0  # the modifier adds nothing


# --- combinations ---------------------------------------------------------------------------

COMBINATIONS = {
    "soft-triggers-add-up": Case(
        unanswered(polarity=negative(0.85), frustration=0.55),
        history=(
            past(polarity="negative", frustration=0.10),
            past(polarity="negative", frustration=0.20),
        ),
        escalate=True,
        codes=("rising_frustration", "sustained_negative", "negative_polarity"),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.COLD,
        score=1.25,
    ),
    "two-halves-reach-the-score": Case(
        unanswered(polarity=negative(0.60), frustration=0.55),
        history=(
            past(polarity="negative", frustration=0.10),
            past(polarity="negative", frustration=0.20),
        ),
        escalate=True,
        codes=("rising_frustration", "sustained_negative"),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.COLD,
        score=1.0,
    ),
    "nudges-stay-below-the-score": Case(
        turn(polarity=negative(0.85), confidence=0.40),
        escalate=False,
        codes=("negative_polarity", "low_confidence"),
        score=0.5,
    ),
    "fraud-beats-the-assistants-billing-hint": Case(
        turn(
            text="this payment is fraud",
            rasa=RasaSignal("possible_fraud", "billing", Severity.SEV2, "disputes"),
        ),
        escalate=True,
        codes=("risk_phrase", "rasa_signal"),
        severity=Severity.SEV1,
        category=Category.SECURITY,
        team="security",
        priority=16,
        mode=HandoffMode.WARM,
    ),
    "two-risk-groups-most-severe-first": Case(
        turn(text="my lawyer says this is fraud"),
        escalate=True,
        codes=("risk_phrase", "risk_phrase"),
        severity=Severity.SEV1,
        category=Category.SECURITY,
        team="security",
        priority=16,
        mode=HandoffMode.WARM,
        first={"value": "fraud"},
    ),
    "request-with-billing-topic": Case(
        turn(intent="transfer_fee_charged", requested_human=True, frustration=0.80),
        escalate=True,
        codes=("request_human", "high_frustration"),
        severity=Severity.SEV3,
        category=Category.BILLING,
        team="disputes",
        priority=36,
        mode=HandoffMode.WARM,
        score=2.0,
    ),
    "request-takes-topic-from-history": Case(
        ASKS,
        history=(past(intent="card_payment_fee_charged"), past(intent="thank")),
        escalate=True,
        codes=("request_human",),
        severity=Severity.SEV3,
        category=Category.BILLING,
        team="disputes",
        priority=36,
        mode=HandoffMode.COLD,
    ),
    "request-with-security-topic": Case(
        ASKS,
        history=(past(intent="lost_or_stolen_card"),),
        escalate=True,
        codes=("request_human",),
        severity=Severity.SEV3,
        category=Category.SECURITY,
        team="security",
        priority=36,
        mode=HandoffMode.COLD,
    ),
    "request-after-three-steps-is-warm": Case(
        turn(intent="request_human", requested_human=True, steps_attempted=3),
        escalate=True,
        codes=("request_human",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.WARM,
    ),
    "request-after-two-steps-is-cold": Case(
        turn(intent="request_human", requested_human=True, steps_attempted=2),
        escalate=True,
        codes=("request_human",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.COLD,
    ),
    "bot-error-with-frustration": Case(
        turn(bot_error="action server returned 500", frustration=0.93),
        escalate=True,
        codes=("bot_error", "high_frustration"),
        severity=Severity.SEV2,
        category=Category.TECHNICAL,
        team="technical_support",
        priority=26,
        mode=HandoffMode.WARM,
    ),
    "loop-and-request": Case(
        turn(intent="card_arrival", requested_human=True),
        history=(past(intent="card_arrival"), past(intent="card_arrival")),
        escalate=True,
        codes=("request_human", "intent_loop"),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.WARM,
        score=2.0,
    ),
    "risk-intent-and-the-assistants-own-handoff": Case(
        turn(
            intent="leave_bank",
            confidence=0.91,
            rasa=RasaSignal("leaving_bank", "relationship", Severity.SEV3, "relationship"),
        ),
        escalate=True,
        codes=("risk_intent", "rasa_signal"),
        severity=Severity.SEV3,
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=36,
        mode=HandoffMode.COLD,
        score=2.0,
        first={"value": "leave_bank 0.91"},
    ),
    "formal-complaint-by-intent-phrase-and-assistant": Case(
        turn(
            text="I want to make a formal complaint",
            intent="make_formal_complaint",
            confidence=0.95,
            rasa=RasaSignal("formal_complaint", "compliance", Severity.SEV2, "compliance"),
        ),
        escalate=True,
        codes=("risk_intent", "risk_phrase", "rasa_signal"),
        severity=Severity.SEV2,
        category=Category.COMPLIANCE,
        team="compliance",
        priority=26,
        mode=HandoffMode.COLD,
        first={"value": "make_formal_complaint 0.95"},
    ),
    "fraud-phrase-outranks-a-service-complaint": Case(
        turn(text="your service let a scam through", intent="complain_about_service"),
        escalate=True,
        codes=("risk_phrase", "risk_intent"),
        severity=Severity.SEV1,
        category=Category.SECURITY,
        team="security",
        priority=16,
        mode=HandoffMode.WARM,
        first={"value": "scam"},
    ),
    "assistant-complaint-with-the-assistants-hint": Case(
        turn(
            intent="complain_about_assistant",
            rasa=RasaSignal("assistant_complaint", "general", Severity.SEV3, "general"),
        ),
        history=(past(intent="Refund_not_showing_up"),),
        escalate=True,
        codes=("risk_intent", "rasa_signal"),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,  # the hint's general support, as in data/escalation.yml
        team="general",
        priority=36,
        mode=HandoffMode.COLD,
    ),
    "premium-hardship-stays-at-the-ceiling": Case(
        turn(intent="financial_hardship", confidence=0.9),
        tier=Tier.PREMIUM,
        escalate=True,
        codes=("risk_intent", "premium_tier"),
        severity=Severity.SEV2,  # premium +1 would be sev1, above the ceiling sev2
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=20,
        mode=HandoffMode.WARM,
    ),
}


@pytest.mark.parametrize("case", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_combinations(case: Case, policy: EscalationPolicy) -> None:
    check(case, policy)


# --- answer first ---------------------------------------------------------------------------

ANNOYED = turn(text="so annoying, where is my card", frustration=0.80, polarity=negative(0.85))
WAS_FRUSTRATED = past(intent="card_arrival", frustration=0.80)

ANSWER_FIRST = {
    "an-annoyed-question-the-assistant-understood": Case(
        ANNOYED,
        escalate=False,
        codes=("high_frustration", "negative_polarity", "answer_first"),
        score=0.0,
        first={"value": 0.80, "threshold": 0.75, "weight": 0.0},
    ),
    "premium-too": Case(
        turn(frustration=0.65),
        tier=Tier.PREMIUM,
        escalate=False,
        codes=("high_frustration", "answer_first"),
        score=0.0,
    ),
    "rising-frustration-held-sustained-negative-counts": Case(
        turn(frustration=0.60, polarity=negative(0.60)),
        history=(
            past(polarity="negative", frustration=0.10),
            past(polarity="negative", frustration=0.20),
        ),
        escalate=False,  # 0.5 + 0.5 would hand over; sustained_negative alone does not
        codes=("sustained_negative", "rising_frustration", "answer_first"),
        score=0.5,
    ),
    "nothing-to-hold-when-it-would-not-hand-over": Case(
        turn(frustration=0.60),
        history=(past(frustration=0.10),),
        escalate=False,
        codes=("rising_frustration",),
        score=0.5,
    ),
    "not-understood-well-enough": Case(
        turn(frustration=0.80, confidence=0.55),  # above low_confidence, below 0.60
        escalate=True,
        codes=("high_frustration",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.WARM,
    ),
    "frustrated-before-no-second-wait": Case(
        turn(frustration=0.80),
        history=(WAS_FRUSTRATED,),
        escalate=True,
        codes=("high_frustration",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.WARM,
    ),
    "a-hard-trigger-is-never-held": Case(
        turn(text="third time I ask, where is my card", frustration=0.80),
        escalate=True,
        codes=("risk_phrase", "high_frustration"),
        severity=Severity.SEV3,
        category=Category.RELATIONSHIP,
        team="relationship",
        priority=36,
        mode=HandoffMode.WARM,
    ),
    "what-is-left-hands-over-anyway": Case(
        turn(frustration=0.80, polarity=negative(0.85)),
        history=(
            past(intent="card_arrival", polarity="negative"),
            past(intent="card_arrival", polarity="negative"),
        ),
        escalate=True,  # intent_loop 1.0 on its own; the tone triggers count with it
        codes=(
            "high_frustration",
            "intent_loop",
            "rising_frustration",
            "sustained_negative",
            "negative_polarity",
        ),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.WARM,
    ),
    "reply-not-understood-after-the-answer": Case(
        turn(text="I'm waiting", intent="nlu_fallback", confidence=0.45),
        history=(WAS_FRUSTRATED,),
        escalate=True,
        codes=("unresolved_frustration", "low_confidence"),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,  # from card_arrival
        team="general",
        priority=36,
        mode=HandoffMode.WARM,  # frustration 0.80 the turn before
        first={
            "value": 0.80,
            "threshold": 0.75,
            "detail": "the customer was frustrated on the turn before (0.80, at or above the "
            "standard threshold 0.75) and this reply (nlu_fallback) neither takes the answer "
            "nor asks something the assistant understood",
        },
    ),
    "reply-hello-after-the-answer": Case(
        turn(text="hello?", intent="greet", confidence=0.99),
        history=(WAS_FRUSTRATED,),
        escalate=True,
        codes=("unresolved_frustration",),
        severity=Severity.SEV3,
        category=Category.TECHNICAL,
        team="general",
        priority=36,
        mode=HandoffMode.WARM,  # frustration 0.80 the turn before
    ),
    "reply-thanks-takes-the-answer": Case(
        turn(text="ok thanks", intent="thank"), history=(WAS_FRUSTRATED,), escalate=False, codes=()
    ),
    "reply-a-new-question-it-understands": Case(
        turn(text="and what is the exchange rate?", intent="exchange_rate", confidence=0.90),
        history=(WAS_FRUSTRATED,),
        escalate=False,
        codes=(),
    ),
    "reply-after-mild-annoyance": Case(
        turn(text="hello?", intent="greet", confidence=0.99),
        history=(past(intent="card_arrival", frustration=0.70),),
        escalate=False,
        codes=(),
    ),
    "premium-reply-after-its-own-threshold": Case(
        turn(text="hello?", intent="greet", confidence=0.99),
        history=(past(intent="card_arrival", frustration=0.65),),
        tier=Tier.PREMIUM,
        escalate=True,
        codes=("unresolved_frustration", "premium_tier"),
        severity=Severity.SEV2,
        category=Category.TECHNICAL,
        team="technical_support",
        priority=20,
        mode=HandoffMode.WARM,
        first={"threshold": 0.60},
    ),
}


@pytest.mark.parametrize("case", ANSWER_FIRST.values(), ids=ANSWER_FIRST.keys())
def test_answer_first(case: Case, policy: EscalationPolicy) -> None:
    check(case, policy)


def test_answer_first_explains_what_it_held(policy: EscalationPolicy) -> None:
    decision = decide(ANNOYED, (), Tier.STANDARD, policy, NOW)

    assert decision.reasons[-1] == ReasonHit(
        code=reasons.ANSWER_FIRST,
        value="card_arrival 0.95",
        threshold=0.60,
        detail="the assistant understood card_arrival with confidence 0.95 (at or above 0.60) "
        "and answers first; held: high_frustration, negative_polarity, which count if the "
        "customer is still frustrated, or not served, on the next turn",
        weight=0.0,
    )
    assert decision.reasons[0].detail.endswith("standard threshold 0.75; held")


def test_without_answer_first_every_trigger_counts(
    policy: EscalationPolicy,
) -> None:
    plain = policy.model_copy(update={"answer_first": None})

    held = decide(ANNOYED, (), Tier.STANDARD, policy, NOW)
    counted = decide(ANNOYED, (), Tier.STANDARD, plain, NOW)
    after = decide(turn(intent="greet"), (WAS_FRUSTRATED,), Tier.STANDARD, plain, NOW)

    assert (held.escalate, counted.escalate) == (False, True)
    assert counted.reason_codes == ("high_frustration", "negative_polarity")
    assert after.reason_codes == ()  # no unresolved_frustration without an answer first


# --- time, history, notes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signals", "severity", "acknowledge", "resolve", "update"),
    [
        (turn(text="hacked"), Severity.SEV1, timedelta(minutes=15), timedelta(hours=4), 5),
        (turn(text="ombudsman"), Severity.SEV2, timedelta(hours=1), timedelta(hours=8), 15),
        (ASKS, Severity.SEV3, timedelta(hours=4), timedelta(hours=24), 30),
        (turn(rasa=RasaSignal("x")), Severity.SEV4, timedelta(hours=24), timedelta(hours=72), 60),
    ],
    ids=["sev1", "sev2", "sev3", "sev4"],
)
def test_due_times_run_from_now(
    policy: EscalationPolicy,
    signals: TurnSignals,
    severity: Severity,
    acknowledge: timedelta,
    resolve: timedelta,
    update: int,
) -> None:
    decision = decide(signals, (), Tier.STANDARD, policy, NOW)

    assert decision.severity is severity
    assert decision.decided_at == NOW
    assert decision.acknowledge_due == NOW + acknowledge
    assert decision.resolve_due == NOW + resolve
    assert decision.sla is not None
    assert decision.sla.customer_update == timedelta(minutes=update)


def test_no_escalation_still_records_time_and_reasons(policy: EscalationPolicy) -> None:
    decision = decide(turn(confidence=0.40), (), Tier.STANDARD, policy, NOW)

    assert decision.escalate is False
    assert decision.decided_at == NOW
    assert (decision.acknowledge_due, decision.resolve_due, decision.priority) == (None,) * 3
    assert decision.reason_codes == ("low_confidence",)


def test_naive_now_is_refused(policy: EscalationPolicy) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(turn(), (), Tier.STANDARD, policy, datetime(2024, 5, 6, 9, 30))


def test_past_turn_keeps_what_later_turns_need() -> None:
    current = turn(intent="card_arrival", confidence=0.7, polarity=negative(0.6), frustration=0.4)

    assert past_turn(current) == PastTurn("card_arrival", 0.7, "negative", 0.4)
    assert past_turn(TurnSignals()) == PastTurn(None, None, None, None)


def test_history_built_with_past_turn_detects_a_loop(policy: EscalationPolicy) -> None:
    history: list[PastTurn] = []
    decisions = []
    for _ in range(3):
        current = turn(intent="card_not_working")
        decisions.append(decide(current, history, Tier.STANDARD, policy, NOW))
        history.append(past_turn(current))

    assert [d.escalate for d in decisions] == [False, False, True]
    assert decisions[-1].reason_codes == ("intent_loop",)


def test_notes_explain_routing(policy: EscalationPolicy) -> None:
    signal = RasaSignal("request_human", "general", Severity.SEV4, "general")
    decision = decide(turn(rasa=signal, frustration=0.92), (), Tier.PREMIUM, policy, NOW)

    assert decision.notes == (
        "severity raised from sev3 to sev2 (premium tier +1; frustration 0.92 at or above "
        "0.90 +1; at most 1 level(s), not above sev2)",
        "category technical from rasa_signal",
        "team technical_support from the matrix (technical, sev2)",
        "the assistant suggested team general",
        "warm handoff: frustration 0.92 at or above 0.70; premium tier",
    )


# --- the policy's knobs change decisions ----------------------------------------------------


def _variant(raw: dict[str, Any], change: dict[str, Any]) -> EscalationPolicy:
    def merge(node: dict[str, Any], update: dict[str, Any]) -> None:
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(node.get(key), dict):
                merge(node[key], value)
            else:
                node[key] = value

    merge(raw, change)
    return EscalationPolicy.model_validate(yaml.safe_load(yaml.safe_dump(raw, sort_keys=False)))


def test_fallback_streak_is_configurable(raw_policy: dict[str, Any]) -> None:
    policy = _variant(raw_policy, {"thresholds": {"fallback_streak": 3}})
    two = (past(intent="nlu_fallback", confidence=0.45),)

    decision = decide(turn(intent="nlu_fallback", confidence=0.45), two, Tier.STANDARD, policy, NOW)

    assert decision.reason_codes == ("low_confidence",)
    assert decision.escalate is False


def test_assistant_hint_raises_but_never_lowers_severity(raw_policy: dict[str, Any]) -> None:
    policy = _variant(raw_policy, {"triggers": {"rasa_signal": {"severity": "sev2"}}})
    mild = RasaSignal("churn_risk", "relationship", Severity.SEV4, "relationship")

    decision = decide(turn(rasa=mild), (), Tier.STANDARD, policy, NOW)

    assert decision.severity is Severity.SEV2
    assert decision.team == "relationship"


def test_risk_phrases_come_from_the_policy(raw_policy: dict[str, Any]) -> None:
    press = {"category": "relationship", "severity": "sev2", "phrases": ["the newspaper"]}
    policy = _variant(raw_policy, {"risk_phrases": {"press": press}})

    decision = decide(turn(text="I'll tell The Newspaper"), (), Tier.STANDARD, policy, NOW)

    assert decision.reason_codes == ("risk_phrase",)
    assert decision.reasons[0].value == "the newspaper"
    assert (decision.severity, decision.team) == (Severity.SEV2, "relationship")


def test_risk_intent_notes_say_why_warm(policy: EscalationPolicy) -> None:
    decision = decide(
        turn(intent="financial_hardship", confidence=0.81), (), Tier.STANDARD, policy, NOW
    )

    assert decision.notes[-1] == (
        "warm handoff: risk_intent financial_hardship 0.81 asks for a warm handoff"
    )


def test_risk_intents_come_from_the_policy(raw_policy: dict[str, Any]) -> None:
    rule = {"min_confidence": 0.8, "category": "billing", "severity": "sev2"}
    policy = _variant(raw_policy, {"risk_intents": {"transaction_charged_twice": rule}})

    unsure = decide(
        turn(intent="transaction_charged_twice", confidence=0.79), (), Tier.STANDARD, policy, NOW
    )
    sure = decide(
        turn(intent="transaction_charged_twice", confidence=0.8), (), Tier.STANDARD, policy, NOW
    )

    assert unsure.reason_codes == ()
    assert sure.reason_codes == ("risk_intent",)
    assert (sure.reasons[0].value, sure.reasons[0].threshold) == (
        "transaction_charged_twice 0.80",
        0.8,
    )
    assert (sure.severity, sure.team, sure.mode) == (Severity.SEV2, "disputes", HandoffMode.COLD)


def test_risk_intent_weight_comes_from_the_trigger(raw_policy: dict[str, Any]) -> None:
    # A support lead may make risk intents soft: then one alone no longer hands over.
    soft = {"weight": 0.5, "hard": False, "severity": "sev3"}
    policy = _variant(raw_policy, {"triggers": {"risk_intent": soft}})

    decision = decide(turn(intent="leave_bank", confidence=0.9), (), Tier.STANDARD, policy, NOW)

    assert decision.reason_codes == ("risk_intent",)
    assert (decision.escalate, decision.score) == (False, 0.5)


def test_escalate_score_is_configurable(raw_policy: dict[str, Any]) -> None:
    policy = _variant(raw_policy, {"escalate_score": 0.25})

    decision = decide(turn(confidence=0.40), (), Tier.STANDARD, policy, NOW)

    assert decision.escalate is True
    assert decision.severity is Severity.SEV4


# --- input checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: TurnSignals(confidence=1.2), id="confidence-above-1"),
        pytest.param(lambda: TurnSignals(frustration=-0.1), id="negative-frustration"),
        pytest.param(lambda: TurnSignals(steps_attempted=-1), id="negative-steps"),
        pytest.param(lambda: TurnSignals(bot_error=" "), id="blank-bot-error"),
        pytest.param(lambda: Polarity("angry", 0.2, 0.3, 0.5), id="unknown-label"),
        pytest.param(lambda: RasaSignal(" "), id="blank-rasa-reason"),
        pytest.param(lambda: PastTurn(polarity="cross"), id="past-unknown-label"),
        pytest.param(lambda: Polarity.from_scores("neutral", {"neutral": 1.0}), id="few-scores"),
    ],
)
def test_bad_signals_are_refused(build: Any) -> None:
    with pytest.raises(ValueError):
        build()


def test_polarity_from_a_sentiment_reading() -> None:
    scores = {"negative": 0.7, "neutral": 0.2, "positive": 0.1}

    assert Polarity.from_scores("negative", scores) == Polarity("negative", 0.7, 0.2, 0.1)
