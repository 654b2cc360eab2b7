"""A customer's side of ``/ws/customer`` for the integration tests, on the sync websockets client.

:class:`Chat` keeps every frame a socket received, in order, and waits for frames by predicate
with a deadline, never by sleeping: on two cores under load the real model can take seconds
per turn, and a fixed sleep is either too short or wastes the run.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from handoff.store.database import create_database_engine
from handoff.store.repository import ConversationStore

TURN_SECONDS = 30.0
"""How long one turn may take: sentiment scoring, Rasa, the action server and the bank."""

Frame = dict[str, Any]
Predicate = Callable[[Frame], bool]

_ids = itertools.count(1)


def identity_token(service_url: str, customer_id: str) -> str:
    """A token the service signs for a demo customer, as the demo page gets one."""
    response = httpx.post(
        f"{service_url}/api/demo/identity-token", json={"customer_id": customer_id}, timeout=10
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


@contextmanager
def open_store(database_url: str) -> Iterator[ConversationStore]:
    """The service's own store, read beside the running service (SQLite in WAL mode)."""
    engine = create_database_engine(database_url)
    try:
        yield ConversationStore(engine)
    finally:
        engine.dispose()


def is_bot(frame: Frame) -> bool:
    return frame.get("type") == "message" and frame.get("sender") == "bot"


def is_event(event: str, **data: Any) -> Predicate:
    """A system message frame whose data has ``event`` and the given values."""

    def check(frame: Frame) -> bool:
        if frame.get("type") != "message" or frame.get("sender") != "system":
            return False
        details = frame.get("data", {})
        return details.get("event") == event and all(details.get(k) == v for k, v in data.items())

    return check


def after(seq: int, predicate: Predicate) -> Predicate:
    """``predicate`` for transcript frames with a sequence number above ``seq`` only."""
    return lambda frame: frame.get("seq", 0) > seq and predicate(frame)


class Chat:
    """One customer socket and every frame it received, oldest first."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: list[Frame] = []

    @classmethod
    @contextmanager
    def open(cls, service_url: str) -> Iterator[Chat]:
        url = service_url.replace("http://", "ws://", 1) + "/ws/customer"
        with connect(url, open_timeout=10, close_timeout=5) as connection:
            yield cls(connection)

    # --- reading ------------------------------------------------------------------------

    def wait_for(
        self, predicate: Predicate, *, since: int = 0, timeout: float = TURN_SECONDS
    ) -> Frame:
        """The first frame at index ``since`` or later that satisfies ``predicate``, reading
        more frames until one does or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        checked = since
        while True:
            for frame in self.frames[checked:]:
                if predicate(frame):
                    return frame
            checked = max(checked, len(self.frames))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no expected frame within {timeout:g} s; received:\n" + self._dump(since)
                )
            try:
                raw = self.connection.recv(timeout=remaining)
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                raise AssertionError(
                    f"socket closed ({exc}); received:\n{self._dump(since)}"
                ) from None
            self.frames.append(json.loads(raw))

    def mark(self) -> int:
        """Where the frames received from now on start (for ``since``)."""
        return len(self.frames)

    def messages(self, since: int = 0) -> list[Frame]:
        """The transcript frames received, from index ``since`` on."""
        return [frame for frame in self.frames[since:] if frame.get("type") == "message"]

    @property
    def last_seq(self) -> int:
        """The highest sequence number seen on this socket (0 before any)."""
        return max((frame["seq"] for frame in self.messages()), default=0)

    def _dump(self, since: int) -> str:
        return "\n".join(json.dumps(frame)[:300] for frame in self.frames[since:]) or "(nothing)"

    # --- the protocol -------------------------------------------------------------------

    def send(self, **frame: Any) -> None:
        self.connection.send(json.dumps(frame))

    def start(self, token: str | None = None) -> Frame:
        """Open a conversation; returns the ``started`` frame."""
        self.send(type="start", v=1, identity_token=token)
        return self.wait_for(lambda f: f["type"] == "started", timeout=10)

    def resume(self, resume_token: str, last_seq: int) -> Frame:
        """Resume a conversation; returns the ``resumed`` frame."""
        self.send(type="resume", v=1, resume_token=resume_token, last_seq=last_seq)
        return self.wait_for(lambda f: f["type"] == "resumed", timeout=10)

    def say(self, text: str, client_message_id: str | None = None) -> Frame:
        """Send a message and wait for its ack (the message is stored); returns the ack."""
        client_message_id = client_message_id or f"m{next(_ids)}"
        since = self.mark()
        self.send(type="message", client_message_id=client_message_id, text=text)
        return self.wait_for(
            lambda f: f["type"] == "ack" and f["client_message_id"] == client_message_id,
            since=since,
            timeout=10,
        )

    def bot_reply(self, ack: Frame) -> Frame:
        """The first bot message after the acknowledged customer message."""
        return self.wait_for(after(ack["seq"], is_bot))

    def ask(self, text: str) -> tuple[Frame, Frame]:
        """One answered turn: the ack and the first bot reply."""
        ack = self.say(text)
        return ack, self.bot_reply(ack)

    def queued(self, ack: Frame) -> tuple[Frame, Frame]:
        """The state change to ``queued`` after the acknowledged message, then the notice."""
        changed = self.wait_for(after(ack["seq"], is_event("state_changed", to="queued")))
        notice = self.wait_for(after(changed["seq"], is_event("handoff_notice")))
        return changed, notice


def assert_answered_once(frames: list[Frame], seq: int) -> None:
    """Bot messages after ``seq`` exist and none repeats: no turn was answered twice.

    Sequence numbers cannot tell turns apart (the next customer message may be stored before
    the previous turn's replies); the tests give every turn a distinct answer instead.
    """
    replies = [f["text"] for f in frames if f["seq"] > seq and f["sender"] == "bot"]
    assert replies and len(replies) == len(set(replies)), f"answered twice: {replies}"


def assert_gapless(frames: list[Frame], first: int = 1) -> None:
    """Transcript frames numbered ``first``, ``first + 1``, ... in order, none twice."""
    seqs = [frame["seq"] for frame in frames]
    assert seqs == list(range(first, first + len(seqs))), seqs
