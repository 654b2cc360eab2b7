"""Fan-out of transcript frames to every socket watching a conversation.

One :class:`Subscriber` per websocket: a bounded queue and one writer task, as in the
websockets broadcast guide, so a slow client only ever delays itself. Frames are delivered in
sequence order exactly once per subscriber: a subscriber remembers the highest sequence number
it has queued and drops anything at or below it, and while it is catching up after a resume it
holds live frames back until the stored ones are queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

from handoff.gateway.protocol import TranscriptFrame

logger = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]
"""Sends one text frame on the socket."""

DEFAULT_QUEUE_FRAMES = 1_000


class SubscriberOverflow(Exception):
    """The client reads too slowly: its queue is full, and it is disconnected to resume later."""


class Subscriber:
    """One socket's view of one conversation; see the module docstring."""

    def __init__(self, send: Send, *, last_seq: int = 0, max_frames: int = DEFAULT_QUEUE_FRAMES):
        self._send = send
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(max_frames)
        self._high_water = last_seq
        self._holding = False
        self._held: list[TranscriptFrame] = []
        self._writer: asyncio.Task[None] | None = None
        self.overflowed = False

    @property
    def last_seq(self) -> int:
        """The highest sequence number queued for this client."""
        return self._high_water

    def start(self) -> asyncio.Task[None]:
        """Start the writer task; it ends when :meth:`close` is called or sending fails."""
        self._writer = asyncio.create_task(self._write(), name="subscriber-writer")
        return self._writer

    def send_control(self, text: str) -> None:
        """Queue a frame that is not part of the transcript (ack, pong, error)."""
        self._put(text)

    def deliver(self, frame: TranscriptFrame) -> None:
        """Queue ``frame`` unless this client already has it; hold it while catching up."""
        if self._holding:
            self._held.append(frame)
            return
        if frame.seq <= self._high_water:
            return
        self._high_water = frame.seq
        self._put(frame.model_dump_json())

    def hold(self) -> None:
        """Hold live frames back while stored ones are replayed (see :meth:`catch_up`)."""
        self._holding = True

    def catch_up(self, stored: Iterable[TranscriptFrame]) -> None:
        """Queue the stored frames, then the held live ones, each exactly once, in order."""
        self._holding = False
        held, self._held = self._held, []
        for frame in sorted([*stored, *held], key=lambda f: f.seq):
            self.deliver(frame)

    async def close(self) -> None:
        """Let the writer send what is queued, then stop it."""
        if self._writer is None:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        if not self.overflowed:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._writer), timeout=2.0)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer

    def _put(self, text: str) -> None:
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed = True
            if self._writer is not None:
                self._writer.cancel()
            logger.warning("a client reads too slowly; disconnecting it so it can resume")

    async def _write(self) -> None:
        while (text := await self._queue.get()) is not None:
            await self._send(text)


class ConversationHub:
    """Which subscribers watch which conversation; publishing never waits on a socket."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[Subscriber]] = defaultdict(set)

    def subscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Deliver the conversation's future frames to ``subscriber``."""
        self._subscribers[conversation_id].add(subscriber)

    def unsubscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber``; forgetting the last one frees the entry."""
        watchers = self._subscribers.get(conversation_id)
        if watchers is None:
            return
        watchers.discard(subscriber)
        if not watchers:
            del self._subscribers[conversation_id]

    def publish(self, conversation_id: str, frames: Iterable[TranscriptFrame]) -> None:
        """Queue ``frames`` for every subscriber of the conversation."""
        frames = list(frames)
        for subscriber in list(self._subscribers.get(conversation_id, ())):
            for frame in frames:
                subscriber.deliver(frame)

    def publish_control(self, conversation_id: str, text: str) -> None:
        """Queue a frame that is not part of the transcript (a queue update) for every watcher."""
        for subscriber in list(self._subscribers.get(conversation_id, ())):
            subscriber.send_control(text)

    def watchers(self, conversation_id: str) -> int:
        """How many sockets watch the conversation now."""
        return len(self._subscribers.get(conversation_id, ()))
