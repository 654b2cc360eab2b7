"""Score a trained sentiment model on the development splits, in float32, bfloat16 and int8.

Metrics (the scoring math is in pure numpy functions below so that it can be unit-tested):

* TweetEval sentiment val: macro-averaged recall over negative/neutral/positive (the
  benchmark's official metric), accuracy, polarity ECE.
* GoEmotions dev, negative-emotion-vs-rest F1: gold positive = the comment carries any emotion
  of ``data.GOEMOTIONS_NEGATIVE`` (mixed positive+negative comments included); predicted
  positive = argmax polarity is ``negative``. Neutral and positive comments are the rest.
* GoEmotions dev frustration F1 at threshold 0.5, and with a threshold chosen on the first half
  of dev (by F1) then scored on the second half.
* TweetEval irony val: F1 of the ironic class (the official metric) at 0.5, and half-tuned as
  above. TweetEval emotion val: neg/pos accuracy and anger-as-frustration F1.
* The in-domain dev split (``corpus.corpus_examples``): frustration F1 at 0.5 and polarity on
  all of it; the frustration calibration error (``calibration.binary_ece``) on its report part
  only, the other part having been used to fit the temperatures; counts per source and kind.

Probabilities are the calibrated ones: logits divided by the temperatures in the model config,
as the runtime does.

    python -m training.sentiment.evaluate --model models/sentiment
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from handoff.sentiment.classifier import (
    Precision,
    calibrated_probabilities,
    convert_model,
)
from handoff.sentiment.model import AUXILIARY_HEADS, CustomerSentimentModel
from handoff.settings import get_settings, repo_root
from training.sentiment import calibration, corpus, data

logger = logging.getLogger(__name__)

# metric -> (direction, target): ">=" the higher the better, "<=" the lower the better
TARGETS: dict[str, tuple[str, float]] = {
    "tweeteval_sentiment.macro_recall": (">=", 0.72),
    "goemotions.negative_vs_rest_f1": (">=", 0.78),
    "in_domain.frustration_f1": (">=", 0.90),
    "in_domain.frustration_ece_report_part": ("<=", 0.05),
}
MAIN_METRICS = (
    "tweeteval_sentiment.macro_recall",
    "goemotions.negative_vs_rest_f1",
    "goemotions.frustration_f1",
    "tweeteval_irony.irony_f1",
    "in_domain.polarity_accuracy",
    "in_domain.frustration_f1",
)


# --------------------------------------------------------------------------- scoring math


def macro_recall(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Mean over classes of the recall; a class absent from ``y_true`` is left out."""
    recalls = [
        float(np.mean(y_pred[y_true == c] == c)) for c in range(n_classes) if np.any(y_true == c)
    ]
    return float(np.mean(recalls)) if recalls else 0.0


