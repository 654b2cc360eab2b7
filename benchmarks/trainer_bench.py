"""Benchmark of the trainers' inbox: reading it with 100,000 stored turns, and grouping
10,000 inbox messages by meaning.

Run ``python -m benchmarks.trainer_bench`` (``make bench-trainer``). For SQLite and for a
throwaway PostgreSQL server (the test suite's, ``tests/postgres_server.py``) it fills a fresh,
migrated service database with conversations of ten customer turns each (100,000 turns by
default), a fixed share of which went to the inbox, spread over near-identical groups with a
long tail as real traffic has (seeded), then times the inbox's first page
(:meth:`ReviewStore.groups`, 50 groups) and, as the baseline in the same run, the naive read:
every open item fetched and grouped in Python. Medians, p95 and the ratio go to stdout and
``reports/bench-trainer/summary.json``; the target is p95 <= 200 ms on both databases.

Grouping: 10,000 messages drawn (seeded) from the NLU training data's texts, each with a
random slip of the keyboard so that few are identical, encoded with the NLU's sentence vectors
and clustered (:func:`handoff.trainer.grouping.group_similar`); the baseline in the same run is
encoding alone. Needs ``models/encoder`` (``make models``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, select

from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.models import Conversation, Message, ReviewItem
from handoff.store.review import ReviewStore
from handoff.store.states import ReviewStatus

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 200.0
TURNS_PER_CONVERSATION = 10
BATCH = 5_000
START = datetime(2026, 11, 1, tzinfo=UTC)


def fill(engine: Engine, turns: int, review_share: float, groups: int, seed: int) -> int:
    """``turns`` customer messages in conversations of ten, ``review_share`` of them in the
    inbox over ``groups`` occurrence keys (Zipf-like: a few frequent, a long tail); returns
    the number of review items."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(groups)]
    conversations, messages, items = [], [], []
    reviewed = 0
    for n in range(turns // TURNS_PER_CONVERSATION):
        cid = f"{n:032x}"
        at = START + timedelta(seconds=30 * n)
        conversations.append({
            "id": cid, "customer_id": None, "customer_name": None, "tier": "standard",
            "channel": "web", "state": "bot", "resume_token_hash": f"{n:064x}",
            "last_seq": TURNS_PER_CONVERSATION, "created_at": at, "updated_at": at,
        })  # fmt: skip
        for seq in range(1, TURNS_PER_CONVERSATION + 1):
            message_id = n * TURNS_PER_CONVERSATION + seq
            messages.append({
                "id": message_id, "conversation_id": cid, "seq": seq, "sender": "customer",
                "text": f"message {message_id}", "client_message_id": f"c{seq}",
                "payload": {"processed": True, "intent": "card_arrival", "confidence": 0.9},
                "created_at": at + timedelta(seconds=seq),
            })  # fmt: skip
            if rng.random() < review_share:
                key = f"group {rng.choices(range(groups), weights)[0]}"
                items.append({
                    "message_id": message_id, "conversation_id": cid, "text": key,
                    "occurrence_key": key, "intent": "nlu_fallback", "confidence": 0.45,
                    "ranking": [{"name": "nlu_fallback", "confidence": 0.45}],
                    "reasons": [{"source": "fallback", "value": "nlu_fallback",
                                 "threshold": None, "detail": "fallback"}],
                    "suggestion": None, "status": "open", "created_at": at,
                })  # fmt: skip
                reviewed += 1
        if len(messages) >= BATCH:
            _flush(engine, conversations, messages, items)
    _flush(engine, conversations, messages, items)
    return reviewed


def _flush(engine: Engine, *batches: list[dict[str, Any]]) -> None:
    tables = (Conversation.__table__, Message.__table__, ReviewItem.__table__)
    with engine.begin() as connection:
        for table, rows in zip(tables, batches, strict=True):
            if rows:
                connection.execute(insert(table), rows)
            rows.clear()


def naive_groups(engine: Engine) -> list[tuple[str, int]]:
    """The baseline: every open item read, then counted in Python."""
    items = ReviewItem.__table__
    with engine.connect() as connection:
        rows = connection.execute(
            select(items).where(items.c.status == ReviewStatus.OPEN.value)
        ).all()
    return Counter(row.occurrence_key for row in rows).most_common(50)


def timings(call: Callable[[], object], repeats: int) -> list[float]:
    """Milliseconds per call, after one warm-up call."""
    call()
    out = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        out.append((time.perf_counter() - began) * 1000)
    return out


def figures(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
    }


def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    engine = create_database_engine(url)
    try:
        upgrade_database(engine)
        began = time.perf_counter()
        reviewed = fill(engine, args.turns, args.review_share, args.groups, args.seed)
        filled = time.perf_counter() - began
        store = ReviewStore(engine)
        inbox = timings(lambda: store.groups(limit=50), args.repeats)
        naive = timings(lambda: naive_groups(engine), args.repeats)
    finally:
        engine.dispose()
    result = {
        "turns": args.turns,
        "review_items": reviewed,
        "fill_seconds": round(filled, 1),
        "inbox_first_page": figures(inbox),
        "naive_read_and_group": figures(naive),
    }
    result["p50_ratio_vs_naive"] = round(
        result["inbox_first_page"]["p50_ms"] / result["naive_read_and_group"]["p50_ms"], 3
    )
    result["target_met"] = result["inbox_first_page"]["p95_ms"] <= TARGET_P95_MS
    return result


def grouping(count: int, seed: int) -> dict[str, Any]:
    """Seconds to encode and to group ``count`` messages made from the training texts."""
    from handoff.trainer.grouping import group_similar
    from handoff.trainer.nlu_data import training_examples
    from handoff.trainer.sentence_vectors import SentenceEncoder

    rng = random.Random(seed)
    texts = [text for _, text in training_examples(ROOT / "data" / "nlu")]
    messages = []
    for _ in range(count):
        text = rng.choice(texts)
        cut = rng.randrange(len(text) + 1)
        messages.append(text[:cut] + rng.choice(" abcdefghijklmnopqrstuvwxyz") + text[cut:])
    encoder = SentenceEncoder.load(ROOT / "models" / "encoder", threads=2)
    began = time.perf_counter()
    vectors = encoder.encode(messages)
    encoded = time.perf_counter() - began
    groups = group_similar(vectors)
    grouped = time.perf_counter() - began
    return {
        "messages": count,
        "groups": len(groups),
        "encode_seconds": round(encoded, 2),
        "encode_and_group_seconds": round(grouped, 2),
        "ratio_vs_encoding_alone": round(grouped / encoded, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark on both databases; exit 0 whatever the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trainer_bench",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--review-share", type=float, default=0.15,
                        help="share of the turns in the inbox")  # fmt: skip
    parser.add_argument("--groups", type=int, default=3_000, help="near-identical groups")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--grouping-messages", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-trainer")
    args = parser.parse_args(argv)
    # The test suite's throwaway PostgreSQL server: initdb into a temporary folder, a free port.
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_server import find_postgres_bindir, start_postgres_server

    summary: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-trainer-") as scratch:
        summary["sqlite"] = measure(f"sqlite:///{Path(scratch) / 'service.sqlite'}", args)
    bindir = find_postgres_bindir()
    if bindir is None:
        print("PostgreSQL server binaries not found (make system-deps): SQLite only")
    else:
        server = start_postgres_server(bindir)
        try:
            summary["postgresql"] = measure(server.create_database("bench_trainer"), args)
        finally:
            server.stop()
    if (ROOT / "models" / "encoder" / "model.onnx").is_file():
        summary["grouping"] = grouping(args.grouping_messages, args.seed)
    else:
        print("models/encoder missing (make models): grouping not measured")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for backend, result in summary.items():
        if backend == "grouping":
            print(
                f"grouping: {result['messages']} messages into {result['groups']} groups in "
                f"{result['encode_and_group_seconds']} s, of which encoding "
                f"{result['encode_seconds']} s (ratio {result['ratio_vs_encoding_alone']})"
            )
            continue
        inbox, naive = result["inbox_first_page"], result["naive_read_and_group"]
        verdict = "met" if result["target_met"] else "NOT met"
        print(
            f"{backend}: {result['turns']} turns, {result['review_items']} in the inbox; "
            f"first page p50 {inbox['p50_ms']} ms, p95 {inbox['p95_ms']} ms "
            f"(target p95 <= {TARGET_P95_MS:g}: {verdict}); naive read and group p50 "
            f"{naive['p50_ms']} ms; ratio {result['p50_ratio_vs_naive']}"
        )
    print(f"written: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
