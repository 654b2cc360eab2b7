"""``handoff tune`` end to end on a reused recording (no service), and its bad inputs."""

from __future__ import annotations

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from fakes import ASKS, CALM, POLICY_FILE, WEAK, recorded

from handoff import cli
from handoff.tuning.recording import write_recording

CONVERSATIONS = {
    "calm": ["how do I change my pin", "thanks"],
    "asks": ["let me talk to a person"],
    "weak-a": ["ugh whatever this is useless", "how do I change my pin"],
    "weak-b": ["how do I change my pin", "ugh whatever this is useless"],
}
LABELS = [
    {"conversation_id": "calm", "escalate": False, "turns": None, "kind": "routine"},
    {"conversation_id": "asks", "escalate": True, "turns": [1, 1], "kind": "request_human"},
    {"conversation_id": "weak-a", "escalate": True, "turns": [1, 1], "kind": "weak"},
    {"conversation_id": "weak-b", "escalate": True, "turns": [2, 2], "kind": "weak"},
]
RECORDINGS = [
    recorded("calm", CALM, CALM),
    recorded("asks", ASKS),
    recorded("weak-a", WEAK, CALM),
    recorded("weak-b", CALM, WEAK),
]


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    files = {name: tmp_path / name for name in ("c.jsonl", "l.jsonl", "rec.jsonl", "policy.yml")}
    files["c.jsonl"].write_text("".join(
        json.dumps({"conversation_id": cid, "account_tier": "standard", "messages": messages})
        + "\n" for cid, messages in CONVERSATIONS.items()
    ))  # fmt: skip
    files["l.jsonl"].write_text("".join(json.dumps(label) + "\n" for label in LABELS))
    buffer = StringIO()
    write_recording(RECORDINGS, buffer)
    files["rec.jsonl"].write_text(buffer.getvalue())
    shutil.copy(POLICY_FILE, files["policy.yml"])
    return files


def tune(inputs: dict[str, Path], tmp_path: Path, *extra: str) -> int:
    return cli.main([
        "tune", "--conversations", str(inputs["c.jsonl"]), "--labels", str(inputs["l.jsonl"]),
        "--split", str(tmp_path / "split.json"), "--recording", str(inputs["rec.jsonl"]),
        "--policy", str(inputs["policy.yml"]), "--diff", str(tmp_path / "out.diff"),
        "--trials", "150", "--min-containment", "1.0", *extra,
    ])  # fmt: skip


def test_tune_prints_the_figures_and_writes_a_diff_changing_nothing(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = inputs["policy.yml"].read_text()
    assert tune(inputs, tmp_path) == 0
    out = capsys.readouterr().out
    assert "shipped / tune" in out and "proposed / check" in out
    assert "proposed changes:" in out
    diff = (tmp_path / "out.diff").read_text()
    assert diff.startswith("--- ") and "\n+" in diff and diff in out
    assert inputs["policy.yml"].read_text() == before  # nothing changes until applied
    halves = json.loads((tmp_path / "split.json").read_text())["halves"]
    assert set(halves) == set(CONVERSATIONS)


def test_a_recording_missing_a_conversation_exits_2(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs["rec.jsonl"].write_text(inputs["rec.jsonl"].read_text().splitlines()[0] + "\n")
    assert tune(inputs, tmp_path) == cli.EXIT_BAD_INPUT
    assert "the recording lacks 3 labelled conversation(s)" in capsys.readouterr().err


def test_a_bad_label_exits_2_naming_file_and_line(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs["l.jsonl"].write_text('{"conversation_id": "calm", "escalate": true}\n')
    assert tune(inputs, tmp_path) == cli.EXIT_BAD_INPUT
    assert f"{inputs['l.jsonl']} line 1" in capsys.readouterr().err
