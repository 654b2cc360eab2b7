"""The customer websocket, protocol v1, driven through Starlette's test client.

A tiny app is built inline with the gateway's two routers and a real conversation service on a
migrated SQLite file; only the assistant and the sentiment reader are fakes. Bot replies arrive
after the ack, from the turn's own task: tests read frames until they have what they expect
(never sleep), and wait for turns that publish nothing with ``Harness.drain``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from demobank.db import create_bank_engine
from demobank.seed import create_demo_bank
from handoff.brief.json_schema import brief_json_schema
from handoff.escalation.policy import load_policy
from handoff.gateway import customer_socket, routes
from handoff.gateway.conversations import BOT_TROUBLE_TEXT, ConversationService
from handoff.gateway.customer_socket import Gateway
from handoff.gateway.hub import ConversationHub
from handoff.gateway.identity import sign_identity_token
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.protocol import MAX_FRAME_BYTES, MAX_TEXT_CHARS, CloseCode
from handoff.gateway.rasa_client import BotReply, BotUnavailable, RasaHandoffSignal, RasaTurn
from handoff.limits import ServiceLimits
from handoff.sentiment.reading import SentimentReading
from handoff.settings import (
    GatewaySettings,
    IdentitySettings,
    LimitsSettings,
    Settings,
    repo_root,
)
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.models import Base, Conversation
from handoff.store.repository import ConversationStore

SECRET = "socket-test-secret-of-at-least-32-bytes"
NOW = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)
FRAME_TIMEOUT_SECONDS = 5.0
OWN_ORIGIN = "http://127.0.0.1:8000"  # the service's own, from the default server settings
ALLOWED_ORIGIN = "https://bank.example"

CALM = SentimentReading(
    label="neutral", scores={"negative": 0.05, "neutral": 0.9, "positive": 0.05}, frustration=0.05
)


# --------------------------------------------------------------------------- fakes


def answer(*texts: str, intent: str = "greet") -> RasaTurn:
    """A turn in which the assistant answers and does not hand over."""
    return RasaTurn(
        replies=[BotReply(text=text) for text in texts],
        handoff=None,
        intent=intent,
        confidence=0.95,
        intent_ranking=[],
        attempted_steps=[],
        truncated=False,
    )


def handing_over(reason: str = "request_human") -> RasaTurn:
    """A turn in which an action of the assistant sent its ``handoff`` signal."""
    return RasaTurn(
        replies=[BotReply(text="Let me find a colleague for you.")],
        handoff=RasaHandoffSignal(
            reason=reason,
            intent="request_human",
            confidence=0.97,
            category=None,
            severity=None,
            team=None,
            attempted_steps=[],
            summary="The customer asked for a person.",
        ),
        intent="request_human",
        confidence=0.97,
        intent_ranking=[],
        attempted_steps=[],
        truncated=False,
    )


@dataclass
class FakeAssistant:
    """Answers from ``script`` in order (an exception is raised), then echoes the text."""

    script: list[RasaTurn | Exception] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    gate: asyncio.Event | None = None  # when set, each call waits for the gate to open

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        self.calls.append(text)
        if self.gate is not None:
            await self.gate.wait()
        outcome = self.script.pop(0) if self.script else answer(f"You said: {text}")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


ANGRY = SentimentReading(
    label="negative", scores={"negative": 0.9, "neutral": 0.08, "positive": 0.02}, frustration=0.95
)


@dataclass
class FakeReader:
    """Reads every message as ``reading``: calm unless a test says otherwise."""

    reading: SentimentReading = CALM

    async def read(self, text: str) -> SentimentReading | None:
        return self.reading


@dataclass
class Clock:
    """The service's clock, which a test moves instead of sleeping."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bank_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The seeded demo bank on a SQLite file (read only by the tests)."""
    engine = create_bank_engine(f"sqlite:///{tmp_path_factory.mktemp('bank')}/bank.sqlite")
    create_demo_bank(engine, NOW)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def migrated_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The service's database, migrated once per module."""
    engine = create_database_engine(
        f"sqlite:///{tmp_path_factory.mktemp('handoff')}/handoff.sqlite"
    )
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def service_engine(migrated_engine: Engine) -> Iterator[Engine]:
    """The migrated database, emptied after each test."""
    yield migrated_engine
    with migrated_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@dataclass
class Harness:
    """The app under test and what the tests look at behind it."""

    client: TestClient
    gateway: Gateway
    assistant: FakeAssistant
    reader: FakeReader
    clock: Clock

    @property
    def store(self) -> ConversationStore:
        return self.gateway.service.store

    def drain(self) -> None:
        """Wait, in the app's event loop, for every running turn."""
        self.client.portal.call(self.gateway.service.drain)  # type: ignore[union-attr]

    def connect(self, origin: str | None = None, url: str = "/ws/customer") -> WebSocketTestSession:
        headers = {} if origin is None else {"origin": origin}
        return self.client.websocket_connect(url, headers=headers)


MakeHarness = Callable[..., Harness]


