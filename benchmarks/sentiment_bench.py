"""Benchmark of the sentiment classifier: one-message latency and micro-batched throughput.

Run ``python -m benchmarks.sentiment_bench --model models/sentiment`` (``make bench-sentiment``).

Measured in one run, on one model:

* per precision (float32, bfloat16, int8): p50 and p99 of ``SentimentClassifier.score([text])``
  for one message, after a warm-up, over a few hundred realistic messages of varied length;
  label agreement with float32;
* throughput, per precision: messages per second with 64 concurrent asyncio callers scoring
  through the :class:`MicroBatcher`, against a naive baseline, transformers'
  text-classification pipeline on the same float32 model called once per message, the callers
  served one by one.

The targets are judged on the precision the service runs (``HANDOFF_SENTIMENT__PRECISION``,
``auto`` resolved for this CPU).

Throughput rounds are repeated and the medians reported. The table goes to stdout and the
figures to ``reports/bench-sentiment/summary.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers

from handoff.sentiment.batcher import MicroBatcher
from handoff.sentiment.classifier import (
    Precision,
    SentimentClassifier,
    cpu_has_native_bfloat16,
    resolve_precision,
)
from handoff.sentiment.reading import SentimentReading
from handoff.settings import get_settings

TARGET_P50_MS = 10.0
TARGET_SPEEDUP = 3.0

_OPENERS = [
    "",
    "Hi, ",
    "Hello, ",
    "Good morning. ",
    "Seriously? ",
    "Thanks for getting back to me. ",
    "This is the third time I'm asking: ",
    "Quick question - ",
]
_ISSUES = [
    "my card was declined at the supermarket",
    "I was charged twice for the same order",
    "the transfer to my savings account still hasn't arrived",
    "I can't log in to the app since the update",
    "my new card hasn't arrived after two weeks",
    "there's a payment on my statement I don't recognise",
    "the exchange rate you applied is not the one shown in the app",
    "I'd like to increase my contactless limit",
    "how do I change the address on my account",
    "the ATM kept my card",
    "my top-up failed but the money left my other account",
    "the refund from the shop is still pending",
]
_DETAILS = [
    "",
    " and nobody has answered my emails.",
    ". Can you check what happened?",
    ", great, another hour on hold.",
    ". I need this fixed today, I'm travelling tomorrow and have no other way to pay.",
    ". Thanks, that fixed it!",
    ". I've already reset my password twice, reinstalled the app and cleared the cache, and "
    "it still shows the same error message every single time I try to open my account.",
    ". This is ridiculous, I've been a customer for twelve years and I'm thinking of leaving.",
    " - the reference number is 48213-XK, the amount was 129.99 EUR on the 14th.",
]


def realistic_messages(count: int, seed: int = 7) -> list[str]:
    """``count`` customer messages of varied length and tone, the same for the same seed."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(_OPENERS)}{rng.choice(_ISSUES)}{rng.choice(_DETAILS)}".strip()
        for _ in range(count)
    ]


def latency_ms(
    classifier: SentimentClassifier, messages: Sequence[str], warmup: int
) -> list[float]:
    """Milliseconds of ``classifier.score([text])`` per message, after ``warmup`` calls."""
    for text in messages[:warmup]:
        classifier.score([text])
    timings = []
    for text in messages:
        started = time.perf_counter()
        classifier.score([text])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def batched_round(batcher: MicroBatcher, messages: Sequence[str], callers: int) -> float:
    """Seconds for ``callers`` concurrent callers to score ``messages`` (split among them)."""

    async def caller(share: Sequence[str]) -> None:
        for text in share:
            await batcher.score(text)

    started = time.perf_counter()
    await asyncio.gather(*(caller(messages[i::callers]) for i in range(callers)))
    return time.perf_counter() - started


async def batched_throughputs(
    classifier: SentimentClassifier,
    messages: Sequence[str],
    *,
    callers: int,
    rounds: int,
    max_batch: int,
    max_wait_ms: float,
) -> list[float]:
    """Messages per second of each round through one running :class:`MicroBatcher`."""
    async with MicroBatcher(classifier, max_batch=max_batch, max_wait_ms=max_wait_ms) as batcher:
        await batched_round(batcher, messages[: callers * 2], callers)  # warm-up
        return [
            len(messages) / await batched_round(batcher, messages, callers) for _ in range(rounds)
        ]


