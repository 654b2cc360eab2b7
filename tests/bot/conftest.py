"""Fixtures for the tests of the Rasa-side code in bot/.

These tests need the Rasa environment (Python 3.10, rasa 3.6)::

    cd /work/main && .venv-rasa/bin/python -m pytest tests/bot -q

The handoff service's environment has no Rasa; collected there by accident, this folder is
skipped as a whole by the guard below rather than failing on imports.
"""

import pytest

pytest.importorskip("rasa")

import asyncio  # noqa: E402  (after the guard: only reached where Rasa is installed)
import json  # noqa: E402
import socket  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402
from collections.abc import AsyncIterator, Awaitable, Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
import pytest_asyncio  # noqa: E402
from rasa.core.channels.channel import InputChannel, UserMessage  # noqa: E402
from rasa.core.tracker_store import InMemoryTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import SlotSet, UserUttered  # noqa: E402
from sanic import Sanic  # noqa: E402

ATTEMPTED_STEPS = "attempted_steps"

# The slice of bot/domain that the channel reads: the list slot actions append to, an entity
# slot, and a form (so that Rasa adds its ``requested_slot``, which the channel leaves out).
TEST_DOMAIN = {
    "version": "3.1",
    "intents": ["check_balance", "card_lost", "greet"],
    "entities": ["card_last4"],
    "slots": {
        ATTEMPTED_STEPS: {"type": "list", "mappings": [{"type": "custom"}]},
        "card_last4": {
            "type": "text",
            "mappings": [{"type": "from_entity", "entity": "card_last4"}],
        },
    },
    "forms": {"freeze_card_form": {"required_slots": ["card_last4"]}},
}


@dataclass
class FakeAgent:
    """The two things the channel uses of ``rasa.core.agent.Agent``."""

    tracker_store: InMemoryTrackerStore
    ready: bool = True

    def is_ready(self) -> bool:
        """Whether a model is loaded (Rasa's agent ignores messages otherwise)."""
        return self.ready


@dataclass
class FakeRasa:
    """Stands in for ``agent.handle_message``: logs the turn in the tracker and replies.

    It does what Rasa's processor and a custom action do for one turn: a ``UserUttered`` with
    the message's id, parse data, entities and metadata (stamped with ``model_id``, as the
    processor stamps every event with its model's id), a ``SlotSet`` of ``attempted_steps``
    and of each of ``slots``, a text message and a custom ``{"handoff": ...}`` message sent
    through the message's output channel.
    """

    tracker_store: InMemoryTrackerStore
    intent_ranking: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"name": "card_lost", "confidence": 0.91},
            {"name": "check_balance", "confidence": 0.05},
            {"name": "greet", "confidence": 0.04},
        ]
    )
    reply: str | None = "I've frozen your card."
    handoff: dict[str, Any] | None = None
    steps: list[dict[str, Any]] | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    error: Exception | None = None
    received: list[UserMessage] = field(default_factory=list)
    model_id: str = "20261203-120000-fake-model"

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.error is not None:
            raise self.error
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.model_id = self.model_id
        parse_data = {
            "text": message.text,
            "intent": self.intent_ranking[0] if self.intent_ranking else {},
            "intent_ranking": self.intent_ranking,
            "entities": self.entities,
        }
        tracker.update(
            UserUttered(
                message.text,
                parse_data["intent"],
                self.entities,
                parse_data,
                input_channel=message.input_channel,
                message_id=message.message_id,
                metadata=message.metadata,
            )
        )
        if self.steps is not None:
            tracker.update(SlotSet(ATTEMPTED_STEPS, self.steps))
        for name, value in self.slots.items():
            tracker.update(SlotSet(name, value))
        await self.tracker_store.save(tracker)
        if self.reply:
            await message.output_channel.send_response(message.sender_id, {"text": self.reply})
        if self.handoff is not None:
            await message.output_channel.send_response(
                message.sender_id, {"custom": {"handoff": self.handoff}}
            )