@pytest.fixture
def make_harness(service_engine: Engine, bank_engine: Engine) -> Iterator[MakeHarness]:
    """Builds the app, in demo mode unless told; ``limits`` replaces the rate limits, other
    keyword arguments override ``GatewaySettings``."""
    opened: list[Harness] = []

    def make(
        *, demo_mode: bool = True, limits: LimitsSettings | None = None, **gateway_options: Any
    ) -> Harness:
        settings = Settings(
            demo_mode=demo_mode,
            identity=IdentitySettings(secret=SECRET),
            gateway=GatewaySettings(allowed_origins=(ALLOWED_ORIGIN,), **gateway_options),
            limits=limits if limits is not None else LimitsSettings(),
        )
        clock = Clock()
        hub = ConversationHub()
        assistant = FakeAssistant()
        reader = FakeReader()
        service = ConversationService(
            store=ConversationStore(service_engine),
            hub=hub,
            assistant=assistant,
            sentiment=reader,
            policy=load_policy(repo_root() / "data" / "escalation.yml"),
            presence=PresenceRegistry(),
            average_handle=timedelta(minutes=8),
            clock=clock,
        )
        app = FastAPI()
        app.include_router(customer_socket.router)
        app.include_router(routes.router)
        app.state.gateway = Gateway(
            settings=settings, service=service, hub=hub, bank_engine=bank_engine
        )
        app.state.limits = ServiceLimits.from_settings(settings.limits)
        client = TestClient(app)
        client.__enter__()  # one event loop for every socket: turns outlive their socket
        harness = Harness(client, app.state.gateway, assistant, reader, clock)
        opened.append(harness)
        return harness

    yield make
    for harness in opened:
        harness.drain()
        harness.client.__exit__(None, None, None)


@pytest.fixture
def harness(make_harness: MakeHarness) -> Harness:
    """The app with default gateway settings."""
    return make_harness()


# --------------------------------------------------------------------------- helpers