def naive_throughputs(
    classify: Callable[[str], Any], messages: Sequence[str], rounds: int
) -> list[float]:
    """Messages per second of each round calling ``classify`` once per message, in turn."""
    for text in messages[:16]:  # warm-up
        classify(text)
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for text in messages:
            classify(text)
        results.append(len(messages) / (time.perf_counter() - started))
    return results


def agreement(
    reference: Sequence[SentimentReading], other: Sequence[SentimentReading]
) -> dict[str, float]:
    """How closely ``other`` (int8) follows ``reference`` (fp32) on the same messages."""
    same_label = sum(a.label == b.label for a, b in zip(reference, other, strict=True))
    score_gap = max(
        abs(a.scores[label] - b.scores[label])
        for a, b in zip(reference, other, strict=True)
        for label in a.scores
    )
    frustration_gap = max(
        abs(a.frustration - b.frustration) for a, b in zip(reference, other, strict=True)
    )
    return {
        "label_agreement": round(same_label / len(reference), 4),
        "max_score_difference": round(score_gap, 4),
        "max_frustration_difference": round(frustration_gap, 4),
    }


def percentiles(timings: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean of ``timings``, rounded for the report."""
    values = np.asarray(timings)
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p99": round(float(np.percentile(values, 99)), 3),
        "mean": round(float(values.mean()), 3),
    }


def measure_precision(
    args: argparse.Namespace,
    precision: Precision,
    messages: Sequence[str],
    load: Sequence[str],
    reference: Sequence[SentimentReading] | None,
) -> tuple[dict[str, Any], list[SentimentReading]]:
    """Latency, agreement with ``reference`` and micro-batched throughput of one precision."""
    settings = get_settings().sentiment
    classifier = SentimentClassifier.load(
        args.model, threads=args.threads, max_length=settings.max_length, precision=precision
    )
    latency = percentiles(latency_ms(classifier, messages, warmup=args.warmup))
    readings = classifier.score(list(messages))
    throughputs = asyncio.run(
        batched_throughputs(
            classifier, load, callers=args.callers, rounds=args.rounds,
            max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
        )
    )  # fmt: skip
    result = {
        "latency_ms": latency,
        "micro_batched_msgs_per_s": round(statistics.median(throughputs), 1),
        "rounds_micro_batched": [round(value, 1) for value in throughputs],
        "agreement_with_float32": None if reference is None else agreement(reference, readings),
    }
    return result, readings


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; returns the summary written to ``summary.json``."""
    settings = get_settings().sentiment
    service = resolve_precision(settings.precision)
    precisions = [Precision.FLOAT32] + [
        p for p in dict.fromkeys([service, *(Precision(v) for v in args.precisions.split(","))])
        if p not in (Precision.FLOAT32, Precision.AUTO)
    ]  # fmt: skip
    messages = realistic_messages(args.samples)
    load = realistic_messages(args.callers * args.per_caller, seed=11)

    per_precision: dict[str, dict[str, Any]] = {}
    reference: list[SentimentReading] | None = None
    for precision in precisions:
        per_precision[precision.value], readings = measure_precision(
            args, precision, messages, load, reference
        )
        reference = reference or readings

    # The naive baseline: the same float32 model through transformers' pipeline, one call
    # per message, as an application without a batcher would use it.
    baseline = SentimentClassifier.load(
        args.model, threads=args.threads, max_length=settings.max_length, precision="float32"
    )
    pipeline = transformers.pipeline(
        "text-classification", model=baseline.model, tokenizer=baseline.tokenizer,
        top_k=None, device=-1,
    )  # fmt: skip
    naive = naive_throughputs(
        lambda text: pipeline(text, truncation=True, max_length=settings.max_length),
        load,
        args.rounds,
    )
    naive_median = statistics.median(naive)
    for figures in per_precision.values():
        figures["speedup_vs_naive"] = round(figures["micro_batched_msgs_per_s"] / naive_median, 2)
    chosen = per_precision[service.value]
    return {
        "model": str(Path(args.model).resolve()),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "processor": platform.processor() or platform.machine(),
            "native_bfloat16": cpu_has_native_bfloat16(),
            "torch_threads": torch.get_num_threads(),
        },
        "service_precision": {"setting": settings.precision, "resolved": service.value},
        "precisions": per_precision,
        "naive_pipeline_float32": {
            "msgs_per_s": round(naive_median, 1),
            "rounds": [round(value, 1) for value in naive],
        },
        "load": {
            "latency_samples": len(messages),
            "callers": args.callers,
            "messages_per_round": len(load),
            "rounds": args.rounds,
            "max_batch": args.max_batch,
            "max_wait_ms": args.max_wait_ms,
        },
        "targets": {
            "p50_ms": TARGET_P50_MS,
            "p50_met": chosen["latency_ms"]["p50"] <= TARGET_P50_MS,
            "speedup": TARGET_SPEEDUP,
            "speedup_met": chosen["speedup_vs_naive"] >= TARGET_SPEEDUP,
        },
    }


