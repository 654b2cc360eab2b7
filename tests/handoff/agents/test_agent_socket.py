"""The agent websocket, protocol v1, driven through Starlette's test client with customers.

As in ``tests/handoff/gateway/test_customer_socket.py``: a tiny app with both sockets, a real
conversation service and agent desk on a migrated SQLite file, and fakes only for the assistant
and the sentiment reader. Customers escalate through their own socket; agents work on the
handoffs through theirs. Tests read frames until they have what they expect, never sleep.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, update
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from handoff.agents import socket as agent_socket
from handoff.agents.accounts import AgentRecord, AgentStore, policy_teams
from handoff.agents.desk import AgentDesk
from handoff.agents.tokens import issue_agent_token
from handoff.escalation.policy import EscalationPolicy, load_policy
from handoff.gateway import customer_socket
from handoff.gateway.conversations import ConversationService
from handoff.gateway.customer_socket import Gateway
from handoff.gateway.hub import ConversationHub
from handoff.gateway.identity import sign_identity_token
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.rasa_client import BotReply, RasaHandoffSignal, RasaTurn
from handoff.limits import ServiceLimits
from handoff.sentiment.reading import SentimentReading
from handoff.settings import (
    AgentSettings,
    GatewaySettings,
    IdentitySettings,
    LimitsSettings,
    Settings,
    repo_root,
)
from handoff.store.agent_work import AgentWorkStore
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.models import Agent, Base
from handoff.store.repository import ConversationStore
from handoff.store.review import ReviewStore
from handoff.store.states import ConversationState, HandoffStatus, RootCause

IDENTITY_SECRET = "agent-socket-identity-secret-of-32-bytes"
AGENT_SECRET = "agent-socket-token-secret-of-at-least-32-bytes"
NOW = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)
FRAME_TIMEOUT_SECONDS = 5.0
ALLOWED_ORIGIN = "https://desk.bank.example"
PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only

CALM = SentimentReading(
    label="neutral", scores={"negative": 0.05, "neutral": 0.9, "positive": 0.05}, frustration=0.05
)
STEPS = [
    {"action": "action_freeze_card", "step": "freeze_card", "outcome": "done",
     "summary": "froze card ending 4242", "at": "2024-11-27T09:58:00+00:00"},
    {"action": "action_card_payments", "step": "list_card_payments", "outcome": "info",
     "summary": "listed the last card payments", "at": "2024-11-27T09:58:30+00:00"},
    {"action": "action_replace_card", "step": "order_replacement", "outcome": "failed",
     "summary": "could not order a replacement card", "at": "2024-11-27T09:59:00+00:00"},
]  # fmt: skip
WARM_INTRODUCTION = (
    "Hi, I'm Ana from our security team. I can see what's been done so far: froze card ending "
    "4242, listed the last card payments and could not order a replacement card. I'll take it "
    "from here, so there's no need to repeat anything."
)


# --------------------------------------------------------------------------- fakes


def answer(text: str) -> RasaTurn:
    return RasaTurn(
        replies=[BotReply(text=text)], handoff=None, intent="greet", confidence=0.95,
        intent_ranking=[], attempted_steps=[], truncated=False,
    )  # fmt: skip


def hand_over(category: str, *, steps: list[dict[str, Any]] | None = None) -> RasaTurn:
    """The assistant hands over for ``category`` (sev2); three or more steps make it warm."""
    steps = [] if steps is None else steps
    return RasaTurn(
        replies=[],
        handoff=RasaHandoffSignal(
            reason="card_compromised", intent="card_compromised", confidence=0.97,
            category=category, severity="sev2", team=None, attempted_steps=steps,
            summary="The customer thinks their card was compromised.",
        ),  # fmt: skip
        intent="card_compromised", confidence=0.97, intent_ranking=[], attempted_steps=steps,
        truncated=False,
    )  # fmt: skip


@dataclass
class FakeAssistant:
    """Answers from ``script`` in order, then echoes the text."""

    script: list[RasaTurn] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        self.calls.append(text)
        return self.script.pop(0) if self.script else answer(f"You said: {text}")


class FakeReader:
    async def read(self, text: str) -> SentimentReading | None:
        return CALM


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def migrated_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = create_database_engine(f"sqlite:///{tmp_path_factory.mktemp('desk')}/handoff.sqlite")
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def policy() -> EscalationPolicy:
    return load_policy(repo_root() / "data" / "escalation.yml")


@pytest.fixture
def service_engine(migrated_engine: Engine) -> Iterator[Engine]:
    yield migrated_engine
    with migrated_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@dataclass
class Harness:
    client: TestClient
    service: ConversationService
    desk: AgentDesk
    work: AgentWorkStore
    presence: PresenceRegistry
    assistant: FakeAssistant
    clock: Clock
    agents: dict[str, AgentRecord]

    @property
    def store(self) -> ConversationStore:
        return self.service.store

    def drain(self) -> None:
        self.client.portal.call(self.service.drain)  # type: ignore[union-attr]

    def token(self, who: str) -> str:
        return issue_agent_token(
            self.agents[who], secret=AGENT_SECRET, now=self.clock.now, ttl=timedelta(hours=8)
        )

    def connect_agent(self, origin: str | None = None) -> WebSocketTestSession:
        headers = {} if origin is None else {"origin": origin}
        return self.client.websocket_connect("/ws/agent", headers=headers)

    def connect_customer(self) -> WebSocketTestSession:
        return self.client.websocket_connect("/ws/customer")


@pytest.fixture
def harness(service_engine: Engine, policy: EscalationPolicy) -> Iterator[Harness]:
    settings = Settings(
        identity=IdentitySettings(secret=IDENTITY_SECRET),
        gateway=GatewaySettings(allowed_origins=(ALLOWED_ORIGIN,), handshake_timeout_seconds=2),
        agents=AgentSettings(token_secret=AGENT_SECRET),
    )
    accounts = AgentStore(service_engine, hasher=CHEAP)
    agents = {
        who: accounts.create_agent(
            username=who,
            display_name=name,
            role=role,
            teams=teams,
            capacity=50,
            password=PASSWORD,
            now=NOW,
        )  # fmt: skip
        for who, name, role, teams in [
            ("ana", "Ana Souza", "agent", ["security"]),
            ("bo", "Bo Lindqvist", "agent", ["security"]),
            ("carl", "Carl Mensah", "agent", ["general"]),
            ("sue", "Sue Park", "supervisor", ["general"]),
        ]
    }
    hub, presence, assistant, clock = (
        ConversationHub(),
        PresenceRegistry(),
        FakeAssistant(),
        Clock(),
    )
    app = FastAPI()
    service = ConversationService(
        store=ConversationStore(service_engine), hub=hub, assistant=assistant,
        sentiment=FakeReader(), policy=policy, presence=presence,
        average_handle=timedelta(minutes=8), clock=clock,
        on_queued=lambda handoff: app.state.desk.on_handoff_queued(handoff),
    )  # fmt: skip
    work = AgentWorkStore(service_engine)
    desk = AgentDesk(
        service=service, work=work, hub=hub, presence=presence, teams=policy_teams(policy)
    )
    app.include_router(customer_socket.router)
    app.include_router(agent_socket.router)
    bank = create_engine("sqlite://")  # no identity token is resolved in these tests
    app.state.gateway = Gateway(settings=settings, service=service, hub=hub, bank_engine=bank)
    app.state.settings = settings
    app.state.limits = ServiceLimits.from_settings(settings.limits)
    app.state.agent_store = accounts
    app.state.desk = desk
    client = TestClient(app)
    client.__enter__()
    harness = Harness(client, service, desk, work, presence, assistant, clock, agents)
    yield harness
    harness.drain()
    client.__exit__(None, None, None)
    bank.dispose()


# --------------------------------------------------------------------------- helpers

Frame = dict[str, Any]


def receive(ws: WebSocketTestSession, timeout: float = FRAME_TIMEOUT_SECONDS) -> Frame:
    """The next frame, or ``WebSocketDisconnect``; fails after ``timeout``."""

    async def next_message() -> dict[str, Any]:
        with anyio.fail_after(timeout):
            message: dict[str, Any] = await ws._send_rx.receive()
            return message

    message = ws.portal.call(next_message)
    if message["type"] == "websocket.close":
        raise WebSocketDisconnect(code=message.get("code", 1000), reason=message.get("reason"))
    frame: Frame = json.loads(message["text"])
    return frame


def receive_until(ws: WebSocketTestSession, wanted: Callable[[Frame], bool]) -> Frame:
    """The first frame ``wanted`` accepts; the frames before it are skipped."""
    for _ in range(50):
        frame = receive(ws)
        if wanted(frame):
            return frame
    pytest.fail("the wanted frame never came")


def of_type(kind: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["type"] == kind


def event(name: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["type"] == "message" and frame["data"].get("event") == name


def moved_to(state: str) -> Callable[[Frame], bool]:
    return lambda frame: event("state_changed")(frame) and frame["data"]["to"] == state


def assert_quiet(ws: WebSocketTestSession) -> None:
    """Nothing is queued for the client: a ping is answered by the very next frame."""
    ws.send_json({"type": "ping"})
    assert receive(ws) == {"type": "pong"}


def closed_with(ws: WebSocketTestSession) -> WebSocketDisconnect:
    with pytest.raises(WebSocketDisconnect) as caught:
        frame = receive(ws)
        pytest.fail(f"expected the socket to close, got {frame}")
    return caught.value


def auth(ws: WebSocketTestSession, token: str) -> Frame:
    ws.send_json({"type": "auth", "token": token})
    welcome = receive(ws)
    assert welcome["type"] == "welcome", welcome
    return welcome


def start(ws: WebSocketTestSession) -> Frame:
    ws.send_json({"type": "start", "v": 1})
    started = receive(ws)
    assert started["type"] == "started"
    return started


def escalate(harness: Harness, ws: WebSocketTestSession, turn: RasaTurn, cmid: str = "m1") -> int:
    """The customer on ``ws`` writes and the assistant hands over; the new handoff's id."""
    harness.assistant.script.append(turn)
    ws.send_json({"type": "message", "client_message_id": cmid, "text": "my card was stolen"})
    receive_until(ws, event("handoff_notice"))
    harness.drain()
    return max(h.id for h in harness.store.queued_handoffs())


