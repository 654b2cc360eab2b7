"""``handoff replay`` against the session stack's Rasa, with the real classifier and engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from running_stack import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REPLAY_SECONDS = 300
CONTRACT_KEYS = {
    "conversation_id", "turn", "text", "intent", "confidence", "label", "frustration",
    "escalate", "reasons", "severity", "category",
}  # fmt: skip
FURIOUS = (
    "This is absolutely ridiculous!!! I have been waiting for weeks, nobody does anything "
    "and I am sick and tired of your useless service. I am furious."
)
CONVERSATIONS = [
    {
        "conversation_id": "contained",
        "account_tier": "standard",
        "messages": ["how much does it cost to top up with a credit card?", "thanks"],
    },
    {
        "conversation_id": "asks-for-a-human",
        "account_tier": "plus",
        "messages": ["hello", "I want to talk to a human", "are you still there?"],
    },
    {
        "conversation_id": "furious-premium",
        "account_tier": "premium",
        "messages": [FURIOUS, "hello?"],
    },
]


def replay(stack, tmp_path: Path, rasa_url: str | None = None) -> subprocess.CompletedProcess[str]:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [json.dumps(c) for c in CONVERSATIONS]
    lines.insert(2, '{"conversation_id": "broken", "messages": [')  # line 3: not JSON
    source.write_text("\n".join(lines) + "\n")
    env = {
        **os.environ,
        **stack.secrets,
        "HANDOFF_RASA__URL": rasa_url or stack.rasa_url,
        "HANDOFF_ACTIONS__URL": stack.actions_url,
        "HANDOFF_BANK__URL": stack.bank_url,
        "HANDOFF_DATABASE__URL": f"sqlite:///{tmp_path / 'unused.sqlite'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "handoff", "replay", "--input", str(source), "--output",
         str(output)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=REPLAY_SECONDS,
    )  # fmt: skip


def test_replay_writes_one_line_per_turn_until_the_first_escalation(stack, tmp_path) -> None:
    done = replay(stack, tmp_path)
    assert done.returncode == 0, done.stderr

    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert all(set(line) == CONTRACT_KEYS for line in lines), lines
    turns = [(line["conversation_id"], line["turn"]) for line in lines]
    assert turns == [
        ("contained", 0), ("contained", 1),
        ("asks-for-a-human", 0), ("asks-for-a-human", 1),
        ("furious-premium", 0),
    ]  # fmt: skip
    by_turn = {(line["conversation_id"], line["turn"]): line for line in lines}
    assert not any(line["escalate"] for line in lines if line["conversation_id"] == "contained")
    assert by_turn["contained", 0]["intent"] == "top_up_by_card_charge"
    human = by_turn["asks-for-a-human", 1]
    assert human["escalate"] and "request_human" in human["reasons"]
    assert human["intent"] == "request_human" and human["severity"] and human["category"]
    furious = by_turn["furious-premium", 0]
    assert furious["escalate"] and "high_frustration" in furious["reasons"]
    assert furious["label"] == "negative" and furious["frustration"] >= 0.6

    assert "line 3 skipped" in done.stderr
    assert "containment rate 33.3%" in done.stderr
    assert "skipped input lines 1" in done.stderr


def test_replay_without_rasa_says_which_services_it_needs(stack, tmp_path) -> None:
    done = replay(stack, tmp_path, rasa_url=f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1, done.stderr
    assert "make run" in done.stderr
    assert not (tmp_path / "out.jsonl").read_text()
