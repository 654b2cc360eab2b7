"""The action server runs actions for Rasa alone: its routes need the shared secret."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actions.server import is_authorized, main

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "action-server-test-token-0123456789abcdef"


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, False),
        ("", False),
        (f"Bearer {TOKEN}", True),
        (f"bearer  {TOKEN} ", True),
        ("Bearer wrong", False),
        (f"Bearer {TOKEN}x", False),
        (f"Basic {TOKEN}", False),
        (TOKEN, False),
    ],
)
def test_is_authorized(header: str | None, allowed: bool) -> None:
    assert is_authorized(header, TOKEN) is allowed


@pytest.mark.parametrize("token", [None, "", "short"])
def test_it_refuses_to_start_without_a_strong_secret(
    token: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if token is None:
        monkeypatch.delenv("HANDOFF_ACTIONS__TOKEN", raising=False)
    else:
        monkeypatch.setenv("HANDOFF_ACTIONS__TOKEN", token)

    assert main(["--port", "1"]) == 2
    assert "HANDOFF_ACTIONS__TOKEN" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    folder = tmp_path_factory.mktemp("actions")
    env = {
        **os.environ,
        "HANDOFF_ACTIONS__TOKEN": TOKEN,
        "BANK_DATABASE_URL": f"sqlite:///{folder / 'bank.sqlite'}",
    }
    log = (folder / "actions.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "actions.server", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, (
                    folder / "actions.log"
                ).read_text()
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_no_action_runs_without_the_secret(action_server: str, headers: dict[str, str]) -> None:
    call = {"next_action": "action_freeze_card", "sender_id": "x", "tracker": {}}

    ran = httpx.post(f"{action_server}/webhook", json=call, headers=headers, timeout=10)
    listed = httpx.get(f"{action_server}/actions", headers=headers, timeout=10)

    assert (ran.status_code, listed.status_code) == (401, 401)
    assert "Authorization: Bearer" in ran.json()["error"]


@pytest.mark.integration
def test_with_the_secret_the_actions_answer(action_server: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}

    listed = httpx.get(f"{action_server}/actions", headers=headers, timeout=10)

    assert listed.status_code == 200
    assert "action_freeze_card" in [action["name"] for action in listed.json()]
    assert httpx.get(f"{action_server}/health", timeout=10).json() == {"status": "ok"}


@pytest.mark.integration
def test_it_listens_on_loopback_only(action_server: str) -> None:
    port = int(action_server.rsplit(":", 1)[1])
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                               text=True, check=True).stdout  # fmt: skip
    local_addresses = {line.split()[3] for line in listening.splitlines()}
    assert local_addresses == {f"127.0.0.1:{port}"}