def claim(ws: WebSocketTestSession, handoff_id: int) -> Frame:
    ws.send_json({"type": "claim", "handoff_id": handoff_id})
    return receive_until(ws, lambda f: f["type"] in ("claimed", "claim_failed"))


def say(ws: WebSocketTestSession, cmid: str, text: str, handoff_id: int | None = None) -> None:
    frame: Frame = {"type": "message", "client_message_id": cmid, "text": text}
    if handoff_id is not None:
        frame["handoff_id"] = handoff_id
    ws.send_json(frame)


# --------------------------------------------------------------------------- opening


def test_an_agent_authenticates_and_is_welcomed_with_their_teams_queue(
    harness: Harness, policy: EscalationPolicy
) -> None:
    with harness.connect_customer() as customer:
        start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
    with harness.connect_agent(origin=ALLOWED_ORIGIN) as ana:
        welcome = auth(ana, harness.token("ana"))
        assert welcome["v"] == 1
        assert welcome["agent"] == {
            "id": harness.agents["ana"].id, "name": "Ana Souza", "role": "agent",
            "teams": ["security"],
        }  # fmt: skip
        assert [h["id"] for h in welcome["queue"]] == [handoff_id]
        queued = welcome["queue"][0]
        assert queued["team"] == "security" and queued["brief"]["team"] == "security"
        assert welcome["assigned"] == []
        assert welcome["teams"] == sorted(policy_teams(policy))  # where a transfer may go
        assert welcome["sla_warning_fraction"] == 0.8  # the monitor's, for the countdowns
        assert harness.presence.online_by_team() == {"security": 1}
        assert_quiet(ana)
    assert harness.presence.online_by_team() == {}


