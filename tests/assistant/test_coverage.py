"""Every intent the assistant knows gets an answer, and Banking77's names are kept exactly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("HANDOFF_PATHS__DATA_DIR", ROOT.parent / "shared" / "data"))


def load(relative: str) -> dict:
    return yaml.safe_load((ROOT / relative).read_text(encoding="utf-8"))


def domain_intents() -> set[str]:
    return set(load("bot/domain/intents.yml")["intents"])


def rule_answers() -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}
    for path in sorted((ROOT / "data/rules").glob("*.yml")):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            steps = rule["steps"]
            answers[steps[0]["intent"]] = [step["action"] for step in steps[1:]]
    return answers


def domain_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "bot/domain").glob("*.yml"):
        part = yaml.safe_load(path.read_text(encoding="utf-8"))
        names |= set(part.get("responses", {})) | set(part.get("actions", []))
    return names


def test_every_intent_is_answered_by_a_rule() -> None:
    missing = domain_intents() - set(rule_answers())
    assert not missing, f"intents without an answer: {sorted(missing)}"


def test_every_rule_answers_with_something_the_domain_defines() -> None:
    known = domain_names()
    for intent, actions in rule_answers().items():
        assert actions and set(actions) <= known, intent


@pytest.mark.skipif(not (DATA_DIR / "banking77").is_dir(), reason="Banking77 not available")
def test_banking77_categories_are_intents_with_their_exact_names() -> None:
    categories = json.loads((DATA_DIR / "banking77/categories.json").read_text())
    assert len(categories) == 77
    assert set(categories) <= domain_intents()
