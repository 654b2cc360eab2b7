"""Labelled conversations: the ``handoff replay`` input plus, keyed by conversation id, a label.

A conversation file holds the replay contract, one line each:
``{"conversation_id", "account_tier", "messages": [...]}``. A label file holds, one line each:
``{"conversation_id", "escalate": true|false, "turns": [first, last] | null, "kind", "why"}``;
``turns`` (1-based, inclusive, counting the customer's messages) is where handing over is right,
required when ``escalate`` is true and absent otherwise. Keeping the labels apart keeps the
conversation file a valid ``handoff replay`` input.

The split into a tuning half and a check half is stratified by kind and seeded, and recorded in
a file by conversation id: once written, an id never changes halves; ids added later are split
on their own and appended.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from handoff.exceptions import HandoffError
from handoff.replay import ReplayConversation

Half = Literal["tune", "check"]
TUNE: Half = "tune"
CHECK: Half = "check"
SPLIT_SEED = 13
"""The seed of the split written the first time a split file is made (then kept in it)."""


class LabelError(HandoffError):
    """A label or conversation file that cannot be used; ``str()`` names the file and line."""


class Label(BaseModel):
    """Whether a person should take over a conversation, and at which turns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conversation_id: str = Field(min_length=1)
    escalate: bool
    turns: tuple[int, int] | None = None
    kind: str = Field(min_length=1)
    why: str = ""

    @model_validator(mode="after")
    def _turns_when_escalating(self) -> Label:
        if self.escalate and self.turns is None:
            raise ValueError("turns [first, last] is required when escalate is true")
        if not self.escalate and self.turns is not None:
            raise ValueError("turns must be null when escalate is false")
        if self.turns is not None and not 1 <= self.turns[0] <= self.turns[1]:
            raise ValueError(f"turns must satisfy 1 <= first <= last, got {list(self.turns)}")
        return self


@dataclass(frozen=True, slots=True)
class Labelled:
    """A conversation and its label."""

    conversation: ReplayConversation
    label: Label

    @property
    def conversation_id(self) -> str:
        return self.conversation.conversation_id


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"cannot read {path}: {exc}") from exc
    return ((n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip())


def _problem(path: Path, number: int, exc: ValidationError) -> LabelError:
    item = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in item["loc"]) or "line"
    return LabelError(f"{path} line {number}: {where}: {item['msg']}")


def load_labelled(conversations: Path, labels: Path) -> list[Labelled]:
    """Every conversation of ``conversations`` with its label, in the conversations' order.

    Unlike ``handoff replay``, nothing is skipped: a bad line, an id given twice, a conversation
    without a label (or the reverse) or turns beyond the conversation's end is an error.
    """
    found: dict[str, ReplayConversation] = {}
    for number, line in _lines(conversations):
        try:
            conversation = ReplayConversation.model_validate_json(line)
        except ValidationError as exc:
            raise _problem(conversations, number, exc) from exc
        if conversation.conversation_id in found:
            raise LabelError(
                f"{conversations} line {number}: conversation_id "
                f"{conversation.conversation_id!r} appears twice"
            )
        found[conversation.conversation_id] = conversation
    marks: dict[str, Label] = {}
    for number, line in _lines(labels):
        try:
            label = Label.model_validate_json(line)
        except ValidationError as exc:
            raise _problem(labels, number, exc) from exc
        where = f"{labels} line {number}: conversation_id {label.conversation_id!r}"
        if label.conversation_id in marks:
            raise LabelError(f"{where} is labelled twice")
        conversation = found.get(label.conversation_id)
        if conversation is None:
            raise LabelError(f"{where} is not in {conversations}")
        if label.turns is not None and label.turns[1] > len(conversation.messages):
            raise LabelError(
                f"{where}: turns {list(label.turns)} go beyond its "
                f"{len(conversation.messages)} message(s)"
            )
        marks[label.conversation_id] = label
    missing = [cid for cid in found if cid not in marks]
    if missing:
        raise LabelError(f"{labels} has no label for {len(missing)} conversation(s): {missing[:5]}")
    return [Labelled(conversation, marks[cid]) for cid, conversation in found.items()]


def split(ids_by_kind: dict[str, list[str]], seed: int) -> dict[str, Half]:
    """Half of each kind's ids for tuning, the rest for checking (an odd one out goes to tune)."""
    rng = random.Random(seed)
    halves: dict[str, Half] = {}
    for kind in sorted(ids_by_kind):
        ids = sorted(ids_by_kind[kind])
        rng.shuffle(ids)
        cut = (len(ids) + 1) // 2
        halves.update({cid: TUNE for cid in ids[:cut]})
        halves.update({cid: CHECK for cid in ids[cut:]})
    return halves


def load_or_extend_split(path: Path, labelled: list[Labelled], seed: int) -> dict[str, Half]:
    """The recorded split at ``path``, extended (and saved) for ids it does not hold yet."""
    recorded: dict[str, Half] = {}
    if path.exists():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LabelError(f"cannot read the split {path}: {exc}") from exc
        halves = raw.get("halves") if isinstance(raw, dict) else None
        if not isinstance(halves, dict) or not set(halves.values()) <= {TUNE, CHECK}:
            raise LabelError(f'{path}: expected {{"seed": N, "halves": {{id: "tune"|"check"}}}}')
        recorded = dict(halves)
        seed = int(raw.get("seed", seed))
    new: dict[str, list[str]] = defaultdict(list)
    for item in labelled:
        if item.conversation_id not in recorded:
            new[item.label.kind].append(item.conversation_id)
    if new:
        recorded.update(split(new, seed))
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"seed": seed, "halves": dict(sorted(recorded.items()))}
        path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    return recorded
