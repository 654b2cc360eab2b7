"""The deployment the security suite attacks, and how to add an account to it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from clients import http_from, new_address
from running_stack import ROOT, RunningStack

AGENT_PASSWORD = "a long passphrase of the security suite"


@dataclass(frozen=True)
class Deployment:
    """The running stack and the deployment's own secrets."""

    stack: RunningStack
    identity_secret: str
    agent_token_secret: str

    @property
    def url(self) -> str:
        return self.stack.service_url


def create_agent(
    deployment: Deployment, username: str, role: str, password: str = AGENT_PASSWORD
) -> None:
    """An account in the deployment's database, made with ``handoff agents create``."""
    subprocess.run(
        [sys.executable, "-m", "handoff", "agents", "create", "--username", username,
         "--name", username.title(), "--teams", "general,security", "--role", role,
         "--password-stdin"],
        input=password + "\n", text=True, check=True, capture_output=True, timeout=60,
        cwd=ROOT, env={**os.environ, "HANDOFF_DATABASE__URL": deployment.stack.database_url},
    )  # fmt: skip


def log_in(deployment: Deployment, username: str) -> str:
    """An access token of ``username`` (password :data:`AGENT_PASSWORD`), from an address of
    its own, so that no lockout another test provoked stands in the way."""
    with http_from(new_address()) as client:
        response = client.post(
            f"{deployment.url}/api/agents/login",
            json={"username": username, "password": AGENT_PASSWORD},
        )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])