def test_agents_see_only_their_teams_queue_and_supervisors_see_every_team(
    harness: Harness,
) -> None:
    with harness.connect_customer() as customer:
        start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
    with harness.connect_agent() as carl, harness.connect_agent() as sue:
        assert auth(carl, harness.token("carl"))["queue"] == []
        assert [h["id"] for h in auth(sue, harness.token("sue"))["queue"]] == [handoff_id]
        assert claim(carl, handoff_id) == {
            "type": "claim_failed", "handoff_id": handoff_id, "reason": "not_found",
        }  # fmt: skip


def test_a_bad_agent_token_closes_with_4401(harness: Harness) -> None:
    forged = issue_agent_token(
        harness.agents["ana"], secret="another-secret-of-at-least-32-bytes!!",
        now=NOW, ttl=timedelta(hours=1),
    )  # fmt: skip
    expired = issue_agent_token(
        harness.agents["ana"], secret=AGENT_SECRET, now=NOW - timedelta(hours=3),
        ttl=timedelta(hours=1),
    )  # fmt: skip
    for token, reason in [(forged, "bad_signature:"), (expired, "expired:")]:
        with harness.connect_agent() as ws:
            ws.send_json({"type": "auth", "token": token})
            closed = closed_with(ws)
        assert closed.code == 4401 and closed.reason.startswith(reason), closed.reason


def test_a_customer_identity_token_or_resume_token_never_opens_an_agent_stream(
    harness: Harness,
) -> None:
    # Even signed with the agents' own secret, an identity token is not an agent token.
    for secret in (IDENTITY_SECRET, AGENT_SECRET):
        identity = sign_identity_token("cus_1002", secret=secret, now=NOW, ttl=timedelta(hours=1))
        with harness.connect_agent() as ws:
            ws.send_json({"type": "auth", "token": identity})
            closed = closed_with(ws)
        assert closed.code == 4401, closed.reason
    with harness.connect_customer() as customer:
        resume_token = start(customer)["resume_token"]
    with harness.connect_agent() as ws:
        ws.send_json({"type": "auth", "token": resume_token})
        closed = closed_with(ws)
    assert closed.code == 4401 and closed.reason.startswith("malformed:")


def test_a_deactivated_account_is_refused_with_4401(
    harness: Harness, service_engine: Engine
) -> None:
    token = harness.token("ana")
    with service_engine.begin() as connection:
        connection.execute(
            update(Agent).where(Agent.id == harness.agents["ana"].id).values(active=False)
        )
    with harness.connect_agent() as ws:
        ws.send_json({"type": "auth", "token": token})
        assert closed_with(ws).code == 4401


