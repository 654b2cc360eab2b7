"""The escalation engine: whether this turn goes to a person, how urgently, and to whom.

Pure: :func:`decide` reads nothing but its arguments (the turn, the earlier turns, the
customer's tier, the policy and the time) and returns an :class:`EscalationDecision` that
names every trigger that fired with the value and threshold behind it. The caller keeps the
history: after each call it appends :func:`past_turn` of the current turn.

How a decision is made (the policy file ``data/escalation.yml`` holds every number):

1. Each trigger is checked; the ones that fire are sorted strongest first (hard ones, then
   the more severe, then the heavier).
2. Escalate when a hard trigger fired or the fired weights add up to ``escalate_score``,
   unless the assistant answers first: it understood the question of a customer who was not
   frustrated before, and only the tone triggers the policy holds would hand over.
3. Severity: the most severe trigger's, raised for the tier and very high frustration.
4. Category: from the strongest trigger that implies one, else the customer's topic intent.
5. Team and service levels from the matrix; priority from severity and tier; warm or cold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from handoff.escalation import reasons
from handoff.escalation.decision import (
    Category,
    EscalationDecision,
    HandoffMode,
    ReasonHit,
    Severity,
    SlaTargets,
    Tier,
)
from handoff.escalation.policy import EscalationPolicy
from handoff.escalation.signals import NEGATIVE, PastTurn, TurnSignals

logger = logging.getLogger(__name__)

_SEVERITIES = (Severity.SEV1, Severity.SEV2, Severity.SEV3, Severity.SEV4)

# Differences of probabilities (0.6 - 0.3) are not exact in binary floating point; rounding
# before comparing keeps a rise of exactly the threshold from missing it by 1e-16.
_DECIMALS = 9


@dataclass(frozen=True, slots=True)
class _Fired:
    """A trigger that fired, with what it asks of the routing."""

    hit: ReasonHit
    severity: Severity
    category: Category | None
    hard: bool
    warm: bool = False  # the trigger itself asks for a warm handoff (a risk intent's warm)


_Check = Callable[[TurnSignals, Sequence[PastTurn], Tier, EscalationPolicy], list[_Fired]]


def past_turn(turn: TurnSignals) -> PastTurn:
    """What to remember of ``turn`` in the history passed to the next :func:`decide`."""
    return PastTurn(
        intent=turn.intent,
        confidence=turn.confidence,
        polarity=turn.polarity.label if turn.polarity is not None else None,
        frustration=turn.frustration,
    )


def decide(
    turn: TurnSignals,
    history: Sequence[PastTurn],
    tier: Tier,
    policy: EscalationPolicy,
    now: datetime,
) -> EscalationDecision:
    """Decide whether the customer's current turn goes to a person, and how.

    ``history`` holds the customer's earlier turns, oldest first, without ``turn``. ``now``
    must be timezone-aware; it becomes ``decided_at`` and the start of the SLA clock.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware, e.g. datetime.now(timezone.utc)")
    turns = (*history, past_turn(turn))
    fired = sorted(
        (f for check in _CHECKS for f in check(turn, turns, tier, policy)), key=_strength
    )
    score = _score(fired)
    hits = tuple(f.hit for f in fired)
    if not (any(f.hard for f in fired) or score >= policy.escalate_score):
        return EscalationDecision(escalate=False, reasons=hits, score=score, decided_at=now)
    answered = _answer_first(fired, turn, turns, tier, policy)
    if answered is not None:
        kept, held_hits = answered
        hits = (*(f.hit for f in kept), *held_hits)
        return EscalationDecision(escalate=False, reasons=hits, score=_score(kept), decided_at=now)
    return _route(fired, turn, turns, tier, policy, now, score)


def _score(fired: Sequence[_Fired]) -> float:
    return round(sum(f.hit.weight for f in fired), _DECIMALS)


def _strength(fired: _Fired) -> tuple[bool, int, float]:
    return (not fired.hard, _rank(fired.severity), -fired.hit.weight)


def _rank(severity: Severity) -> int:
    return _SEVERITIES.index(severity)


