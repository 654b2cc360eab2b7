"""Every frame handled, every body refused cleanly (findings: medium and low).

Before: an uncaught exception dropped the socket without a close frame (a deeply nested frame,
an integer of 4,300 digits, ``handoff_id`` 2**63); ``handoff_id: "1"``, ``avoidable: "yes"``
and ``v: true`` were coerced; frames up to 16 MiB were read before the 16 KB limit applied;
REST answered a lone surrogate, NaN or Infinity with a 500.
"""

from __future__ import annotations

import json

import pytest
from clients import (
    agent,
    close_code,
    customer,
    http_from,
    new_address,
    receive_until,
    socket_from,
    still_open,
    ws_url,
)
from security_stack import AGENT_PASSWORD, Deployment

pytestmark = pytest.mark.integration

DEEP = "[" * 990 + "]" * 990
HUGE = "1" * 4_300
BEYOND = str(2**63)
HANDOFF_ACTIONS = {
    "claim": "",
    "acknowledge": "",
    "message": ', "client_message_id": "m1", "text": "hi"',
    "typing": "",
    "resolve": ', "avoidable": false, "root_cause": "other"',
}
HOSTILE_AGENT_FRAMES = {
    "deep-nesting": DEEP,
    **{
        f"{action}-{name}": f'{{"type": "{action}", "handoff_id": {value}{rest}}}'
        for action, rest in HANDOFF_ACTIONS.items()
        for name, value in (("huge-int", HUGE), ("beyond-int64", BEYOND), ("string-id", '"1"'))
    },
    "resolve-string-bool": '{"type": "resolve", "handoff_id": 1, "avoidable": "yes", '
    '"root_cause": "other"}',
    "nan-id": '{"type": "claim", "handoff_id": NaN}',
    "surrogate-text": '{"type": "note", "handoff_id": 1, "text": "ana\\ud800"}',
}
HOSTILE_CUSTOMER_FRAMES = {
    "deep-nesting": DEEP,
    "huge-int": f'{{"type": "read", "seq": {HUGE}}}',
    "beyond-int64": f'{{"type": "read", "seq": {BEYOND}}}',
    "string-seq": '{"type": "read", "seq": "1"}',
    "bool-seq": '{"type": "read", "seq": true}',
    "infinity": '{"type": "read", "seq": Infinity}',
    "surrogate-text": '{"type": "message", "client_message_id": "m1", "text": "ana\\ud800"}',
    "not-json": "{",
    "unknown-type": '{"type": "steal"}',
}


@pytest.mark.parametrize("frame", HOSTILE_AGENT_FRAMES.values(), ids=HOSTILE_AGENT_FRAMES.keys())
def test_a_hostile_agent_frame_gets_an_error_frame_and_the_socket_stays(
    deployment: Deployment, agent_token: str, frame: str
) -> None:
    with agent(deployment.url, agent_token) as ws:
        ws.send(frame)
        error = receive_until(ws, "error")
        assert error["code"] == "bad_frame", error
        assert still_open(ws)


@pytest.mark.parametrize(
    "frame", HOSTILE_CUSTOMER_FRAMES.values(), ids=HOSTILE_CUSTOMER_FRAMES.keys()
)
def test_a_hostile_customer_frame_gets_an_error_frame_and_the_socket_stays(
    deployment: Deployment, frame: str
) -> None:
    with customer(deployment.url) as ws:
        ws.send(frame)
        error = receive_until(ws, "error")
        assert error["code"] == "bad_frame", error
        assert still_open(ws)


@pytest.mark.parametrize("opening", ['{"type": "start", "v": true}', '{"type": "start", "v": "1"}'])
def test_a_coerced_version_is_refused_in_the_opening(deployment: Deployment, opening: str) -> None:
    with socket_from(new_address(), ws_url(deployment.url, "/ws/customer")) as ws:
        ws.send(opening)
        assert close_code(ws) == 4400


def test_a_frame_over_the_limit_is_refused_before_it_is_read(deployment: Deployment) -> None:
    with customer(deployment.url) as ws:
        ws.send(json.dumps({"type": "ping", "pad": "x" * 20_000}))
        # The server reads no more than the protocol's 16 KB: a bigger frame closes with 1009.
        assert close_code(ws) == 1009


@pytest.mark.parametrize(
    "body",
    [
        '{"username": "ana\\ud800", "password": "x"}',
        '{"username": "ana.agent", "password": NaN}',
        '{"username": "ana.agent", "password": Infinity}',
        '{"username": "ana.agent", "password": -Infinity}',
    ],
    ids=["lone-surrogate", "nan", "infinity", "minus-infinity"],
)
def test_a_rest_body_with_invalid_unicode_or_a_non_finite_number_is_a_4xx(
    deployment: Deployment, body: str
) -> None:
    with http_from(new_address()) as client:
        response = client.post(
            f"{deployment.url}/api/agents/login",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, response.text
        # The right password still works from there: nothing was counted against the account.
        fine = client.post(
            f"{deployment.url}/api/agents/login",
            json={"username": "ana.agent", "password": AGENT_PASSWORD},
        )
        assert fine.status_code == 200
