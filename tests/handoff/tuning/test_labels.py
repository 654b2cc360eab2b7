"""The label loader, its errors, and the split that never moves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from handoff.tuning.labels import (
    CHECK,
    TUNE,
    LabelError,
    load_labelled,
    load_or_extend_split,
    split,
)

REPO = Path(__file__).resolve().parents[3]


def write(folder: Path, conversations: list[dict], labels: list[dict]) -> tuple[Path, Path]:
    c, lab = folder / "c.jsonl", folder / "l.jsonl"
    c.write_text("".join(json.dumps(x) + "\n" for x in conversations))
    lab.write_text("".join(json.dumps(x) + "\n" for x in labels))
    return c, lab


def conv(cid: str, *messages: str) -> dict:
    return {"conversation_id": cid, "account_tier": "standard", "messages": list(messages)}


def mark(cid: str, turns: list[int] | None, kind: str = "k") -> dict:
    return {"conversation_id": cid, "escalate": turns is not None, "turns": turns, "kind": kind,
            "why": "because"}  # fmt: skip


def test_loads_conversations_with_their_labels_in_order(tmp_path: Path) -> None:
    c, lab = write(tmp_path, [conv("a", "hi"), conv("b", "x", "y")],
                   [mark("b", [1, 2]), mark("a", None)])  # fmt: skip
    loaded = load_labelled(c, lab)
    assert [item.conversation_id for item in loaded] == ["a", "b"]
    assert loaded[1].label.turns == (1, 2) and loaded[0].label.escalate is False


@pytest.mark.parametrize(
    ("conversations", "labels", "message"),
    [
        ([conv("a", "hi")], [mark("a", [1, 2])], "go beyond its 1 message(s)"),
        ([conv("a", "hi")], [mark("b", None)], "is not in"),
        ([conv("a", "hi"), conv("b", "x")], [mark("a", None)], "no label for 1"),
        ([conv("a", "hi"), conv("a", "x")], [mark("a", None)], "appears twice"),
        ([conv("a", "hi")], [mark("a", None), mark("a", None)], "labelled twice"),
        ([conv("a", "hi")], [{**mark("a", None), "escalate": True}], "turns [first, last]"),
        ([conv("a", "hi")], [{**mark("a", [1, 1]), "escalate": False}], "must be null"),
        ([conv("a", "hi", "x")], [mark("a", [2, 1])], "1 <= first <= last"),
        ([conv("a", "hi")], [{**mark("a", None), "extra": 1}], "extra"),
        ([{**conv("a", "hi"), "label": "x"}], [mark("a", None)], "c.jsonl line 1"),
    ],
)
def test_bad_input_is_an_error_naming_the_file_and_line(
    tmp_path: Path, conversations: list[dict], labels: list[dict], message: str
) -> None:
    c, lab = write(tmp_path, conversations, labels)
    with pytest.raises(LabelError, match=re.escape(message)):
        load_labelled(c, lab)


def test_a_missing_file_is_a_label_error(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match="cannot read"):
        load_labelled(tmp_path / "none.jsonl", tmp_path / "none.jsonl")


def test_split_halves_each_kind_and_depends_only_on_the_seed() -> None:
    ids = {"a": [f"a{i}" for i in range(5)], "b": [f"b{i}" for i in range(4)]}
    halves = split(ids, seed=1)
    assert sum(h == TUNE for cid, h in halves.items() if cid.startswith("a")) == 3
    assert sum(h == TUNE for cid, h in halves.items() if cid.startswith("b")) == 2
    assert split(ids, seed=1) == halves
    assert split({k: list(reversed(v)) for k, v in ids.items()}, seed=1) == halves
    assert any(split(ids, seed=s) != halves for s in range(2, 6))


def test_the_recorded_split_is_kept_and_new_ids_are_appended(tmp_path: Path) -> None:
    c, lab = write(tmp_path, [conv(f"x{i}", "hi") for i in range(4)],
                   [mark(f"x{i}", None) for i in range(4)])  # fmt: skip
    path = tmp_path / "split.json"
    first = load_or_extend_split(path, load_labelled(c, lab), seed=3)
    assert sorted(first.values()) == [CHECK, CHECK, TUNE, TUNE]
    flipped = {cid: (CHECK if h == TUNE else TUNE) for cid, h in first.items()}
    path.write_text(json.dumps({"seed": 3, "halves": flipped}))
    labels = [mark(f"x{i}", None, kind="new" if i > 3 else "k") for i in range(6)]
    c, lab = write(tmp_path, [conv(f"x{i}", "hi") for i in range(6)], labels)
    second = load_or_extend_split(path, load_labelled(c, lab), seed=99)
    assert {cid: second[cid] for cid in flipped} == flipped  # never moves
    assert sorted(second[cid] for cid in ("x4", "x5")) == [CHECK, TUNE]
    assert json.loads(path.read_text())["halves"] == second


def test_the_shipped_scenarios_load_and_their_split_covers_them() -> None:
    folder = REPO / "data" / "scenarios"
    loaded = load_labelled(folder / "conversations.jsonl", folder / "labels.jsonl")
    assert len(loaded) >= 300
    halves = json.loads((folder / "split.json").read_text())["halves"]
    assert set(halves) == {item.conversation_id for item in loaded}
