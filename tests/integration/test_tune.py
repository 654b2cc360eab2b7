"""``handoff tune`` recording through the session stack's Rasa and the real classifier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TUNE_SECONDS = 300
CONVERSATIONS = [
    {"conversation_id": "pin", "account_tier": "standard",
     "messages": ["how do I change my pin", "thanks"]},
    {"conversation_id": "person", "account_tier": "plus",
     "messages": ["hello", "can I talk to someone real please", "are you still there?"]},
    {"conversation_id": "fed-up", "account_tier": "premium",
     "messages": ["my card was declined", "I'm absolutely furious, this is unacceptable"]},
]  # fmt: skip
LABELS = [
    {"conversation_id": "pin", "escalate": False, "turns": None, "kind": "routine"},
    {"conversation_id": "person", "escalate": True, "turns": [2, 2], "kind": "request_human"},
    {"conversation_id": "fed-up", "escalate": True, "turns": [2, 2], "kind": "frustration"},
]


def test_tune_records_every_turn_and_proposes_a_diff(stack, tmp_path: Path) -> None:
    files = {name: tmp_path / name for name in ("c.jsonl", "l.jsonl", "rec.jsonl", "p.diff")}
    files["c.jsonl"].write_text("".join(json.dumps(c) + "\n" for c in CONVERSATIONS))
    files["l.jsonl"].write_text("".join(json.dumps(label) + "\n" for label in LABELS))
    env = {
        **os.environ,
        **stack.secrets,
        "HANDOFF_RASA__URL": stack.rasa_url,
        "HANDOFF_DATABASE__URL": f"sqlite:///{tmp_path / 'unused.sqlite'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "handoff", "tune", "--conversations", str(files["c.jsonl"]),
         "--labels", str(files["l.jsonl"]), "--split", str(tmp_path / "split.json"),
         "--save-recording", str(files["rec.jsonl"]), "--diff", str(files["p.diff"]),
         "--trials", "5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TUNE_SECONDS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    recorded = {
        line["conversation_id"]: line
        for line in map(json.loads, files["rec.jsonl"].read_text().splitlines())
    }
    assert set(recorded) == {"pin", "person", "fed-up"}
    # Every turn, also after the request for a person, which the live service would not send.
    assert [t["turn"] for t in recorded["person"]["turns"]] == [1, 2, 3]
    asks = recorded["person"]["turns"][1]["signals"]
    assert asks["intent"] == "request_human" and asks["requested_human"] is True
    furious = recorded["fed-up"]["turns"][1]["signals"]
    assert furious["polarity"]["label"] == "negative" and furious["frustration"] >= 0.6
    pin = recorded["pin"]["turns"][0]["signals"]
    assert pin["intent"] == "change_pin" and 0 < pin["confidence"] <= 1
    assert "shipped / tune" in done.stdout and "proposed / check" in done.stdout
    assert files["p.diff"].exists()
    split = json.loads((tmp_path / "split.json").read_text())["halves"]
    assert set(split) == {"pin", "person", "fed-up"}

    again = subprocess.run(
        [sys.executable, "-m", "handoff", "tune", "--conversations", str(files["c.jsonl"]),
         "--labels", str(files["l.jsonl"]), "--split", str(tmp_path / "split.json"),
         "--recording", str(files["rec.jsonl"]), "--diff", str(files["p.diff"]),
         "--trials", "5"],
        cwd=ROOT, env={**env, "HANDOFF_RASA__URL": "http://127.0.0.1:9"},
        capture_output=True, text=True, timeout=TUNE_SECONDS,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr  # a reused recording needs no service
    assert again.stdout == done.stdout  # the same figures and diff: the search is seeded
    assert "recording saved" in done.stderr
