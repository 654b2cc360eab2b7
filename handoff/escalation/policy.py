"""The escalation policy: the models of ``data/escalation.yml`` and the function that loads it.

Every knob a support lead may turn (thresholds, weights, risk phrases, the routing matrix) lives
in that file; ``data/escalation.yml`` explains each one. The models are frozen and refuse
unknown keys, so a misspelt key is an error rather than a silently ignored setting. Reading the
file is the only I/O here; :func:`handoff.escalation.engine.decide` takes the loaded policy.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from handoff.escalation import reasons
from handoff.escalation.decision import Category, Severity, Tier
from handoff.escalation.hours import ALWAYS, Hours
from handoff.exceptions import ConfigurationError

if TYPE_CHECKING:  # settings pulls in pydantic-settings and SQLAlchemy; the policy needs neither
    from handoff.settings import Settings

logger = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _parse_duration(value: Any) -> Any:
    # "15m" and "4h" read better in a file a support lead edits than ISO 8601 ("PT15M"); a bare
    # number is refused because nobody can tell whether 15 means minutes or hours.
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 15m, 4h or 3d, got {value!r}")
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"expected a duration such as 15m, 4h or 3d, got {value!r}")
    amount, unit = float(match.group(1)), match.group(2)
    duration = timedelta(**{_DURATION_UNITS[unit]: amount})
    if duration <= timedelta(0):
        raise ValueError(f"a duration must be longer than zero, got {value!r}")
    return duration


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
"""A probability from a classifier: 0 to 1."""

Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]
"""A positive duration written as a number and a unit: 90s, 15m, 4h, 3d."""

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A non-blank name (team, intent, phrase)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrustrationThresholds(_Model):
    """The frustration at which ``high_frustration`` fires, per tier."""

    standard: Probability
    plus: Probability
    premium: Probability

    @model_validator(mode="after")
    def _premium_escalates_sooner(self) -> FrustrationThresholds:
        # A higher tier must never wait for more frustration than a lower one; the reverse is
        # almost certainly a typo in the file.
        if not self.premium <= self.plus <= self.standard:
            raise ValueError(
                "tiers must satisfy premium <= plus <= standard (higher tiers escalate sooner), "
                f"got premium={self.premium}, plus={self.plus}, standard={self.standard}"
            )
        return self

    def for_tier(self, tier: Tier) -> float:
        """The threshold of ``tier``."""
        return float(getattr(self, tier.value))


class RisingFrustration(_Model):
    """How steep a climb of frustration counts as ``rising_frustration``."""

    turns: int = Field(ge=2)
    rise: float = Field(gt=0.0, le=1.0)
    floor: Probability


class Thresholds(_Model):
    """The numbers the soft triggers compare against."""

    low_confidence: Probability
    fallback_streak: int = Field(ge=1)
    frustration: FrustrationThresholds
    negative_polarity: Probability
    rising_frustration: RisingFrustration
    sustained_negative_turns: int = Field(ge=1)
    loop_turns: int = Field(ge=2)


class TriggerRule(_Model):
    """What one trigger adds to a decision when it fires."""

    weight: float = Field(ge=0.0)
    hard: bool
    severity: Severity
    category: Category | None = None


class Triggers(_Model):
    """One rule per reason code of :mod:`handoff.escalation.reasons` (all required)."""

    request_human: TriggerRule
    risk_intent: TriggerRule
    risk_phrase: TriggerRule
    high_frustration: TriggerRule
    rising_frustration: TriggerRule
    negative_polarity: TriggerRule
    sustained_negative: TriggerRule
    repeated_fallback: TriggerRule
    low_confidence: TriggerRule
    unresolved_frustration: TriggerRule
    intent_loop: TriggerRule
    rasa_signal: TriggerRule
    bot_error: TriggerRule

    def rule(self, code: str) -> TriggerRule:
        """The rule of the trigger with reason code ``code``."""
        if code not in type(self).model_fields:
            raise KeyError(f"no trigger {code!r} in the policy")
        rule: TriggerRule = getattr(self, code)
        return rule


def _normalise_phrase(text: str) -> str:
    return " ".join(text.lower().split())


class RiskGroup(_Model):
    """Phrases that hand over at once, with the category and severity they imply."""

    category: Category
    severity: Severity
    phrases: tuple[Name, ...] = Field(min_length=1)
    _pattern: re.Pattern[str] = PrivateAttr()

    @model_validator(mode="after")
    def _phrases_unique(self) -> RiskGroup:
        seen: set[str] = set()
        for phrase in self.phrases:
            key = _normalise_phrase(phrase)
            if key in seen:
                raise ValueError(f"phrase {phrase!r} is listed twice")
            seen.add(key)
        return self

    def model_post_init(self, context: Any, /) -> None:
        # One alternation per group, compiled once. Whole words only: a phrase may not be
        # preceded or followed by a word character, so "sue" does not match "issue". Longest
        # first, so that of two phrases starting at the same place the fuller one is reported.
        alternatives = sorted(self.phrases, key=len, reverse=True)
        body = "|".join(r"\s+".join(map(re.escape, p.split())) for p in alternatives)
        self._pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)

    def matches(self, text: str) -> tuple[str, ...]:
        """The group's phrases in ``text``, spelt as in the policy, in order of appearance."""
        by_key = {_normalise_phrase(p): p for p in self.phrases}
        found = (by_key[_normalise_phrase(m.group(0))] for m in self._pattern.finditer(text))
        return tuple(dict.fromkeys(found))