def _fire(
    policy: EscalationPolicy,
    code: str,
    value: float | int | str | bool,
    threshold: float | int | str | None,
    detail: str,
    *,
    severity: Severity | None = None,
    category: Category | None = None,
    warm: bool = False,
) -> list[_Fired]:
    # The policy's rule of the trigger gives weight and hardness; severity and category may be
    # overridden by the trigger itself (risk phrase groups, risk intents, the assistant's hint).
    rule = policy.triggers.rule(code)
    hit = ReasonHit(code=code, value=value, threshold=threshold, detail=detail, weight=rule.weight)
    return [_Fired(hit, severity or rule.severity, category or rule.category, rule.hard, warm)]


# --- the triggers ---------------------------------------------------------------------------


def _request_human(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    if not turn.requested_human:
        return []
    return _fire(policy, reasons.REQUEST_HUMAN, True, None, "the customer asked for a person")


def _risk_intents(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    # The assistant understood a complaint, an intent to leave, hardship...: said in any words,
    # where a risk phrase needs the exact ones.
    rule = None if turn.intent is None else policy.risk_intents.get(turn.intent)
    if rule is None or turn.intent is None or turn.confidence is None:
        return []
    if turn.confidence < rule.min_confidence:
        return []
    implies = ", ".join(
        part
        for part in (
            rule.category.value if rule.category is not None else None,
            rule.severity.value,
            "warm" if rule.warm else None,
        )
        if part is not None
    )
    detail = (
        f"intent {turn.intent} has confidence {turn.confidence:.2f}, at or above the threshold "
        f"{rule.min_confidence:.2f} (risk intent: {implies})"
    )
    value = reasons.intent_value(turn.intent, turn.confidence)
    return _fire(
        policy,
        reasons.RISK_INTENT,
        value,
        rule.min_confidence,
        detail,
        severity=rule.severity,
        category=rule.category,
        warm=rule.warm,
    )


def _risk_phrases(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    fired: list[_Fired] = []
    for name, group in policy.risk_phrases.items():
        found = group.matches(turn.text)
        if not found:
            continue
        quoted = ", ".join(f'"{phrase}"' for phrase in found)
        detail = (
            f"the message says {quoted} (risk group {name}: "
            f"{group.category.value}, {group.severity.value})"
        )
        fired += _fire(
            policy,
            reasons.RISK_PHRASE,
            found[0],
            None,
            detail,
            severity=group.severity,
            category=group.category,
        )
    return fired


def _high_frustration(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    threshold = policy.thresholds.frustration.for_tier(tier)
    if turn.frustration is None or turn.frustration < threshold:
        return []
    detail = (
        f"frustration {turn.frustration:.2f} is at or above the {tier.value} "
        f"threshold {threshold:.2f}"
    )
    return _fire(policy, reasons.HIGH_FRUSTRATION, turn.frustration, threshold, detail)


def _rising_frustration(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    rule = policy.thresholds.rising_frustration
    now_level = turn.frustration
    earlier = [t.frustration for t in turns[-rule.turns : -1] if t.frustration is not None]
    if now_level is None or not earlier:
        return []
    # The climb from the calmest earlier reading in the window: a dip and a spike count.
    low = min(earlier)
    rise = round(now_level - low, _DECIMALS)
    if rise < rule.rise or now_level < rule.floor:
        return []
    detail = (
        f"frustration rose by {rise:.2f} (from {low:.2f} to {now_level:.2f}) within the last "
        f"{rule.turns} turns, at or above the rise {rule.rise:.2f}, and is at or above the "
        f"floor {rule.floor:.2f}"
    )
    return _fire(policy, reasons.RISING_FRUSTRATION, rise, rule.rise, detail)


def _negative_polarity(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    threshold = policy.thresholds.negative_polarity
    if turn.polarity is None or turn.polarity.negative < threshold:
        return []
    negative = turn.polarity.negative
    detail = f"negative polarity {negative:.2f} is at or above the threshold {threshold:.2f}"
    return _fire(policy, reasons.NEGATIVE_POLARITY, negative, threshold, detail)


def _sustained_negative(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    needed = policy.thresholds.sustained_negative_turns
    run = _trailing_run(turns, lambda t: t.polarity == NEGATIVE)
    if run < needed:
        return []
    detail = f"the customer's last {run} turns were negative (threshold {needed} in a row)"
    return _fire(policy, reasons.SUSTAINED_NEGATIVE, run, needed, detail)


def _repeated_fallback(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    needed = policy.thresholds.fallback_streak
    streak = _trailing_run(turns, lambda t: _not_served(t, policy))
    if streak < needed:
        return []
    detail = (
        f"the assistant could not serve {streak} turns in a row "
        f"({', '.join(sorted(policy.unserved_intents))} or confidence below "
        f"{policy.thresholds.low_confidence:.2f}; threshold {needed})"
    )
    return _fire(policy, reasons.REPEATED_FALLBACK, streak, needed, detail)


def _low_confidence(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    threshold = policy.thresholds.low_confidence
    if turn.confidence is None or turn.confidence >= threshold:
        return []
    detail = (
        f"intent {turn.intent} has confidence {turn.confidence:.2f}, below the threshold "
        f"{threshold:.2f}"
    )
    return _fire(policy, reasons.LOW_CONFIDENCE, turn.confidence, threshold, detail)


def _intent_loop(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    needed = policy.thresholds.loop_turns
    if not policy.is_topic(turn.intent):
        return []
    run = _trailing_run(turns, lambda t: t.intent == turn.intent)
    if run < needed:
        return []
    detail = (
        f"intent {turn.intent} came up in the customer's last {run} turns "
        f"(threshold {needed}): the issue is not resolved"
    )
    return _fire(policy, reasons.INTENT_LOOP, run, needed, detail)


def _rasa_signal(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    signal = turn.rasa
    if signal is None:
        return []
    base = policy.triggers.rasa_signal.severity
    # The assistant's severity is a hint: it may make the handoff more urgent, never less.
    severity = min(base, signal.severity or base, key=_rank)
    hints = ", ".join(
        str(part) for part in (signal.category, signal.severity, signal.team) if part is not None
    )
    detail = f"the assistant handed over with reason {signal.reason}" + (
        f" (it suggested {hints})" if hints else ""
    )
    category = policy.rasa.category_for(signal.category)
    code, reason = reasons.RASA_SIGNAL, signal.reason
    return _fire(policy, code, reason, None, detail, severity=severity, category=category)


def _bot_error(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    if turn.bot_error is None:
        return []
    detail = f"the assistant failed on this turn: {turn.bot_error}"
    return _fire(policy, reasons.BOT_ERROR, turn.bot_error, None, detail)


def _unresolved_frustration(
    turn: TurnSignals, turns: Sequence[PastTurn], tier: Tier, policy: EscalationPolicy
) -> list[_Fired]:
    # The turn after an answer to a frustrated customer: "hello?", "I'm waiting" or anything
    # the assistant cannot serve says the answer did not help, where "ok, thanks" or a new
    # question it understands says it did.
    rule = policy.answer_first
    if rule is None or len(turns) < 2:
        return []
    before = turns[-2].frustration
    threshold = policy.thresholds.frustration.for_tier(tier)
    if before is None or before < threshold:
        return []
    if turn.intent in rule.accepted_by or _answers(turn.intent, turn.confidence, policy):
        return []
    detail = (
        f"the customer was frustrated on the turn before ({before:.2f}, at or above the "
        f"{tier.value} threshold {threshold:.2f}) and this reply ({turn.intent or 'no intent'}) "
        "neither takes the answer nor asks something the assistant understood"
    )
    # The frustration the agent meets is the one of the turn before: warm as if it were now.
    warm = before >= policy.handoff_mode.warm_frustration
    return _fire(policy, reasons.UNRESOLVED_FRUSTRATION, before, threshold, detail, warm=warm)


# Order breaks ties of hardness, severity and weight (the sort is stable): a risk intent goes
# before a risk phrase and the assistant's own signal, as it says best why the customer is here.
_CHECKS: tuple[_Check, ...] = (
    _request_human,
    _risk_intents,
    _risk_phrases,
    _rasa_signal,
    _bot_error,
    _high_frustration,
    _rising_frustration,
    _negative_polarity,
    _sustained_negative,
    _repeated_fallback,
    _low_confidence,
    _unresolved_frustration,
    _intent_loop,
)


def _trailing_run(turns: Sequence[PastTurn], holds: Callable[[PastTurn], bool]) -> int:
    """How many of the latest turns in a row satisfy ``holds``."""
    run = 0
    for past in reversed(turns):
        if not holds(past):
            break
        run += 1
    return run


def _not_served(past: PastTurn, policy: EscalationPolicy) -> bool:
    # Not understood (a fallback, or too unsure) or understood as beyond what it does: either
    # way the customer got no help from this turn.
    if past.intent in policy.unserved_intents:
        return True
    return past.confidence is not None and past.confidence < policy.thresholds.low_confidence


# --- answer first ---------------------------------------------------------------------------


def _answers(intent: str | None, confidence: float | None, policy: EscalationPolicy) -> bool:
    """Whether the assistant understood a topic well enough to answer it first."""
    rule = policy.answer_first
    if rule is None or confidence is None or not policy.is_topic(intent):
        return False
    return confidence >= rule.min_confidence


def _answer_first(
    fired: Sequence[_Fired],
    turn: TurnSignals,
    turns: Sequence[PastTurn],
    tier: Tier,
    policy: EscalationPolicy,
) -> tuple[list[_Fired], tuple[ReasonHit, ...]] | None:
    """The triggers that still count and the held ones' hits, or ``None``: no answer first.

    "Bit annoyed the app logged me out, how do I sign back in?" is a question for the
    assistant: a person helps only if the answer does not. So on a turn whose topic the
    assistant understood, from a customer not frustrated before, the tone triggers the policy
    holds do not count, provided what is left would not hand over anyway. The held ones are
    reported at weight 0, followed by the ``answer_first`` modifier saying why.
    """
    rule = policy.answer_first
    if rule is None or turn.intent is None or turn.confidence is None:
        return None
    if not _answers(turn.intent, turn.confidence, policy):
        return None
    threshold = policy.thresholds.frustration.for_tier(tier)
    if any(t.frustration is not None and t.frustration >= threshold for t in turns[:-1]):
        return None  # they have had an answer while frustrated before: no second wait
    kept = [f for f in fired if f.hit.code not in rule.holds]
    held = [replace(f.hit, weight=0.0, detail=f"{f.hit.detail}; held") for f in fired
            if f.hit.code in rule.holds]  # fmt: skip
    if not held or any(f.hard for f in kept) or _score(kept) >= policy.escalate_score:
        return None
    codes = ", ".join(hit.code for hit in held)
    detail = (
        f"the assistant understood {turn.intent} with confidence {turn.confidence:.2f} (at or "
        f"above {rule.min_confidence:.2f}) and answers first; held: {codes}, which count if "
        "the customer is still frustrated, or not served, on the next turn"
    )
    value = reasons.intent_value(turn.intent, turn.confidence)
    note = ReasonHit(reasons.ANSWER_FIRST, value, rule.min_confidence, detail)
    return kept, (*held, note)


# --- routing --------------------------------------------------------------------------------


def _route(
    fired: list[_Fired],
    turn: TurnSignals,
    turns: Sequence[PastTurn],
    tier: Tier,
    policy: EscalationPolicy,
    now: datetime,
    score: float,
) -> EscalationDecision:
    notes: list[str] = []
    base = min((f.severity for f in fired), key=_rank)
    severity, tier_levels = _boost(base, turn, tier, policy, notes)
    category = _category(fired, turns, policy, notes)
    cell = policy.matrix.cell(category, severity)
    notes.append(f"team {cell.team} from the matrix ({category.value}, {severity.value})")
    if turn.rasa is not None and turn.rasa.team not in (None, cell.team):
        notes.append(f"the assistant suggested team {turn.rasa.team}")
    looped = any(f.hit.code == reasons.INTENT_LOOP for f in fired)
    asked_warm = [f.hit for f in fired if f.warm]
    mode = _mode(turn, tier, severity, looped, asked_warm, policy, notes)
    hits = tuple(f.hit for f in fired)
    tier_hit = _tier_hit(tier, base, severity, tier_levels, policy)
    sla = SlaTargets(cell.acknowledge, cell.resolve, cell.customer_update)
    return EscalationDecision(
        escalate=True,
        reasons=hits + ((tier_hit,) if tier_hit is not None else ()),
        score=score,
        severity=severity,
        category=category,
        team=cell.team,
        priority=policy.priority.of(severity, tier),
        mode=mode,
        sla=sla,
        decided_at=now,
        acknowledge_due=now + sla.acknowledge,
        resolve_due=now + sla.resolve,
        notes=tuple(notes),
    )


def _boost(
    base: Severity, turn: TurnSignals, tier: Tier, policy: EscalationPolicy, notes: list[str]
) -> tuple[Severity, int]:
    """The severity after the tier and frustration boosts, and the levels the tier added."""
    rule = policy.severity_boost
    tier_levels = rule.tiers.for_tier(tier)
    causes = [f"{tier.value} tier +{tier_levels}"] if tier_levels else []
    frustrated = turn.frustration is not None and turn.frustration >= rule.frustration
    if frustrated:
        causes.append(f"frustration {turn.frustration:.2f} at or above {rule.frustration:.2f} +1")
    levels = min(tier_levels + int(frustrated), rule.max_levels)
    # Never above the ceiling, unless a trigger itself asked for more (fraud is sev1 as is).
    ceiling = min(_rank(rule.ceiling), _rank(base))
    raised = _SEVERITIES[max(_rank(base) - levels, ceiling)]
    if raised != base:
        notes.append(
            f"severity raised from {base.value} to {raised.value} ({'; '.join(causes)}; at most "
            f"{rule.max_levels} level(s), not above {rule.ceiling.value})"
        )
    return raised, min(tier_levels, levels)


def _category(
    fired: list[_Fired], turns: Sequence[PastTurn], policy: EscalationPolicy, notes: list[str]
) -> Category:
    for f in fired:
        if f.category is not None:
            notes.append(f"category {f.category.value} from {f.hit.code}")
            return f.category
    # No trigger implies a topic (frustration, a request for a person): the customer's latest
    # topic intent does; "I want a person" itself carries none.
    topic = next((t.intent for t in reversed(turns) if policy.is_topic(t.intent)), None)
    category = policy.intent_categories.category_for(topic)
    source = f"intent {topic}" if topic is not None else "the default, as no topic intent was seen"
    notes.append(f"category {category.value} from {source}")
    return category


def _mode(
    turn: TurnSignals,
    tier: Tier,
    severity: Severity,
    looped: bool,
    asked_warm: list[ReasonHit],
    policy: EscalationPolicy,
    notes: list[str],
) -> HandoffMode:
    rule = policy.handoff_mode
    why = [f"{hit.code} {hit.value} asks for a warm handoff" for hit in asked_warm]
    if turn.frustration is not None and turn.frustration >= rule.warm_frustration:
        why.append(f"frustration {turn.frustration:.2f} at or above {rule.warm_frustration:.2f}")
    if tier in rule.warm_tiers:
        why.append(f"{tier.value} tier")
    if turn.steps_attempted >= rule.warm_steps:
        why.append(f"{turn.steps_attempted} steps attempted (threshold {rule.warm_steps})")
    if looped and rule.warm_on_loop:
        why.append("the issue went round in a loop")
    if severity in rule.warm_severities:
        why.append(f"severity {severity.value}")
    if not why:
        notes.append("cold handoff: no warm-handoff condition holds")
        return HandoffMode.COLD
    notes.append(f"warm handoff: {'; '.join(why)}")
    return HandoffMode.WARM


def _tier_hit(
    tier: Tier, base: Severity, severity: Severity, tier_levels: int, policy: EscalationPolicy
) -> ReasonHit | None:
    """The ``premium_tier`` modifier, when the tier changed the handoff; weight 0."""
    effects = []
    if tier_levels and severity != base:
        effects.append(f"severity raised from {base.value} to {severity.value}")
    if tier in policy.handoff_mode.warm_tiers:
        effects.append("warm handoff")
    if not effects:
        return None
    detail = f"{tier.value} tier: " + ", ".join(effects)
    return ReasonHit(code=reasons.PREMIUM_TIER, value=tier.value, threshold=None, detail=detail)
