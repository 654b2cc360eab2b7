"""The conversation service's view of the sentiment classifier: a reading, or none.

A missing model, a closed batcher or a message the classifier refuses (only punctuation, say)
must never stop a customer's turn: the turn goes on without a reading, and the engine's
sentiment triggers simply do not fire. Each miss is logged.
"""

from __future__ import annotations

import logging

from handoff.exceptions import HandoffError
from handoff.resources import SentimentService
from handoff.sentiment.reading import SentimentReading

logger = logging.getLogger(__name__)


class BatcherSentimentReader:
    """Reads through the service's running micro-batcher."""

    def __init__(self, service: SentimentService) -> None:
        self._service = service

    async def read(self, text: str) -> SentimentReading | None:
        """The reading of ``text``, or ``None`` (logged) when it cannot be scored now."""
        batcher = self._service.batcher
        if batcher is None or not self._service.available:
            logger.warning("sentiment unavailable: %s", self._service.problem or "not running")
            return None
        try:
            return await batcher.score(text)
        except HandoffError as exc:
            logger.warning("message not scored: %s", exc)
            return None
