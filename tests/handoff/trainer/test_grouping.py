"""Similar inbox messages grouped, and the nearest training examples' intent suggested."""

from __future__ import annotations

import numpy as np
import pytest

from handoff.trainer.grouping import group_similar, suggest_intent

AXES = np.eye(4)


def near(axis: int, tilt: float = 0.1, other: int = 3) -> np.ndarray:
    """A unit-ish vector close to ``AXES[axis]``, tilted towards another axis."""
    return AXES[axis] + tilt * AXES[other]


def test_similar_messages_share_a_group_and_different_ones_do_not() -> None:
    vectors = np.stack([near(0), near(1), near(0, 0.2), near(0, 0.05), near(2), near(1, 0.3)])

    groups = group_similar(vectors, min_similarity=0.9)

    # Largest first; within a group the most typical message first.
    assert [sorted(group) for group in groups] == [[0, 2, 3], [1, 5], [4]]
    assert groups[0][0] == 0


def test_every_message_is_in_exactly_one_group() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(60, 16))

    groups = group_similar(vectors, min_similarity=0.5)

    members = sorted(i for group in groups for i in group)
    assert members == list(range(60))


def test_a_stricter_threshold_makes_more_groups() -> None:
    vectors = np.stack([near(0, t) for t in (0.0, 0.3, 0.6, 0.9)])

    loose, strict = (len(group_similar(vectors, min_similarity=s)) for s in (0.6, 0.99))

    assert loose < strict


@pytest.mark.parametrize("rows", [0, 1])
def test_none_or_one_message(rows: int) -> None:
    assert group_similar(np.zeros((rows, 4)) + 1.0) == ([] if rows == 0 else [(0,)])


def test_the_threshold_is_a_similarity() -> None:
    with pytest.raises(ValueError, match="min_similarity"):
        group_similar(np.eye(3), min_similarity=1.5)


def test_the_suggestion_is_the_nearest_examples_intent_with_its_similarity() -> None:
    examples = np.stack([near(0), near(0, 0.2), near(1), near(1, 0.2), near(2)])
    intents = ["card_arrival", "card_arrival", "lost_card", "lost_card", "top_up"]

    suggestion = suggest_intent(
        np.stack([near(1, 0.05), near(1, 0.1)]), examples, intents, neighbours=3
    )

    assert suggestion is not None
    assert (suggestion.intent, suggestion.votes) == ("lost_card", 2)
    assert 0.95 < suggestion.similarity <= 1.0


def test_a_tie_goes_to_the_nearest_example() -> None:
    examples = np.stack([near(1), near(0)])

    suggestion = suggest_intent(np.stack([near(0, 0.01)]), examples, ["b", "a"], neighbours=2)

    assert suggestion is not None and suggestion.intent == "a"


def test_no_training_examples_no_suggestion() -> None:
    assert suggest_intent(np.eye(2), np.zeros((0, 2)), []) is None
    with pytest.raises(ValueError):
        suggest_intent(np.eye(2), np.eye(2), ["only one"])
