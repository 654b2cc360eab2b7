"""An offline search of the policy's numbers on recorded conversations. Pure but for Optuna.

The knobs are found, not listed: every number of the policy file outside the sections that only
route a handoff (severity, team, SLA, priority, warm or cold) is one, with its range around the
shipped value and inside the limits the policy's model sets, so a trigger added to the policy is
searched as soon as it is in the file. Two kinds of number stay out: the weight of a hard trigger
(it hands over whatever its weight) and the file's version. Whether a trigger is hard is a
decision about who must reach a person, never a number to fit.

Objective, on the tuning half: the largest right-turn recall among the policies that keep at
least ``min_containment`` of the conversations that should stay with the bot. Each trial builds
the policy from the file's own data and validates it like the service does, so a proposal
breaking a rule of the file (premium <= plus <= standard, ...) is never made.
"""

from __future__ import annotations

import copy
import logging
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from handoff.escalation.policy import EscalationPolicy
from handoff.tuning.labels import Label
from handoff.tuning.metrics import quick_figures
from handoff.tuning.policy_diff import Path, dotted
from handoff.tuning.recording import RecordedConversation

ROUTING_SECTIONS = frozenset(
    {"version", "severity_boost", "handoff_mode", "priority", "matrix", "teams"}
)
"""Top-level keys whose numbers never change whether a conversation is handed over."""

STEP = 0.05
REACH = 0.30
"""A float knob is searched within this distance of its shipped value, on a grid of STEP."""

INFEASIBLE = -2.0


@dataclass(frozen=True, slots=True)
class Knob:
    """One number of the policy and the values searched for it."""

    path: Path
    shipped: float | int
    low: float | int
    high: float | int

    @property
    def integer(self) -> bool:
        return isinstance(self.shipped, int)

    @property
    def name(self) -> str:
        return dotted(self.path)


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The bare type of ``annotation`` and the constraints Annotated or Optional wrap it in."""
    constraints: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            constraints += extra
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = options[0] if len(options) == 1 else Any
        else:
            return annotation, constraints


def _child(annotation: Any, key: str) -> tuple[Any, list[Any]]:
    """The annotation of ``key`` under ``annotation`` (a model or a dict), and its constraints."""
    bare, _ = _unwrap(annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        info = bare.model_fields.get(key)
        if info is None:
            return Any, []
        inner, constraints = _unwrap(info.annotation)
        return inner, [*info.metadata, *constraints]
    if typing.get_origin(bare) is dict:
        inner, constraints = _unwrap(typing.get_args(bare)[1])
        return inner, constraints
    return Any, []


def _limits(constraints: Sequence[Any]) -> tuple[float, float]:
    """The lowest and highest value ``constraints`` allow (``gt`` as a step above)."""
    low, high = -math.inf, math.inf
    for item in constraints:
        if isinstance(item, FieldInfo):
            inner_low, inner_high = _limits(item.metadata)
            low, high = max(low, inner_low), min(high, inner_high)
        for name, bound in (("ge", 0.0), ("gt", STEP)):
            if getattr(item, name, None) is not None:
                low = max(low, getattr(item, name) + bound)
        for name, bound in (("le", 0.0), ("lt", STEP)):
            if getattr(item, name, None) is not None:
                high = min(high, getattr(item, name) - bound)
    return low, high


def _on_grid(value: float) -> float:
    return round(round(value / STEP) * STEP, 4)


def _knob(path: Path, value: float | int, constraints: Sequence[Any]) -> Knob:
    low, high = _limits(constraints)
    if isinstance(value, int):
        return Knob(path, value, int(max(low, 1, value - 1)), int(min(high, value + 1)))
    low = max(low, 0.0, value - REACH)
    high = min(high, value + REACH)
    return Knob(path, value, _on_grid(math.ceil(low / STEP - 1e-9) * STEP), _on_grid(high))


def find_knobs(raw: Mapping[str, Any]) -> list[Knob]:
    """Every searchable number of the policy file's data ``raw``, in file order."""
    return list(_walk(raw, (), EscalationPolicy))


def _walk(node: Mapping[str, Any], path: Path, annotation: Any) -> Iterator[Knob]:
    for key, value in node.items():
        key = str(key)
        if not path and key in ROUTING_SECTIONS:
            continue
        if key == "weight" and node.get("hard") is True:
            continue
        inner, constraints = _child(annotation, key)
        if isinstance(value, Mapping):
            yield from _walk(value, (*path, key), inner)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield _knob((*path, key), value, constraints)


def with_values(raw: Mapping[str, Any], values: Mapping[Path, float | int]) -> dict[str, Any]:
    """A deep copy of ``raw`` with the number at each path of ``values`` replaced."""
    changed = copy.deepcopy(dict(raw))
    for path, value in values.items():
        place = changed
        for key in path[:-1]:
            place = place[key]
        place[path[-1]] = value
    return changed


def build(raw: Mapping[str, Any], values: Mapping[Path, float | int]) -> EscalationPolicy | None:
    """The policy of ``raw`` with ``values``; ``None`` when the file's rules refuse it."""
    try:
        return EscalationPolicy.model_validate(with_values(raw, values))
    except ValidationError:
        return None


Score = Callable[[EscalationPolicy], float]


def scorer(
    recordings: Mapping[str, RecordedConversation],
    labels: Sequence[Label],
    min_containment: float,
) -> Score:
    """The objective: right-turn recall when containment reaches ``min_containment``.

    A thousandth of the containment is added, so of two policies with the same recall the one
    that keeps more customers with the bot wins; below the containment floor the value is the
    containment minus 1, always under any feasible one, so the search climbs towards the floor.
    """

    def score(policy: EscalationPolicy) -> float:
        result = quick_figures(recordings, labels, policy)
        containment = 1.0 if result.containment is None else result.containment
        recall = 0.0 if result.recall is None else result.recall
        if containment < min_containment:
            return containment - 1.0
        return recall + containment / 1000

    return score


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The proposed numbers (only those that differ from the file) and their objective."""

    changes: dict[Path, float | int]
    score: float
    shipped_score: float
    trials: int


def search(
    raw: Mapping[str, Any], knobs: Sequence[Knob], score: Score, *, trials: int, seed: int
) -> SearchResult:
    """Seeded TPE over ``knobs``, starting from the shipped values, then pruned of every
    change the objective does not need (each reverted in turn, kept reverted unless the
    objective drops), so the diff holds only changes that matter."""

    def objective(trial: optuna.Trial) -> float:
        values = {knob.path: _suggest(trial, knob) for knob in knobs}
        policy = build(raw, values)
        return INFEASIBLE if policy is None else score(policy)

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({knob.name: knob.shipped for knob in knobs})
    study.optimize(objective, n_trials=trials)
    best = {knob.path: study.best_params[knob.name] for knob in knobs}
    changes = {k.path: best[k.path] for k in knobs if best[k.path] != k.shipped}
    best_score = study.best_value
    for path in list(changes):
        trial_changes = {p: v for p, v in changes.items() if p != path}
        policy = build(raw, trial_changes)
        if policy is not None and (value := score(policy)) >= best_score:
            changes, best_score = trial_changes, value
    shipped = build(raw, {})
    assert shipped is not None  # the file itself validated when it was loaded
    return SearchResult(changes, best_score, score(shipped), trials)


def _suggest(trial: optuna.Trial, knob: Knob) -> float | int:
    if knob.integer:
        return trial.suggest_int(knob.name, int(knob.low), int(knob.high))
    return round(trial.suggest_float(knob.name, knob.low, knob.high, step=STEP), 4)
