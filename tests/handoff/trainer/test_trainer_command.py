"""``handoff trainer export|apply``: the inbox out to a file, decisions back into NLU data and
the database, on a real SQLite service database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from handoff.cli import main
from handoff.settings import get_settings, repo_root
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.repository import ConversationStore, NewMessage
from handoff.store.review import NewReviewItem, ReviewStore
from handoff.store.states import ReviewStatus
from handoff.trainer.inbox import occurrence_key

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DOMAIN = "version: '3.1'\nintents:\n  - card_arrival\n  - lost_or_stolen_card\n  - out_of_scope\n"
NLU = """version: "3.1"
nlu:
- intent: lost_or_stolen_card
  examples: |
    - I lost my card
"""


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in list(os.environ):
        if name.upper().startswith("HANDOFF_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HANDOFF_DATABASE__URL", f"sqlite:///{tmp_path}/handoff.sqlite")
    # No encoder here: similar messages are not grouped (one test below uses the real one).
    monkeypatch.setenv("HANDOFF_PATHS__MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "nlu").mkdir()
    (tmp_path / "nlu" / "cards.yml").write_text(NLU)
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "intents.yml").write_text(DOMAIN)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def inbox(tmp_path: Path, *texts: str) -> ReviewStore:
    """A service database whose inbox holds one fallback turn per text."""
    engine = create_database_engine(f"sqlite:///{tmp_path}/handoff.sqlite")
    upgrade_database(engine)
    store = ConversationStore(engine)
    for n, text in enumerate(texts):
        record = store.create_conversation(
            customer_id=None, customer_name=None, tier="standard", channel="web",
            resume_token_hash=f"{n:064x}", now=NOW,
        )  # fmt: skip
        message, _ = store.append_customer_message(
            record.id, client_message_id="c1", text=text, payload={}, now=NOW
        )
        item = NewReviewItem(
            text=text, occurrence_key=occurrence_key(text), intent="nlu_fallback",
            confidence=0.45, ranking=[{"name": "nlu_fallback", "confidence": 0.45}],
            reasons=[{"source": "fallback", "detail": "the assistant answered with nlu_fallback"}],
            suggestion=None,
        )  # fmt: skip
        store.complete_turn(
            message.id, extra={"processed": True}, replies=[NewMessage("bot", "Sorry?")],
            now=NOW, review=item,
        )  # fmt: skip
    return ReviewStore(engine)


def apply(workdir: Path, file: Path) -> int:
    return main(
        ["trainer", "apply", str(file), "--by", "tess.trainer", "--nlu-dir",
         str(workdir / "nlu"), "--domain-dir", str(workdir / "domain")]
    )  # fmt: skip


def export(workdir: Path, file: Path) -> int:
    return main(["trainer", "export", "--out", str(file), "--nlu-dir", str(workdir / "nlu")])


def decide(file: Path, decisions: dict[str, dict[str, str]]) -> None:
    document = yaml.safe_load(file.read_text())
    for entry in document["entries"]:
        entry.update(decisions.get(entry["text"], {}))
    file.write_text(yaml.safe_dump(document, sort_keys=False))


def test_export_then_apply_writes_examples_and_records_each_decision(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reviews = inbox(workdir, "card not here yet", "card not here yet!", "tell me a joke", "asdf")
    exported = workdir / "inbox.yml"

    assert export(workdir, exported) == 0
    entries = yaml.safe_load(exported.read_text())["entries"]
    assert [(e["text"], e["count"]) for e in entries][0] == ("card not here yet!", 2)
    assert "nlu_fallback" in entries[0]["predicted"]

    decide(exported, {
        "card not here yet!": {"decision": "relabel", "intent": "card_arrival"},
        "tell me a joke": {"decision": "out_of_scope"},
        "asdf": {"decision": "ignore"},
    })  # fmt: skip
    assert apply(workdir, exported) == 0

    written = (workdir / "nlu" / "reviewed" / "card_arrival.yml").read_text()
    assert written.endswith("  examples: |\n    - card not here yet!\n")
    assert "- tell me a joke" in (workdir / "nlu" / "reviewed" / "out_of_scope.yml").read_text()
    assert reviews.groups() == []
    (relabelled,) = reviews.groups(ReviewStatus.RELABELLED)
    assert relabelled.count == 2
    (ignored,) = reviews.groups(ReviewStatus.IGNORED)
    assert ignored.text == "asdf"
    assert "3 groups decided (4 messages), 2 examples added" in capsys.readouterr().out


def test_an_example_known_under_another_intent_is_refused_and_stays_open(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reviews = inbox(workdir, "i lost my card")
    exported = workdir / "inbox.yml"
    export(workdir, exported)
    decide(exported, {"i lost my card": {"decision": "relabel", "intent": "card_arrival"}})

    assert apply(workdir, exported) == 3

    assert "has it as lost_or_stolen_card" in capsys.readouterr().err
    assert [group.text for group in reviews.groups()] == ["i lost my card"]
    assert not (workdir / "nlu" / "reviewed").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"decision": "maybe"}, "decision 'maybe' is not one of"),
        ({"decision": "relabel", "intent": "no_such_intent"}, "needs an intent of the domain"),
        ({"decision": "relabel"}, "needs an intent of the domain"),
        ({"decision": "accept"}, "did not predict an intent to accept"),
    ],
)
def test_a_bad_decision_is_named_and_nothing_is_applied(
    workdir: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], message: str
) -> None:
    reviews = inbox(workdir, "where is it")
    exported = workdir / "inbox.yml"
    export(workdir, exported)
    decide(exported, {"where is it": change})

    assert apply(workdir, exported) == 3

    err = capsys.readouterr().err
    assert "entry 1" in err and message in err
    assert [group.text for group in reviews.groups()] == ["where is it"]


@pytest.mark.integration
def test_similar_messages_stand_together_with_what_the_nearest_examples_say(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real encoder export (make models), the NLU's own sentence vectors.
    monkeypatch.setenv("HANDOFF_PATHS__MODELS_DIR", str(repo_root() / "models"))
    get_settings.cache_clear()
    (workdir / "nlu" / "more.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: card_arrival\n  examples: |\n'
        "    - where is my new card\n    - my card has not come yet\n"
        "    - when will my card arrive\n    - is my card on its way\n    - card not delivered\n"
    )
    inbox(workdir, "my card still hasn't arrived", "tell me a joke", "card not here yet")
    exported = workdir / "inbox.yml"

    assert export(workdir, exported) == 0

    entries = yaml.safe_load(exported.read_text())["entries"]
    groups = {entry["text"]: entry["similar_group"] for entry in entries}
    assert groups["my card still hasn't arrived"] == groups["card not here yet"]
    assert groups["tell me a joke"] != groups["card not here yet"]
    card = next(entry for entry in entries if entry["text"] == "card not here yet")
    assert card["nearest_examples_say"].startswith("card_arrival (similarity ")
