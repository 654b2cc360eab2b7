"""Which customer turns a bot trainer should review, and why: the inbox's rules.

Pure, like the escalation engine: a processed turn (its intent, confidence and top of the
ranking) and, where an agent resolved the handoff it fed, that resolution go in; the reasons
come out, each with its value and threshold, so every entry in the inbox says why it is there.

A turn is in the inbox when

* the assistant answered with one of the policy's unserved intents (``unserved_intents``:
  the fallback, out of scope);
* its intent's confidence is below the escalation policy's low-confidence threshold;
* it is ambiguous: the top two intents are closer than a margin;
* an agent who resolved the handoff it fed said the assistant misunderstood it (the message
  the resolution names) or that the handoff was avoidable (the turn that escalated). The
  agent's correct intent, when given, is the entry's suggestion.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from handoff.escalation.policy import EscalationPolicy
from handoff.trainer.masking import DEFAULT_PHONE_REGION, mask_personal_data


class InboxSource(StrEnum):
    """Why a turn is in the inbox."""

    FALLBACK = "fallback"
    LOW_CONFIDENCE = "low_confidence"
    AMBIGUOUS = "ambiguous"
    MISUNDERSTOOD = "misunderstood"
    AVOIDABLE_HANDOFF = "avoidable_handoff"


@dataclass(frozen=True, slots=True)
class RankedIntent:
    """One intent of the assistant's ranking for a message."""

    name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class ReviewTurn:
    """What the assistant made of one customer message.

    ``ranking`` is the top of the intent ranking, best first (the turn keeps three).
    ``escalated`` says the turn handed the conversation over.
    """

    intent: str | None
    confidence: float | None
    ranking: tuple[RankedIntent, ...] = ()
    escalated: bool = False


@dataclass(frozen=True, slots=True)
class AgentVerdict:
    """What the agent who resolved a handoff said about the assistant's part in it.

    ``misunderstood`` is true for the message the resolution names as misunderstood.
    """

    avoidable: bool
    misunderstood: bool
    correct_intent: str | None


DEFAULT_AMBIGUOUS_MARGIN = 0.10
"""The default of the ``trainer.ambiguous_margin`` setting."""


