"""Convert the public Banking77 training set into Rasa NLU data.

The 77 intents keep their Banking77 names exactly. A stratified 20 % of the rows is held out
from training and written as a Rasa test file, so `make nlu-eval` scores the shipped model on
queries it has never seen.
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

HOLDOUT_FRACTION = 0.2
SPLIT_SEED = 42


@dataclass(frozen=True)
class Example:
    text: str
    intent: str


def read_banking77(csv_path: Path) -> list[Example]:
    """Read `text,category` rows; fail loudly on a file that is not Banking77-shaped."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"text", "category"} <= set(reader.fieldnames):
            raise ValueError(f"{csv_path}: expected a header with 'text,category'")
        examples = [Example(_clean(row["text"]), row["category"].strip()) for row in reader]
    return [e for e in examples if e.text and e.intent]


def _clean(text: str) -> str:
    # One line per example in the YAML block; Banking77 has a few rows with stray newlines.
    return " ".join(text.split())


def stratified_split(
    examples: Sequence[Example], fraction: float = HOLDOUT_FRACTION, seed: int = SPLIT_SEED
) -> tuple[list[Example], list[Example]]:
    """Hold out `fraction` of every intent (at least one example each), deterministically."""
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example)
    rng = random.Random(seed)
    train: list[Example] = []
    held_out: list[Example] = []
    for intent in sorted(by_intent):
        rows = sorted(set(by_intent[intent]), key=lambda e: e.text)
        rng.shuffle(rows)
        cut = max(1, round(len(rows) * fraction))
        held_out.extend(rows[:cut])
        train.extend(rows[cut:])
    return train, held_out


def to_rasa_nlu(examples: Iterable[Example], header: str) -> str:
    """Render examples as a Rasa 3 NLU YAML document, intents in sorted order."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example.text)
    lines = [f"# {header}", 'version: "3.1"', "nlu:"]
    for intent in sorted(by_intent):
        lines.append(f"- intent: {_yaml_scalar(intent)}")
        lines.append("  examples: |")
        lines.extend(f"    - {text}" for text in sorted(set(by_intent[intent])))
    return "\n".join(lines) + "\n"


def _yaml_scalar(value: str) -> str:
    # Banking77 has names such as `reverted_card_payment?`; quote anything beyond [a-z0-9_].
    return value if value.replace("_", "").isalnum() else f'"{value}"'


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, required=True, help="Banking77 train.csv")
    parser.add_argument("--train-out", type=Path, required=True)
    parser.add_argument("--heldout-out", type=Path, required=True)
    args = parser.parse_args(argv)
    examples = read_banking77(args.source)
    train, held_out = stratified_split(examples)
    note = "Generated from Banking77 (CC BY 4.0, PolyAI) by training/banking77.py; do not edit."
    for path, rows in ((args.train_out, train), (args.heldout_out, held_out)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_rasa_nlu(rows, note), encoding="utf-8")
    print(f"banking77: {len(train)} training and {len(held_out)} held-out examples")


if __name__ == "__main__":
    main()