class RiskIntent(_Model):
    """An intent that hands over (``risk_intent``) when understood at least this confidently."""

    min_confidence: Probability
    severity: Severity
    # None: the category comes from another trigger or from the customer's topic intent.
    category: Category | None = None
    # True: the handoff is warm whatever else holds (a customer who may be vulnerable).
    warm: bool = False


class AnswerFirst(_Model):
    """When an annoyed customer gets the assistant's answer before a person.

    On a turn whose topic intent the assistant understood at least ``min_confidence``, the
    triggers in ``holds`` do not count towards the score unless an earlier turn was already
    frustrated. The next reply either takes the answer (an intent of ``accepted_by``), asks
    something the assistant understands, or hands over (``unresolved_frustration``).
    """

    min_confidence: Probability
    holds: frozenset[Name] = Field(min_length=1)
    accepted_by: frozenset[Name]

    @model_validator(mode="after")
    def _holds_triggers(self) -> AnswerFirst:
        unknown = sorted(self.holds - set(reasons.TRIGGER_CODES))
        if unknown:
            raise ValueError(
                f"holds: {unknown} are not triggers (one of {', '.join(reasons.TRIGGER_CODES)})"
            )
        return self


class RasaHints(_Model):
    """How the assistant's suggested category is read."""

    category_map: dict[Name, Category] = Field(default_factory=dict)
    default_category: Category

    def category_for(self, suggested: str | None) -> Category:
        """Our category for the one the assistant suggested (``None``: it suggested none)."""
        if suggested is None:
            return self.default_category
        key = suggested.strip().lower()
        mapped = {name.lower(): category for name, category in self.category_map.items()}
        if key in mapped:
            return mapped[key]
        try:
            return Category(key)
        except ValueError:
            return self.default_category


class TierLevels(_Model):
    """A non-negative whole number per tier."""

    standard: int = Field(ge=0)
    plus: int = Field(ge=0)
    premium: int = Field(ge=0)

    def for_tier(self, tier: Tier) -> int:
        """The number of ``tier``."""
        return int(getattr(self, tier.value))


class SeverityBoost(_Model):
    """When a handoff's severity is raised above what its triggers asked for."""

    tiers: TierLevels
    frustration: Probability
    max_levels: int = Field(ge=0, le=3)
    ceiling: Severity


class HandoffModeRules(_Model):
    """When a handoff is warm; it is cold otherwise."""

    warm_frustration: Probability
    warm_tiers: frozenset[Tier]
    warm_steps: int = Field(ge=1)
    warm_on_loop: bool
    warm_severities: frozenset[Severity]