def binary_prf(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 of the positive class (0 where undefined)."""
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp = float(np.sum(y_true & y_pred))
    precision = tp / float(np.sum(y_pred)) if np.any(y_pred) else 0.0
    recall = tp / float(np.sum(y_true)) if np.any(y_true) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def best_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold (``score >= t``) that maximises F1; ties go to the lowest."""
    candidates = np.unique(np.round(scores, 4))
    best_t, best_f1 = 0.5, -1.0
    for t in candidates:
        f1 = binary_prf(y_true, scores >= t)[2]
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    return best_t


def half_tuned_f1(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Threshold chosen on the first half, ``(threshold, F1 on the second half)``."""
    half = len(y_true) // 2
    threshold = best_threshold(y_true[:half], scores[:half])
    return threshold, binary_prf(y_true[half:], scores[half:] >= threshold)[2]


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-class confidence over equal-width bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (confidence > low) & (confidence <= high)
        if np.any(in_bin):
            ece += np.mean(in_bin) * abs(np.mean(correct[in_bin]) - np.mean(confidence[in_bin]))
    return float(ece)


# --------------------------------------------------------------------------- inference


@dataclass(frozen=True)
class Predictions:
    """``polarity``: (n, 3) probabilities; ``auxiliary``: (n, 2) frustration/irony probabilities."""

    polarity: np.ndarray
    auxiliary: np.ndarray


@dataclass(frozen=True)
class Logits:
    """Raw head outputs: ``polarity`` (n, 3), ``auxiliary`` (n, 2) frustration/irony."""

    polarity: np.ndarray
    auxiliary: np.ndarray


def calibrated(logits: Logits, temperatures: dict[str, float]) -> Predictions:
    """Probabilities after dividing each head's logits by its temperature (missing: 1)."""
    return Predictions(
        *calibrated_probabilities(logits.polarity, logits.auxiliary, AUXILIARY_HEADS, temperatures)
    )


def predict(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    batch_size: int = 128,
    max_length: int = 64,
) -> Predictions:
    """Calibrated probabilities, with the temperatures of the model's config."""
    logits = predict_logits(model, tokenizer, texts, batch_size, max_length)
    return calibrated(logits, dict(getattr(model.config, "temperatures", None) or {}))


def predict_logits(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    batch_size: int = 128,
    max_length: int = 64,
) -> Logits:
    """Batched inference; texts are run sorted by length (less padding), results in input order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    polarity = np.zeros((len(texts), 3), dtype=np.float64)
    auxiliary = np.zeros((len(texts), 2), dtype=np.float64)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True,
                max_length=max_length, return_tensors="pt",
            )  # fmt: skip
            out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
            polarity[idx] = out.logits.double().numpy()
            auxiliary[idx] = out.auxiliary_logits.double().numpy()
    return Logits(polarity, auxiliary)


# --------------------------------------------------------------------------- datasets


def _r(value: float) -> float:
    return round(float(value), 4)


def score_tweeteval_sentiment(pred: Predictions, gold: np.ndarray) -> dict[str, float]:
    """Macro recall (official), accuracy and ECE on TweetEval sentiment."""
    y_pred = pred.polarity.argmax(axis=1)
    return {
        "n": int(len(gold)),
        "macro_recall": _r(macro_recall(gold, y_pred, 3)),
        "accuracy": _r(np.mean(y_pred == gold)),
        "polarity_ece": _r(expected_calibration_error(pred.polarity, gold)),
    }


def score_goemotions(pred: Predictions, rows: Sequence[data.GoEmotionsRow]) -> dict[str, float]:
    """Negative-emotion-vs-rest F1, frustration F1 (0.5 and half-tuned), polarity accuracy."""
    negative_gold = np.array([data.has_negative_emotion(r.emotions) for r in rows])
    negative_pred = pred.polarity.argmax(axis=1) == data.NEGATIVE
    p, r, f1 = binary_prf(negative_gold, negative_pred)
    frus_gold = np.array([data.is_frustrated(r.emotions) for r in rows])
    frus_scores = pred.auxiliary[:, 0]
    fp, fr, ff1 = binary_prf(frus_gold, frus_scores >= 0.5)
    threshold, tuned = half_tuned_f1(frus_gold, frus_scores)
    polarity_gold = [data.goemotions_polarity(r.emotions) for r in rows]
    labelled = np.array([g is not None for g in polarity_gold])
    gold = np.array([-1 if g is None else g for g in polarity_gold])
    y_pred = pred.polarity.argmax(axis=1)
    return {
        "n": len(rows),
        "negative_vs_rest_precision": _r(p),
        "negative_vs_rest_recall": _r(r),
        "negative_vs_rest_f1": _r(f1),
        "frustration_precision": _r(fp),
        "frustration_recall": _r(fr),
        "frustration_f1": _r(ff1),
        "frustration_threshold_first_half": _r(threshold),
        "frustration_f1_second_half_tuned": _r(tuned),
        "frustration_brier": _r(np.mean((frus_scores - frus_gold) ** 2)),
        "frustration_ece": _r(calibration.binary_ece(frus_scores, frus_gold)),
        "polarity_accuracy": _r(np.mean(y_pred[labelled] == gold[labelled])),
        "polarity_macro_recall": _r(macro_recall(gold[labelled], y_pred[labelled], 3)),
    }


def score_irony(pred: Predictions, gold: np.ndarray) -> dict[str, float]:
    """F1 of the ironic class at 0.5 and with a half-tuned threshold."""
    scores = pred.auxiliary[:, 1]
    p, r, f1 = binary_prf(gold, scores >= 0.5)
    threshold, tuned = half_tuned_f1(gold, scores)
    return {
        "n": int(len(gold)),
        "irony_precision": _r(p),
        "irony_recall": _r(r),
        "irony_f1": _r(f1),
        "irony_threshold_first_half": _r(threshold),
        "irony_f1_second_half_tuned": _r(tuned),
    }


def score_emotion(pred: Predictions, examples: Sequence[data.SentimentExample]) -> dict[str, float]:
    """Neg/pos accuracy (negative vs positive logit only) and anger-as-frustration F1."""
    gold = np.array([ex.polarity for ex in examples])
    neg_or_pos = np.where(pred.polarity[:, data.NEGATIVE] >= pred.polarity[:, data.POSITIVE],
                          data.NEGATIVE, data.POSITIVE)  # fmt: skip
    frus_gold = np.array([ex.frustration for ex in examples])
    return {
        "n": len(examples),
        "neg_pos_accuracy": _r(np.mean(neg_or_pos == gold)),
        "anger_frustration_f1": _r(binary_prf(frus_gold, pred.auxiliary[:, 0] >= 0.5)[2]),
    }


def _labelled(values: Sequence[int | None]) -> tuple[np.ndarray, np.ndarray]:
    """(mask of labelled rows, their labels) of an optional-label column."""
    mask = np.array([v is not None for v in values], dtype=bool)
    return mask, np.array([v for v in values if v is not None], dtype=int)


def score_in_domain(
    pred: Predictions,
    examples: Sequence[data.SentimentExample],
    report_part: Sequence[int],
) -> dict[str, float]:
    """Polarity and frustration (F1 at 0.5) on the whole dev split, calibration on its report
    part (``report_part``: row indices the temperatures were not fitted on), irony F1 where
    labelled."""
    pol_mask, pol_gold = _labelled([ex.polarity for ex in examples])
    y_pred = pred.polarity.argmax(axis=1)[pol_mask]
    frus_mask, frus_gold = _labelled([ex.frustration for ex in examples])
    frus_scores = pred.auxiliary[frus_mask, 0]
    irony_mask, irony_gold = _labelled([ex.irony for ex in examples])
    report = np.zeros(len(examples), dtype=bool)
    report[list(report_part)] = True
    report_frus = report & frus_mask
    p, r, f1 = binary_prf(frus_gold, frus_scores >= 0.5)
    return {
        "n": len(examples),
        "polarity_accuracy": _r(np.mean(y_pred == pol_gold)) if len(pol_gold) else 0.0,
        "polarity_macro_recall": _r(macro_recall(pol_gold, y_pred, 3)),
        "frustration_n": int(frus_mask.sum()),
        "frustration_precision": _r(p),
        "frustration_recall": _r(r),
        "frustration_f1": _r(f1),
        "frustration_ece_report_part": _r(
            calibration.binary_ece(
                pred.auxiliary[report_frus, 0],
                [ex.frustration for ex, keep in zip(examples, report_frus, strict=True) if keep],
            )
        ),
        "frustration_report_part_n": int(report_frus.sum()),
        "irony_f1": _r(binary_prf(irony_gold, pred.auxiliary[irony_mask, 1] >= 0.5)[2]),
        "irony_positives": int(irony_gold.sum()),
    }


def in_domain_report_part(examples: Sequence[data.SentimentExample]) -> list[int]:
    """Indices of the in-domain dev rows that calibration did not see."""
    _, report = calibration.calibration_halves(list(range(len(examples))), calibration.SPLIT_SEED)
    return report


def evaluate_model(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    data_dir: Path,
    root: Path,
    batch_size: int = 128,
    max_length: int = 64,
) -> dict[str, dict[str, float]]:
    """Every dev metric of one model, grouped by dataset (``root``: the project checkout)."""
    sentiment = data.load_tweeteval_sentiment(data_dir, "val")
    goemotions = data.load_goemotions(data_dir, "dev")
    irony = data.load_tweeteval_irony(data_dir, "val")
    emotion = data.load_tweeteval_emotion(data_dir, "val")
    in_domain = corpus.corpus_examples("dev", data_dir, root)

    def run(texts: Sequence[str]) -> Predictions:
        return predict(model, tokenizer, texts, batch_size, max_length)

    started = time.monotonic()
    results = {
        "tweeteval_sentiment": score_tweeteval_sentiment(
            run([e.text for e in sentiment]), np.array([e.polarity for e in sentiment])
        ),
        "goemotions": score_goemotions(run([r.text for r in goemotions]), goemotions),
        "tweeteval_irony": score_irony(
            run([e.text for e in irony]), np.array([e.irony for e in irony])
        ),
        "tweeteval_emotion": score_emotion(run([e.text for e in emotion]), emotion),
        "in_domain": score_in_domain(
            run([e.text for e in in_domain]), in_domain, in_domain_report_part(in_domain)
        ),
    }
    logger.info("evaluated in %.0f s", time.monotonic() - started)
    return results


def flat(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """``{"dataset.metric": value}`` for tables and comparisons."""
    return {f"{ds}.{name}": v for ds, group in metrics.items() for name, v in group.items()}


REFERENCE = Precision.FLOAT32
"""The precision every other one is compared with."""


def format_table(metrics: dict[Precision, dict[str, float]]) -> str:
    """A plain-text table: metric, then a column per precision and its difference in points."""
    reference = metrics[REFERENCE]
    others = [p for p in metrics if p is not REFERENCE]
    header = f"{'metric':52s} {REFERENCE.value:>9s}"
    header += "".join(f" {p.value:>9s} {'diff pt':>8s}" for p in others)
    lines = [header]
    for key, value in reference.items():
        line = f"{key:52s} {value:9.4f}"
        if not key.endswith(".n"):
            for precision in others:
                other = metrics[precision].get(key)
                if other is not None:
                    line += f" {other:9.4f} {100 * (other - value):+8.2f}"
        lines.append(line)
    return "\n".join(lines)


def target_verdicts(reference: dict[str, float]) -> dict[str, dict[str, object]]:
    """Each target with the float32 figure and whether it is met."""
    verdicts: dict[str, dict[str, object]] = {}
    for key, (direction, target) in TARGETS.items():
        value = reference[key]
        met = value >= target if direction == ">=" else value <= target
        verdicts[key] = {"target": f"{direction} {target}", "float32": value, "met": met}
    return verdicts


def drops_in_points(reference: dict[str, float], other: dict[str, float]) -> dict[str, float]:
    """How many points ``other`` loses against ``reference`` on each main metric."""
    return {key: round(100 * (reference[key] - other[key]), 2) for key in MAIN_METRICS}


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate ``--model`` in float32, bfloat16 and int8 and write the summary."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description="Evaluate the customer-sentiment model.")
    parser.add_argument("--model", type=Path, default=repo_root() / "models" / "sentiment")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--root", type=Path, default=repo_root(), help="project checkout")
    parser.add_argument("--report-dir", type=Path, default=repo_root() / "reports/sentiment-eval")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--precisions", default="float32,bfloat16,int8",
        help="comma-separated; float32 is always evaluated, as the reference",
    )  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data_dir = args.data_dir or get_settings().paths.data_dir
    precisions = [REFERENCE] + [
        p for p in dict.fromkeys(Precision(v.strip()) for v in args.precisions.split(","))
        if p not in (REFERENCE, Precision.AUTO)
    ]  # fmt: skip

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    metrics: dict[Precision, dict[str, dict[str, float]]] = {}
    seconds: dict[str, float] = {}
    for precision in precisions:
        # A fresh copy each time: converting to bfloat16 or int8 changes the model in place.
        model = convert_model(CustomerSentimentModel.from_pretrained(args.model), precision)
        started = time.monotonic()
        metrics[precision] = evaluate_model(
            model, tokenizer, data_dir, args.root, args.batch_size, args.max_length
        )
        seconds[precision.value] = round(time.monotonic() - started, 1)

    flats = {precision: flat(m) for precision, m in metrics.items()}
    reference = flats[REFERENCE]
    drops = {p.value: drops_in_points(reference, f) for p, f in flats.items() if p is not REFERENCE}
    summary: dict[str, object] = {
        "model": str(args.model),
        "metrics": {p.value: m for p, m in metrics.items()},
        "eval_seconds": seconds,
        "targets": target_verdicts(reference),
        "in_domain_dev_counts": corpus.count_examples(
            corpus.corpus_examples("dev", data_dir, args.root)
        ),
        "temperatures": dict(model.config.temperatures),
        "drop_points_vs_float32": drops,
        "within_1_point": {p: all(d < 1.0 for d in d_.values()) for p, d_ in drops.items()},
    }
    args.report_dir.mkdir(parents=True, exist_ok=True)
    (args.report_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(format_table(flats))
    print(json.dumps(summary["targets"], indent=2))
    print("in-domain dev split:", json.dumps(summary["in_domain_dev_counts"]))
    print("temperatures:", json.dumps(summary["temperatures"]))
    for precision, ok in summary["within_1_point"].items():  # type: ignore[union-attr]
        print(f"{precision} loses < 1 point on every main metric: {ok}")
    print(f"wrote {args.report_dir / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