def receive(ws: WebSocketTestSession, timeout: float = FRAME_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The next frame, or ``WebSocketDisconnect`` if the server closed; fails after ``timeout``.

    The test client's own ``receive_json`` waits forever, which would hang a failing test; this
    reads the same stream with a deadline.
    """

    async def next_message() -> dict[str, Any]:
        with anyio.fail_after(timeout):
            message: dict[str, Any] = await ws._send_rx.receive()
            return message

    message = ws.portal.call(next_message)
    if message["type"] == "websocket.close":
        raise WebSocketDisconnect(code=message.get("code", 1000), reason=message.get("reason"))
    frame: dict[str, Any] = json.loads(message["text"])
    return frame


def receive_n(ws: WebSocketTestSession, count: int) -> list[dict[str, Any]]:
    """The next ``count`` frames, in order."""
    return [receive(ws) for _ in range(count)]


def closed_with(ws: WebSocketTestSession) -> WebSocketDisconnect:
    """The close the server sends next (fails if a frame comes instead)."""
    with pytest.raises(WebSocketDisconnect) as caught:
        frame = receive(ws)
        pytest.fail(f"expected the socket to close, got {frame}")
    return caught.value


def start(ws: WebSocketTestSession, identity_token: str | None = None) -> dict[str, Any]:
    """Send ``start`` and return the ``started`` frame."""
    frame: dict[str, Any] = {"type": "start", "v": 1}
    if identity_token is not None:
        frame["identity_token"] = identity_token
    ws.send_json(frame)
    started = receive(ws)
    assert started["type"] == "started", started
    return started


def say(ws: WebSocketTestSession, client_message_id: str, text: str) -> None:
    ws.send_json({"type": "message", "client_message_id": client_message_id, "text": text})


def assert_quiet(ws: WebSocketTestSession) -> None:
    """Nothing is queued for the client: a ping is answered by the very next frame."""
    ws.send_json({"type": "ping"})
    assert receive(ws) == {"type": "pong"}


def token_for(customer_id: str, *, secret: str = SECRET, issued: datetime = NOW) -> str:
    return sign_identity_token(customer_id, secret=secret, now=issued, ttl=timedelta(hours=1))


# --------------------------------------------------------------------------- opening


def test_start_anonymous_gives_a_resume_token_and_the_bot_owns_the_conversation(
    harness: Harness,
) -> None:
    with harness.connect() as ws:
        started = start(ws)
    assert started["v"] == 1
    assert started["state"] == "bot"
    assert started["last_seq"] == 0
    assert started["customer"] == {"id": None, "name": None, "tier": "standard"}
    assert len(started["resume_token"]) >= 32
    record = harness.store.get_conversation(started["conversation_id"])
    assert record is not None and record.customer_id is None


def test_a_valid_identity_token_names_the_customer_from_the_bank(harness: Harness) -> None:
    with harness.connect() as ws:
        started = start(ws, token_for("cus_1002"))
    assert started["customer"] == {"id": "cus_1002", "name": "Ben Okafor", "tier": "premium"}


@pytest.mark.parametrize(
    ("token", "reason_start"),
    [
        (
            lambda: token_for("cus_1002", secret="another-secret-of-at-least-32-bytes!"),
            "bad_signature",
        ),
        (lambda: token_for("cus_1002", issued=NOW - timedelta(hours=2)), "expired"),
        (lambda: "not-a-jwt", "malformed"),
    ],
    ids=["forged", "expired", "malformed"],
)
def test_an_untrusted_identity_token_closes_with_4401_saying_why(
    harness: Harness, token: Callable[[], str], reason_start: str
) -> None:
    with harness.connect() as ws:
        ws.send_json({"type": "start", "v": 1, "identity_token": token()})
        closed = closed_with(ws)
    assert closed.code == CloseCode.IDENTITY_REJECTED == 4401
    assert closed.reason.startswith(f"{reason_start}:"), closed.reason
    assert "cus_1002" not in closed.reason  # the details are for the logs
    assert len(closed.reason.encode()) <= 123


def test_a_token_for_a_customer_the_bank_does_not_know_closes_with_4403(
    harness: Harness,
) -> None:
    with harness.connect() as ws:
        ws.send_json({"type": "start", "v": 1, "identity_token": token_for("cus_9999")})
        assert closed_with(ws).code == CloseCode.UNKNOWN_CUSTOMER == 4403


@pytest.mark.parametrize(
    "first",
    [
        '{"type": "message", "client_message_id": "m1", "text": "hi"}',
        '{"type": "ping"}',
        "hello",
        "[1, 2]",
        '{"type": "start", "v": 1, "colour": "red"}',
        '{"type": "resume", "v": 1, "resume_token": "x", "last_seq": -1}',
    ],
    ids=["message", "ping", "not-json", "not-an-object", "unknown-field", "negative-seq"],
)
def test_a_first_frame_that_is_not_a_valid_opening_closes_with_4400(
    harness: Harness, first: str
) -> None:
    with harness.connect() as ws:
        ws.send_text(first)
        assert closed_with(ws).code == CloseCode.PROTOCOL_ERROR == 4400


def test_an_unsupported_version_closes_with_4426(harness: Harness) -> None:
    with harness.connect() as ws:
        ws.send_json({"type": "start", "v": 2})
        closed = closed_with(ws)
    assert closed.code == CloseCode.UNSUPPORTED_VERSION == 4426
    assert "speaks 1" in closed.reason


def test_no_opening_within_the_handshake_timeout_closes_with_4408(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(handshake_timeout_seconds=0.05)
    with harness.connect() as ws:
        assert closed_with(ws).code == CloseCode.HANDSHAKE_TIMEOUT == 4408


def test_a_binary_opening_frame_is_read_like_a_text_one(harness: Harness) -> None:
    with harness.connect() as ws:
        ws.send_bytes(b'{"type": "start", "v": 1}')
        assert receive(ws)["type"] == "started"
        ws.send_bytes(b'{"type": "ping"}')
        assert receive(ws) == {"type": "pong"}


# --------------------------------------------------------------------------- origin


def test_a_page_of_another_origin_is_refused_with_1008(harness: Harness) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as caught,
        harness.connect(origin="https://evil.example"),
    ):
        pytest.fail("the socket was accepted")
    assert caught.value.code == CloseCode.POLICY_VIOLATION == 1008
    assert caught.value.reason == "origin not allowed"


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example:8000",  # DNS rebinding: Origin and Host agree, both the attacker's
        "https://evil.example:8000",  # the same, whatever the scheme
    ],
)
def test_an_origin_matching_the_host_header_is_not_trusted_for_it(
    harness: Harness, origin: str
) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as caught,
        harness.connect(origin=origin, url="ws://evil.example:8000/ws/customer"),
    ):
        pytest.fail("the socket was accepted")
    assert caught.value.code == CloseCode.POLICY_VIOLATION


def test_the_host_header_does_not_make_an_origin_the_services_own(harness: Harness) -> None:
    # The test client's Host is "testserver": a page of http://testserver is not trusted.
    with pytest.raises(WebSocketDisconnect) as caught, harness.connect(origin="http://testserver"):
        pytest.fail("the socket was accepted")
    assert caught.value.code == CloseCode.POLICY_VIOLATION


@pytest.mark.parametrize("origin", [OWN_ORIGIN, ALLOWED_ORIGIN, ALLOWED_ORIGIN + "/", None])
def test_the_services_own_origin_a_configured_one_or_no_origin_may_connect(
    harness: Harness, origin: str | None
) -> None:
    with harness.connect(origin=origin) as ws:
        assert start(ws)["state"] == "bot"


# --------------------------------------------------------------------------- messages


def test_a_message_is_echoed_acknowledged_and_answered_in_sequence(harness: Harness) -> None:
    harness.assistant.script = [answer("Hello!", "How can I help?")]
    with harness.connect() as ws:
        start(ws)
        say(ws, "m1", "hi there")
        echo, ack, first, second = receive_n(ws, 4)
    assert echo["type"] == "message" and echo["sender"] == "customer"
    assert (echo["seq"], echo["text"], echo["client_message_id"]) == (1, "hi there", "m1")
    assert ack == {"type": "ack", "client_message_id": "m1", "seq": 1, "duplicate": False}
    assert [(f["type"], f["sender"], f["seq"], f["text"]) for f in (first, second)] == [
        ("message", "bot", 2, "Hello!"),
        ("message", "bot", 3, "How can I help?"),
    ]
    assert first["client_message_id"] is None
    assert datetime.fromisoformat(first["at"]) == NOW
    assert harness.assistant.calls == ["hi there"]


def test_a_retried_client_message_id_is_acknowledged_as_a_duplicate_and_not_answered_again(
    harness: Harness,
) -> None:
    with harness.connect() as ws:
        started = start(ws)
        say(ws, "m1", "hi there")
        receive_n(ws, 3)  # echo, ack, the bot's reply
        say(ws, "m1", "hi there")
        assert receive(ws) == {
            "type": "ack",
            "client_message_id": "m1",
            "seq": 1,
            "duplicate": True,
        }
        harness.drain()
        assert_quiet(ws)
    assert harness.assistant.calls == ["hi there"]
    transcript = harness.store.transcript(started["conversation_id"])
    assert [(m.seq, m.sender.value) for m in transcript] == [(1, "customer"), (2, "bot")]


def test_a_frame_that_is_not_json_gets_an_error_frame_and_the_connection_stays_up(
    harness: Harness,
) -> None:
    with harness.connect() as ws:
        start(ws)
        ws.send_text("this is not json")
        error = receive(ws)
        assert error["type"] == "error" and error["code"] == "bad_frame"
        assert "not valid JSON" in error["message"]
        ws.send_json({"type": "wave"})
        assert receive(ws)["code"] == "bad_frame"
        say(ws, "m1", "still here?")
        echo, ack, reply = receive_n(ws, 3)
    assert (echo["seq"], ack["seq"], reply["seq"]) == (1, 1, 2)


@pytest.mark.parametrize("text", ["", "   \n"], ids=["empty", "blank"])
def test_an_empty_message_gets_an_error_frame_and_nothing_is_stored(
    harness: Harness, text: str
) -> None:
    with harness.connect() as ws:
        started = start(ws)
        say(ws, "m1", text)
        error = receive(ws)
        assert error["type"] == "error" and error["code"] == "bad_frame"
        assert "empty" in error["message"]
        assert_quiet(ws)
    assert harness.store.transcript(started["conversation_id"]) == []
    assert harness.assistant.calls == []


def test_oversized_frames_and_texts_get_error_frames(harness: Harness) -> None:
    with harness.connect() as ws:
        started = start(ws)
        say(ws, "m1", "x" * (MAX_TEXT_CHARS + 1))
        assert "text" in receive(ws)["message"]
        ws.send_text('{"type": "ping", "pad": "' + "x" * MAX_FRAME_BYTES + '"}')
        assert f"{MAX_FRAME_BYTES} limit" in receive(ws)["message"]
        euros = "\u20ac" * (MAX_FRAME_BYTES // 3 + 1)  # fewer characters than bytes
        ws.send_text('{"type": "ping", "pad": "' + euros + '"}')
        assert f"{MAX_FRAME_BYTES} limit" in receive(ws)["message"]
        assert_quiet(ws)
    assert harness.store.transcript(started["conversation_id"]) == []


def test_ping_is_answered_with_pong(harness: Harness) -> None:
    with harness.connect() as ws:
        start(ws)
        ws.send_json({"type": "ping"})
        assert receive(ws) == {"type": "pong"}


# --------------------------------------------------------------------------- hostile frames

DEEP = "[" * 990 + "]" * 990  # RecursionError in json.loads, before frames were read strictly
HUGE_INT = "1" * 4_301  # over Python's int-string limit: ValueError in int()
BEYOND_ANY_ID = str(2**63)  # OverflowError when bound to a SQLite parameter
SURROGATE = "ana\\ud800"  # a JSON escape decoding to a lone surrogate


def message_frame(text: str = "hello", cmid: str = "m1") -> str:
    return f'{{"type": "message", "client_message_id": "{cmid}", "text": "{text}"}}'


HOSTILE_FRAMES = {  # what is sent, and what the error frame says about it
    "deep-nesting": (DEEP, "nested deeper than 8 levels"),
    "deep-field": ('{"type": "ping", "x": ' + DEEP + "}", "nested deeper than 8 levels"),
    "huge-int": ('{"type": "read", "seq": ' + HUGE_INT + "}", "integer of 4301 digits"),
    "out-of-range-seq": ('{"type": "read", "seq": ' + BEYOND_ANY_ID + "}", "less than or equal to"),
    "too-large-seq": ('{"type": "read", "seq": 2147483648}', "less than or equal to 2147483647"),
    "string-seq": ('{"type": "read", "seq": "1"}', "valid integer (got a string)"),
    "bool-seq": ('{"type": "read", "seq": true}', "valid integer (got true)"),
    "float-seq": ('{"type": "read", "seq": 1.0}', "valid integer (got a number)"),
    "nan": ('{"type": "read", "seq": NaN}', "NaN is not a JSON number"),
    "infinity": ('{"type": "read", "seq": Infinity}', "Infinity is not a JSON number"),
    "float-overflow": ('{"type": "read", "seq": 1e400}', "1e400 is out of range"),
    "surrogate-text": (message_frame(text=SURROGATE), "lone surrogate (\\ud800)"),
    "surrogate-id": (message_frame(cmid=SURROGATE), "lone surrogate (\\ud800)"),
    "oversized": (
        '{"type": "ping", "pad": "' + "x" * MAX_FRAME_BYTES + '"}',
        f"over the {MAX_FRAME_BYTES} limit; send at most",
    ),
}


@pytest.mark.parametrize(("frame", "says"), HOSTILE_FRAMES.values(), ids=HOSTILE_FRAMES.keys())
def test_a_hostile_frame_gets_an_error_frame_and_the_socket_stays_usable(
    harness: Harness, frame: str, says: str
) -> None:
    with harness.connect() as ws:
        started = start(ws)
        ws.send_text(frame)
        error = receive(ws)
        assert error["type"] == "error" and error["code"] == "bad_frame", error
        assert says in error["message"], error
        assert_quiet(ws)
        say(ws, "m2", "still here?")
        echo, ack, _reply = receive_n(ws, 3)
    assert (echo["seq"], ack["seq"]) == (1, 1)
    assert [m.text for m in harness.store.transcript(started["conversation_id"])][:1] == [
        "still here?"
    ]


HOSTILE_OPENINGS = {
    "deep-nesting": (DEEP, "nested deeper"),
    "string-version": ('{"type": "start", "v": "1"}', "valid integer (got a string)"),
    "bool-version": ('{"type": "start", "v": true}', "valid integer (got true)"),
    "huge-version": ('{"type": "start", "v": ' + HUGE_INT + "}", "integer of 4301 digits"),
    "nan-version": ('{"type": "start", "v": NaN}', "NaN is not a JSON number"),
    "string-last-seq": (
        '{"type": "resume", "v": 1, "resume_token": "t", "last_seq": "0"}',
        "valid integer (got a string)",
    ),
    "out-of-range-last-seq": (
        '{"type": "resume", "v": 1, "resume_token": "t", "last_seq": 2147483648}',
        "less than or equal to 2147483647",
    ),
    "surrogate-token": (
        '{"type": "start", "v": 1, "identity_token": "' + SURROGATE + '"}',
        "lone surrogate",
    ),
}


@pytest.mark.parametrize(("frame", "says"), HOSTILE_OPENINGS.values(), ids=HOSTILE_OPENINGS.keys())
def test_a_hostile_opening_closes_with_4400_saying_why(
    harness: Harness, frame: str, says: str
) -> None:
    with harness.connect() as ws:
        ws.send_text(frame)
        closed = closed_with(ws)
    assert closed.code == CloseCode.PROTOCOL_ERROR, closed.reason
    assert says in closed.reason


def test_an_unexpected_failure_on_one_frame_is_an_error_frame_not_a_dropped_socket(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service = harness.gateway.service
    receive_message = service.receive

    async def failing_once(conversation_id: str, **kwargs: Any) -> Any:
        monkeypatch.setattr(service, "receive", receive_message)
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "receive", failing_once)
    with harness.connect() as ws:
        start(ws)
        say(ws, "m1", "hello")
        error = receive(ws)
        assert error["type"] == "error" and error["code"] == "internal_error"
        assert "a bug" not in error["message"]  # details are for the logs
        say(ws, "m1", "hello")  # the retry the error frame asks for
        echo, ack, _reply = receive_n(ws, 3)
        assert ack == {"type": "ack", "client_message_id": "m1", "seq": 1, "duplicate": False}
    assert "a frame could not be handled" in caplog.text and "RuntimeError: a bug" in caplog.text


def test_an_unexpected_failure_in_the_opening_closes_with_1011(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(harness.gateway.service, "start", failing)
    with harness.connect() as ws:
        ws.send_json({"type": "start", "v": 1})
        closed = closed_with(ws)
    assert closed.code == CloseCode.INTERNAL_ERROR == 1011
    assert "a bug" not in closed.reason


# --------------------------------------------------------------------------- resume


def test_resume_sends_exactly_the_missed_frames_in_order(harness: Harness) -> None:
    harness.assistant.script = [
        answer("Hello!"),
        answer("Your card ships today.", "Anything else?"),
    ]
    with harness.connect() as ws:
        started = start(ws)
        say(ws, "m1", "first")
        receive_n(ws, 3)  # seq 1 (echo), ack, seq 2 (reply)
        say(ws, "m2", "second")
        echo, ack = receive_n(ws, 2)
        assert (echo["seq"], ack["seq"]) == (3, 3)
        # The socket goes away before the customer reads the answers to the second message.
    harness.drain()

    with harness.connect() as ws:
        ws.send_json(
            {"type": "resume", "v": 1, "resume_token": started["resume_token"], "last_seq": 3}
        )
        resumed, *missed = receive_n(ws, 3)
        assert_quiet(ws)  # nothing else, nothing twice
    assert resumed == {
        "type": "resumed",
        "v": 1,
        "conversation_id": started["conversation_id"],
        "customer": started["customer"],
        "state": "bot",
        "last_seq": 5,
    }
    assert [(f["type"], f["seq"], f["sender"], f["text"]) for f in missed] == [
        ("message", 4, "bot", "Your card ships today."),
        ("message", 5, "bot", "Anything else?"),
    ]
    assert harness.assistant.calls == ["first", "second"]


def test_resume_from_zero_replays_the_whole_transcript_and_goes_on_live(
    harness: Harness,
) -> None:
    with harness.connect() as ws:
        started = start(ws)
        say(ws, "m1", "first")
        receive_n(ws, 3)
    with harness.connect() as ws:
        ws.send_json(
            {"type": "resume", "v": 1, "resume_token": started["resume_token"], "last_seq": 0}
        )
        resumed, *replayed = receive_n(ws, 3)
        assert resumed["last_seq"] == 2
        assert [f["seq"] for f in replayed] == [1, 2]
        say(ws, "m2", "second")
        assert [f["seq"] for f in receive_n(ws, 3)] == [3, 3, 4]  # echo, ack, reply


def test_resume_with_a_last_seq_ahead_of_the_conversation_closes_with_4400(
    harness: Harness,
) -> None:
    with harness.connect() as ws:
        started = start(ws)
    with harness.connect() as ws:
        ws.send_json(
            {"type": "resume", "v": 1, "resume_token": started["resume_token"], "last_seq": 9}
        )
        closed = closed_with(ws)
    assert closed.code == CloseCode.PROTOCOL_ERROR
    assert "ahead" in closed.reason


def test_resuming_while_a_turn_is_running_does_not_run_it_twice(harness: Harness) -> None:
    gate = harness.assistant.gate = asyncio.Event()
    with harness.connect() as ws:
        started = start(ws)
        say(ws, "m1", "first")
        receive_n(ws, 2)  # echo, ack; the assistant is still thinking
    with harness.connect() as ws:
        ws.send_json(
            {"type": "resume", "v": 1, "resume_token": started["resume_token"], "last_seq": 1}
        )
        assert receive(ws)["type"] == "resumed"
        harness.client.portal.call(gate.set)  # type: ignore[union-attr]
        reply = receive(ws)
        assert (reply["seq"], reply["sender"]) == (2, "bot")
        harness.drain()
        assert_quiet(ws)
    assert harness.assistant.calls == ["first"]


def test_every_socket_of_a_conversation_sees_its_messages_and_only_the_sender_gets_the_ack(
    harness: Harness,
) -> None:
    with harness.connect() as first:
        started = start(first)
        with harness.connect() as second:
            second.send_json(
                {"type": "resume", "v": 1, "resume_token": started["resume_token"], "last_seq": 0}
            )
            assert receive(second)["type"] == "resumed"
            say(first, "m1", "two tabs")
            assert [f["type"] for f in receive_n(first, 3)] == ["message", "ack", "message"]
            assert [(f["type"], f["seq"]) for f in receive_n(second, 2)] == [
                ("message", 1), ("message", 2),
            ]  # fmt: skip
            assert_quiet(second)


def test_resume_with_an_unknown_token_closes_with_4404(harness: Harness) -> None:
    with harness.connect() as ws:
        ws.send_json({"type": "resume", "v": 1, "resume_token": "no-such-token", "last_seq": 0})
        assert closed_with(ws).code == CloseCode.UNKNOWN_CONVERSATION == 4404


def test_resume_of_a_closed_conversation_closes_with_4410(harness: Harness) -> None:
    with harness.connect() as ws:
        started = start(ws)
    harness.store.transition(
        started["conversation_id"], allowed_from=["bot"], to="closed", reason="resolved", now=NOW
    )
    with harness.connect() as ws:
        ws.send_json(
            {"type": "resume", "v": 1, "resume_token": started["resume_token"], "last_seq": 0}
        )
        assert closed_with(ws).code == CloseCode.CONVERSATION_CLOSED == 4410


@pytest.mark.parametrize(
    "body",
    [
        '{"customer_id": "cus_1001\\ud800"}',
        '{"customer_id": NaN}',
        '{"customer_id": Infinity}',
        '{"customer_id": 1e400}',
    ],
    ids=["lone-surrogate", "nan", "infinity", "float-overflow"],
)
def test_a_demo_identity_body_the_service_cannot_read_is_a_422_not_a_500(
    harness: Harness, body: str
) -> None:
    response = harness.client.post(
        "/api/demo/identity-token", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "json_invalid"


# --------------------------------------------------------------------------- ownership


def test_an_escalating_turn_queues_the_conversation_and_the_bot_stops_answering(
    harness: Harness,
) -> None:
    harness.assistant.script = [handing_over("request_human")]
    with harness.connect() as ws:
        started = start(ws)
        say(ws, "m1", "I want to talk to a person")
        echo, ack, state_changed, notice = receive_n(ws, 4)
        assert (echo["seq"], ack["seq"]) == (1, 1)
        assert state_changed["sender"] == "system" and state_changed["seq"] == 2
        assert state_changed["data"]["event"] == "state_changed"
        assert (state_changed["data"]["from"], state_changed["data"]["to"]) == ("bot", "queued")
        assert notice["sender"] == "system" and notice["seq"] == 3
        assert notice["data"]["event"] == "handoff_notice"
        assert notice["data"]["position"] == 1
        assert notice["data"]["agents_online"] == 0
        assert notice["data"]["wait_estimate_seconds"] is None
        assert notice["text"]
        assert "handoff_id" not in notice["data"]  # internal ids never reach the customer

        say(ws, "m2", "hello? anyone?")
        echo, ack = receive_n(ws, 2)
        assert (echo["seq"], echo["sender"], ack["seq"], ack["duplicate"]) == (
            4, "customer", 4, False,
        )  # fmt: skip
        harness.drain()
        assert_quiet(ws)
    assert harness.assistant.calls == ["I want to talk to a person"]
    last = harness.store.transcript(started["conversation_id"])[-1]
    assert last.payload["processed"] is True and last.payload["owner"] == "queued"


def test_the_customer_is_not_shown_why_the_engine_escalated(harness: Harness) -> None:
    harness.reader.reading = ANGRY
    with harness.connect() as ws:
        start(ws)
        say(ws, "m1", "this is useless, I have asked three times")
        frames = receive_n(ws, 5)  # echo, ack, the bot's answer, state change, notice
    state_changed = frames[3]
    assert state_changed["data"]["event"] == "state_changed"
    assert "reason" not in state_changed["data"]
    assert "frustration" not in state_changed["text"]


def test_resuming_a_queued_conversation_reports_its_place_in_the_queue(
    harness: Harness,
) -> None:
    harness.assistant.script = [handing_over("request_human")]
    with harness.connect() as ws:
        started = start(ws)
        say(ws, "m1", "a person please")
        receive_n(ws, 4)
    with harness.connect() as ws:
        ws.send_json(
            {"type": "resume", "v": 1, "resume_token": started["resume_token"], "last_seq": 3}
        )
        resumed, queue = receive_n(ws, 2)
    assert resumed["state"] == "queued" and resumed["last_seq"] == 3
    assert queue["type"] == "queue"
    assert (queue["position"], queue["agents_online"], queue["wait_estimate_seconds"]) == (
        1, 0, None,
    )  # fmt: skip
    assert queue["text"]


def test_an_assistant_failure_tells_the_customer_plainly_and_queues_with_reason_bot_error(
    harness: Harness,
) -> None:
    harness.assistant.script = [BotUnavailable("connection refused to rasa:5005")]
    with harness.connect() as ws:
        started = start(ws)
        say(ws, "m1", "where is my card?")
        _echo, _ack, trouble, state_changed, notice = receive_n(ws, 5)
    assert trouble["sender"] == "system" and trouble["text"] == BOT_TROUBLE_TEXT
    assert trouble["data"] == {"event": "bot_error", "in_reply_to": 1}
    assert "rasa" not in trouble["text"]
    assert state_changed["data"]["event"] == "state_changed"
    assert state_changed["data"]["to"] == "queued"
    assert notice["data"]["event"] == "handoff_notice"

    conversation_id = started["conversation_id"]
    record = harness.store.get_conversation(conversation_id)
    assert record is not None and record.state.value == "queued"
    stored_change = harness.store.transcript(conversation_id)[state_changed["seq"] - 1]
    assert stored_change.payload["reason"] == "bot_error"
    handoff = harness.store.latest_handoff(conversation_id)
    assert handoff is not None and handoff.reasons[0]["code"] == "bot_error"


# --------------------------------------------------------------------------- rate limits


def outcomes(ws: WebSocketTestSession, count: int) -> dict[str, str]:
    """How the server answered ``count`` messages: client message id -> ``ack`` or the error
    code. Echoes and bot replies in between are skipped."""
    answered: dict[str, str] = {}
    for _ in range(10 * count):
        frame = receive(ws)
        if frame["type"] == "ack":
            answered[frame["client_message_id"]] = "ack"
        elif frame["type"] == "error":
            assert frame["code"] == "rate_limited", frame
            assert frame["retry_after_seconds"] >= 1, frame
            answered[f"refused-{len(answered)}"] = "rate_limited"
        if len(answered) == count:
            return answered
    pytest.fail(f"only {len(answered)} of {count} messages were answered: {answered}")


def stored_texts(harness: Harness, conversation_id: str) -> list[str]:
    return [m.text for m in harness.store.transcript(conversation_id) if m.sender == "customer"]


def test_a_message_flood_is_refused_over_the_limit_and_the_socket_stays_open(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(
        limits=LimitsSettings(customer_messages_burst=3, customer_messages_per_minute=6)
    )
    with harness.connect() as ws:
        started = start(ws)
        for n in range(20):
            say(ws, f"m{n}", f"flood {n}")
        answered = outcomes(ws, 20)
        assert [cmid for cmid, how in answered.items() if how == "ack"] == ["m0", "m1", "m2"]
        harness.drain()
        # Refused messages were neither stored nor passed to the assistant.
        assert stored_texts(harness, started["conversation_id"]) == [
            "flood 0",
            "flood 1",
            "flood 2",
        ]
        assert harness.assistant.calls == ["flood 0", "flood 1", "flood 2"]
        # The socket is still open, and once the bucket has refilled a message goes through.
        harness.clock.now += timedelta(seconds=10)  # 6 a minute: one every 10 s
        say(ws, "m3", "calm again")
        assert outcomes(ws, 1) == {"m3": "ack"}
        harness.drain()
    assert stored_texts(harness, started["conversation_id"])[-1] == "calm again"


def test_the_error_frame_says_when_to_retry(make_harness: MakeHarness) -> None:
    harness = make_harness(
        limits=LimitsSettings(customer_messages_burst=1, customer_messages_per_minute=4)
    )
    with harness.connect() as ws:
        start(ws)
        say(ws, "m1", "one")
        outcomes(ws, 1)
        say(ws, "m2", "two")
        error = receive_until_type(ws, "error")
    assert error == {
        "type": "error",
        "code": "rate_limited",
        "message": "too many messages: retry in 15 s",
        "retry_after_seconds": 15,
    }


def receive_until_type(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    for _ in range(20):
        frame = receive(ws)
        if frame["type"] == kind:
            return frame
    pytest.fail(f"no {kind} frame came")


def test_an_identified_customer_shares_one_message_limit_over_all_their_sockets(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(
        limits=LimitsSettings(customer_messages_burst=2, customer_messages_per_minute=1)
    )
    with harness.connect() as first, harness.connect() as second:
        start(first, token_for("cus_1002"))
        start(second, token_for("cus_1002"))  # another conversation, the same customer
        say(first, "a1", "one")
        say(first, "a2", "two")
        assert outcomes(first, 2) == {"a1": "ack", "a2": "ack"}
        say(second, "b1", "three")
        assert outcomes(second, 1) == {"refused-0": "rate_limited"}


def test_other_customers_are_not_slowed_by_a_flood(make_harness: MakeHarness) -> None:
    harness = make_harness(
        limits=LimitsSettings(customer_messages_burst=2, customer_messages_per_minute=1)
    )
    with harness.connect() as flooder, harness.connect() as other:
        start(flooder)
        calm = start(other)
        for n in range(10):
            say(flooder, f"f{n}", f"flood {n}")
        assert list(outcomes(flooder, 10).values()).count("ack") == 2
        # An anonymous customer is limited per conversation: the other one has its own.
        say(other, "o1", "hello")
        say(other, "o2", "anyone there?")
        assert outcomes(other, 2) == {"o1": "ack", "o2": "ack"}
        harness.drain()
    assert stored_texts(harness, calm["conversation_id"]) == ["hello", "anyone there?"]


def test_a_frame_flood_on_one_socket_is_refused_whatever_the_frames(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(
        limits=LimitsSettings(customer_frames_burst=5, customer_frames_per_minute=60)
    )
    with harness.connect() as ws:
        start(ws)
        for _ in range(8):
            ws.send_json({"type": "ping"})
        frames = receive_n(ws, 8)
        assert [f["type"] for f in frames] == ["pong"] * 5 + ["error"] * 3
        assert {f["code"] for f in frames[5:]} == {"rate_limited"}
        harness.clock.now += timedelta(seconds=1)
        assert_quiet(ws)  # open, and allowed again


def test_new_conversations_are_limited_per_address_but_resumes_are_not(
    make_harness: MakeHarness, service_engine: Engine
) -> None:
    harness = make_harness(
        limits=LimitsSettings(new_conversations_burst=2, new_conversations_per_minute=2)
    )
    with harness.connect() as ws:
        first = start(ws)
    with harness.connect() as ws:
        start(ws)
    with harness.connect() as ws:
        ws.send_json({"type": "start", "v": 1})
        refused = receive(ws)
        assert refused["type"] == "error" and refused["code"] == "rate_limited"
        assert refused["retry_after_seconds"] == 30
        # The socket stays open for the opening to be sent again once allowed.
        harness.clock.now += timedelta(seconds=30)
        assert start(ws)["state"] == "bot"
    with harness.connect() as ws:
        ws.send_json({"type": "start", "v": 1})
        assert receive(ws)["code"] == "rate_limited"
    with harness.connect() as ws:  # a resume is not a new conversation
        ws.send_json(
            {"type": "resume", "v": 1, "resume_token": first["resume_token"], "last_seq": 0}
        )
        assert receive(ws)["type"] == "resumed"
    with Session(service_engine) as session:  # the refused starts created nothing
        assert session.scalar(select(func.count()).select_from(Conversation)) == 3


# --------------------------------------------------------------------------- REST routes


def test_the_brief_schema_is_served(harness: Harness) -> None:
    response = harness.client.get("/api/schema/handoff-brief")
    assert response.status_code == 200
    assert response.json() == brief_json_schema()


def test_the_demo_customers_are_listed_with_their_tiers(harness: Harness) -> None:
    response = harness.client.get("/api/demo/customers")
    assert response.status_code == 200
    assert {c["id"]: c["tier"] for c in response.json()} == {
        "cus_1001": "standard",
        "cus_1002": "premium",
        "cus_1003": "plus",
        "cus_1004": "standard",
        "cus_1005": "premium",
        "cus_1006": "plus",
    }
    assert all(c["name"] for c in response.json())


def test_a_demo_identity_token_is_accepted_by_the_socket(harness: Harness) -> None:
    response = harness.client.post("/api/demo/identity-token", json={"customer_id": "cus_1002"})
    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == "cus_1002"
    assert datetime.fromisoformat(body["expires_at"]) == NOW + timedelta(hours=1)
    with harness.connect() as ws:
        started = start(ws, body["token"])
    assert started["customer"]["id"] == "cus_1002"


def test_a_demo_identity_token_for_an_unknown_customer_is_404(harness: Harness) -> None:
    response = harness.client.post("/api/demo/identity-token", json={"customer_id": "cus_9999"})
    assert response.status_code == 404
    assert "cus_9999" in response.json()["detail"]


def test_the_demo_routes_are_404_outside_demo_mode(make_harness: MakeHarness) -> None:
    harness = make_harness(demo_mode=False)
    assert harness.client.get("/api/demo/customers").status_code == 404
    response = harness.client.post("/api/demo/identity-token", json={"customer_id": "cus_1002"})
    assert response.status_code == 404
    assert harness.client.get("/api/schema/handoff-brief").status_code == 200
