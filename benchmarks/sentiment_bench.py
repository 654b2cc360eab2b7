"""Benchmark of the sentiment classifier: one-message latency and micro-batched throughput.

Run ``python -m benchmarks.sentiment_bench --model models/sentiment`` (``make bench-sentiment``).

Measured in one run, on one model:

* latency: p50 and p99 of ``SentimentClassifier.score([text])`` for one message, after a
  warm-up, over a few hundred realistic messages of varied length; the same for the dynamic
  int8 quantised classifier;
* throughput: messages per second with 64 concurrent asyncio callers scoring through the
  :class:`MicroBatcher`, against a naive baseline, transformers' text-classification pipeline
  on the same model called once per message, the callers served one by one.

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
from handoff.sentiment.classifier import SentimentClassifier
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; returns the summary written to ``summary.json``."""
    settings = get_settings().sentiment
    messages = realistic_messages(args.samples)
    classifier = SentimentClassifier.load(
        args.model, threads=args.threads, max_length=settings.max_length
    )
    latency = percentiles(latency_ms(classifier, messages, warmup=args.warmup))
    quantized = SentimentClassifier.load(
        args.model, threads=args.threads, max_length=settings.max_length, quantize=True
    )
    latency_int8 = percentiles(latency_ms(quantized, messages, warmup=args.warmup))
    int8_agreement = agreement(classifier.score(messages), quantized.score(messages))

    load = realistic_messages(args.callers * args.per_caller, seed=11)
    batched, batched_int8 = (
        asyncio.run(
            batched_throughputs(
                scorer,
                load,
                callers=args.callers,
                rounds=args.rounds,
                max_batch=args.max_batch,
                max_wait_ms=args.max_wait_ms,
            )
        )
        for scorer in (classifier, quantized)
    )
    del quantized
    pipeline = transformers.pipeline(
        "text-classification",
        model=classifier.model,
        tokenizer=classifier.tokenizer,
        top_k=None,
        device=-1,
    )
    naive = naive_throughputs(
        lambda text: pipeline(text, truncation=True, max_length=settings.max_length),
        load,
        args.rounds,
    )
    batched_median = statistics.median(batched)
    naive_median = statistics.median(naive)
    speedup = batched_median / naive_median
    batched_int8_median = statistics.median(batched_int8)
    return {
        "model": str(Path(args.model).resolve()),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "processor": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
        },
        "latency_ms": {"fp32": latency, "int8": latency_int8, "samples": len(messages)},
        "int8_vs_fp32": int8_agreement,
        "throughput_msgs_per_s": {
            "micro_batched": round(batched_median, 1),
            "naive_pipeline": round(naive_median, 1),
            "speedup": round(speedup, 2),
            "micro_batched_int8": round(batched_int8_median, 1),
            "speedup_int8": round(batched_int8_median / naive_median, 2),
            "token_budget": classifier.token_budget,
            "callers": args.callers,
            "messages_per_round": len(load),
            "rounds": args.rounds,
            "max_batch": args.max_batch,
            "max_wait_ms": args.max_wait_ms,
            "rounds_micro_batched": [round(value, 1) for value in batched],
            "rounds_naive_pipeline": [round(value, 1) for value in naive],
            "rounds_micro_batched_int8": [round(value, 1) for value in batched_int8],
        },
        "targets": {
            "p50_ms": TARGET_P50_MS,
            "p50_met": latency["p50"] <= TARGET_P50_MS,
            "speedup": TARGET_SPEEDUP,
            "speedup_met": speedup >= TARGET_SPEEDUP,
        },
    }


def format_table(summary: dict[str, Any]) -> str:
    """The headline figures as an aligned text table."""
    latency = summary["latency_ms"]
    throughput = summary["throughput_msgs_per_s"]
    targets = summary["targets"]
    rows = [
        ("measure", "value", "target"),
        (
            "latency p50, 1 message (fp32)",
            f"{latency['fp32']['p50']:.2f} ms",
            f"<= {TARGET_P50_MS:g} ms",
        ),
        ("latency p99, 1 message (fp32)", f"{latency['fp32']['p99']:.2f} ms", ""),
        ("latency p50, 1 message (int8)", f"{latency['int8']['p50']:.2f} ms", ""),
        ("latency p99, 1 message (int8)", f"{latency['int8']['p99']:.2f} ms", ""),
        (
            "int8 label agreement with fp32",
            f"{summary['int8_vs_fp32']['label_agreement']:.1%}",
            "",
        ),
        (
            f"throughput, {throughput['callers']} callers, micro-batched (median)",
            f"{throughput['micro_batched']:.1f} msg/s",
            "",
        ),
        (
            "throughput, naive pipeline per message (median)",
            f"{throughput['naive_pipeline']:.1f} msg/s",
            "",
        ),
        (
            "throughput, micro-batched int8 (median)",
            f"{throughput['micro_batched_int8']:.1f} msg/s",
            "",
        ),
        ("speedup int8 (micro-batched int8 / naive)", f"{throughput['speedup_int8']:.2f}x", ""),
        (
            "speedup (micro-batched / naive)",
            f"{throughput['speedup']:.2f}x",
            f">= {TARGET_SPEEDUP:g}x",
        ),
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    verdict = "met" if targets["p50_met"] and targets["speedup_met"] else "NOT met"
    lines.append(f"targets {verdict} (p50 {targets['p50_met']}, speedup {targets['speedup_met']})")
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
