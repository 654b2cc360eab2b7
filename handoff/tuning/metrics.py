"""The figures of a policy on labelled, recorded conversations. Pure.

For each conversation the engine runs over its recorded turns, as the live service would, and
stops at the first turn it hands over. A conversation that should stay with the bot is *kept*
or *escalated*; one that should go to a person is escalated at the *right* turn (within its
labelled range), *early*, *late*, or *missed* (never).

* containment: the share of the conversations that should stay with the bot that the policy
  keeps;
* right-turn recall: the share of the conversations that should go to a person whose first
  handoff falls within their labelled turns.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from handoff.escalation.decision import EscalationDecision
from handoff.escalation.engine import decide, past_turn
from handoff.escalation.policy import EscalationPolicy
from handoff.escalation.signals import PastTurn
from handoff.tuning.labels import Label
from handoff.tuning.recording import RecordedConversation

KEPT = "kept"
ESCALATED = "escalated"
RIGHT = "right"
EARLY = "early"
LATE = "late"
MISSED = "missed"

# The engine stamps its decision with the time; no figure depends on it.
_AT = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a policy did with one conversation."""

    conversation_id: str
    kind: str
    should_escalate: bool
    turns: tuple[int, int] | None
    escalated_at: int | None
    verdict: str
    reasons: tuple[str, ...] = ()
    explanation: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "conversation_id": self.conversation_id,
            "kind": self.kind,
            "should_escalate": self.should_escalate,
            "turns": None if self.turns is None else list(self.turns),
            "escalated_at": self.escalated_at,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "explanation": list(self.explanation),
        }


def decisions(
    recorded: RecordedConversation, policy: EscalationPolicy
) -> Iterator[tuple[int, EscalationDecision]]:
    """The engine's decision on each turn of ``recorded``, up to its first handoff."""
    history: list[PastTurn] = []
    for number, signals in recorded.turns:
        decision = decide(signals, history, recorded.tier, policy, _AT)
        yield number, decision
        if decision.escalate:
            return
        history.append(past_turn(signals))


def first_escalation(
    recorded: RecordedConversation, policy: EscalationPolicy
) -> tuple[int | None, EscalationDecision | None]:
    """The first turn at which ``policy`` hands ``recorded`` over, with its decision."""
    for number, decision in decisions(recorded, policy):
        if decision.escalate:
            return number, decision
    return None, None


def verdict(label: Label, escalated_at: int | None) -> str:
    """How a first handoff at ``escalated_at`` (``None``: never) compares with ``label``."""
    if not label.escalate:
        return KEPT if escalated_at is None else ESCALATED
    assert label.turns is not None  # the label's validator guarantees it
    if escalated_at is None:
        return MISSED
    first, last = label.turns
    return EARLY if escalated_at < first else LATE if escalated_at > last else RIGHT


def outcome(recorded: RecordedConversation, label: Label, policy: EscalationPolicy) -> Outcome:
    """What ``policy`` does with ``recorded``, every reason with its value and threshold.

    Without a handoff, the explanation is that of the turn that came closest (the highest
    score with a trigger fired), so a miss says what fired and how far it was from the score.
    """
    steps = list(decisions(recorded, policy))
    at, decision = steps[-1] if steps and steps[-1][1].escalate else (None, None)
    notes: tuple[str, ...] = ()
    if decision is None:
        fired = [(d.score, n, d) for n, d in steps if d.reasons]
        if fired:
            score, number, decision = max(fired, key=lambda item: (item[0], -item[1]))
            notes = (
                f"not handed over: turn {number} came closest, score {score:g} below "
                f"escalate_score {policy.escalate_score:g}",
            )
    hits = () if decision is None else decision.reasons
    return Outcome(
        conversation_id=recorded.conversation_id,
        kind=label.kind,
        should_escalate=label.escalate,
        turns=label.turns,
        escalated_at=at,
        verdict=verdict(label, at),
        reasons=tuple(hit.code for hit in hits) if at is not None else (),
        explanation=notes
        + tuple(f"{hit.code} (weight {hit.weight:g}): {hit.detail}" for hit in hits),
    )


@dataclass
class Figures:
    """Counts of verdicts and the two rates; ``by_kind`` holds the same per kind."""

    verdicts: Counter[str] = field(default_factory=Counter)
    by_kind: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    @staticmethod
    def containment_of(counts: Mapping[str, int]) -> float | None:
        """Kept / should stay; ``None`` when nothing should stay."""
        stay = counts.get(KEPT, 0) + counts.get(ESCALATED, 0)
        return None if not stay else counts.get(KEPT, 0) / stay

    @staticmethod
    def recall_of(counts: Mapping[str, int]) -> float | None:
        """Right / should escalate; ``None`` when nothing should escalate."""
        go = sum(counts.get(v, 0) for v in (RIGHT, EARLY, LATE, MISSED))
        return None if not go else counts.get(RIGHT, 0) / go

    @property
    def containment(self) -> float | None:
        return self.containment_of(self.verdicts)

    @property
    def recall(self) -> float | None:
        return self.recall_of(self.verdicts)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "conversations": sum(self.verdicts.values()),
            "containment": self.containment,
            "right_turn_recall": self.recall,
            "verdicts": dict(self.verdicts),
            "by_kind": {
                kind: {
                    "conversations": sum(counts.values()),
                    "containment": self.containment_of(counts),
                    "right_turn_recall": self.recall_of(counts),
                    "verdicts": dict(counts),
                }
                for kind, counts in sorted(self.by_kind.items())
            },
        }


def figures(outcomes: Iterable[Outcome]) -> Figures:
    """The figures of ``outcomes``."""
    result = Figures()
    for item in outcomes:
        result.verdicts[item.verdict] += 1
        result.by_kind[item.kind][item.verdict] += 1
    return result


def quick_figures(
    recordings: Mapping[str, RecordedConversation],
    labels: Iterable[Label],
    policy: EscalationPolicy,
) -> Figures:
    """The figures of ``policy`` without the explanations (what a search trial needs)."""
    result = Figures()
    for label in labels:
        at, _ = first_escalation(recordings[label.conversation_id], policy)
        result.verdicts[verdict(label, at)] += 1
        result.by_kind[label.kind][verdict(label, at)] += 1
    return result


def evaluate(
    recordings: Mapping[str, RecordedConversation],
    labels: Iterable[Label],
    policy: EscalationPolicy,
) -> list[Outcome]:
    """The outcome of every labelled conversation (each must be in ``recordings``)."""
    return [outcome(recordings[label.conversation_id], label, policy) for label in labels]


def _rate(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.1%}"


def format_by_kind(result: Figures) -> str:
    """A table: per kind, the conversations, the rate that applies and the verdicts."""
    lines = [f"{'kind':24s} {'n':>4s}  {'contain':>7s}  {'recall':>7s}  verdicts"]
    for kind, counts in sorted(result.by_kind.items()):
        verdicts = ", ".join(f"{v} {n}" for v, n in sorted(counts.items()))
        lines.append(
            f"{kind:24s} {sum(counts.values()):4d}  {_rate(result.containment_of(counts)):>7s}  "
            f"{_rate(result.recall_of(counts)):>7s}  {verdicts}"
        )
    lines.append(
        f"{'all':24s} {sum(result.verdicts.values()):4d}  {_rate(result.containment):>7s}  "
        f"{_rate(result.recall):>7s}  "
        + ", ".join(f"{v} {n}" for v, n in sorted(result.verdicts.items()))
    )
    return "\n".join(lines)
