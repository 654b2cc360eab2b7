"""A conversation back with the bot after an agent: the assistant is told (the agent's summary,
a cleared rating, the external intent) and speaks first; the customer's rating is kept on the
handoff. A real store (SQLite), the service, and Rasa's HTTP API faked at the transport."""

# ruff: noqa: F811 - fixtures are imported from test_conversations
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_conversations import (  # noqa: F401 - fixtures
    STANDARD,
    Clock,
    FakeSentiment,
    answer,
    policy,
    say,
    sentiment,
)

from handoff.escalation.policy import EscalationPolicy
from handoff.gateway.conversations import ConversationService
from handoff.gateway.hub import ConversationHub
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.rasa_client import RasaTurn, RasaTurnClient
from handoff.store.agent_work import AgentWorkStore
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.repository import ConversationStore
from handoff.store.states import ConversationState, Sender

WELCOME = "Welcome back! How would you rate the help you got, from 1 to 5?"


class FakeRasa:
    """Rasa: the handoff channel answers from ``turns``; the HTTP API records the events and
    answers the external intent with ``WELCOME`` (or fails with ``api_status``)."""

    def __init__(self) -> None:
        self.turns: list[dict[str, Any]] = []
        self.api_calls: list[tuple[str, Any]] = []
        self.api_status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path.startswith("/webhooks/"):
            turn = self.turns.pop(0)
            return httpx.Response(200, json={"sender": body["sender"], **turn})
        self.api_calls.append((request.url.path.rsplit("/", 1)[1], body))
        if self.api_status != 200:
            return httpx.Response(self.api_status, json={"error": "boom"})
        if request.url.path.endswith("/trigger_intent"):
            return httpx.Response(200, json={"tracker": {}, "messages": [{"text": WELCOME}]})
        return httpx.Response(200, json={})


def channel_turn(intent: str, *, slots: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "messages": [{"text": f"answer about {intent}"}],
        "intent": {"name": intent, "confidence": 0.99},
        "slots": slots or {},
    }


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Any]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'service.sqlite'}")
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
async def service(
    engine: Any, rasa: FakeRasa, sentiment: FakeSentiment, policy: EscalationPolicy
) -> AsyncIterator[ConversationService]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(rasa)) as http:
        yield ConversationService(
            store=ConversationStore(engine), hub=ConversationHub(),
            assistant=RasaTurnClient(http, "http://rasa.test:5005", token=None, timeout=2.0),
            sentiment=sentiment, policy=policy, presence=PresenceRegistry(),
            average_handle=timedelta(minutes=8), clock=Clock(),
        )  # fmt: skip


async def handed_back(service: ConversationService, engine: Any, rasa: FakeRasa) -> str:
    """A conversation that escalated, was claimed and was handed back; its id."""
    record, _ = await service.start(STANDARD)
    rasa.turns.append(channel_turn("request_human"))
    result = await say(service, record.id, "let me talk to a person")
    assert result.handoff is not None
    work = AgentWorkStore(engine)
    now = service.clock()
    work.claim_handoff(result.handoff.id, agent_id="agent-1", agent_name="Ana", now=now)
    work.hand_back_to_bot(result.handoff.id, agent_id="agent-1", summary="Refund issued.", now=now)
    return record.id


async def test_the_assistant_gets_the_summary_and_welcomes_the_customer_back(
    service: ConversationService, engine: Any, rasa: FakeRasa
) -> None:
    conversation_id = await handed_back(service, engine, rasa)

    assert await service.returned_to_bot(conversation_id, "Refund issued.") is True

    assert rasa.api_calls == [
        ("events", [
            {"event": "slot", "name": "handback_summary", "value": "Refund issued."},
            {"event": "slot", "name": "satisfaction_rating", "value": None},
        ]),
        ("trigger_intent", {"name": "EXTERNAL_back_from_agent", "entities": {}}),
    ]  # fmt: skip
    last = service.store.transcript(conversation_id)[-1]
    assert (last.sender, last.text) == (Sender.BOT, WELCOME)


async def test_the_bot_says_nothing_once_a_person_owns_the_conversation_again(
    service: ConversationService, rasa: FakeRasa
) -> None:
    record, _ = await service.start(STANDARD)
    rasa.turns.append(channel_turn("request_human"))
    await say(service, record.id, "let me talk to a person")  # queued: a person owns it
    before = service.store.transcript(record.id)

    assert await service.returned_to_bot(record.id, None) is True

    assert service.store.transcript(record.id) == before


async def test_a_failing_assistant_is_logged_and_nothing_is_stored(
    service: ConversationService, engine: Any, rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    conversation_id = await handed_back(service, engine, rasa)
    before = service.store.transcript(conversation_id)
    rasa.api_status = 500

    assert await service.returned_to_bot(conversation_id, "Refund issued.") is False

    assert "was not told it has the customer back" in caplog.text
    assert service.store.transcript(conversation_id) == before


async def test_an_assistant_without_the_http_api_is_skipped(
    engine: Any, sentiment: FakeSentiment, policy: EscalationPolicy
) -> None:
    class TurnsOnly:
        async def send(self, conversation_id: str, text: str, metadata: Any) -> RasaTurn:
            return answer()

    service = ConversationService(
        store=ConversationStore(engine), hub=ConversationHub(), assistant=TurnsOnly(),
        sentiment=sentiment, policy=policy, presence=PresenceRegistry(),
        average_handle=timedelta(minutes=8),
    )  # fmt: skip
    record, _ = await service.start(STANDARD)

    assert await service.returned_to_bot(record.id, None) is False


async def test_the_rating_the_assistant_understood_is_kept_once_and_its_slot_cleared(
    service: ConversationService, engine: Any, rasa: FakeRasa
) -> None:
    conversation_id = await handed_back(service, engine, rasa)
    rasa.turns += [
        channel_turn("rate_support", slots={"satisfaction_rating": 4.0}),
        channel_turn("rate_support", slots={"satisfaction_rating": 1.0}),  # the slot not cleared
    ]

    result = await say(service, conversation_id, "4 out of 5")
    await say(service, conversation_id, "actually 1")

    assert result.state is ConversationState.BOT
    handoff = service.store.latest_handoff(conversation_id)
    assert handoff is not None and handoff.satisfaction_rating == 4  # the first rating stands
    assert handoff.rated_at is not None
    cleared = [body for path, body in rasa.api_calls if path == "events"]
    assert [{"event": "slot", "name": "satisfaction_rating", "value": None}] in cleared


@pytest.mark.parametrize("rating", [0, 6, 4.5, True, "5"])
async def test_a_rating_outside_one_to_five_is_ignored(
    service: ConversationService, engine: Any, rasa: FakeRasa, rating: Any
) -> None:
    conversation_id = await handed_back(service, engine, rasa)
    rasa.turns.append(channel_turn("rate_support", slots={"satisfaction_rating": rating}))

    await say(service, conversation_id, "rating")

    handoff = service.store.latest_handoff(conversation_id)
    assert handoff is not None and handoff.satisfaction_rating is None


async def test_without_a_resolved_handoff_there_is_nothing_to_rate(
    service: ConversationService, rasa: FakeRasa
) -> None:
    record, _ = await service.start(STANDARD)
    rasa.turns.append(channel_turn("rate_support", slots={"satisfaction_rating": 5.0}))

    await say(service, record.id, "5")

    assert service.store.latest_handoff(record.id) is None
