"""Banking77 conversion: names kept exactly, a deterministic stratified hold-out, valid YAML."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from training.banking77 import Example, read_banking77, stratified_split, to_rasa_nlu


def examples(per_intent: dict[str, int]) -> list[Example]:
    return [
        Example(f"{intent} question {i}", intent)
        for intent, n in per_intent.items()
        for i in range(n)
    ]


def test_split_holds_out_a_fifth_of_every_intent_and_never_overlaps() -> None:
    rows = examples({"card_arrival": 50, "reverted_card_payment?": 10, "Refund_not_showing_up": 3})
    train, held_out = stratified_split(rows)
    held = Counter(e.intent for e in held_out)
    assert held == {"card_arrival": 10, "reverted_card_payment?": 2, "Refund_not_showing_up": 1}
    assert not set(train) & set(held_out)
    assert len(train) + len(held_out) == len(rows)


def test_split_is_deterministic_and_independent_of_row_order() -> None:
    rows = examples({"a": 30, "b": 30})
    assert stratified_split(rows) == stratified_split(list(reversed(rows)))


def test_rasa_yaml_keeps_benchmark_names_exactly() -> None:
    rows = [
        Example("where is my refund", "Refund_not_showing_up"),
        Example("was my payment reverted", "reverted_card_payment?"),
    ]
    document = yaml.safe_load(to_rasa_nlu(rows, "test"))
    assert [block["intent"] for block in document["nlu"]] == [
        "Refund_not_showing_up",
        "reverted_card_payment?",
    ]
    assert "- where is my refund" in document["nlu"][0]["examples"]


def test_reader_refuses_a_file_that_is_not_banking77(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("sentence,label\nhello,greet\n")
    with pytest.raises(ValueError, match="text,category"):
        read_banking77(path)


def test_reader_flattens_multiline_text(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text('text,category\n"my card\nis late",card_arrival\n')
    assert read_banking77(path) == [Example("my card is late", "card_arrival")]
