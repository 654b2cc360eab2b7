"""Agents' internal notes never reach a customer: not in frames, not in a resume's replay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine

from handoff.escalation.policy import load_policy
from handoff.gateway import customer_socket
from handoff.gateway.conversations import ConversationService
from handoff.gateway.customer_socket import Gateway
from handoff.gateway.hub import ConversationHub
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.transcript import customer_frames, is_internal
from handoff.limits import ServiceLimits
from handoff.settings import Settings, repo_root
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.repository import ConversationStore, MessageRecord
from handoff.store.states import Sender

NOW = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)


def message(seq: int, payload: dict[str, Any]) -> MessageRecord:
    return MessageRecord(
        id=seq, conversation_id="c", seq=seq, sender=Sender.AGENT, text=f"text {seq}",
        client_message_id=None, payload=payload, created_at=NOW,
    )  # fmt: skip


def test_customer_frames_leave_internal_notes_out() -> None:
    note = message(2, {"internal": True, "agent_name": "Ana"})
    said = message(3, {"agent_name": "Ana", "team": "security"})
    assert is_internal(note) and not is_internal(said)
    assert [f.seq for f in customer_frames([message(1, {}), note, said])] == [1, 3]


class _Unused:
    async def send(self, *args: Any) -> Any:
        raise AssertionError("no turn runs in this test")

    async def read(self, text: str) -> None:
        return None


@pytest.fixture
def engine(tmp_path: Any) -> Iterator[Engine]:
    engine = create_database_engine(f"sqlite:///{tmp_path}/handoff.sqlite")
    upgrade_database(engine)
    yield engine
    engine.dispose()


def test_a_resume_never_replays_an_internal_note(engine: Engine) -> None:
    store = ConversationStore(engine)
    hub = ConversationHub()
    service = ConversationService(
        store=store, hub=hub, assistant=_Unused(), sentiment=_Unused(),
        policy=load_policy(repo_root() / "data" / "escalation.yml"), presence=PresenceRegistry(),
        average_handle=timedelta(minutes=8), clock=lambda: NOW,
    )  # fmt: skip
    app = FastAPI()
    app.include_router(customer_socket.router)
    bank = create_engine("sqlite://")
    app.state.gateway = Gateway(settings=Settings(), service=service, hub=hub, bank_engine=bank)
    app.state.limits = ServiceLimits.from_settings(Settings().limits)
    with TestClient(app) as client:
        with client.websocket_connect("/ws/customer") as ws:
            ws.send_json({"type": "start", "v": 1})
            started = ws.receive_json()
        conversation_id = started["conversation_id"]
        for text, payload in [
            ("Hello, I'm Ana.", {"agent_name": "Ana", "team": "security"}),
            ("Customer seems to be travelling.", {"internal": True, "agent_name": "Ana"}),
            ("Is your card with you?", {"agent_name": "Ana", "team": "security"}),
        ]:
            store.append_message(conversation_id, sender="agent", text=text, payload=payload,
                                 now=NOW)  # fmt: skip
        with client.websocket_connect("/ws/customer") as ws:
            resume = {"type": "resume", "v": 1, "resume_token": started["resume_token"]}
            ws.send_json({**resume, "last_seq": 0})
            frames = [ws.receive_json() for _ in range(3)]
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}  # nothing else was queued
    bank.dispose()
    assert frames[0]["type"] == "resumed"
    assert [(f["seq"], f["text"]) for f in frames[1:]] == [
        (1, "Hello, I'm Ana."), (3, "Is your card with you?"),
    ]  # fmt: skip
    assert "travelling" not in json.dumps(frames)
