"""Reviewed examples into NLU training data: once each, never under two intents, sorted."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from handoff.settings import repo_root
from handoff.trainer.nlu_data import (
    KnownExample,
    ReviewedExample,
    known_examples,
    plan_update,
    read_reviewed,
    render_intent_file,
    write_update,
)

NLU_FILE = """version: "3.1"
nlu:
- intent: card_arrival
  examples: |
    - where is my card
    - has my [4242](card_digits) card been sent
- synonym: credit
  examples: |
    - cc
- intent: lost_or_stolen_card
  examples: |
    - I lost my card
"""


@pytest.fixture
def nlu_dir(tmp_path: Path) -> Path:
    (tmp_path / "cards.yml").write_text(NLU_FILE)
    return tmp_path


def test_the_training_data_is_read_by_occurrence_key(nlu_dir: Path) -> None:
    known = known_examples(nlu_dir)

    assert known["where is my card"] == KnownExample("card_arrival", "cards.yml")
    # An entity annotation is read as its text; a synonym is not an example.
    assert known["has my 4242 card been sent"].intent == "card_arrival"
    assert "cc" not in known
    assert len(known) == 3


def test_new_examples_are_added_sorted_and_known_ones_are_skipped(nlu_dir: Path) -> None:
    examples = [
        ReviewedExample("card_arrival", "my card still hasn't come"),
        ReviewedExample("card_arrival", "Where is my card?"),  # near-identical to one known
        ReviewedExample("card_arrival", "card not here yet"),
        ReviewedExample("card_arrival", "My card still hasnt come!"),  # twice in one review
    ]

    update = plan_update(read_reviewed(nlu_dir), known_examples(nlu_dir), examples)

    assert [e.text for e in update.added] == ["my card still hasn't come", "card not here yet"]
    assert [e.text for e in update.already_known] == [
        "Where is my card?",
        "My card still hasnt come!",
    ]
    assert update.conflicts == ()
    assert update.files == {
        "card_arrival": render_intent_file(
            "card_arrival", ["card not here yet", "my card still hasn't come"]
        )
    }


def test_an_example_known_under_another_intent_is_a_conflict(nlu_dir: Path) -> None:
    example = ReviewedExample("card_arrival", "i lost my card")

    update = plan_update({}, known_examples(nlu_dir), [example])

    assert update.files == {} and update.added == ()
    (conflict,) = update.conflicts
    assert conflict.example == example
    assert conflict.existing == KnownExample("lost_or_stolen_card", "cards.yml")


def test_a_second_review_keeps_the_first_and_the_order(nlu_dir: Path) -> None:
    first = plan_update({}, known_examples(nlu_dir), [ReviewedExample("top_up", "zz top up")])
    write_update(first, nlu_dir)
    second = plan_update(
        read_reviewed(nlu_dir),
        known_examples(nlu_dir),
        [ReviewedExample("top_up", "add money please"), ReviewedExample("top_up", "ZZ top up")],
    )
    write_update(second, nlu_dir)

    text = (nlu_dir / "reviewed" / "top_up.yml").read_text()
    assert text.endswith("  examples: |\n    - add money please\n    - zz top up\n")
    assert [e.text for e in second.already_known] == ["ZZ top up"]


@pytest.mark.parametrize(
    "example",
    [
        ReviewedExample("card arrival", "where is it"),
        ReviewedExample("card_arrival", "   "),
        ReviewedExample("card_arrival", "two\nlines"),
    ],
)
def test_an_example_rasa_would_not_take_is_refused(example: ReviewedExample) -> None:
    with pytest.raises(ValueError):
        plan_update({}, {}, [example])


def test_a_file_that_is_not_training_data_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text("- just a list\n")

    with pytest.raises(ValueError, match="broken.yml"):
        known_examples(tmp_path)


@pytest.mark.integration
def test_rasa_reads_a_reviewed_file_as_written(tmp_path: Path) -> None:
    texts = ["my card [card number] was declined", "card: still not here", "it's #2 - why?"]
    path = tmp_path / "card_arrival.yml"
    path.write_text(render_intent_file("card_arrival", texts))
    script = (
        "import json, sys\n"
        "from rasa.shared.nlu.training_data.loading import load_data\n"
        "data = load_data(sys.argv[1])\n"
        "print(json.dumps(sorted([m.get('text'), m.get('intent')] for m in data.intent_examples)))"
    )
    python = repo_root() / ".venv-rasa" / "bin" / "python"

    out = subprocess.run(
        [str(python), "-c", script, str(path)], capture_output=True, text=True, check=True
    ).stdout

    assert json.loads(out.strip().splitlines()[-1]) == sorted(
        [text, "card_arrival"] for text in texts
    )
