"""The inbox's rules: which turns a trainer reviews, with each reason's value and threshold."""

from __future__ import annotations

import pytest

from handoff.escalation.policy import load_policy
from handoff.settings import repo_root
from handoff.trainer.inbox import (
    AgentVerdict,
    InboxRules,
    InboxSource,
    RankedIntent,
    ReviewTurn,
    occurrence_key,
    review_reasons,
    top_intents,
)

UNSERVED = frozenset({"nlu_fallback", "out_of_scope"})
RULES = InboxRules(UNSERVED, low_confidence=0.50, ambiguous_margin=0.10)
FALLBACK, LOW, AMBIGUOUS = InboxSource.FALLBACK, InboxSource.LOW_CONFIDENCE, InboxSource.AMBIGUOUS
MISUNDERSTOOD, AVOIDABLE = InboxSource.MISUNDERSTOOD, InboxSource.AVOIDABLE_HANDOFF


def turn(
    intent: str | None,
    confidence: float | None,
    *ranking: tuple[str, float],
    escalated: bool = False,
) -> ReviewTurn:
    ranked = tuple(RankedIntent(name, value) for name, value in ranking)
    return ReviewTurn(intent, confidence, ranked, escalated)


CLEAR = turn("card_arrival", 0.97, ("card_arrival", 0.97), ("card_linking", 0.02))

CASES = [
    # (turn, agent's verdict, sources, suggestion)
    (CLEAR, None, [], None),
    (turn("nlu_fallback", 0.45, ("nlu_fallback", 0.45)), None, [FALLBACK], None),
    (turn("out_of_scope", 0.93, ("out_of_scope", 0.93)), None, [FALLBACK], None),
    # After a fallback, close runners-up are not an ambiguity.
    (turn("nlu_fallback", 0.45, ("nlu_fallback", 0.45), ("lost_card", 0.03), ("top_up", 0.02)),
     None, [FALLBACK], None),
    (turn("card_arrival", 0.49, ("card_arrival", 0.49), ("lost_card", 0.20)), None, [LOW],
     "card_arrival"),
    # At the threshold is understood well enough.
    (turn("card_arrival", 0.50, ("card_arrival", 0.50), ("lost_card", 0.20)), None, [], None),
    (turn("card_arrival", 0.55, ("card_arrival", 0.55), ("lost_card", 0.46)), None, [AMBIGUOUS],
     "card_arrival"),
    # The ranking is read best first whatever order it came in.
    (turn("card_arrival", 0.90, ("lost_card", 0.01), ("card_arrival", 0.90), ("top_up", 0.05)),
     None, [], None),
    # A fallback in the ranking is not a rival intent.
    (turn("card_arrival", 0.55, ("card_arrival", 0.55), ("nlu_fallback", 0.50)), None, [], None),
    (turn("card_arrival", 0.40, ("card_arrival", 0.40), ("lost_card", 0.38)), None,
     [LOW, AMBIGUOUS], "card_arrival"),
    # The agent's word: the misunderstood message, with the correct intent as the suggestion.
    (CLEAR, AgentVerdict(avoidable=True, misunderstood=True, correct_intent="lost_card"),
     [MISUNDERSTOOD], "lost_card"),
    (turn("nlu_fallback", 0.45), AgentVerdict(False, True, "card_arrival"),
     [FALLBACK, MISUNDERSTOOD], "card_arrival"),
    # Avoidable counts for the turn that escalated, not for every turn of the conversation.
    (turn("request_human", 0.98, escalated=True), AgentVerdict(True, False, "card_arrival"),
     [AVOIDABLE], "card_arrival"),
    (CLEAR, AgentVerdict(True, False, "card_arrival"), [], None),
    (turn("request_human", 0.98, escalated=True), AgentVerdict(False, False, None), [], None),
]  # fmt: skip


@pytest.mark.parametrize(("review", "verdict", "sources", "suggestion"), CASES)
def test_review_reasons(
    review: ReviewTurn,
    verdict: AgentVerdict | None,
    sources: list[InboxSource],
    suggestion: str | None,
) -> None:
    result = review_reasons(review, RULES, verdict)

    assert [reason.source for reason in result.reasons] == sources
    assert result.suggestion == suggestion
    assert result.for_review is bool(sources)


def test_each_reason_says_its_value_and_threshold() -> None:
    review = turn("card_arrival", 0.40, ("card_arrival", 0.40), ("lost_card", 0.38))

    low, ambiguous = review_reasons(review, RULES).reasons

    assert (low.value, low.threshold) == (0.40, 0.50)
    assert "confidence 0.40, below the threshold 0.50" in low.detail
    assert ambiguous.value == pytest.approx(0.02)
    assert ambiguous.threshold == 0.10
    assert "card_arrival (0.40) and lost_card (0.38) are 0.02 apart" in ambiguous.detail


@pytest.mark.parametrize("field", ["low_confidence", "ambiguous_margin"])
def test_thresholds_are_probabilities(field: str) -> None:
    values = {"low_confidence": 0.5, "ambiguous_margin": 0.1, field: 1.5}

    with pytest.raises(ValueError, match=field):
        InboxRules(UNSERVED, **values)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Where's my card??", "wheres my card"),
        ("  My   CARD is lost ", "my card is lost"),
        ("café fee", "cafe fee"),
        ("card [card number] declined", "Card [card number] declined!"),
    ],
)
def test_near_identical_messages_share_a_key(one: str, other: str) -> None:
    assert occurrence_key(one) == occurrence_key(other)


def test_different_messages_keep_different_keys() -> None:
    assert occurrence_key("my card is lost") != occurrence_key("my card is late")


def test_top_intents_keeps_the_best_three_best_first() -> None:
    ranking = [RankedIntent(name, value) for name, value in
               [("a", 0.1), ("b", 0.5), ("c", 0.3), ("d", 0.05)]]  # fmt: skip

    assert [entry.name for entry in top_intents(ranking)] == ["b", "c", "a"]


def test_the_rules_take_the_escalation_policys_meaning_of_not_served() -> None:
    policy = load_policy(repo_root() / "data" / "escalation.yml")

    rules = InboxRules.from_policy(policy, ambiguous_margin=0.2)

    assert rules.unserved_intents == policy.unserved_intents
    assert rules.low_confidence == policy.thresholds.low_confidence
    assert rules.ambiguous_margin == 0.2
