"""The escalation engine's vocabulary: its inputs' enums and the decision it returns.

Shared by the engine, the brief builder, the gateway and the database adapter, so it imports
nothing but the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Tier(StrEnum):
    """The customer's account tier; premium customers escalate sooner."""

    STANDARD = "standard"
    PLUS = "plus"
    PREMIUM = "premium"


class Severity(StrEnum):
    """Urgency, ``sev1`` being the most urgent (it also sorts first as a string)."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


class Category(StrEnum):
    """What kind of problem a handoff is about; with the severity it picks the team."""

    TECHNICAL = "technical"
    BILLING = "billing"
    COMPLIANCE = "compliance"
    RELATIONSHIP = "relationship"
    SECURITY = "security"


class HandoffMode(StrEnum):
    """Warm: the agent acknowledges the brief and introduces themselves. Cold: straight in."""

    WARM = "warm"
    COLD = "cold"


@dataclass(frozen=True, slots=True)
class ReasonHit:
    """One trigger that fired: its reason code, the value observed and the threshold crossed.

    ``threshold`` is ``None`` for triggers that are facts rather than comparisons (an explicit
    request, a risk phrase, a bot error); ``detail`` is one human-readable sentence.
    """

    code: str
    value: float | int | str | bool
    threshold: float | int | str | None
    detail: str
    weight: float = 0.0


@dataclass(frozen=True, slots=True)
class SlaTargets:
    """Due intervals from the escalation matrix for one category and severity."""

    acknowledge: timedelta
    resolve: timedelta
    customer_update: timedelta


@dataclass(frozen=True, slots=True)
class EscalationDecision:
    """What the engine decided for one turn.

    ``reasons`` lists every trigger that fired, strongest first; it can be non-empty while
    ``escalate`` is false when the fired triggers add up to less than the escalation score
    (a mild frustration alone, say), which keeps even a "no" explainable. The routing fields
    are ``None`` when ``escalate`` is false.
    """

    escalate: bool
    reasons: tuple[ReasonHit, ...]
    score: float
    severity: Severity | None = None
    category: Category | None = None
    team: str | None = None
    priority: int | None = None  # lower is more urgent; used to order the queue
    mode: HandoffMode | None = None
    sla: SlaTargets | None = None
    decided_at: datetime | None = None
    acknowledge_due: datetime | None = None
    resolve_due: datetime | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reason_codes(self) -> tuple[str, ...]:
        """The codes of every trigger that fired, strongest first."""
        return tuple(hit.code for hit in self.reasons)
