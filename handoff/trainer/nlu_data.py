"""Reviewed examples into Rasa NLU training data: ``data/nlu/reviewed/<intent>.yml``.

One file per intent, examples in a stable order (sorted, case-insensitively), so a review reads
well in a git diff. An example is written once: one that the training data already has under
the same intent (near-identically: :func:`~handoff.trainer.inbox.occurrence_key`) is skipped,
and one it has under another intent is refused as a conflict, because ``rasa data validate``
fails on an example labelled with two intents. Texts arrive masked
(:mod:`handoff.trainer.masking`); nothing here unmasks or adds data.

:func:`plan_update` is pure (what to write, given what is known); :func:`known_examples` reads
the training data and :func:`write_update` writes the plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from handoff.trainer.inbox import occurrence_key

RASA_DATA_VERSION = "3.1"
_INTENT_NAME = re.compile(r"[A-Za-z0-9_]+")
# Rasa's entity annotations: [text](entity), [text](entity:value), [text]{"entity": ...}.
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True, slots=True)
class ReviewedExample:
    """A message a trainer labelled with ``intent`` (its text already masked)."""

    intent: str
    text: str


@dataclass(frozen=True, slots=True)
class KnownExample:
    """An example of the training data: its intent and the file that holds it."""

    intent: str
    source: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """A reviewed example that the training data has under another intent."""

    example: ReviewedExample
    existing: KnownExample


@dataclass(frozen=True, slots=True)
class NluUpdate:
    """What reviewing changes: the full text of each reviewed file that changes (by intent),
    the examples added, those already known, and those refused."""

    files: dict[str, str]
    added: tuple[ReviewedExample, ...]
    already_known: tuple[ReviewedExample, ...]
    conflicts: tuple[Conflict, ...]


def plan_update(
    reviewed: Mapping[str, Sequence[str]],
    known: Mapping[str, KnownExample],
    examples: Iterable[ReviewedExample],
) -> NluUpdate:
    """The reviewed files after adding ``examples``.

    ``reviewed`` is the current content of ``data/nlu/reviewed/`` (intent -> examples);
    ``known`` every example of the training data by :func:`occurrence_key`, reviewed files
    included. Raises ``ValueError`` for an intent name Rasa would not take or an empty text.
    """
    seen = dict(known)
    by_intent = {intent: list(texts) for intent, texts in reviewed.items()}
    added: list[ReviewedExample] = []
    already: list[ReviewedExample] = []
    conflicts: list[Conflict] = []
    for example in examples:
        _check(example)
        key = occurrence_key(example.text)
        existing = seen.get(key)
        if existing is not None:
            if existing.intent == example.intent:
                already.append(example)
            else:
                conflicts.append(Conflict(example, existing))
            continue
        seen[key] = KnownExample(example.intent, reviewed_file(example.intent))
        by_intent.setdefault(example.intent, []).append(example.text.strip())
        added.append(example)
    changed = {example.intent for example in added}
    files = {intent: render_intent_file(intent, by_intent[intent]) for intent in sorted(changed)}
    return NluUpdate(files, tuple(added), tuple(already), tuple(conflicts))


def reviewed_file(intent: str) -> str:
    """The reviewed file of ``intent``, relative to the NLU data folder."""
    return f"reviewed/{intent}.yml"


def render_intent_file(intent: str, texts: Iterable[str]) -> str:
    """A Rasa NLU YAML file holding ``texts`` as examples of ``intent``, sorted."""
    ordered = sorted({text.strip() for text in texts}, key=lambda text: (text.casefold(), text))
    lines = [
        "# Examples reviewed by bot trainers (handoff trainer apply, or the /trainer page).",
        "# Written by the service: edit through a review, so that nothing is duplicated.",
        f'version: "{RASA_DATA_VERSION}"',
        "nlu:",
        f"- intent: {intent}",
        "  examples: |",
        *(f"    - {text}" for text in ordered),
    ]
    return "\n".join(lines) + "\n"


def known_examples(nlu_dir: Path) -> dict[str, KnownExample]:
    """Every intent example under ``nlu_dir`` (its YAML files, recursively) by occurrence key.

    Entity annotations are read as their text (``[4242](card)`` as ``4242``). Raises
    ``ValueError`` naming the file when one is not Rasa NLU YAML.
    """
    known: dict[str, KnownExample] = {}
    for source, intent, text in _examples_under(nlu_dir):
        known.setdefault(occurrence_key(text), KnownExample(intent, source))
    return known


def training_examples(nlu_dir: Path) -> list[tuple[str, str]]:
    """Every ``(intent, text)`` example under ``nlu_dir``, annotations read as their text."""
    return [(intent, text) for _, intent, text in _examples_under(nlu_dir)]


def _examples_under(nlu_dir: Path) -> Iterator[tuple[str, str, str]]:
    # (file relative to nlu_dir, intent, plain text) of every example, files in sorted order.
    for path in sorted(nlu_dir.rglob("*.yml")):
        source = path.relative_to(nlu_dir).as_posix()
        for intent, text in _file_examples(path):
            yield source, intent, _ANNOTATION.sub(r"\1", text)


def read_reviewed(nlu_dir: Path) -> dict[str, list[str]]:
    """The reviewed files' examples, by intent."""
    reviewed: dict[str, list[str]] = {}
    for path in sorted((nlu_dir / "reviewed").glob("*.yml")):
        for intent, text in _file_examples(path):
            reviewed.setdefault(intent, []).append(text)
    return reviewed


def write_update(update: NluUpdate, nlu_dir: Path) -> list[Path]:
    """Write the plan's files under ``nlu_dir``; returns the paths written."""
    written = []
    for intent, content in update.files.items():
        path = nlu_dir / reviewed_file(intent)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def _check(example: ReviewedExample) -> None:
    if not _INTENT_NAME.fullmatch(example.intent):
        raise ValueError(f"not an intent name: {example.intent!r}")
    text = example.text.strip()
    if not text or "\n" in text:
        raise ValueError(f"an example is one non-empty line, got {example.text!r}")


def _file_examples(path: Path) -> list[tuple[str, str]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not Rasa training data (a mapping with 'nlu')")
    entries = document.get("nlu") or []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: 'nlu' must be a list")
    examples = []
    for entry in entries:
        if not isinstance(entry, dict) or "intent" not in entry:
            continue  # synonyms, regexes and lookup tables hold no intent examples
        block = entry.get("examples") or ""
        if not isinstance(block, str):
            raise ValueError(f"{path}: the examples of {entry['intent']} must be a block")
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("- "):
                examples.append((str(entry["intent"]), line[2:].strip()))
    return examples
