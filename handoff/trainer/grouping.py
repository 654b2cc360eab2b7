"""Similar inbox messages grouped, so a trainer labels a group at once, and the intent of the
nearest training examples suggested for each group.

Pure over sentence vectors (one row per message, as :mod:`handoff.trainer.sentence_vectors`
computes them: the NLU's own MiniLM sentence features). Grouping is scikit-learn's
agglomerative clustering with average linkage on cosine distance, cut at a distance
threshold: every group's messages are, on average, at least ``min_similarity`` alike, however
many groups that makes. The suggestion is the most common intent among a group's nearest
training examples, with their mean similarity, so the trainer sees how sure it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import AgglomerativeClustering

DEFAULT_MIN_SIMILARITY = 0.6
"""How alike (mean cosine similarity) the messages of one group are at least. With the NLU's
MiniLM sentence vectors, paraphrases of one question ("where is my card", "card still not
here") measured 0.67 to 0.73 and unrelated bank questions under 0.3."""

NEIGHBOURS = 5
"""How many of the nearest training examples vote on a group's suggested intent."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The intent of a group's nearest training examples and how close they are (0..1)."""

    intent: str
    similarity: float
    votes: int


@dataclass(frozen=True, slots=True)
class SimilarGroup:
    """Indexes of similar messages (the input's order), the most typical first."""

    members: tuple[int, ...]
    suggestion: Suggestion | None


def similar_groups(
    vectors: np.ndarray,
    example_vectors: np.ndarray,
    example_intents: Sequence[str],
    *,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> list[SimilarGroup]:
    """:func:`group_similar`, each group with :func:`suggest_intent`'s suggestion."""
    unit = _unit_rows(vectors) if len(vectors) else vectors
    return [
        SimilarGroup(members, suggest_intent(unit[list(members)], example_vectors, example_intents))
        for members in group_similar(vectors, min_similarity=min_similarity)
    ]


def group_similar(
    vectors: np.ndarray, *, min_similarity: float = DEFAULT_MIN_SIMILARITY
) -> list[tuple[int, ...]]:
    """Groups of similar rows of ``vectors``, largest first; each group's most typical member
    (nearest its centroid) first. Every row is in exactly one group."""
    if not 0.0 < min_similarity < 1.0:
        raise ValueError(f"min_similarity must be between 0 and 1, got {min_similarity}")
    unit = _unit_rows(vectors)
    if len(unit) == 0:
        return []
    if len(unit) == 1:
        return [(0,)]
    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=1.0 - min_similarity,
    ).fit_predict(unit)
    groups = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centroid = unit[members].mean(axis=0)
        order = np.argsort(-(unit[members] @ centroid), kind="stable")
        groups.append(tuple(int(members[i]) for i in order))
    return sorted(groups, key=lambda group: (-len(group), group[0]))


def suggest_intent(
    group_vectors: np.ndarray,
    example_vectors: np.ndarray,
    example_intents: Sequence[str],
    *,
    neighbours: int = NEIGHBOURS,
) -> Suggestion | None:
    """The intent most common among the training examples nearest a group's centroid."""
    if len(example_intents) != len(example_vectors):
        raise ValueError("one intent per training example vector")
    if len(example_intents) == 0 or len(group_vectors) == 0:
        return None
    centroid = _unit_rows(_unit_rows(group_vectors).mean(axis=0, keepdims=True))[0]
    similarity = _unit_rows(example_vectors) @ centroid
    nearest = np.argsort(-similarity, kind="stable")[:neighbours]
    votes = Counter(example_intents[i] for i in nearest)
    # Most votes first; a tie goes to the intent whose example is nearest.
    rank = {example_intents[i]: r for r, i in reversed(list(enumerate(nearest)))}
    intent = min(votes, key=lambda name: (-votes[name], rank[name]))
    count = votes[intent]
    mean = float(np.mean([similarity[i] for i in nearest if example_intents[i] == intent]))
    return Suggestion(intent, round(mean, 4), count)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected one vector per row, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0.0, 1.0, norms)