def format_table(summary: dict[str, Any]) -> str:
    """The headline figures as an aligned text table, one row per precision."""
    service = summary["service_precision"]["resolved"]
    rows = [("precision", "p50 ms", "p99 ms", "msg/s batched", "vs naive", "label agreement")]
    for name, figures in summary["precisions"].items():
        agreement_ = figures["agreement_with_float32"]
        rows.append(
            (
                f"{name}{' (service)' if name == service else ''}",
                f"{figures['latency_ms']['p50']:.2f}",
                f"{figures['latency_ms']['p99']:.2f}",
                f"{figures['micro_batched_msgs_per_s']:.1f}",
                f"{figures['speedup_vs_naive']:.2f}x",
                "reference" if agreement_ is None else f"{agreement_['label_agreement']:.1%}",
            )
        )
    naive = summary["naive_pipeline_float32"]["msgs_per_s"]
    rows.append(("naive pipeline, float32", "", "", f"{naive:.1f}", "1.00x", ""))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    targets = summary["targets"]
    verdict = "met" if targets["p50_met"] and targets["speedup_met"] else "NOT met"
    lines.append(
        f"targets for the service precision ({service}): p50 <= {TARGET_P50_MS:g} ms, "
        f"batched >= {TARGET_SPEEDUP:g}x naive: {verdict} "
        f"(p50 {targets['p50_met']}, speedup {targets['speedup_met']})"
    )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    settings = get_settings().sentiment
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sentiment_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--model", type=Path, default=settings.model_dir, help="default: %(default)s"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("reports/bench-sentiment"), help="default: %(default)s"
    )
    parser.add_argument(
        "--samples", type=int, default=300, help="latency samples (default: %(default)s)"
    )
    parser.add_argument(
        "--warmup", type=int, default=30, help="warm-up calls (default: %(default)s)"
    )
    parser.add_argument(
        "--callers", type=int, default=64, help="concurrent callers (default: %(default)s)"
    )
    parser.add_argument(
        "--per-caller",
        type=int,
        default=2,
        help="messages per caller and round (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="throughput rounds (default: %(default)s)"
    )
    parser.add_argument(
        "--threads", type=int, default=settings.threads, help="torch threads (default: %(default)s)"
    )
    parser.add_argument(
        "--precisions", default="float32,bfloat16,int8",
        help="compared against the float32 reference (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--max-batch", type=int, default=settings.max_batch, help="default: %(default)s"
    )
    parser.add_argument(
        "--max-wait-ms", type=float, default=settings.max_wait_ms, help="default: %(default)s"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 0 whatever the figures (targets are reported, not enforced)."""
    args = _parser().parse_args(argv)
    if not (args.model / "config.json").is_file():
        print(f"no sentiment model at {args.model}: build it with `make models`", file=sys.stderr)
        return 1
    transformers.logging.set_verbosity_error()  # keep the table readable
    summary = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(format_table(summary))
    print(f"written: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
