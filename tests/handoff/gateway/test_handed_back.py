"""The agent's hand-back summary reaches Rasa as slot ``handback_summary``
(:meth:`ConversationService.handed_back`, over a RasaTurnClient on an httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from handoff.escalation.policy import load_policy
from handoff.gateway.conversations import ConversationService
from handoff.gateway.hub import ConversationHub
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.rasa_client import RasaTurnClient
from handoff.settings import repo_root


class NoSentiment:
    async def read(self, text: str) -> None:
        return None


class TurnsOnly:
    """An assistant that can answer turns but not set slots (e.g. a test double)."""

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> Any:
        raise AssertionError("no turn expected")


def service_with(assistant: Any) -> ConversationService:
    return ConversationService(
        store=object(),  # type: ignore[arg-type]  # handed_back never touches the store
        hub=ConversationHub(), assistant=assistant, sentiment=NoSentiment(),
        policy=load_policy(repo_root() / "data" / "escalation.yml"),
        presence=PresenceRegistry(), average_handle=timedelta(minutes=8),
    )  # fmt: skip


class FakeRasa:
    """Rasa's HTTP API: records requests, answers with ``status``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json={"sender_id": "conv-1"})


@pytest.fixture
def fake() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
async def rasa(fake: FakeRasa) -> AsyncIterator[RasaTurnClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        yield RasaTurnClient(http, "http://rasa.test:5005", token=None, timeout=2.0)


async def test_the_summary_is_set_as_a_slot_in_rasa(fake: FakeRasa, rasa: RasaTurnClient) -> None:
    delivered = await service_with(rasa).handed_back("conv-1", "Refund issued; nothing open.")

    assert delivered is True
    (request,) = fake.requests
    assert request.url.path == "/conversations/conv-1/tracker/events"
    assert json.loads(request.content) == [
        {"event": "slot", "name": "handback_summary", "value": "Refund issued; nothing open."}
    ]


async def test_a_failing_rasa_is_logged_not_raised(
    fake: FakeRasa, rasa: RasaTurnClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.status = 500

    assert await service_with(rasa).handed_back("conv-1", "summary") is False
    assert "hand-back summary did not reach the assistant" in caplog.text


async def test_an_assistant_without_slots_is_skipped() -> None:
    assert await service_with(TurnsOnly()).handed_back("conv-1", "summary") is False