class SeverityPoints(_Model):
    """Queue points per severity; more urgent severities must have fewer points."""

    sev1: int = Field(ge=0)
    sev2: int = Field(ge=0)
    sev3: int = Field(ge=0)
    sev4: int = Field(ge=0)

    @model_validator(mode="after")
    def _urgent_first(self) -> SeverityPoints:
        if not self.sev1 < self.sev2 < self.sev3 < self.sev4:
            raise ValueError(
                "points must rise from sev1 to sev4 (lower is served first), got "
                f"sev1={self.sev1}, sev2={self.sev2}, sev3={self.sev3}, sev4={self.sev4}"
            )
        return self

    def for_severity(self, severity: Severity) -> int:
        """The points of ``severity``."""
        return int(getattr(self, severity.value))


class Priority(_Model):
    """Queue priority = severity points + tier points; lower is served first."""

    severity: SeverityPoints
    tier: TierLevels

    def of(self, severity: Severity, tier: Tier) -> int:
        """The priority of a handoff of ``severity`` for a customer of ``tier``."""
        return self.severity.for_severity(severity) + self.tier.for_tier(tier)


class IntentCategories(_Model):
    """Shell-style intent patterns, first match wins, and the category of anything else."""

    patterns: dict[Name, Category]
    default: Category

    def category_for(self, intent: str | None) -> Category:
        """The category of ``intent`` (case ignored); the default for ``None`` or no match."""
        if intent is None:
            return self.default
        name = intent.lower()
        for pattern, category in self.patterns.items():
            if fnmatch.fnmatchcase(name, pattern.lower()):
                return category
        return self.default


class MatrixCell(_Model):
    """The team and service levels of one category and severity."""

    team: Name
    acknowledge: Duration
    resolve: Duration
    customer_update: Duration

    @model_validator(mode="after")
    def _resolve_after_acknowledge(self) -> MatrixCell:
        if self.resolve < self.acknowledge:
            raise ValueError(
                f"resolve ({self.resolve}) must not be shorter than "
                f"acknowledge ({self.acknowledge})"
            )
        return self


class SeverityRow(_Model):
    """One category's cells, one per severity (all required)."""

    sev1: MatrixCell
    sev2: MatrixCell
    sev3: MatrixCell
    sev4: MatrixCell


class Matrix(_Model):
    """Team and service levels for every category and severity (all cells required)."""

    technical: SeverityRow
    billing: SeverityRow
    compliance: SeverityRow
    relationship: SeverityRow
    security: SeverityRow

    def cell(self, category: Category, severity: Severity) -> MatrixCell:
        """The cell of ``category`` and ``severity``."""
        row: SeverityRow = getattr(self, category.value)
        cell: MatrixCell = getattr(row, severity.value)
        return cell


class TeamRules(_Model):
    """How one team works: routing mode, business hours, and where breached work goes."""

    routing: Literal["auto_assign", "claim"] = "claim"
    business_hours: Hours = ALWAYS
    fallback_team: Name | None = None


