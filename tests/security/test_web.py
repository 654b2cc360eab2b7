"""Headers, origins and what /readyz tells (findings: low).

Before: no CSP, ``frame-ancestors`` or ``nosniff`` on the pages; the websocket origin check
trusted the ``Host`` header (DNS rebinding) and ignored the scheme; ``/readyz`` showed the
database path and the model file to anyone.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from clients import close_code, new_address, receive_until
from security_stack import Deployment, log_in
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

pytestmark = pytest.mark.integration

PAGES = ["/", "/widget.js", "/agent", "/supervisor", "/api/agents/me", "/healthz"]


@pytest.mark.parametrize("path", PAGES)
def test_every_response_carries_the_security_headers(deployment: Deployment, path: str) -> None:
    response = httpx.get(f"{deployment.url}{path}")
    policy = response.headers["Content-Security-Policy"]

    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


@pytest.mark.parametrize("path", ["/agent", "/supervisor", "/api/agents/me"])
def test_the_consoles_and_the_api_cannot_be_framed(deployment: Deployment, path: str) -> None:
    response = httpx.get(f"{deployment.url}{path}")

    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def refused(deployment: Deployment, *, host: str, origin: str) -> bool:
    """Whether a page of ``origin`` is refused the customer socket when it names ``host`` (the
    connection goes to loopback all the same). The service closes before accepting, which the
    server answers as an HTTP 403 to the upgrade."""
    port = urlsplit(deployment.url).port
    raw = socket.create_connection(("127.0.0.1", port), source_address=(new_address(), 0))
    try:
        with connect(f"ws://{host}:{port}/ws/customer", sock=raw, origin=origin) as ws:  # type: ignore[arg-type]
            ws.send(json.dumps({"type": "start", "v": 1}))
            return close_code(ws) == 1008
    except InvalidStatus as rejected:
        return rejected.response.status_code == 403


def test_a_page_of_another_site_behind_a_rebound_name_cannot_open_a_socket(
    deployment: Deployment,
) -> None:
    # evil.example resolves to 127.0.0.1: Origin and Host agree, and neither is ours.
    port = urlsplit(deployment.url).port
    origin = f"http://evil.example:{port}"

    assert refused(deployment, host="evil.example", origin=origin)


@pytest.mark.parametrize("origin", ["https://127.0.0.1:{port}", "http://127.0.0.1:1", "null"])
def test_the_origin_is_compared_by_scheme_host_and_port(
    deployment: Deployment, origin: str
) -> None:
    port = urlsplit(deployment.url).port
    assert refused(deployment, host="127.0.0.1", origin=origin.format(port=port))


def test_the_services_own_pages_may_open_it(deployment: Deployment) -> None:
    port = urlsplit(deployment.url).port
    raw = socket.create_connection(("127.0.0.1", port), source_address=(new_address(), 0))
    url = f"ws://127.0.0.1:{port}/ws/customer"
    with connect(url, sock=raw, origin=f"http://127.0.0.1:{port}") as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "start", "v": 1}))
        assert receive_until(ws, "started")


def test_readyz_names_its_checks_and_nothing_else_to_strangers(deployment: Deployment) -> None:
    response = httpx.get(f"{deployment.url}/readyz")
    body = response.json()

    assert response.status_code == 200 and body["status"] == "ready"
    assert all(set(check) == {"name", "ok"} for check in body["checks"]), body
    assert "sqlite" not in response.text and "models" not in response.text


def test_readyz_details_are_for_supervisors(deployment: Deployment, agent_token: str) -> None:
    supervisor = log_in(deployment, "sam.boss")

    detailed = httpx.get(
        f"{deployment.url}/readyz", headers={"Authorization": f"Bearer {supervisor}"}
    )
    refused = httpx.get(
        f"{deployment.url}/readyz", headers={"Authorization": f"Bearer {agent_token}"}
    )

    assert all("detail" in check for check in detailed.json()["checks"])
    assert refused.status_code == 403
