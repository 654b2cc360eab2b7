"""The micro-batcher, on a fake classifier that records every call (no model, no timing asserts)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from handoff.sentiment.batcher import BatcherClosedError, MicroBatcher
from handoff.sentiment.reading import SentimentInputError, SentimentReading


def reading_of(text: str) -> SentimentReading:
    """A reading that names its text, so each caller can check it got its own."""
    return SentimentReading(text, {"negative": 0.2, "neutral": 0.3, "positive": 0.5}, 0.1, None)


class FakeClassifier:
    """Scores instantly; records each call's texts and the thread it ran on."""

    def __init__(self, poison: str | None = None, gate: threading.Event | None = None) -> None:
        self.calls: list[list[str]] = []
        self.threads: set[int] = set()
        self.poison = poison
        self.gate = gate
        self.entered = threading.Event()

    def score(self, texts: Sequence[str]) -> list[SentimentReading]:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(timeout=5)
        self.calls.append(list(texts))
        self.threads.add(threading.get_ident())
        if self.poison is not None and self.poison in texts:
            raise RuntimeError(f"cannot score {self.poison!r}")
        return [reading_of(text) for text in texts]


@pytest.fixture
def fake() -> FakeClassifier:
    return FakeClassifier()


@pytest.fixture
async def batcher(fake: FakeClassifier) -> AsyncIterator[MicroBatcher]:
    # A long wait so that concurrent callers surely meet in one batch; flushes happen on size.
    async with MicroBatcher(fake, max_batch=8, max_wait_ms=200) as running:
        yield running


async def test_concurrent_callers_share_forward_passes(
    batcher: MicroBatcher, fake: FakeClassifier
) -> None:
    texts = [f"message {i}" for i in range(8)]

    readings = await asyncio.gather(*(batcher.score(text) for text in texts))

    assert [reading.label for reading in readings] == texts
    assert len(fake.calls) == 1
    assert sorted(fake.calls[0]) == sorted(texts)


async def test_max_batch_is_respected(batcher: MicroBatcher, fake: FakeClassifier) -> None:
    texts = [f"message {i}" for i in range(20)]

    readings = await asyncio.gather(*(batcher.score(text) for text in texts))

    assert [reading.label for reading in readings] == texts
    assert [len(call) for call in fake.calls] == [8, 8, 4]


async def test_max_wait_flushes_a_lone_caller(fake: FakeClassifier) -> None:
    async with MicroBatcher(fake, max_batch=32, max_wait_ms=1) as batcher:
        reading = await asyncio.wait_for(batcher.score("anyone there?"), timeout=5)

    assert reading.label == "anyone there?"
    assert fake.calls == [["anyone there?"]]


async def test_scoring_runs_off_the_event_loop(batcher: MicroBatcher, fake: FakeClassifier) -> None:
    await batcher.score("hello")

    assert threading.get_ident() not in fake.threads


async def test_a_failing_text_fails_only_its_caller() -> None:
    fake = FakeClassifier(poison="boom")
    async with MicroBatcher(fake, max_batch=4, max_wait_ms=200) as batcher:
        results = await asyncio.gather(
            *(batcher.score(text) for text in ["fine", "boom", "also fine", "ok"]),
            return_exceptions=True,
        )

    assert [getattr(result, "label", None) for result in results] == [
        "fine",
        None,
        "also fine",
        "ok",
    ]
    assert isinstance(results[1], RuntimeError)
    assert "boom" in str(results[1])
    assert len(fake.calls[0]) == 4  # tried together first, then one by one


async def test_bad_text_is_refused_before_queueing(
    batcher: MicroBatcher, fake: FakeClassifier
) -> None:
    good, bad = await asyncio.gather(
        batcher.score("my card is blocked"), batcher.score("   "), return_exceptions=True
    )

    assert isinstance(good, SentimentReading)
    assert isinstance(bad, SentimentInputError)
    assert "non-empty" in str(bad)
    assert fake.calls == [["my card is blocked"]]


async def test_close_fails_pending_callers_and_refuses_new_ones() -> None:
    gate = threading.Event()  # holds the first batch in the classifier
    fake = FakeClassifier(gate=gate)
    batcher = MicroBatcher(fake, max_batch=1, max_wait_ms=0)
    batcher.start()
    in_flight = asyncio.create_task(batcher.score("first"))
    assert await asyncio.to_thread(fake.entered.wait, 5)  # "first" is in the classifier
    queued = [asyncio.create_task(batcher.score(f"queued {i}")) for i in range(3)]
    await asyncio.sleep(0)

    closing = asyncio.create_task(batcher.aclose())
    await asyncio.sleep(0.01)
    gate.set()
    await closing

    assert (await in_flight).label == "first"  # the batch in the thread is let finish
    for task in queued:
        with pytest.raises(BatcherClosedError):
            await task
    with pytest.raises(BatcherClosedError, match="not running"):
        await batcher.score("too late")
    assert not batcher.running


async def test_close_leaves_no_task_behind(fake: FakeClassifier) -> None:
    before = asyncio.all_tasks()
    batcher = MicroBatcher(fake)
    batcher.start()
    await batcher.score("hello")

    await batcher.aclose()
    await batcher.aclose()  # idempotent

    assert asyncio.all_tasks() == before


async def test_score_before_start_is_refused(fake: FakeClassifier) -> None:
    with pytest.raises(BatcherClosedError):
        await MicroBatcher(fake).score("hello")


async def test_a_cancelled_caller_does_not_disturb_the_others(
    batcher: MicroBatcher, fake: FakeClassifier
) -> None:
    gone = asyncio.create_task(batcher.score("never mind"))
    staying = asyncio.create_task(batcher.score("still here"))
    await asyncio.sleep(0)
    gone.cancel()

    assert (await staying).label == "still here"
    assert ["never mind"] not in fake.calls


@pytest.mark.parametrize("options", [{"max_batch": 0}, {"max_wait_ms": -1}])
def test_invalid_options_are_refused(fake: FakeClassifier, options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        MicroBatcher(fake, **options)  # type: ignore[arg-type]


async def test_batches_a_real_tiny_model(tiny_sentiment_model: Path) -> None:
    from handoff.sentiment.classifier import SentimentClassifier

    classifier = SentimentClassifier.load(tiny_sentiment_model, threads=1)
    texts = ["my card is blocked", "thanks!", "why was I charged twice for the same thing?"]
    async with MicroBatcher(classifier, max_batch=8, max_wait_ms=50) as batcher:
        together = await asyncio.gather(*(batcher.score(text) for text in texts))

    alone = classifier.score(texts)
    for got, expected in zip(together, alone, strict=True):
        assert got.scores == pytest.approx(expected.scores, abs=1e-5)