@dataclass(frozen=True, slots=True)
class InboxRules:
    """What counts as not served: ``unserved_intents`` and ``low_confidence`` are the
    escalation policy's own (one meaning of "not understood" across the product, see
    :meth:`from_policy`); ``ambiguous_margin`` is a setting."""

    unserved_intents: frozenset[str]
    low_confidence: float
    ambiguous_margin: float

    def __post_init__(self) -> None:
        for name in ("low_confidence", "ambiguous_margin"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")

    @classmethod
    def from_policy(
        cls, policy: EscalationPolicy, ambiguous_margin: float = DEFAULT_AMBIGUOUS_MARGIN
    ) -> InboxRules:
        """The rules that go with the escalation policy ``policy``."""
        return cls(policy.unserved_intents, policy.thresholds.low_confidence, ambiguous_margin)


@dataclass(frozen=True, slots=True)
class InboxReason:
    """One reason a turn is in the inbox, with the value and threshold behind it."""

    source: InboxSource
    value: float | str | None
    threshold: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class InboxVerdict:
    """The reasons (empty: not for the inbox) and the intent suggested to the trainer."""

    reasons: tuple[InboxReason, ...]
    suggestion: str | None

    @property
    def for_review(self) -> bool:
        """Whether the turn goes to the inbox."""
        return bool(self.reasons)


def review_reasons(
    turn: ReviewTurn, rules: InboxRules, verdict: AgentVerdict | None = None
) -> InboxVerdict:
    """Why ``turn`` should be reviewed, if it should; ``verdict`` is the resolving agent's,
    for a turn that fed a resolved handoff."""
    reasons = [
        reason
        for check in (_fallback, _low_confidence, _ambiguous)
        if (reason := check(turn, rules)) is not None
    ]
    reasons.extend(_agent_reasons(turn, verdict))
    suggestion = verdict.correct_intent if verdict is not None and reasons else None
    if suggestion is None and reasons and turn.intent not in rules.unserved_intents:
        suggestion = turn.intent
    return InboxVerdict(tuple(reasons), suggestion)


def _fallback(turn: ReviewTurn, rules: InboxRules) -> InboxReason | None:
    if turn.intent not in rules.unserved_intents:
        return None
    detail = f"the assistant answered with {turn.intent}"
    return InboxReason(InboxSource.FALLBACK, turn.intent, None, detail)


def _low_confidence(turn: ReviewTurn, rules: InboxRules) -> InboxReason | None:
    # A fallback's confidence is the fallback threshold, not a reading of an intent.
    if turn.intent is None or turn.intent in rules.unserved_intents or turn.confidence is None:
        return None
    if turn.confidence >= rules.low_confidence:
        return None
    detail = (
        f"intent {turn.intent} has confidence {turn.confidence:.2f}, below the threshold "
        f"{rules.low_confidence:.2f}"
    )
    return InboxReason(InboxSource.LOW_CONFIDENCE, turn.confidence, rules.low_confidence, detail)


def _ambiguous(turn: ReviewTurn, rules: InboxRules) -> InboxReason | None:
    # After a fallback the runners-up are noise: the fallback itself is the reason.
    if turn.intent in rules.unserved_intents:
        return None
    ranking = [entry for entry in top_intents(turn.ranking, keep=len(turn.ranking))
               if entry.name not in rules.unserved_intents]  # fmt: skip
    if len(ranking) < 2:
        return None
    first, second = ranking[0], ranking[1]
    margin = first.confidence - second.confidence
    if margin >= rules.ambiguous_margin:
        return None
    detail = (
        f"{first.name} ({first.confidence:.2f}) and {second.name} ({second.confidence:.2f}) "
        f"are {margin:.2f} apart, under the margin {rules.ambiguous_margin:.2f}"
    )
    return InboxReason(InboxSource.AMBIGUOUS, round(margin, 6), rules.ambiguous_margin, detail)


def _agent_reasons(turn: ReviewTurn, verdict: AgentVerdict | None) -> list[InboxReason]:
    if verdict is None:
        return []
    correct = verdict.correct_intent
    correction = f"; the agent says it was {correct}" if correct else ""
    if verdict.misunderstood:
        detail = f"the agent who resolved the handoff marked this message misunderstood{correction}"
        return [InboxReason(InboxSource.MISUNDERSTOOD, verdict.correct_intent, None, detail)]
    if verdict.avoidable and turn.escalated:
        detail = f"the agent who resolved the handoff marked it avoidable{correction}"
        return [InboxReason(InboxSource.AVOIDABLE_HANDOFF, verdict.correct_intent, None, detail)]
    return []


_NOT_WORD = re.compile(r"[^\w\[\]]+")


def occurrence_key(masked_text: str) -> str:
    """The key under which near-identical messages are counted as one: the masked text in
    lower case, accents and punctuation dropped, runs of spaces as one ("Where's my card??"
    and "wheres my card" count together). Placeholders stay whole."""
    decomposed = unicodedata.normalize("NFKD", masked_text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", plain.replace("'", "").replace("’", "")).split())


def top_intents(ranking: Sequence[RankedIntent], keep: int = 3) -> tuple[RankedIntent, ...]:
    """The best ``keep`` of a ranking, best first (what a turn stores for the inbox)."""
    return tuple(sorted(ranking, key=lambda entry: entry.confidence, reverse=True)[:keep])


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A turn as the inbox keeps it: masked text and its occurrence key, what the assistant
    made of it, and the verdict (why, and the suggested intent)."""

    text: str
    occurrence_key: str
    intent: str | None
    confidence: float | None
    ranking: tuple[RankedIntent, ...]
    verdict: InboxVerdict


@dataclass(frozen=True, slots=True)
class InboxIntake:
    """Decides, for each processed turn, whether it goes to the inbox, and masks it."""

    rules: InboxRules
    phone_region: str = DEFAULT_PHONE_REGION

    def entry(
        self,
        text: str,
        turn: ReviewTurn,
        *,
        names: Sequence[str] = (),
        agent: AgentVerdict | None = None,
    ) -> InboxEntry | None:
        """The inbox entry of a turn whose message was ``text``, or None when it is fine.

        ``names`` are the customer's names on record, masked with the rest; ``agent`` is the
        verdict of the agent who resolved the handoff the turn fed, if any.
        """
        verdict = review_reasons(turn, self.rules, agent)
        if not verdict.for_review:
            return None
        masked = mask_personal_data(text, names=names, phone_region=self.phone_region)
        return InboxEntry(
            text=masked.text,
            occurrence_key=occurrence_key(masked.text),
            intent=turn.intent,
            confidence=turn.confidence,
            ranking=top_intents(turn.ranking),
            verdict=verdict,
        )