@dataclass
class ChannelServer:
    """A real Sanic server running one channel's blueprint, and an HTTP client for it."""

    base_url: str
    session: aiohttp.ClientSession
    token: str | None = None

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> "Reply":
        """POSTs ``body``, serialised as JSON, to the channel's webhook."""
        return await self.post_raw(json.dumps(body).encode("utf-8"), headers)

    async def post_raw(self, data: bytes, headers: dict[str, str] | None = None) -> "Reply":
        """POSTs ``data`` exactly as given to the channel's webhook.

        Without ``headers`` the request carries the channel's token, as the service's do.
        """
        if headers is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers = {"Content-Type": "application/json", **headers}
        url = f"{self.base_url}/webhook"
        async with self.session.post(url, data=data, headers=headers) as resp:
            return Reply(resp.status, resp.content_type, dict(resp.headers), await resp.read())

    async def get(self, path: str = "/") -> "Reply":
        """GETs a route of the channel's blueprint."""
        async with self.session.get(f"{self.base_url}{path}") as resp:
            return Reply(resp.status, resp.content_type, dict(resp.headers), await resp.read())


@dataclass
class Reply:
    """An HTTP response, read completely."""

    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (fails the test if it is not JSON)."""
        return json.loads(self.body)


ServeChannel = Callable[
    [InputChannel, Callable[[UserMessage], Awaitable[Any]], Any], Awaitable[ChannelServer]
]


@pytest.fixture
def domain() -> Domain:
    """A domain holding the ``attempted_steps`` list slot, a text slot and a form."""
    # Rasa 3.6 warns "Slot auto-fill has been removed" on every domain with slots; noise here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Slot auto-fill has been removed")
        return Domain.from_dict(TEST_DOMAIN)


@pytest.fixture
def tracker_store(domain: Domain) -> InMemoryTrackerStore:
    """Rasa's own in-memory tracker store (what bot/endpoints.yml configures)."""
    return InMemoryTrackerStore(domain)


@pytest.fixture
def agent(tracker_store: InMemoryTrackerStore) -> FakeAgent:
    """An agent with a loaded model, as far as the channel can tell."""
    return FakeAgent(tracker_store)


@pytest.fixture
def fake_rasa(tracker_store: InMemoryTrackerStore) -> FakeRasa:
    """The ``on_new_message`` handler, processing into the same tracker store as ``agent``."""
    return FakeRasa(tracker_store)


@pytest_asyncio.fixture
async def serve_channel(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ServeChannel]:
    """Starts channels on real Sanic servers (127.0.0.1, free port), stopped after the test.

    A real server, rather than calling the handler, also covers the blueprint's routes and URL
    prefix and how Sanic serialises the responses. Sanic 21.12's test client needs the
    sanic-testing package, which the Rasa environment does not have.
    """
    # Sanic rewrites ("touches up") its HTTP methods on every app start; outside test mode a
    # second app in the same process fails on the already rewritten methods.
    monkeypatch.setattr(Sanic, "test_mode", True)
    servers: list[Any] = []
    sessions: list[aiohttp.ClientSession] = []

    async def serve(
        channel: InputChannel,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        agent: Any,
    ) -> ChannelServer:
        # Sanic keeps a registry of app names, so every app needs its own.
        app = Sanic(f"handoff_test_{uuid.uuid4().hex}", configure_logging=False)
        app.ctx.agent = agent
        app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.name()}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        assert server is not None
        await server.startup()
        servers.append(server)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return ChannelServer(
            f"http://127.0.0.1:{port}/webhooks/{channel.name()}",
            session,
            getattr(channel, "token", None),
        )

    yield serve

    for session in sessions:
        await session.close()
    for server in servers:
        server.close()
        await server.wait_closed()
    await asyncio.sleep(0)  # let the closed transports finish before the loop goes away
