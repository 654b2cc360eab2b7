"""The agent socket tests' harness, with the desk's routing rules, grace and canned responses.

Shared by ``test_desk_routing``, ``test_desk_availability``, ``test_canned_responses`` and
``test_typing_receipts``; everything else (fakes, frame helpers) is
``test_agent_socket``'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from starlette.testclient import WebSocketTestSession
from test_agent_socket import (
    AGENT_SECRET,
    ALLOWED_ORIGIN,
    CHEAP,
    IDENTITY_SECRET,
    NOW,
    PASSWORD,
    Clock,
    FakeAssistant,
    FakeReader,
    Harness,
    event,
    receive_until,
)

from handoff.agents import routes as agent_routes
from handoff.agents import socket as agent_socket
from handoff.agents.accounts import AgentStore, policy_teams
from handoff.agents.canned import CannedResponses
from handoff.agents.desk import AgentDesk
from handoff.escalation.policy import EscalationPolicy, TeamRules
from handoff.gateway import customer_socket
from handoff.gateway.conversations import ConversationService
from handoff.gateway.customer_socket import Gateway
from handoff.gateway.hub import ConversationHub
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.rasa_client import RasaTurn
from handoff.limits import ServiceLimits
from handoff.settings import AgentSettings, GatewaySettings, IdentitySettings, Settings
from handoff.store.agent_work import AgentWorkStore
from handoff.store.repository import ConversationStore

AGENTS = [  # username, display name, role, teams, capacity
    ("ana", "Ana Souza", "agent", ["security"], 2),
    ("bo", "Bo Lindqvist", "agent", ["security"], 2),
    ("carl", "Carl Mensah", "agent", ["general"], 2),
    ("dee", "Dee Okafor", "agent", ["disputes"], 2),
    ("sue", "Sue Park", "supervisor", ["general"], 5),
]


@contextmanager
def desk_harness(
    engine: Engine,
    policy: EscalationPolicy,
    *,
    team_rules: Mapping[str, TeamRules] | None = None,
    grace: timedelta = timedelta(seconds=120),
    canned: CannedResponses | None = None,
) -> Iterator[Harness]:
    """As ``test_agent_socket``'s harness, with the desk configured as given."""
    settings = Settings(
        identity=IdentitySettings(secret=IDENTITY_SECRET),
        gateway=GatewaySettings(allowed_origins=(ALLOWED_ORIGIN,), handshake_timeout_seconds=2),
        agents=AgentSettings(token_secret=AGENT_SECRET),
    )
    accounts = AgentStore(engine, hasher=CHEAP)
    agents = {
        who: accounts.create_agent(
            username=who,
            display_name=name,
            role=role,
            teams=teams,
            capacity=capacity,
            password=PASSWORD,
            now=NOW,
        )  # fmt: skip
        for who, name, role, teams, capacity in AGENTS
    }
    hub, presence, assistant, clock = (
        ConversationHub(),
        PresenceRegistry(),
        FakeAssistant(),
        Clock(),
    )
    app = FastAPI()
    service = ConversationService(
        store=ConversationStore(engine), hub=hub, assistant=assistant, sentiment=FakeReader(),
        policy=policy, presence=presence, average_handle=timedelta(minutes=8), clock=clock,
        on_queued=lambda handoff: app.state.desk.on_handoff_queued(handoff),
    )  # fmt: skip
    work = AgentWorkStore(engine)
    desk = AgentDesk(
        service=service, work=work, hub=hub, presence=presence, teams=policy_teams(policy),
        team_rules=team_rules, grace=grace, canned=canned,
    )  # fmt: skip
    app.include_router(customer_socket.router)
    app.include_router(agent_socket.router)
    app.include_router(agent_routes.router)
    bank = create_engine("sqlite://")
    app.state.gateway = Gateway(settings=settings, service=service, hub=hub, bank_engine=bank)
    app.state.settings = settings
    app.state.limits = ServiceLimits.from_settings(settings.limits)
    app.state.agent_store = accounts
    app.state.desk = desk
    client = TestClient(app)
    client.__enter__()
    harness = Harness(client, service, desk, work, presence, assistant, clock, agents)
    try:
        yield harness
        harness.drain()
        client.portal.call(desk.close)  # type: ignore[union-attr]
    finally:
        client.__exit__(None, None, None)
        bank.dispose()


def escalate_open(
    harness: Harness, ws: WebSocketTestSession, turn: RasaTurn, cmid: str = "m1"
) -> int:
    """As ``test_agent_socket.escalate``, for a handoff that may be auto-assigned at once."""
    harness.assistant.script.append(turn)
    ws.send_json({"type": "message", "client_message_id": cmid, "text": "my card was stolen"})
    receive_until(ws, event("handoff_notice"))
    harness.drain()
    return max(h.id for h in harness.work.open_handoffs())