def test_another_origin_is_refused_with_1008(harness: Harness) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as caught,
        harness.connect_agent(origin="https://evil.example"),
    ):
        pytest.fail("the socket was accepted")
    assert caught.value.code == 1008 and caught.value.reason == "origin not allowed"


def test_no_auth_in_time_closes_with_4408_and_another_first_frame_with_4400(
    harness: Harness,
) -> None:
    with harness.connect_agent() as ws:
        ws.send_json({"type": "claim", "handoff_id": 1})
        assert closed_with(ws).code == 4400
    with harness.connect_agent() as ws:
        assert closed_with(ws).code == 4408  # the harness's timeout is 2 s


def test_a_bad_frame_after_auth_gets_an_error_frame_and_the_socket_stays_up(
    harness: Harness,
) -> None:
    with harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        ana.send_text("not json")
        assert receive(ana)["code"] == "bad_frame"
        ana.send_json({"type": "claim", "handoff_id": 1, "colour": "red"})
        assert receive(ana)["code"] == "bad_frame"
        say(ana, "a1", "hello", handoff_id=999)
        assert receive(ana)["code"] == "not_found"
        assert_quiet(ana)


# --------------------------------------------------------------------------- hostile frames

DEEP = "[" * 990 + "]" * 990  # RecursionError in json.loads, before frames were read strictly
BEYOND_ANY_ID = 2**63  # OverflowError when bound to a SQLite parameter
SURROGATE = "ana\\ud800"  # a JSON escape decoding to a lone surrogate
RESOLVE = '"avoidable": false, "root_cause": "other"'


def _frames_naming(handoff_id: str) -> dict[str, str]:
    # Every action that names a handoff, with ``handoff_id`` as given (raw JSON).
    return {
        "claim": f'{{"type": "claim", "handoff_id": {handoff_id}}}',
        "acknowledge": f'{{"type": "acknowledge", "handoff_id": {handoff_id}}}',
        "message": (
            f'{{"type": "message", "handoff_id": {handoff_id}, "client_message_id": "a1", '
            '"text": "hi"}'
        ),
        "note": f'{{"type": "note", "handoff_id": {handoff_id}, "text": "n"}}',
        "typing": f'{{"type": "typing", "handoff_id": {handoff_id}}}',
        "read": f'{{"type": "read", "handoff_id": {handoff_id}, "seq": 1}}',
        "resolve": f'{{"type": "resolve", "handoff_id": {handoff_id}, {RESOLVE}}}',
        "hand_back": f'{{"type": "hand_back", "handoff_id": {handoff_id}, "summary": "s"}}',
        "transfer": (
            f'{{"type": "transfer", "handoff_id": {handoff_id}, "to_team": "general", '
            '"reason": "r"}'
        ),
    }


HOSTILE_AGENT_FRAMES = {  # what is sent, and what the error frame says about it
    **{
        f"{kind}-out-of-range-id": (frame, "less than or equal to 2147483647")
        for kind, frame in _frames_naming(str(BEYOND_ANY_ID)).items()
    },
    **{
        f"{kind}-string-id": (frame, "valid integer (got a string)")
        for kind, frame in _frames_naming('"1"').items()
    },
    **{
        f"{kind}-bool-id": (frame, "valid integer (got true)")
        for kind, frame in _frames_naming("true").items()
    },
    "claim-huge-id": (f'{{"type": "claim", "handoff_id": {"1" * 4_301}}}', "4301 digits"),
    "claim-nan-id": ('{"type": "claim", "handoff_id": NaN}', "NaN is not a JSON number"),
    "claim-infinite-id": ('{"type": "claim", "handoff_id": 1e400}', "out of range"),
    "resolve-string-bool": (
        '{"type": "resolve", "handoff_id": 1, "avoidable": "yes", "root_cause": "other"}',
        "valid boolean (got a string)",
    ),
    "resolve-int-bool": (
        '{"type": "resolve", "handoff_id": 1, "avoidable": 1, "root_cause": "other"}',
        "valid boolean (got a number)",
    ),
    "resolve-string-seq": (
        f'{{"type": "resolve", "handoff_id": 1, {RESOLVE}, "misunderstood_message_seq": "3"}}',
        "valid integer (got a string)",
    ),
    "read-bool-seq": ('{"type": "read", "handoff_id": 1, "seq": true}', "valid integer"),
    "deep-nesting": (DEEP, "nested deeper than 8 levels"),
    "deep-field": ('{"type": "ping", "x": ' + DEEP + "}", "nested deeper than 8 levels"),
    "surrogate-message": (
        '{"type": "message", "handoff_id": 1, "client_message_id": "a1", "text": "'
        + SURROGATE + '"}',
        "lone surrogate (\\ud800)",
    ),
    "surrogate-note": (
        '{"type": "note", "handoff_id": 1, "text": "' + SURROGATE + '"}', "lone surrogate"
    ),
    "oversized": (
        '{"type": "ping", "pad": "' + "x" * 16_384 + '"}', "over the 16384 limit; send at most"
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("frame", "says"), HOSTILE_AGENT_FRAMES.values(), ids=HOSTILE_AGENT_FRAMES.keys()
)
def test_a_hostile_frame_gets_an_error_frame_and_the_desk_stays_usable(
    harness: Harness, frame: str, says: str
) -> None:
    with harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        ana.send_text(frame)
        error = receive(ana)
        assert error["type"] == "error" and error["code"] == "bad_frame", error
        assert says in error["message"], error
        assert_quiet(ana)
        assert claim(ana, 999) == {
            "type": "claim_failed", "handoff_id": 999, "reason": "not_found",
        }  # fmt: skip


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ('{"type": "auth", "token": "t", "v": "1"}', "valid integer (got a string)"),
        ('{"type": "auth", "token": "t", "v": true}', "valid integer (got true)"),
        ('{"type": "auth", "token": "t", "v": NaN}', "NaN is not a JSON number"),
        ('{"type": "auth", "token": "' + SURROGATE + '"}', "lone surrogate"),
        (DEEP, "nested deeper"),
    ],
    ids=["string-version", "bool-version", "nan-version", "surrogate-token", "deep-nesting"],
)
def test_a_hostile_auth_frame_closes_with_4400_saying_why(
    harness: Harness, frame: str, says: str
) -> None:
    with harness.connect_agent() as ws:
        ws.send_text(frame.replace('"t"', json.dumps(harness.token("ana"))))
        closed = closed_with(ws)
    assert closed.code == 4400 and says in closed.reason, closed.reason


