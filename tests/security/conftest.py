"""The security suite: a deployed stack (no demo mode, secrets of its own) attacked from here.

One stack per session, started as a deployment would start it: ``handoff stack`` with an
identity secret and an agent token secret of its own, demo mode off. Only loopback is used.
Every test is one door tried the way an attacker on the same machine would try it; the doors
themselves are described in ``docs/security.md``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from running_stack import new_secret, running_stack
from security_stack import Deployment, create_agent, log_in


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    identity_secret, agent_token_secret = new_secret(), new_secret()
    mode = {
        "HANDOFF_IDENTITY__SECRET": identity_secret,
        "HANDOFF_AGENTS__TOKEN_SECRET": agent_token_secret,
    }
    with running_stack(tmp_path_factory.mktemp("deployment"), mode) as stack:
        deployment = Deployment(stack, identity_secret, agent_token_secret)
        for username, role in (("ana.agent", "agent"), ("sam.boss", "supervisor")):
            create_agent(deployment, username, role)
        yield deployment
        # Whatever the suite threw at it, the service is still ready afterwards.
        assert httpx.get(f"{stack.service_url}/readyz", timeout=10).status_code == 200


@pytest.fixture(scope="session")
def agent_token(deployment: Deployment) -> str:
    """A real access token of the deployment's agent ``ana.agent``."""
    return log_in(deployment, "ana.agent")
