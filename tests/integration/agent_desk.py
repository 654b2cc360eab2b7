"""An agent's side of ``/ws/agent`` for the integration tests: log in, open an authenticated
socket (a :class:`~customer_chat.Chat` for its frames), wait for a pushed handoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from customer_chat import Chat, Frame
from websockets.sync.client import connect

from handoff.agents.demo import DEMO_PASSWORD


def login(service_url: str, username: str) -> str:
    response = httpx.post(
        f"{service_url}/api/agents/login",
        json={"username": username, "password": DEMO_PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def agent_url(service_url: str) -> str:
    return service_url.replace("http://", "ws://", 1) + "/ws/agent"


@contextmanager
def agent_socket(service_url: str, username: str) -> Iterator[tuple[Chat, Frame]]:
    """An authenticated agent socket (a :class:`Chat` for its frames) and its ``welcome``."""
    token = login(service_url, username)
    with connect(agent_url(service_url), open_timeout=10, close_timeout=5) as connection:
        desk = Chat(connection)
        desk.send(type="auth", token=token)
        welcome = desk.wait_for(lambda f: f["type"] == "welcome", timeout=10)
        yield desk, welcome


def queued_for(conversation_id: str):
    return lambda f: (
        f["type"] == "handoff_queued" and f["handoff"]["conversation_id"] == conversation_id
    )