def test_an_unexpected_failure_of_an_action_is_an_error_frame_not_a_dropped_desk(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    desk_claim = harness.desk.claim

    async def failing_once(connection: Any, handoff_id: int) -> None:
        monkeypatch.setattr(harness.desk, "claim", desk_claim)
        raise RuntimeError("a bug")

    monkeypatch.setattr(harness.desk, "claim", failing_once)
    with harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        ana.send_json({"type": "claim", "handoff_id": 7})
        error = receive(ana)
        assert error["type"] == "error" and error["code"] == "internal_error"
        assert "a bug" not in error["message"]  # details are for the logs
        assert claim(ana, 7)["reason"] == "not_found"  # the retry is handled
        assert_quiet(ana)
    assert "a frame could not be handled" in caplog.text and "RuntimeError: a bug" in caplog.text


def limit(harness: Harness, **settings: float) -> None:
    """Replace the app's limiters (sockets opened afterwards use them)."""
    app = harness.client.app
    assert isinstance(app, FastAPI)
    app.state.limits = ServiceLimits.from_settings(LimitsSettings(**settings))


def test_an_agent_flooding_frames_gets_rate_limited_errors_and_the_socket_stays_up(
    harness: Harness,
) -> None:
    limit(harness, agent_frames_burst=4, agent_frames_per_minute=6)  # then one every 10 s
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        started = start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
        claim(ana, handoff_id)  # one frame
        for n in range(8):
            say(ana, f"a{n}", f"line {n}", handoff_id)
        answers = []
        while len(answers) < 8:
            frame = receive(ana)
            if frame["type"] in ("ack", "error"):
                answers.append(frame.get("client_message_id") or frame["code"])
        assert answers == ["a0", "a1", "a2"] + ["rate_limited"] * 5
        with harness.connect_agent() as bo:  # another agent's socket has its own limit
            auth(bo, harness.token("bo"))
            assert_quiet(bo)
        harness.clock.now += timedelta(seconds=10)
        assert_quiet(ana)  # still open, and allowed again
        harness.drain()
    agent_lines = [
        m.text for m in harness.store.transcript(started["conversation_id"]) if m.sender == "agent"
    ]
    assert [line for line in agent_lines if line.startswith("line")] == [
        "line 0",
        "line 1",
        "line 2",
    ]


# --------------------------------------------------------------------------- the queue


def test_the_brief_is_pushed_to_eligible_agents_the_moment_it_is_queued(
    harness: Harness,
) -> None:
    with (
        harness.connect_agent() as ana,
        harness.connect_agent() as bo,
        harness.connect_agent() as carl,
        harness.connect_agent() as sue,
    ):
        for ws, who in [(ana, "ana"), (bo, "bo"), (carl, "carl"), (sue, "sue")]:
            auth(ws, harness.token(who))
        bo.send_json({"type": "presence", "status": "away"})
        assert_quiet(bo)
        assert harness.presence.online_by_team() == {"security": 1, "general": 2}
        with harness.connect_customer() as customer:
            started = start(customer)
            handoff_id = escalate(harness, customer, hand_over("security", steps=STEPS))
        for ws in (ana, sue):
            pushed = receive(ws)
            assert pushed["type"] == "handoff_queued"
            assert pushed["handoff"]["id"] == handoff_id
            assert pushed["handoff"]["conversation_id"] == started["conversation_id"]
            assert pushed["handoff"]["mode"] == "warm"
            brief = pushed["handoff"]["brief"]
            assert brief["team"] == "security"
            assert [s["summary"] for s in brief["attempted_steps"]] == [s["summary"] for s in STEPS]
        for ws in (bo, carl):  # away, and another team
            assert_quiet(ws)


def test_two_agents_claiming_one_handoff_exactly_one_wins_every_time(harness: Harness) -> None:
    with harness.connect_agent() as ana, harness.connect_agent() as bo:
        auth(ana, harness.token("ana"))
        auth(bo, harness.token("bo"))
        for round_ in range(12):
            with harness.connect_customer() as customer:
                start(customer)
                handoff_id = escalate(harness, customer, hand_over("security"))
            for ws in (ana, bo):
                receive_until(ws, lambda f, h=handoff_id: f.get("handoff", {}).get("id") == h)
            first, second = (ana, bo) if round_ % 2 else (bo, ana)
            first.send_json({"type": "claim", "handoff_id": handoff_id})
            second.send_json({"type": "claim", "handoff_id": handoff_id})
            results = [
                receive_until(ws, lambda f: f["type"] in ("claimed", "claim_failed"))
                for ws in (ana, bo)
            ]
            assert sorted(r["type"] for r in results) == ["claim_failed", "claimed"], results
            lost = next(r for r in results if r["type"] == "claim_failed")
            assert lost == {"type": "claim_failed", "handoff_id": handoff_id, "reason": "taken"}
            won = next(r for r in results if r["type"] == "claimed")
            stored = harness.store.get_handoff(handoff_id)
            assert stored is not None and stored.status is HandoffStatus.ASSIGNED
            assert stored.agent_id == won["handoff"]["agent_id"]
    assert harness.presence.online_by_team() == {}


def test_the_others_are_told_a_claimed_handoff_is_taken(harness: Harness) -> None:
    with harness.connect_agent() as ana, harness.connect_agent() as bo:
        auth(ana, harness.token("ana"))
        auth(bo, harness.token("bo"))
        with harness.connect_customer() as customer:
            start(customer)
            handoff_id = escalate(harness, customer, hand_over("security"))
        assert claim(ana, handoff_id)["type"] == "claimed"
        taken = receive_until(bo, of_type("handoff_taken"))
        assert taken == {
            "type": "handoff_taken",
            "handoff_id": handoff_id,
            "agent_name": "Ana Souza",
        }


# --------------------------------------------------------------------------- conversation


def test_a_warm_handoff_must_be_acknowledged_and_the_customer_gets_the_introduction(
    harness: Harness,
) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        start(customer)
        handoff_id = escalate(harness, customer, hand_over("security", steps=STEPS))
        claimed = claim(ana, handoff_id)
        assert claimed["handoff"]["mode"] == "warm"
        assert claimed["handoff"]["acknowledged"] is False
        assert [m["seq"] for m in claimed["transcript"]] == [1, 2, 3, 4]
        assert all(m["handoff_id"] == handoff_id for m in claimed["transcript"])
        receive_until(customer, moved_to("agent"))

        say(ana, "a1", "Hello!", handoff_id)
        refused = receive_until(ana, of_type("error"))
        assert refused["code"] == "acknowledge_first"

        ana.send_json({"type": "acknowledge", "handoff_id": handoff_id})
        assert receive_until(ana, of_type("done")) == {
            "type": "done", "action": "acknowledged", "handoff_id": handoff_id, "seq": None,
            "within_sla": None,
        }  # fmt: skip
        introduction = receive_until(customer, of_type("message"))
        assert introduction["sender"] == "agent"
        assert introduction["text"] == WARM_INTRODUCTION
        assert introduction["data"] == {"agent_name": "Ana Souza", "team": "security"}

        ana.send_json({"type": "acknowledge", "handoff_id": handoff_id})  # no second intro
        receive_until(ana, of_type("done"))
        say(ana, "a2", "Let me look at that card.", handoff_id)
        ack = receive_until(ana, of_type("ack"))
        relayed = receive_until(customer, of_type("message"))
        assert relayed["text"] == "Let me look at that card."
        assert ack == {"type": "ack", "client_message_id": "a2", "seq": relayed["seq"]}
    handoff = harness.store.get_handoff(handoff_id)
    assert handoff is not None and handoff.acknowledged_at == NOW


def test_messages_are_relayed_both_ways_in_a_cold_handoff(harness: Harness) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
        claimed = claim(ana, handoff_id)
        assert claimed["handoff"]["mode"] == "cold" and claimed["handoff"]["acknowledged"]
        joined = receive_until(customer, event("agent_joined"))
        assert joined["text"] == "Ana from our security team has joined."

        say(ana, "a1", "Hi, I'm on it.", handoff_id)
        echo = receive_until(ana, of_type("message"))
        assert (echo["sender"], echo["handoff_id"], echo["internal"]) == (
            "agent",
            handoff_id,
            False,
        )
        assert receive(ana) == {"type": "ack", "client_message_id": "a1", "seq": echo["seq"]}
        relayed = receive_until(customer, of_type("message"))
        assert (relayed["sender"], relayed["text"]) == ("agent", "Hi, I'm on it.")
        assert relayed["data"] == {"agent_name": "Ana Souza", "team": "security"}

        say(customer, "m2", "Thank you, it was in Lisbon.")
        from_customer = receive_until(ana, of_type("message"))
        assert from_customer["sender"] == "customer"
        assert from_customer["text"] == "Thank you, it was in Lisbon."
        assert from_customer["handoff_id"] == handoff_id
        harness.drain()
    assert harness.assistant.calls == ["my card was stolen"]  # the bot never saw it


def test_an_agents_retried_message_is_stored_and_relayed_once(harness: Harness) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        started = start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
        claim(ana, handoff_id)
        receive_until(customer, event("agent_joined"))

        say(ana, "a1", "Hi, I'm on it.", handoff_id)
        first_ack = receive_until(ana, of_type("ack"))
        say(ana, "a1", "Hi, I'm on it.", handoff_id)  # no ack seen: the agent's app retries
        second_ack = receive_until(ana, of_type("ack"))
        assert second_ack == first_ack
        harness.drain()

    with harness.connect_customer() as customer:
        customer.send_json(
            {"type": "resume", "v": 1, "resume_token": started["resume_token"], "last_seq": 0}
        )
        resumed = receive_until(customer, of_type("resumed"))
        frames = [receive(customer)]
        while frames[-1].get("seq") != resumed["last_seq"]:
            frames.append(receive(customer))
    agent_lines = [f for f in frames if f.get("type") == "message" and f["sender"] == "agent"]
    assert [f["text"] for f in agent_lines] == ["Hi, I'm on it."]
    assert agent_lines[0]["client_message_id"] is None  # the agent's own ids stay internal


def test_internal_notes_never_reach_the_customer_live_or_on_resume(harness: Harness) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        started = start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
        claim(ana, handoff_id)
        receive_until(customer, event("agent_joined"))

        ana.send_json({"type": "note", "handoff_id": handoff_id, "text": "Sounds like fraud."})
        note = receive_until(ana, of_type("message"))
        assert (note["text"], note["internal"], note["sender"]) == (
            "Sounds like fraud.",
            True,
            "agent",
        )
        done = receive(ana)
        assert done["action"] == "noted" and done["seq"] == note["seq"]
        assert_quiet(customer)

        say(ana, "a1", "Thanks for waiting.", handoff_id)
        relayed = receive_until(customer, of_type("message"))
        assert relayed["text"] == "Thanks for waiting." and relayed["seq"] == note["seq"] + 1
    with harness.connect_customer() as customer:
        customer.send_json(
            {"type": "resume", "v": 1, "resume_token": started["resume_token"], "last_seq": 0}
        )
        receive(customer)  # resumed
        frames = []
        while (frame := receive(customer))["type"] == "message":
            frames.append(frame)
            if frame["text"] == "Thanks for waiting.":
                break
    seqs = [f["seq"] for f in frames]
    assert note["seq"] not in seqs and seqs == sorted(seqs)
    assert all("fraud" not in f["text"] for f in frames)
    stored = harness.store.transcript(started["conversation_id"])[note["seq"] - 1]
    assert stored.payload["internal"] is True


def test_a_transfer_requeues_the_handoff_with_its_brief_for_the_other_team(
    harness: Harness,
) -> None:
    with (
        harness.connect_customer() as customer,
        harness.connect_agent() as ana,
        harness.connect_agent() as carl,
    ):
        auth(ana, harness.token("ana"))
        auth(carl, harness.token("carl"))
        start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
        brief = claim(ana, handoff_id)["handoff"]["brief"]

        ana.send_json(
            {"type": "transfer", "handoff_id": handoff_id, "to_team": "nowhere", "reason": "x"}
        )
        assert receive_until(ana, of_type("error"))["code"] == "unknown_team"
        ana.send_json(
            {"type": "transfer", "handoff_id": handoff_id, "to_team": "general",
             "reason": "a billing question after all"}
        )  # fmt: skip
        assert receive_until(ana, of_type("done"))["action"] == "transferred"
        pushed = receive_until(carl, of_type("handoff_queued"))["handoff"]
        assert (pushed["id"], pushed["team"], pushed["status"]) == (handoff_id, "general", "queued")
        assert pushed["transfer_count"] == 1 and pushed["brief"] == brief
        # Taking a cold handoff acknowledged it: the SLA's target stays met after the move.
        assert pushed["acknowledged"] is False and pushed["acknowledged_at"] is not None
        requeued = receive_until(customer, moved_to("queued"))
        assert (requeued["data"]["from"], requeued["data"]["to"]) == ("agent", "queued")

        say(ana, "a1", "still here?", handoff_id)
        assert receive_until(ana, of_type("error"))["code"] == "not_found"
        assert claim(carl, handoff_id)["type"] == "claimed"


def test_hand_back_returns_the_customer_to_the_assistant(harness: Harness) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        started = start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
        claim(ana, handoff_id)
        ana.send_json(
            {"type": "hand_back", "handoff_id": handoff_id, "summary": "Card frozen, all set."}
        )
        assert receive_until(ana, of_type("done"))["action"] == "handed_back"
        back = receive_until(customer, moved_to("bot"))
        assert back["text"] == "You're back with the assistant."
        assert "Card frozen" not in back["text"]  # the summary is for the record

        say(customer, "m2", "one more question")
        reply = receive_until(customer, lambda f: f.get("sender") == "bot")
        assert reply["text"] == "You said: one more question"
        harness.drain()
        assert_quiet(ana)  # no longer watching
    record = harness.store.get_conversation(started["conversation_id"])
    assert record is not None and record.state is ConversationState.BOT
    assert harness.assistant.calls == ["my card was stolen", "one more question"]


@pytest.mark.parametrize(("late", "within_sla"), [(False, True), (True, False)])
def test_resolve_stores_the_record_and_the_store_decides_within_sla(
    harness: Harness, service_engine: Engine, late: bool, within_sla: bool
) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        auth(ana, harness.token("ana"))
        started = start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
        claim(ana, handoff_id)
        if late:
            harness.clock.now = NOW + timedelta(hours=9)  # sev2 resolves within 8 h
        ana.send_json(
            {"type": "resolve", "handoff_id": handoff_id, "avoidable": True,
             "root_cause": "agent_knowledge_gap", "correct_intent": "card_compromised",
             "misunderstood_message_seq": 1, "note": "Bot should freeze at once."}
        )  # fmt: skip
        done = receive_until(ana, of_type("done"))
        assert (done["action"], done["within_sla"]) == ("resolved", within_sla)
        receive_until(customer, moved_to("bot"))
    resolution = harness.work.get_resolution(handoff_id)
    assert resolution is not None
    assert (resolution.avoidable, resolution.within_sla) == (True, within_sla)
    assert resolution.root_cause is RootCause.AGENT_KNOWLEDGE_GAP
    assert (resolution.correct_intent, resolution.misunderstood_message_seq) == (
        "card_compromised", 1,
    )  # fmt: skip
    assert resolution.trigger == "rasa_signal"
    record = harness.store.get_conversation(started["conversation_id"])
    assert record is not None and record.state is ConversationState.BOT
    # The message the agent marked misunderstood is in the trainers' inbox, with their intent.
    (group,) = ReviewStore(service_engine).groups()
    assert group.suggestion == "card_compromised"
    assert group.conversation_ids == [started["conversation_id"]]
    assert [reason["source"] for reason in group.reasons][-1] == "misunderstood"


def test_a_reconnecting_agent_gets_their_held_handoffs_back(harness: Harness) -> None:
    with harness.connect_customer() as customer:
        start(customer)
        handoff_id = escalate(harness, customer, hand_over("security", steps=STEPS))
        with harness.connect_agent() as ana:
            auth(ana, harness.token("ana"))
            claim(ana, handoff_id)
        with harness.connect_agent() as ana:
            welcome = auth(ana, harness.token("ana"))
            assert [h["id"] for h in welcome["assigned"]] == [handoff_id]
            claimed = receive(ana)
            assert claimed["type"] == "claimed" and claimed["handoff"]["id"] == handoff_id
            say(customer, "m2", "are you there?")
            live = receive_until(ana, of_type("message"))
            assert (live["sender"], live["text"]) == ("customer", "are you there?")


def test_a_rebound_host_does_not_let_its_own_origin_in(harness: Harness) -> None:
    # DNS rebinding: a page of evil.example (resolving to the service) sends Origin and Host
    # that agree; neither is one of the service's own or allowed origins.
    with (
        pytest.raises(WebSocketDisconnect) as caught,
        harness.client.websocket_connect(
            "ws://evil.example:8000/ws/agent", headers={"origin": "http://evil.example:8000"}
        ),
    ):
        pytest.fail("the socket was accepted")
    assert caught.value.code == 1008


def test_the_consoles_own_origin_may_connect(harness: Harness) -> None:
    with harness.connect_agent(origin="http://localhost:8000") as ws:
        ws.send_json({"type": "auth", "token": "not-a-token"})
        assert closed_with(ws).code == 4401  # past the origin rule, refused for the token
