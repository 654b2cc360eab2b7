"""Fixtures of the brief tests: decisions built by hand (not by the engine), and a full brief."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from brief_facts import REQUEST_HUMAN, MakeDecision, at, replied, said, step

from handoff.brief.builder import CustomerInfo, TranscriptEntry, build_brief
from handoff.brief.schema import HandoffBrief
from handoff.escalation.decision import (
    Category,
    EscalationDecision,
    HandoffMode,
    ReasonHit,
    Severity,
    SlaTargets,
    Tier,
)


@pytest.fixture
def make_decision() -> MakeDecision:
    """A factory of escalating decisions; keyword arguments override the defaults."""

    def make(**overrides: Any) -> EscalationDecision:
        fields: dict[str, Any] = {
            "escalate": True,
            "reasons": (REQUEST_HUMAN,),
            "score": 1.0,
            "severity": Severity.SEV4,
            "category": Category.TECHNICAL,
            "team": "general",
            "priority": 40,
            "mode": HandoffMode.WARM,
            "sla": SlaTargets(
                acknowledge=timedelta(minutes=30),
                resolve=timedelta(hours=24),
                customer_update=timedelta(minutes=5),
            ),
            "decided_at": at(10),
        }
        fields.update(overrides)
        return EscalationDecision(**fields)

    return make


@pytest.fixture
def card_transcript() -> list[TranscriptEntry]:
    """Ana asks three times where her card is, more and more annoyed, then asks for a person."""
    return [
        said(1, "where is my new card?", "card_arrival", 0.2),
        replied(2, "Your card was posted on Monday."),
        said(3, "it's still not here", "card_arrival", 0.45),
        replied(4, "It should arrive by Friday."),
        said(5, "I need it today", "card_arrival", 0.6),
        replied(6, "I've frozen the card to be safe."),
        said(7, "let me talk to a human", "request_human", 0.86),
    ]


@pytest.fixture
def security_decision(make_decision: MakeDecision) -> EscalationDecision:
    """Sev-2 to the security team: a person asked for, and frustration over the threshold."""
    return make_decision(
        severity=Severity.SEV2,
        category=Category.SECURITY,
        team="security",
        reasons=(
            REQUEST_HUMAN,
            ReasonHit("high_frustration", 0.86, 0.6, "Frustration 0.86 is above 0.60.", 0.8),
        ),
        score=1.8,
    )


@pytest.fixture
def sample_brief(
    security_decision: EscalationDecision, card_transcript: list[TranscriptEntry]
) -> HandoffBrief:
    """A complete brief with every kind of fact filled in."""
    return build_brief(
        conversation_id="conv-42",
        customer=CustomerInfo("cus_1001", "Ana Lima", Tier.PREMIUM),
        channel="web",
        transcript=card_transcript,
        decision=security_decision,
        attempted_steps=[step("card_delivery_status", "info", 2), step("freeze_card", "done", 6)],
        slots={"card_last_digits": "4242", "attempted_steps": [], "signed_in": True, "n": 2.5},
        entities=[{"entity": "card_last_digits", "value": "4242", "start": 3, "end": 7}],
        customer_notice="I'm passing you to a colleague from our Security team.",
        now=at(10),
    )
