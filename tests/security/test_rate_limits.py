"""Limits on every input, at their defaults (findings: medium).

Before: 2,000 message frames from one anonymous socket in 0.12 s were all stored and slowed
every other conversation; 200 conversations opened in 0.9 s; 30 wrong passwords, then the
right one, was accepted.
"""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest
from clients import (
    customer,
    http_from,
    new_address,
    receive,
    receive_until,
    socket_from,
    still_open,
    ws_url,
)
from security_stack import AGENT_PASSWORD, Deployment, create_agent
from websockets.sync.client import ClientConnection

from handoff.store.database import create_database_engine
from handoff.store.repository import ConversationStore
from handoff.store.states import Sender

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

FLOOD = 2_000


def test_a_flood_of_messages_is_refused_and_nothing_accepted_is_lost(
    deployment: Deployment,
) -> None:
    with socket_from(new_address(), ws_url(deployment.url, "/ws/customer")) as ws:
        ws.send(json.dumps({"type": "start", "v": 1}))
        conversation_id = receive_until(ws, "started")["conversation_id"]
        # Sent from a thread while this one reads the answers: a client that stopped reading
        # would be closed for reading too slowly (1013), which is another protection.
        flood = threading.Thread(target=send_flood, args=(ws,))
        flood.start()
        acked, refused = [], 0
        while len(acked) + refused < FLOOD:
            frame = receive(ws)
            if frame["type"] == "ack":
                acked.append(frame["client_message_id"])
            elif frame["type"] == "error":
                assert frame["code"] == "rate_limited" and frame["retry_after_seconds"] >= 1
                refused += 1
        flood.join()
        assert still_open(ws)
        # A customer on another network is served while this one is held back.
        with customer(deployment.url) as other:
            other.send(json.dumps({"type": "message", "client_message_id": "o1", "text": "hi"}))
            assert receive_until(other, "ack")["client_message_id"] == "o1"

    logger.info("flood of %d: %d acknowledged, %d refused", FLOOD, len(acked), refused)
    assert 1 <= len(acked) <= 20, len(acked)  # the burst, not the flood
    assert refused == FLOOD - len(acked)
    # Every acknowledged message is stored, and only those.
    assert customer_texts(deployment, conversation_id) == [cmid[1:] for cmid in acked]


def send_flood(ws: ClientConnection) -> None:
    for n in range(FLOOD):
        ws.send(json.dumps({"type": "message", "client_message_id": f"f{n}", "text": f"{n}"}))


def customer_texts(deployment: Deployment, conversation_id: str) -> list[str]:
    engine = create_database_engine(deployment.stack.database_url)
    try:
        transcript = ConversationStore(engine).transcript(conversation_id)
    finally:
        engine.dispose()
    return [m.text for m in transcript if m.sender is Sender.CUSTOMER]


def test_new_conversations_from_one_address_are_limited_and_others_are_not(
    deployment: Deployment,
) -> None:
    address, started, refused = new_address(), 0, 0
    url = ws_url(deployment.url, "/ws/customer")
    for _ in range(200):
        with socket_from(address, url) as ws:
            ws.send(json.dumps({"type": "start", "v": 1}))
            frame = receive(ws)
            if frame["type"] == "started":
                started += 1
            else:
                assert frame["type"] == "error" and frame["code"] == "rate_limited", frame
                refused += 1
                # Nothing opened, and the socket waits for the client to try again.
                ws.send(json.dumps({"type": "start", "v": 1}))
                assert receive(ws)["type"] in ("error", "started")

    logger.info("200 new conversations from one address: %d started, %d refused", started, refused)
    assert 30 <= started <= 60, started  # the burst, and what trickled back meanwhile
    assert refused == 200 - started
    with customer(deployment.url):  # another address starts at once
        pass


def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(
    deployment: Deployment,
) -> None:
    create_agent(deployment, "lock.target", "agent")
    login = f"{deployment.url}/api/agents/login"
    with http_from(new_address()) as attacker:
        statuses = [
            attacker.post(
                login, json={"username": "lock.target", "password": f"guess {n}"}
            ).status_code
            for n in range(30)
        ]
        right = attacker.post(login, json={"username": "lock.target", "password": AGENT_PASSWORD})
    with http_from(new_address()) as elsewhere:
        also_locked = elsewhere.post(
            login, json={"username": "lock.target", "password": AGENT_PASSWORD}
        )
        # An unknown username is locked the same way: the answer tells nothing.
        unknown = [
            elsewhere.post(login, json={"username": "no.one", "password": f"g{n}"}).status_code
            for n in range(12)
        ]

    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert also_locked.status_code == 429
    assert unknown[:10] == [401] * 10 and set(unknown[10:]) == {429}
    assert httpx.get(f"{deployment.url}/readyz").status_code == 200
