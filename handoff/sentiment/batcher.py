"""Micro-batching: concurrent conversations share one forward pass of the sentiment model.

One queue and one worker task. Callers validate their text, put it on the queue with a future
and await the future. The worker takes the first waiting text, then collects more until it has
``max_batch`` of them or ``max_wait_ms`` has passed since the first, scores the lot in a worker
thread (a forward pass would block the event loop for milliseconds) and resolves each future.

Failures stay with their callers: bad text is refused before it is queued, and when a batch
raises, its texts are scored again one by one so only the failing ones get the error. Closing
the batcher fails every caller still queued with :class:`BatcherClosedError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

from handoff.exceptions import HandoffError
from handoff.sentiment.reading import SentimentReading, validate_text

logger = logging.getLogger(__name__)


class BatcherClosedError(HandoffError):
    """The batcher is not running (not started yet, or closed) and cannot score."""


class BatchScorer(Protocol):
    """What the batcher needs of a classifier: readings for texts, in order."""

    def score(self, texts: Sequence[str]) -> list[SentimentReading]:
        """One reading per text, in input order."""
        ...


@dataclass(slots=True)
class _Request:
    text: str
    future: asyncio.Future[SentimentReading] = field(repr=False)


class MicroBatcher:
    """Scores texts for many concurrent callers in shared batches; see the module docstring.

    Use as ``async with MicroBatcher(classifier) as batcher: await batcher.score(text)``, or
    call :meth:`start` and :meth:`aclose` yourself.
    """

    def __init__(
        self,
        scorer: BatchScorer,
        *,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be positive, got {max_batch}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must not be negative, got {max_wait_ms}")
        self._scorer = scorer
        self.max_batch = max_batch
        self.max_wait_seconds = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        # One thread runs every forward pass, and it should be the thread that loaded the
        # model (pass it as ``executor``): measured on this project's CPU, a bfloat16 forward
        # pass in a thread other than the loading one took 15 ms instead of 7.
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="sentiment")

    @property
    def running(self) -> bool:
        """Whether :meth:`score` is accepted: started and not closed."""
        return self._worker is not None and not self._closed

    def start(self) -> None:
        """Start the worker task on the running event loop. Starting twice is an error."""
        if self._closed:
            raise BatcherClosedError("the sentiment batcher is closed; build a new one")
        if self._worker is not None:
            raise RuntimeError("the sentiment batcher is already started")
        self._worker = asyncio.get_running_loop().create_task(
            self._work(), name="sentiment-batcher"
        )

    async def aclose(self) -> None:
        """Stop the worker and fail every queued caller; idempotent.

        A batch already being scored is let finish, so no thread touches the model once this
        returns, and its callers get their readings.
        """
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            # wait() rather than awaiting the task: the worker's CancelledError is expected,
            # a cancellation of aclose() itself must still propagate.
            await asyncio.wait([self._worker])
            if not self._worker.cancelled() and self._worker.exception() is not None:
                logger.debug("the sentiment batcher had stopped on an error before closing")
        self._fail_queued(BatcherClosedError("the sentiment batcher was closed"))
        if self._owns_executor:
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> MicroBatcher:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def score(self, text: str) -> SentimentReading:
        """The reading of ``text``, scored together with whatever other callers sent meanwhile.

        Raises :class:`~handoff.sentiment.reading.SentimentInputError` for text that cannot be
        scored (before queueing it) and :class:`BatcherClosedError` when not running.
        """
        validate_text(text)
        if not self.running:
            raise BatcherClosedError("the sentiment batcher is not running")
        future: asyncio.Future[SentimentReading] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(text, future))
        return await future

    async def _work(self) -> None:
        try:
            while True:
                batch: list[_Request] = []
                try:
                    await self._collect(batch)
                except asyncio.CancelledError:
                    # Taken off the queue but not scored: these callers are failed here, the
                    # ones still queued by aclose().
                    _fail_all(batch, BatcherClosedError("the sentiment batcher was closed"))
                    raise
                # A caller that gave up (cancelled) no longer needs its text scored.
                batch = [request for request in batch if not request.future.done()]
                if batch:
                    await self._score_batch(batch)
        except Exception as exc:
            # A bug in the worker itself: refuse new callers instead of leaving them hanging.
            logger.exception("the sentiment batcher stopped")
            self._closed = True
            self._fail_queued(BatcherClosedError(f"the sentiment batcher stopped: {exc}"))
            raise

    async def _collect(self, batch: list[_Request]) -> None:
        batch.append(await self._queue.get())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_seconds
        while len(batch) < self.max_batch:
            # Whatever is queued already joins without waiting...
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            # ...then wait for more until the first caller has waited max_wait.
            try:
                async with asyncio.timeout_at(deadline):
                    batch.append(await self._queue.get())
            except TimeoutError:
                break

    async def _score_batch(self, batch: list[_Request]) -> None:
        loop = asyncio.get_running_loop()
        texts = [request.text for request in batch]
        scoring = loop.run_in_executor(self._executor, self._score_isolating_failures, texts)
        try:
            # Shielded so that aclose() cancelling the worker does not abandon the thread
            # mid-forward: the batch finishes and its callers are answered.
            outcomes = await asyncio.shield(scoring)
        except asyncio.CancelledError:
            await asyncio.wait([scoring])
            if not scoring.cancelled() and scoring.exception() is None:
                _resolve(batch, scoring.result())
            else:
                _fail_all(batch, BatcherClosedError("the sentiment batcher was closed"))
            raise
        except Exception as exc:  # _score_isolating_failures catches per text; this is a bug
            logger.exception("sentiment batch of %d failed", len(batch))
            _fail_all(batch, exc)
            return
        _resolve(batch, outcomes)

    def _score_isolating_failures(self, texts: list[str]) -> list[SentimentReading | BaseException]:
        # Runs in a worker thread. One forward pass for the batch; if it raises, score the texts
        # one at a time so only the texts that fail on their own get the error.
        try:
            return list(self._scorer.score(texts))
        except Exception as exc:
            if len(texts) == 1:
                return [exc]
            logger.warning("sentiment batch of %d failed (%s); scoring one by one", len(texts), exc)
        outcomes: list[SentimentReading | BaseException] = []
        for text in texts:
            try:
                outcomes.extend(self._scorer.score([text]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _fail_queued(self, error: BaseException) -> None:
        while not self._queue.empty():
            request = self._queue.get_nowait()
            if not request.future.done():
                request.future.set_exception(error)


def _resolve(batch: list[_Request], outcomes: list[SentimentReading | BaseException]) -> None:
    if len(outcomes) != len(batch):
        error = RuntimeError(f"{len(outcomes)} readings came back for {len(batch)} texts")
        _fail_all(batch, error)
        return
    for request, outcome in zip(batch, outcomes, strict=True):
        if request.future.done():  # the caller was cancelled meanwhile
            continue
        if isinstance(outcome, BaseException):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)


def _fail_all(batch: list[_Request], error: BaseException) -> None:
    for request in batch:
        if not request.future.done():
            request.future.set_exception(error)
