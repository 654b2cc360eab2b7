"""Containment and right-turn recall of a policy on recorded turns."""

from __future__ import annotations

import pytest
from fakes import ASKS, CALM, FURIOUS, WEAK, go, recorded, shipped, stay

from handoff.tuning.labels import Label
from handoff.tuning.metrics import (
    EARLY,
    ESCALATED,
    KEPT,
    LATE,
    MISSED,
    RIGHT,
    evaluate,
    figures,
    first_escalation,
    format_by_kind,
    quick_figures,
    verdict,
)


def test_first_escalation_is_the_first_turn_the_engine_hands_over() -> None:
    at, decision = first_escalation(recorded("c", CALM, ASKS, FURIOUS), shipped())
    assert at == 2
    assert decision is not None and decision.reason_codes[0] == "request_human"


def test_a_conversation_the_engine_keeps_has_no_escalation() -> None:
    assert first_escalation(recorded("c", CALM, CALM), shipped()) == (None, None)


@pytest.mark.parametrize(
    ("label", "at", "expected"),
    [
        (stay("a"), None, KEPT),
        (stay("a"), 1, ESCALATED),
        (go("a", 2, 3), None, MISSED),
        (go("a", 2, 3), 1, EARLY),
        (go("a", 2, 3), 2, RIGHT),
        (go("a", 2, 3), 3, RIGHT),
        (go("a", 2, 3), 4, LATE),
    ],
)
def test_verdicts(label: Label, at: int | None, expected: str) -> None:
    assert verdict(label, at) == expected


def test_figures_overall_and_by_kind() -> None:
    recordings = {
        "calm": recorded("calm", CALM, CALM),
        "calm-asks": recorded("calm-asks", CALM, ASKS),
        "asks-early": recorded("asks-early", ASKS, CALM),
        "weak": recorded("weak", WEAK, WEAK),
        "furious": recorded("furious", CALM, FURIOUS),
    }
    labels = [
        stay("calm"),
        stay("calm-asks", kind="routine_negative"),  # the engine hands it over: not contained
        go("asks-early", 2, 2, kind="request_human"),  # hands over at 1: early
        go("weak", 1, 1, kind="frustration"),  # hands over at 2 (fallback streak): late
        go("furious", 2, 2, kind="frustration"),  # right
    ]
    outcomes = evaluate(recordings, labels, shipped())
    assert [o.verdict for o in outcomes] == [KEPT, ESCALATED, EARLY, LATE, RIGHT]
    result = figures(outcomes)
    assert result.containment == 0.5
    assert result.recall == pytest.approx(1 / 3)
    assert result.containment_of(result.by_kind["routine"]) == 1.0
    assert result.recall_of(result.by_kind["frustration"]) == 0.5
    assert result.recall_of(result.by_kind["routine"]) is None
    as_json = result.to_json()
    assert as_json["by_kind"]["request_human"]["verdicts"] == {EARLY: 1}
    table = format_by_kind(result)
    assert table.splitlines()[-1].startswith("all") and "50.0%" in table


def test_every_reason_of_an_outcome_is_explained_with_its_threshold() -> None:
    outcome = evaluate({"f": recorded("f", FURIOUS)}, [go("f", 1, 1)], shipped())[0]
    assert outcome.reasons[0] == "high_frustration"
    assert "threshold 0.75" in outcome.explanation[0]
    assert outcome.to_json()["escalated_at"] == 1


def test_a_conversation_kept_says_which_turn_came_closest_and_why() -> None:
    outcome = evaluate({"w": recorded("w", CALM, WEAK)}, [go("w", 2, 2)], shipped())[0]
    assert outcome.verdict == MISSED and outcome.reasons == ()
    assert outcome.explanation[0] == (
        "not handed over: turn 2 came closest, score 0.5 below escalate_score 1"
    )
    assert any("negative polarity 0.85 is at or above the threshold 0.80" in line
               for line in outcome.explanation)  # fmt: skip


def test_quick_figures_count_as_the_full_outcomes_do() -> None:
    recordings = {"a": recorded("a", CALM, ASKS), "b": recorded("b", WEAK, WEAK)}
    labels = [stay("a"), go("b", 1, 1)]
    full = figures(evaluate(recordings, labels, shipped()))
    quick = quick_figures(recordings, labels, shipped())
    assert (quick.verdicts, dict(quick.by_kind)) == (full.verdicts, dict(full.by_kind))