class EscalationPolicy(_Model):
    """Everything the escalation engine weighs; the contents of ``data/escalation.yml``."""

    version: Literal[1]
    escalate_score: float = Field(gt=0.0)
    unserved_intents: frozenset[Name] = Field(min_length=1)
    conversational_intents: frozenset[Name]
    thresholds: Thresholds
    triggers: Triggers
    risk_phrases: dict[Name, RiskGroup] = Field(min_length=1)
    # Intent names are not checked against the assistant's domain: the policy may name an
    # intent before (or after) the assistant has it, and an absent intent simply never fires.
    risk_intents: dict[Name, RiskIntent] = Field(default_factory=dict)
    # None: every trigger counts on every turn, as the assistant answers or not.
    answer_first: AnswerFirst | None = None
    rasa: RasaHints
    severity_boost: SeverityBoost
    handoff_mode: HandoffModeRules
    priority: Priority
    intent_categories: IntentCategories
    matrix: Matrix
    teams: dict[Name, TeamRules] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _teams_known(self) -> EscalationPolicy:
        # Only teams the matrix routes to; a fallback elsewhere would strand the handoff.
        known = {
            self.matrix.cell(category, severity).team
            for category in Category
            for severity in Severity
        }
        for team, rules in self.teams.items():
            if team not in known:
                raise ValueError(f"teams: {team!r} is not a team of the matrix ({sorted(known)})")
            if rules.fallback_team is not None and (
                rules.fallback_team not in known or rules.fallback_team == team
            ):
                raise ValueError(
                    f"teams.{team}.fallback_team: {rules.fallback_team!r} must be another team "
                    f"of the matrix ({sorted(known)})"
                )
        return self

    def team_rules(self, team: str) -> TeamRules:
        """The rules of ``team``; a team not listed claims, is always open, has no fallback."""
        return self.teams.get(team, TeamRules())

    @model_validator(mode="after")
    def _phrase_in_one_group(self) -> EscalationPolicy:
        # A phrase in two groups would make the category depend on the order of the groups.
        owner: dict[str, str] = {}
        for group, rules in self.risk_phrases.items():
            for phrase in rules.phrases:
                key = _normalise_phrase(phrase)
                if key in owner:
                    raise ValueError(
                        f"risk phrase {phrase!r} is in both groups {owner[key]!r} and {group!r}"
                    )
                owner[key] = group
        return self

    @model_validator(mode="after")
    def _risk_intents_understood(self) -> EscalationPolicy:
        # An unserved intent means the assistant did not understand the customer, so it cannot
        # also say what the customer feels; listing one is a mistake in the file.
        for intent in self.risk_intents:
            if intent in self.unserved_intents:
                raise ValueError(
                    f"risk_intents.{intent}: {intent!r} is an unserved intent, so it says "
                    "nothing about the customer; remove it from one of the two lists"
                )
        return self

    @model_validator(mode="after")
    def _only_soft_triggers_held(self) -> EscalationPolicy:
        # A hard trigger (a request for a person, fraud) must reach a person at once; holding
        # it for an answer would contradict what "hard" promises.
        if self.answer_first is None:
            return self
        hard = sorted(code for code in self.answer_first.holds if self.triggers.rule(code).hard)
        if hard:
            raise ValueError(
                f"answer_first.holds: {hard} are hard triggers, which hand over at once; "
                "hold only soft ones"
            )
        return self

    def is_topic(self, intent: str | None) -> bool:
        """Whether ``intent`` names a customer issue, i.e. is neither missing nor conversational."""
        return intent is not None and intent not in self.conversational_intents


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error.

    Plain PyYAML keeps the last of two equal keys, so an edit lower in the file would silently
    undo one above it.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def load_policy(path: str | os.PathLike[str]) -> EscalationPolicy:
    """Read and validate the escalation policy at ``path``.

    Raises :class:`~handoff.exceptions.ConfigurationError` naming the file when it cannot be
    read, is not YAML, or does not validate; for the latter, the message lists every bad key
    as a dotted path (``matrix.billing.sev3``) with pydantic's message.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the escalation policy {file}: {exc}") from exc
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"the escalation policy {file} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(
            f"the escalation policy {file} must be a mapping of keys such as thresholds and "
            f"matrix, got {type(raw).__name__}"
        )
    try:
        policy = EscalationPolicy.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(
            f"the escalation policy {file} is invalid ({exc.error_count()} error(s)):\n"
            f"{_format_errors(exc)}"
        ) from exc
    logger.info("loaded the escalation policy %s", file)
    return policy


@functools.cache
def _policy_at(path: Path) -> EscalationPolicy:
    return load_policy(path)


def load_escalation_policy(settings: Settings) -> EscalationPolicy:
    """The policy of ``settings.escalation.policy_file``, read once per file and process.

    Tests or a reload after editing the file call :func:`clear_policy_cache` first.
    """
    return _policy_at(Path(settings.escalation.policy_file).resolve())


def clear_policy_cache() -> None:
    """Forget the policies :func:`load_escalation_policy` has read."""
    _policy_at.cache_clear()
