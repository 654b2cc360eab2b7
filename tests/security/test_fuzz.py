"""Property-based fuzzing of both socket protocols and of every REST operation.

The properties: the service never answers with a 5xx, never drops a socket (every frame of an
established socket, however bad, is answered and the socket still answers a ``ping``), and is
still ready afterwards (checked when the deployment fixture ends). Examples are generated with
fixed seeds (``derandomize``) and bounded counts, so every run tries the same inputs and takes
the same few minutes on any machine.

* REST: Schemathesis generates requests from the service's own OpenAPI schema, for every
  operation, with a supervisor's token and without one.
* Sockets: Hypothesis builds frames of every known type (and unknown ones) with fields of any
  JSON value, from huge integers to nested lists, and mixes in raw text, binary frames and the
  hostile frames the findings named.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from clients import agent, customer, new_address, still_open
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter
from security_stack import Deployment, log_in
from websockets.sync.client import ClientConnection

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

REST_EXAMPLES = 40  # per operation
SOCKET_EXAMPLES = 200  # per protocol
FUZZ = settings(
    max_examples=SOCKET_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ----------------------------------------------------------------------------------- REST


class SourceAddress(HTTPAdapter):
    """Connections from one loopback address: the fuzzer's login failures lock out no one
    else's address."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


@pytest.fixture(scope="session")
def fuzz_session() -> Iterator[requests.Session]:
    session = requests.Session()
    session.mount("http://", SourceAddress(new_address()))
    yield session
    session.close()


@pytest.fixture(scope="session")
def supervisor_token(deployment: Deployment) -> str:
    return log_in(deployment, "sam.boss")


def fuzz_operation(
    operation: Any, headers: dict[str, str], session: requests.Session, statuses: Counter[int]
) -> None:
    """Generated requests to ``operation`` with ``headers``; none may get a 5xx."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=REST_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        sent = {**(case.headers or {}), **headers}
        response = case.call(session=session, headers=sent, timeout=30)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (
            case.method, case.formatted_path, response.status_code, response.text[:300]
        )  # fmt: skip

    call()


def test_no_rest_operation_answers_with_a_server_error(
    deployment: Deployment, fuzz_session: requests.Session, supervisor_token: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{deployment.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8  # every operation of the schema, not an empty list
    statuses: Counter[int] = Counter()
    as_supervisor = {"Authorization": f"Bearer {supervisor_token}"}
    for operation, headers in itertools.product(operations, (as_supervisor, {})):
        fuzz_operation(operation, headers, fuzz_session, statuses)
    logger.info(
        "REST fuzzing: %d operations, with and without a token, %d requests, statuses %s",
        len(operations), statuses.total(), dict(sorted(statuses.items())),
    )  # fmt: skip
    assert statuses.total() >= len(operations) * 5


# ----------------------------------------------------------------------------------- sockets

FIELDS = [
    "handoff_id", "text", "client_message_id", "seq", "last_seq", "v", "status", "summary",
    "reason", "to_team", "avoidable", "root_cause", "note", "misunderstood_message_seq",
    "correct_intent", "trigger", "token", "resume_token", "identity_token", "type",
]  # fmt: skip
CUSTOMER_TYPES = ["message", "typing", "read", "ping", "start", "resume", "nope"]
AGENT_TYPES = [
    "claim", "acknowledge", "message", "note", "transfer", "hand_back", "resolve", "presence",
    "typing", "read", "ping", "auth", "nope",
]  # fmt: skip
HOSTILE = [
    "[" * 990 + "]" * 990,
    '{"type": "read", "seq": ' + "1" * 4_300 + "}",
    '{"type": "claim", "handoff_id": 9223372036854775808}',
    '{"type": "message", "client_message_id": "x", "text": "ana\\ud800"}',
    '{"type": "read", "seq": NaN}',
    '{"type": "read", "seq": -Infinity}',
    '{"type": "ping"',
    "",
    "null",
    "[]",
    '"ping"',
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def frames(types: list[str]) -> st.SearchStrategy[str | bytes]:
    built = st.builds(
        lambda kind, fields: json.dumps({"type": kind, **fields}),
        st.sampled_from(types),
        st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
    )
    return st.one_of(
        built,
        built.map(str.encode),  # the same as a binary frame
        st.sampled_from(HOSTILE),
        st.text(max_size=120),
        st.binary(max_size=120),
    )


def answered_and_open(ws: ClientConnection, frame: str | bytes) -> bool:
    ws.send(frame)
    return still_open(ws)


@pytest.fixture(scope="module")
def customer_socket(deployment: Deployment) -> Iterator[ClientConnection]:
    with customer(deployment.url) as ws:
        yield ws


@pytest.fixture(scope="module")
def agent_socket(deployment: Deployment, agent_token: str) -> Iterator[ClientConnection]:
    with agent(deployment.url, agent_token) as ws:
        yield ws


@FUZZ
@given(frame=frames(CUSTOMER_TYPES))
def test_the_customer_socket_answers_any_frame_and_stays_open(
    customer_socket: ClientConnection, frame: str | bytes
) -> None:
    assert answered_and_open(customer_socket, frame)


@FUZZ
@given(frame=frames(AGENT_TYPES))
def test_the_agent_socket_answers_any_frame_and_stays_open(
    agent_socket: ClientConnection, frame: str | bytes
) -> None:
    assert answered_and_open(agent_socket, frame)
