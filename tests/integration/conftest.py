"""Start the real stack once per test session: Rasa 3.6, the action server, the handoff service.

It is started the way `make run` starts it (`python -m handoff stack`), on ports of its own and
against a freshly seeded demo bank in a temporary folder, so the tests exercise the launcher
too and never touch a stack a developer has running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from customer_chat import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 300


@dataclass(frozen=True)
class RunningStack:
    process: subprocess.Popen[bytes]
    service_url: str
    rasa_url: str
    actions_url: str
    bank_url: str
    log: Path

    @property
    def ports(self) -> list[int]:
        return [
            int(url.rsplit(":", 1)[1])
            for url in (self.service_url, self.rasa_url, self.actions_url)
        ]


def _require_models() -> None:
    if not list((ROOT / "models").glob("assistant-*.tar.gz")):
        pytest.fail("No trained assistant under models/: run `make models` (make test does).")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    _require_models()
    workdir = tmp_path_factory.mktemp("stack")
    bank_url = f"sqlite:///{workdir / 'demobank.sqlite'}"
    subprocess.run(
        [sys.executable, "-m", "demobank", "seed", "--url", bank_url], check=True, cwd=ROOT
    )
    service_port, rasa_port, actions_port = free_port(), free_port(), free_port()
    running = RunningStack(
        process=None,  # type: ignore[arg-type]
        service_url=f"http://127.0.0.1:{service_port}",
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        actions_url=f"http://127.0.0.1:{actions_port}",
        bank_url=bank_url,
        log=workdir / "stack.log",
    )
    env = {
        **os.environ,
        "HANDOFF_SERVER__PORT": str(service_port),
        "HANDOFF_RASA__URL": running.rasa_url,
        "HANDOFF_ACTIONS__URL": running.actions_url,
        "HANDOFF_BANK__URL": bank_url,
        "HANDOFF_DATABASE__URL": f"sqlite:///{workdir / 'handoff.sqlite'}",
        "HANDOFF_PATHS__RUN_DIR": str(workdir),
    }
    with running.log.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "handoff", "stack"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = RunningStack(
        process, running.service_url, running.rasa_url, running.actions_url, bank_url, running.log
    )
    _wait_until_ready(running)
    yield running
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    # No orphans: once the launcher has exited, nothing may still serve on the stack's ports.
    still_open = [port for port in running.ports if port_open(port)]
    if still_open:
        raise RuntimeError(f"ports {still_open} still served after the stack stopped")


def _wait_until_ready(running: RunningStack) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            pytest.fail(f"the stack exited during start-up:\n{running.log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{running.service_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    running.process.send_signal(signal.SIGTERM)
    pytest.fail(
        f"the stack was not ready in {STARTUP_SECONDS} s:\n{running.log.read_text()[-4000:]}"
    )
