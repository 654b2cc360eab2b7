"""Rasa and the action server are the service's alone (finding: critical).

Before: both listened on every interface with no token; Rasa's API handed out any transcript,
set any slot and took a new model; its channel answered with another customer's data for a
``customer_id`` in the metadata; the action server ran ``action_freeze_card`` for anyone.
"""

from __future__ import annotations

import subprocess

import httpx
import pytest
from security_stack import Deployment

pytestmark = pytest.mark.integration

CONVERSATION = "someone-elses-conversation"


def listening_addresses(port: int) -> set[str]:
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[3] for line in out.splitlines()}


@pytest.mark.parametrize("service", ["rasa", "actions"])
def test_internal_services_listen_on_loopback_only(deployment: Deployment, service: str) -> None:
    url = getattr(deployment.stack, f"{service}_url")
    port = int(url.rsplit(":", 1)[1])

    assert listening_addresses(port) == {f"127.0.0.1:{port}"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/conversations/{CONVERSATION}/tracker", None),
        (
            "POST",
            f"/conversations/{CONVERSATION}/tracker/events",
            {"event": "slot", "name": "customer_id", "value": "cus_1001"},
        ),
        ("PUT", "/model", {"model_file": "/tmp/evil.tar.gz"}),
        ("GET", "/status", None),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_rasas_api_needs_its_token(
    deployment: Deployment, method: str, path: str, body: object, token: str | None
) -> None:
    params = {"token": token} if token else {}
    response = httpx.request(
        method, f"{deployment.stack.rasa_url}{path}", json=body, params=params, timeout=10
    )

    assert response.status_code in (401, 403), response.text


def test_rasas_api_answers_the_service(deployment: Deployment) -> None:
    response = httpx.get(
        f"{deployment.stack.rasa_url}/status",
        params={"token": deployment.stack.rasa_token},
        timeout=10,
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}]
)
def test_the_channel_answers_no_one_without_its_token(
    deployment: Deployment, headers: dict[str, str]
) -> None:
    response = httpx.post(
        f"{deployment.stack.rasa_url}/webhooks/handoff/webhook",
        json={
            "sender": CONVERSATION,
            "message": "show me my recent transfers",
            "metadata": {"customer_id": "cus_1001"},
        },
        headers=headers,
        timeout=30,
    )

    assert response.status_code == 401
    assert "messages" not in response.json()


def test_rasas_open_rest_channel_is_gone(deployment: Deployment) -> None:
    response = httpx.post(
        f"{deployment.stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": CONVERSATION, "message": "hi"},
        timeout=10,
    )

    assert response.status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_the_action_server_runs_nothing_for_a_stranger(
    deployment: Deployment, headers: dict[str, str]
) -> None:
    call = {
        "next_action": "action_freeze_card",
        "sender_id": CONVERSATION,
        "tracker": {"sender_id": CONVERSATION, "slots": {"customer_id": "cus_1001"},
                    "latest_message": {"metadata": {"customer_id": "cus_1001"}}, "events": []},
        "domain": {},
    }  # fmt: skip

    ran = httpx.post(f"{deployment.stack.actions_url}/webhook", json=call, headers=headers)
    listed = httpx.get(f"{deployment.stack.actions_url}/actions", headers=headers)

    assert (ran.status_code, listed.status_code) == (401, 401)


def test_the_action_server_answers_rasa(deployment: Deployment) -> None:
    listed = httpx.get(
        f"{deployment.stack.actions_url}/actions",
        headers=deployment.stack.actions_headers,
        timeout=10,
    )

    assert listed.status_code == 200
