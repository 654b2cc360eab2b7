"""Tiny hand-made recordings and labels for the tuning tests."""

from __future__ import annotations

from pathlib import Path

from handoff.escalation.decision import Tier
from handoff.escalation.policy import EscalationPolicy, load_policy
from handoff.escalation.signals import Polarity, TurnSignals
from handoff.tuning.labels import Label
from handoff.tuning.recording import RecordedConversation

POLICY_FILE = Path(__file__).resolve().parents[3] / "data" / "escalation.yml"


def shipped() -> EscalationPolicy:
    return load_policy(POLICY_FILE)


def turn(
    text: str = "how do I change my pin",
    *,
    intent: str = "change_pin",
    confidence: float = 0.95,
    negative: float = 0.05,
    frustration: float = 0.05,
    requested_human: bool = False,
) -> TurnSignals:
    label = "negative" if negative >= 0.5 else "neutral"
    rest = 1.0 - negative
    polarity = Polarity(label, negative, rest * 0.9, rest * 0.1)
    return TurnSignals(
        text=text,
        intent=intent,
        confidence=confidence,
        polarity=polarity,
        frustration=frustration,
        requested_human=requested_human,
    )


def recorded(cid: str, *turns: TurnSignals, tier: Tier = Tier.STANDARD) -> RecordedConversation:
    return RecordedConversation(cid, tier, tuple(enumerate(turns, start=1)))


def stay(cid: str, kind: str = "routine") -> Label:
    return Label(conversation_id=cid, escalate=False, kind=kind)


def go(cid: str, first: int, last: int, kind: str = "frustration") -> Label:
    return Label(conversation_id=cid, escalate=True, turns=(first, last), kind=kind)


# One turn mildly negative and not understood: 0.25 + 0.25 under the shipped policy.
WEAK = turn("ugh whatever this is useless", intent="nlu_fallback", confidence=0.3, negative=0.85,
            frustration=0.3)  # fmt: skip
CALM = turn()
ASKS = turn("let me talk to a person", intent="request_human", requested_human=True)
# Furious and not understood: nothing for the assistant to answer first.
FURIOUS = turn("I am furious", intent="nlu_fallback", confidence=0.45, negative=0.95,
               frustration=0.8)  # fmt: skip
