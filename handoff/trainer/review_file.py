"""The inbox as a file a trainer edits in git: ``handoff trainer export`` writes it,
``handoff trainer apply`` reads the decisions back.

One entry per group of near-identical messages, most frequent first, with what a trainer needs
to decide (the masked text, how often and when, the assistant's top intents, why it is in the
inbox, the suggested intent). A trainer fills in ``decision`` (and ``intent`` to relabel);
entries left empty stay in the inbox. Pure: text in, decisions out, every mistake named with
its entry.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from handoff.store.review import ReviewGroup
from handoff.trainer.grouping import NEIGHBOURS, SimilarGroup


class DecisionKind(StrEnum):
    """What a trainer decides for a group."""

    ACCEPT = "accept"  # the assistant's intent was right: an example of it
    RELABEL = "relabel"  # an example of ``intent``
    OUT_OF_SCOPE = "out_of_scope"  # an example of out_of_scope
    IGNORE = "ignore"  # not training material


OUT_OF_SCOPE_INTENT = "out_of_scope"

_HEADER = """\
# The bot trainers' inbox: one entry per group of near-identical customer messages (personal
# data masked), most frequent first. For each, set `decision` to
#   accept        the assistant's intent (`predicted`) was right: keep it as an example
#   relabel       an example of another intent: set `intent` too (`suggestion` is a hint)
#   out_of_scope  an example of out_of_scope
#   ignore        not training material
# or leave it empty to decide later. Entries with the same `similar_group` say much the same;
# `nearest_examples_say` is the intent of the training examples nearest them.
# Then: .venv/bin/handoff trainer apply THIS_FILE --by NAME
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """A trainer's decision on one group; ``intent`` is the one its text is an example of
    (None for ``ignore``)."""

    key: str
    text: str
    kind: DecisionKind
    intent: str | None


class ReviewFileError(ValueError):
    """The file cannot be applied; the message names the entry and what is wrong."""


def export_document(
    groups: Sequence[ReviewGroup], similar: Sequence[SimilarGroup] | None = None
) -> str:
    """The inbox file for ``groups``. With ``similar`` (groups of indexes into ``groups``),
    similar entries stand together, numbered by ``similar_group``, each with what the nearest
    training examples say."""
    if similar is None:
        entries = [_entry(group) for group in groups]
    else:
        entries = []
        for number, cluster in enumerate(similar, start=1):
            said = None
            if cluster.suggestion is not None:
                hint = cluster.suggestion
                votes = f"{hint.votes} of {NEIGHBOURS}"
                said = f"{hint.intent} (similarity {hint.similarity:.2f}, {votes})"
            for index in cluster.members:
                entry = _entry(groups[index])
                entry["similar_group"] = number
                entry["nearest_examples_say"] = said
                entries.append(entry)
    body = yaml.safe_dump({"entries": entries}, sort_keys=False, allow_unicode=True, width=100)
    return _HEADER + body


def _entry(group: ReviewGroup) -> dict[str, Any]:
    top = [f"{ranked['name']} {float(ranked['confidence']):.2f}" for ranked in group.ranking]
    return {
        "key": group.occurrence_key,
        "text": group.text,
        "count": group.count,
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
        "predicted": group.intent,
        "confidence": None if group.confidence is None else round(group.confidence, 3),
        "top": top,
        "why": [str(reason.get("detail", "")) for reason in group.reasons],
        "suggestion": group.suggestion,
        "decision": None,
        "intent": None,
    }


def parse_decisions(text: str, known_intents: Collection[str]) -> list[Decision]:
    """The decided entries of an inbox file, in file order.

    Raises :class:`ReviewFileError` for a file that is not an inbox file, a decision that is
    not one of :class:`DecisionKind`, a relabel without a known ``intent``, an accept of a
    fallback, or the same group twice.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReviewFileError(f"not YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise ReviewFileError("not an inbox file: expected a mapping with a list 'entries'")
    decisions: list[Decision] = []
    seen: set[str] = set()
    for number, entry in enumerate(document["entries"], start=1):
        decision = _decision(number, entry, known_intents)
        if decision is None:
            continue
        if decision.key in seen:
            raise ReviewFileError(f"entry {number}: the group {decision.key!r} is decided twice")
        seen.add(decision.key)
        decisions.append(decision)
    return decisions


def _decision(number: int, entry: Any, known_intents: Collection[str]) -> Decision | None:
    where = f"entry {number}"
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise ReviewFileError(f"{where}: expected a mapping with a 'key'")
    raw = entry.get("decision")
    if raw in (None, ""):
        return None
    try:
        kind = DecisionKind(str(raw).strip())
    except ValueError:
        choices = ", ".join(kind.value for kind in DecisionKind)
        raise ReviewFileError(f"{where}: decision {raw!r} is not one of {choices}") from None
    key, text = entry["key"], str(entry.get("text") or "")
    if kind is DecisionKind.IGNORE:
        return Decision(key, text, kind, None)
    if kind is DecisionKind.OUT_OF_SCOPE:
        return Decision(key, text, kind, OUT_OF_SCOPE_INTENT)
    intent = entry.get("predicted") if kind is DecisionKind.ACCEPT else entry.get("intent")
    if kind is DecisionKind.ACCEPT and intent in (None, "nlu_fallback"):
        raise ReviewFileError(
            f"{where}: the assistant did not predict an intent to accept; relabel it instead"
        )
    if not isinstance(intent, str) or intent not in known_intents:
        raise ReviewFileError(
            f"{where}: {kind.value} needs an intent of the domain, got {intent!r}"
        )
    return Decision(key, text, kind, intent)
