"""The in-domain sentiment corpus: messages customers send to a bank's chat, plus public rows.

Two parts, one API (:func:`corpus_examples`, :func:`corpus_counts`):

* In-domain messages, written for this project, in ``data/sentiment/in_domain/*.tsv``
  (header ``text, polarity, frustration, irony, kind``). Each kind allows only the labels of
  :data:`KIND_LABELS`, so a mislabelled row is refused instead of trained on. The label rules
  are in ``data/sentiment/README.md``.
* Public rows, read at run time from the shared data folder (never copied into the project)
  as ``data/sentiment/public_sources.yml`` says: which file, which rows, which of our labels,
  how many per split (a seeded sample).

The train/dev split of the in-domain rows is a seeded hash of each message's normalised text,
so adding rows never moves an existing row to the other side. Public rows keep the split of
their own release (CFPB sentences are split by complaint, so no narrative is on both sides).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from handoff.settings import get_settings, repo_root
from training.sentiment.data import POLARITY_INDEX, SentimentExample

Split = Literal["train", "dev"]
SPLITS: tuple[Split, ...] = ("train", "dev")

IN_DOMAIN_DIR = Path("data/sentiment/in_domain")
PUBLIC_SOURCES_YML = Path("data/sentiment/public_sources.yml")
IN_DOMAIN_SOURCE = "in_domain"
IN_DOMAIN_COLUMNS = ("text", "polarity", "frustration", "irony", "kind")

# Part of the hash that places a message in train or dev. Changing either value re-deals
# every row, so the dev figures of older models stop being comparable: never change them.
SPLIT_SALT = "customer-sentiment-corpus-v1"
DEV_FRACTION = 0.2


@dataclass(frozen=True)
class KindLabels:
    """The labels a kind of message may carry (the README's rules, enforced)."""

    polarity: frozenset[str]
    frustration: frozenset[int]
    irony: frozenset[int]


def _labels(polarity: str, frustration: str, irony: str = "0") -> KindLabels:
    return KindLabels(
        frozenset(polarity.split("|")),
        frozenset(int(v) for v in frustration.split("|")),
        frozenset(int(v) for v in irony.split("|")),
    )


KIND_LABELS: dict[str, KindLabels] = {
    "frustration_service": _labels("negative", "1"),
    "frustration_assistant": _labels("negative", "1"),
    "sarcasm": _labels("negative", "1", "1"),
    # Hardship and worry are negative; frustration only when the customer blames the bank.
    "distress": _labels("negative", "0|1"),
    "threat_to_leave": _labels("negative", "1"),
    "complaint": _labels("negative", "1"),
    "routine": _labels("neutral", "0"),
    # Hard negatives: negative words or facts that are not frustration with the bank.
    "hard_negative_request": _labels("negative|neutral", "0"),
    "hard_negative_disappointment": _labels("negative", "0"),
    "hard_negative_fact": _labels("negative|neutral", "0"),
    "thanks": _labels("positive", "0"),
}


class CorpusError(ValueError):
    """A corpus file or the public-source configuration is malformed; names file and line."""


# --------------------------------------------------------------------------- split


def normalise(text: str) -> str:
    """The text a duplicate check and the split compare: case-folded, whitespace collapsed."""
    return " ".join(text.casefold().split())


def split_of(text: str) -> Split:
    """``"dev"`` for about :data:`DEV_FRACTION` of messages, by a seeded hash of the text.

    Each row's side depends on its own text only, so rows added later never move others, and
    every kind gets about the same share in dev (checked by the tests on the real corpus).
    """
    digest = hashlib.sha256(f"{SPLIT_SALT}\x00{normalise(text)}".encode()).digest()
    return "dev" if int.from_bytes(digest[:8], "big") / 2**64 < DEV_FRACTION else "train"


# --------------------------------------------------------------------------- in-domain


def _binary(value: str, column: str, where: str) -> int:
    if value not in ("0", "1"):
        raise CorpusError(f"{where}: {column} must be 0 or 1, got {value!r}")
    return int(value)


def parse_in_domain_row(fields: Sequence[str], where: str) -> SentimentExample:
    """One TSV row as an example, refused (naming ``where``) unless its labels fit its kind."""
    if len(fields) != len(IN_DOMAIN_COLUMNS):
        raise CorpusError(
            f"{where}: expected {len(IN_DOMAIN_COLUMNS)} tab-separated columns "
            f"({', '.join(IN_DOMAIN_COLUMNS)}), got {len(fields)}"
        )
    text, polarity, frustration_value, irony_value, kind = (f.strip() for f in fields)
    if not text:
        raise CorpusError(f"{where}: empty text")
    if kind not in KIND_LABELS:
        raise CorpusError(f"{where}: unknown kind {kind!r}; kinds are {', '.join(KIND_LABELS)}")
    if polarity not in POLARITY_INDEX:
        raise CorpusError(f"{where}: unknown polarity {polarity!r}")
    frustration = _binary(frustration_value, "frustration", where)
    irony = _binary(irony_value, "irony", where)
    allowed = KIND_LABELS[kind]
    if (
        polarity not in allowed.polarity
        or frustration not in allowed.frustration
        or irony not in allowed.irony
    ):
        raise CorpusError(
            f"{where}: labels {polarity}/{frustration}/{irony} do not fit kind {kind!r} "
            f"(polarity {sorted(allowed.polarity)}, frustration {sorted(allowed.frustration)}, "
            f"irony {sorted(allowed.irony)})"
        )
    return SentimentExample(
        text=text,
        polarity=POLARITY_INDEX[polarity],
        frustration=frustration,
        irony=irony,
        source=IN_DOMAIN_SOURCE,
        kind=kind,
    )


def _read_in_domain_file(path: Path) -> list[tuple[str, SentimentExample]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != list(IN_DOMAIN_COLUMNS):
        raise CorpusError(f"{path}:1: the header must be {chr(9).join(IN_DOMAIN_COLUMNS)!r}")
    rows: list[tuple[str, SentimentExample]] = []
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            where = f"{path}:{number}"
            rows.append((where, parse_in_domain_row(line.split("\t"), where)))
    return rows


def read_in_domain_file(path: Path) -> list[SentimentExample]:
    """The rows of one in-domain TSV; its first line must be the header."""
    return [example for _, example in _read_in_domain_file(path)]


def read_in_domain(folder: Path) -> list[SentimentExample]:
    """Every in-domain message of ``folder/*.tsv``; a message written twice is refused."""
    files = sorted(folder.glob("*.tsv"))
    if not files:
        raise CorpusError(f"{folder}: no .tsv files")
    seen: dict[str, str] = {}
    examples: list[SentimentExample] = []
    for path in files:
        for where, example in _read_in_domain_file(path):
            key = normalise(example.text)
            if key in seen:
                raise CorpusError(f"{where}: duplicate of {seen[key]}: {example.text!r}")
            seen[key] = where
            examples.append(example)
    return examples


# --------------------------------------------------------------------------- public sources


@dataclass(frozen=True)
class MappingRule:
    """Rows whose columns match ``where`` (and not ``where_not``) get these labels."""

    where: Mapping[str, frozenset[str]]
    where_not: Mapping[str, frozenset[str]]
    text_matches: re.Pattern[str] | None
    polarity: int | None
    frustration: int | None
    irony: int | None
    kind: str

    def matches(self, row: Mapping[str, frozenset[str]], text: str) -> bool:
        return (
            all(row.get(column, frozenset()) & values for column, values in self.where.items())
            and not any(
                row.get(column, frozenset()) & values for column, values in self.where_not.items()
            )
            and (self.text_matches is None or self.text_matches.search(text) is not None)
        )


@dataclass(frozen=True)
class PublicSource:
    """One public file (or one per split), how its rows map to our labels, how many to take."""

    name: str
    files: Mapping[Split, Path]  # a split without a file has no rows of this source
    columns: Mapping[Split, tuple[str, ...] | None]  # None: the file has a header row
    split_column: str | None  # one file holding both splits
    text_column: str
    id_columns: Mapping[str, Path]  # columns of comma-separated ids, mapped to names
    rules: tuple[MappingRule, ...]
    sample: Mapping[Split, int]  # -1 = every mapped row

    def columns_used(self) -> set[str]:
        """Every column the rules and the text read (a misspelt one must not match nothing)."""
        used = {self.text_column, *self.id_columns}
        for rule in self.rules:
            used |= set(rule.where) | set(rule.where_not)
        return used | ({self.split_column} if self.split_column else set())


# The configuration's keys are the fields they fill.
_SOURCE_KEYS = {f.name for f in dataclasses.fields(PublicSource)} - {"name"}
_RULE_KEYS = {f.name for f in dataclasses.fields(MappingRule)}


def _check_keys(entry: Any, allowed: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise CorpusError(f"{where}: expected a mapping, got {type(entry).__name__}")
    unknown = set(entry) - allowed
    if unknown:
        raise CorpusError(f"{where}: unknown key(s) {sorted(unknown)}; allowed {sorted(allowed)}")
    return entry


def _conditions(value: Any, where: str) -> dict[str, frozenset[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CorpusError(f"{where}: expected column: [values]")
    return {
        str(column): frozenset(str(v) for v in (vals if isinstance(vals, list) else [vals]))
        for column, vals in value.items()
    }


def _parse_rule(entry: Any, where: str) -> MappingRule:
    entry = _check_keys(entry, _RULE_KEYS, where)
    polarity = entry.get("polarity")
    if polarity is not None and polarity not in POLARITY_INDEX:
        raise CorpusError(f"{where}: unknown polarity {polarity!r}")
    label: dict[str, int | None] = {}
    for head in ("frustration", "irony"):
        value = entry.get(head)
        if value not in (None, 0, 1):
            raise CorpusError(f"{where}: {head} must be 0, 1 or null, got {value!r}")
        label[head] = value
    if not entry.get("kind"):
        raise CorpusError(f"{where}: every rule names the kind its rows become")
    pattern = entry.get("text_matches")
    return MappingRule(
        where=_conditions(entry.get("where"), f"{where}.where"),
        where_not=_conditions(entry.get("where_not"), f"{where}.where_not"),
        text_matches=re.compile(pattern, re.IGNORECASE) if pattern else None,
        polarity=None if polarity is None else POLARITY_INDEX[polarity],
        frustration=label["frustration"],
        irony=label["irony"],
        kind=str(entry["kind"]),
    )


def _parse_source(name: str, entry: Any, where: str) -> PublicSource:
    entry = _check_keys(entry, _SOURCE_KEYS, where)
    files = entry.get("files")
    if isinstance(files, str):
        files = dict.fromkeys(SPLITS, files)
    if not isinstance(files, Mapping) or not files or not set(files) <= set(SPLITS):
        raise CorpusError(f"{where}.files: one path, or a path for train and/or dev")
    if len(set(files.values())) < len(files) and not entry.get("split_column"):
        # Without a split column the same rows would land on both sides.
        raise CorpusError(f"{where}: one file for both splits needs a split_column")
    sample = entry.get("sample")
    if (
        not isinstance(sample, Mapping)
        or set(sample) != set(files)
        or not all(isinstance(n, int) for n in sample.values())
    ):
        raise CorpusError(
            f"{where}.sample: a row count (-1 = all) for each split with a file: {sorted(files)}"
        )
    rules = entry.get("rules")
    if not isinstance(rules, list) or not rules:
        raise CorpusError(f"{where}.rules: a list of at least one rule")
    columns = entry.get("columns")
    if not isinstance(columns, Mapping):
        columns = dict.fromkeys(SPLITS, columns)
    return PublicSource(
        name=name,
        files={split: Path(path) for split, path in files.items()},
        columns={split: tuple(columns[split]) if columns.get(split) else None for split in SPLITS},
        split_column=entry.get("split_column"),
        text_column=entry.get("text_column", "text"),
        id_columns={k: Path(v) for k, v in (entry.get("id_columns") or {}).items()},
        rules=tuple(_parse_rule(r, f"{where}.rules[{i}]") for i, r in enumerate(rules)),
        sample=dict(sample),
    )


@dataclass(frozen=True)
class PublicSources:
    seed: int
    sources: tuple[PublicSource, ...]


def load_public_sources(path: Path) -> PublicSources:
    """The public-source configuration, refused with the file and key on any mistake."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw = _check_keys(raw, {"seed", "sources"}, str(path))
    if not isinstance(raw.get("seed"), int) or not isinstance(raw.get("sources"), Mapping):
        raise CorpusError(f"{path}: needs an integer seed and a mapping of sources")
    return PublicSources(
        seed=raw["seed"],
        sources=tuple(
            _parse_source(str(name), entry, f"{path}: sources.{name}")
            for name, entry in raw["sources"].items()
        ),
    )


def _read_rows(path: Path, columns: tuple[str, ...] | None) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line number, row)`` of a TSV without quoting, by header or by ``columns``."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        names = list(columns) if columns else next(reader, [])
        for number, fields in enumerate(reader, start=1 if columns else 2):
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(names):
                raise CorpusError(
                    f"{path}:{number}: expected {len(names)} columns ({', '.join(names)}), "
                    f"got {len(fields)}"
                )
            yield number, dict(zip(names, fields, strict=True))


def _id_names(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def mapped_rows(source: PublicSource, split: Split, data_dir: Path) -> list[SentimentExample]:
    """Every row of ``source`` in ``split`` that a rule maps (first matching rule wins)."""
    if split not in source.files:
        return []
    path = data_dir / source.files[split]
    id_names = {column: _id_names(data_dir / p) for column, p in source.id_columns.items()}
    examples: list[SentimentExample] = []
    for number, row in _read_rows(path, source.columns[split]):
        missing = source.columns_used() - set(row)
        if missing:
            raise CorpusError(f"{path}:{number}: no column(s) {sorted(missing)} for {source.name}")
        if source.split_column and row.get(source.split_column) != split:
            continue
        values = {column: frozenset([value.strip()]) for column, value in row.items()}
        for column, names in id_names.items():
            try:
                ids = [int(i) for i in row[column].split(",") if i.strip()]
                values[column] = frozenset(names[i] for i in ids)
            except (ValueError, IndexError) as exc:
                raise CorpusError(f"{path}:{number}: bad ids {row[column]!r} in {column}") from exc
        text = " ".join(row[source.text_column].split())
        rule = next((r for r in source.rules if r.matches(values, text)), None)
        if rule is None or not text:
            continue
        examples.append(
            SentimentExample(
                text=text,
                polarity=rule.polarity,
                frustration=rule.frustration,
                irony=rule.irony,
                source=source.name,
                kind=rule.kind,
            )
        )
    return examples


def sample_source(
    source: PublicSource, split: Split, data_dir: Path, seed: int
) -> list[SentimentExample]:
    """The seeded sample of ``source``'s mapped rows (all of them when fewer are mapped)."""
    wanted = source.sample.get(split, 0)
    if wanted == 0:
        return []
    rows = mapped_rows(source, split, data_dir)
    if wanted < 0 or wanted >= len(rows):
        return rows
    # A string seed is hashed by random itself: the draw is the same on every run and platform.
    rng = random.Random(f"{seed}:{source.name}:{split}")
    return [rows[i] for i in sorted(rng.sample(range(len(rows)), wanted))]


# --------------------------------------------------------------------------- API


def corpus_examples(
    split: Split, data_dir: Path, root: Path | None = None
) -> list[SentimentExample]:
    """The corpus's ``split``: in-domain messages of that side, then each public sample.

    ``data_dir`` is the shared data folder (``../shared/data``); ``root`` the checkout holding
    ``data/sentiment`` (default: this one).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = repo_root() if root is None else root
    examples = [e for e in read_in_domain(root / IN_DOMAIN_DIR) if split_of(e.text) == split]
    config = load_public_sources(root / PUBLIC_SOURCES_YML)
    for source in config.sources:
        examples.extend(sample_source(source, split, data_dir, config.seed))
    return examples


def count_examples(examples: Iterable[SentimentExample]) -> dict[str, dict[str, int]]:
    """``{source: {kind: count}}``, sorted, for reports."""
    counts = Counter((e.source, e.kind) for e in examples)
    out: dict[str, dict[str, int]] = {}
    for (source, kind), n in sorted(counts.items()):
        out.setdefault(source, {})[kind] = n
    return out


def corpus_counts(data_dir: Path, root: Path | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """``{split: {source: {kind: count}}}`` of the whole corpus (for the evaluation report)."""
    return {split: count_examples(corpus_examples(split, data_dir, root)) for split in SPLITS}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.sentiment.corpus [DATA_DIR]``: the counts as JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m training.sentiment.corpus",
        description="Counts of the in-domain sentiment corpus per split, source and kind (JSON).",
    )
    parser.add_argument(
        "data_dir", nargs="?", type=Path, default=None,
        help="the shared data folder (default: the configured one)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    data_dir = args.data_dir or get_settings().paths.data_dir
    sys.stdout.write(json.dumps(corpus_counts(data_dir), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
