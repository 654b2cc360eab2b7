"""Fail closed: no public secret, no demo door, no endless token (findings: high).

Before: the service accepted tokens signed with the placeholder secrets of
``handoff/settings.py`` (any customer; the supervisor until 2100), and
``POST /api/demo/identity-token`` signed anyone in as any customer, with nothing configured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from running_stack import ROOT
from security_stack import AGENT_PASSWORD, Deployment, create_agent
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from handoff.agents.demo import DEMO_PASSWORD
from handoff.gateway.identity import sign_identity_token
from handoff.settings import DEMO_AGENT_TOKEN_SECRET, DEMO_IDENTITY_SECRET

pytestmark = pytest.mark.integration

SECRETS = (
    "HANDOFF_IDENTITY__SECRET",
    "HANDOFF_AGENTS__TOKEN_SECRET",
    "HANDOFF_RASA__AUTH_TOKEN",
    "HANDOFF_RASA__CHANNEL_TOKEN",
)


def serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    return subprocess.run(
        [sys.executable, "-m", "handoff", "serve"], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_service_refuses_to_start_with_no_secret_naming_each() -> None:
    done = serve({"HANDOFF_SERVER__PORT": "1"})

    assert done.returncode == 2
    assert all(name in done.stderr for name in SECRETS), done.stderr


def test_the_service_refuses_to_start_with_the_public_demo_secrets() -> None:
    done = serve(
        {
            "HANDOFF_SERVER__PORT": "1",
            "HANDOFF_IDENTITY__SECRET": DEMO_IDENTITY_SECRET,
            "HANDOFF_AGENTS__TOKEN_SECRET": DEMO_AGENT_TOKEN_SECRET,
            "HANDOFF_RASA__AUTH_TOKEN": "x" * 40,
            "HANDOFF_RASA__CHANNEL_TOKEN": "y" * 40,
        }
    )

    assert done.returncode == 2
    assert "HANDOFF_IDENTITY__SECRET is a public demo secret" in done.stderr
    assert "HANDOFF_AGENTS__TOKEN_SECRET is a public demo secret" in done.stderr


def customer_close_code(deployment: Deployment, token: str) -> int | None:
    url = deployment.url.replace("http://", "ws://") + "/ws/customer"
    with connect(url, open_timeout=10) as socket:
        socket.send(json.dumps({"type": "start", "v": 1, "identity_token": token}))
        try:
            while True:
                socket.recv(timeout=10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def test_an_identity_token_signed_with_the_demo_secret_is_refused(deployment: Deployment) -> None:
    forged = sign_identity_token(
        "cus_1001", secret=DEMO_IDENTITY_SECRET, now=datetime.now(UTC), ttl=timedelta(hours=1)
    )

    assert customer_close_code(deployment, forged) == 4401


def agent_claims(**changes: object) -> dict[str, object]:
    now = int(datetime.now(UTC).timestamp())
    claims = {"typ": "agent", "sub": "0" * 32, "role": "supervisor", "teams": ["general"],
              "iat": now, "exp": now + 3600}  # fmt: skip
    return {**claims, **changes}


def me(deployment: Deployment, token: str) -> httpx.Response:
    return httpx.get(
        f"{deployment.url}/api/agents/me", headers={"Authorization": f"Bearer {token}"}
    )


def test_an_agent_token_signed_with_the_demo_secret_is_refused(deployment: Deployment) -> None:
    forged = jwt.encode(agent_claims(), DEMO_AGENT_TOKEN_SECRET, algorithm="HS256")

    response = me(deployment, forged)

    assert response.status_code == 401
    assert response.json()["detail"].startswith("bad_signature")


def test_an_agent_token_that_lasts_until_2100_is_refused_even_signed_right(
    deployment: Deployment, agent_token: str
) -> None:
    real = jwt.decode(agent_token, deployment.agent_token_secret, algorithms=["HS256"])
    until_2100 = {**real, "exp": int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())}
    forged = jwt.encode(until_2100, deployment.agent_token_secret, algorithm="HS256")

    assert me(deployment, agent_token).status_code == 200
    response = me(deployment, forged)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("too_long")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/demo/identity-token", {"customer_id": "cus_1001"}),
        ("GET", "/api/demo/customers", None),
    ],
)
def test_the_demo_identities_are_not_served(
    deployment: Deployment, method: str, path: str, body: object
) -> None:
    response = httpx.request(method, f"{deployment.url}{path}", json=body)

    assert response.status_code == 404


def test_the_demo_password_opens_no_account(deployment: Deployment) -> None:
    # An account a demo left behind in this database, with the public password.
    create_agent(deployment, "left.behind", "supervisor", password=DEMO_PASSWORD)

    refused = httpx.post(
        f"{deployment.url}/api/agents/login",
        json={"username": "left.behind", "password": DEMO_PASSWORD},
    )
    fine = httpx.post(
        f"{deployment.url}/api/agents/login",
        json={"username": "ana.agent", "password": AGENT_PASSWORD},
    )

    assert refused.status_code == 401
    assert fine.status_code == 200
