"""The knobs found in the policy file and the seeded search over a tiny fake recording."""

from __future__ import annotations

import yaml
from fakes import CALM, POLICY_FILE, WEAK, go, recorded, shipped, stay, turn

from handoff.tuning.command import weak_sums
from handoff.tuning.metrics import evaluate, figures
from handoff.tuning.search import build, find_knobs, scorer, search


def raw_policy() -> dict:
    return yaml.safe_load(POLICY_FILE.read_text())


def test_knobs_are_the_numbers_that_decide_whether_to_hand_over() -> None:
    knobs = {knob.name: knob for knob in find_knobs(raw_policy())}
    assert knobs["escalate_score"].shipped == 1.0
    assert knobs["thresholds.frustration.premium"].low == 0.3
    assert knobs["thresholds.negative_polarity"].high == 1.0  # a probability stays one
    assert knobs["thresholds.fallback_streak"].integer
    streak = knobs["thresholds.fallback_streak"]
    assert (streak.low, streak.high) == (1, 3)
    assert knobs["triggers.negative_polarity.weight"].low == 0.0
    # A hard trigger hands over whatever its weight; routing numbers never decide a handoff.
    assert "triggers.request_human.weight" not in knobs
    assert not any(name.startswith(("priority", "severity_boost", "matrix", "version"))
                   for name in knobs)  # fmt: skip


def test_a_section_added_to_the_policy_is_searched_too() -> None:
    raw = {**raw_policy(), "intent_triggers": {"churn": {"weight": 0.5, "hard": False,
                                                         "min_confidence": 0.6}}}  # fmt: skip
    knobs = {knob.name: knob for knob in find_knobs(raw)}
    weight = knobs["intent_triggers.churn.weight"]
    assert (weight.low, weight.high) == (0.2, 0.8)
    assert "intent_triggers.churn.min_confidence" in knobs


def test_a_value_the_policy_refuses_builds_nothing() -> None:
    assert build(raw_policy(), {("thresholds", "frustration", "premium"): 0.9}) is None
    assert build(raw_policy(), {}) == shipped()


# Two weak signals on one turn should reach a person; one alone should not.
WEAK_AND_UNSURE = WEAK
ONLY_NEGATIVE = turn("this app is so annoying, how do I change my pin", negative=0.9)
RECORDINGS = {
    "weak-1": recorded("weak-1", WEAK_AND_UNSURE, CALM),
    "weak-2": recorded("weak-2", CALM, WEAK_AND_UNSURE, CALM),
    "grumpy-1": recorded("grumpy-1", ONLY_NEGATIVE, CALM),
    "grumpy-2": recorded("grumpy-2", CALM, ONLY_NEGATIVE),
}
LABELS = [go("weak-1", 1, 1), go("weak-2", 2, 2), stay("grumpy-1"), stay("grumpy-2")]


def test_the_search_finds_weights_that_add_up_and_proposes_nothing_more() -> None:
    raw = raw_policy()
    wanted = {
        "escalate_score",
        "triggers.negative_polarity.weight",
        "triggers.low_confidence.weight",
    }
    knobs = [knob for knob in find_knobs(raw) if knob.name in wanted]
    score = scorer(RECORDINGS, LABELS, min_containment=1.0)
    assert figures(evaluate(RECORDINGS, LABELS, shipped())).recall == 0.0

    result = search(raw, knobs, score, trials=60, seed=0)

    assert result.score > result.shipped_score
    proposed = build(raw, result.changes)
    assert proposed is not None
    outcome = figures(evaluate(RECORDINGS, LABELS, proposed))
    assert (outcome.containment, outcome.recall) == (1.0, 1.0)
    pair = "low_confidence"  # with negative_polarity: the pair that now adds up
    assert any(s.startswith(pair) and "negative_polarity" in s for s in weak_sums(proposed))
    assert not any(s.startswith(pair) for s in weak_sums(shipped()))
    # Each change is needed: reverting any one of them loses recall or containment.
    for path in result.changes:
        reverted = build(raw, {p: v for p, v in result.changes.items() if p != path})
        assert reverted is None or score(reverted) < result.score
    assert search(raw, knobs, score, trials=60, seed=0).changes == result.changes


def test_below_the_containment_floor_a_policy_always_scores_under_any_above_it() -> None:
    score = scorer(RECORDINGS, LABELS, min_containment=1.0)
    never = build(raw_policy(), {("escalate_score",): 1.3})
    assert never is not None and 0 <= score(never) < 1
    # One negative message hands over, even on a question the assistant answers (no answer
    # first below confidence 1.0): the grumpy ones are not contained.
    eager = build(
        raw_policy(),
        {("triggers", "negative_polarity", "weight"): 1.0, ("answer_first", "min_confidence"): 1.0},
    )
    assert eager is not None and score(eager) < 0
