"""The real stack for tests: Rasa 3.6, the action server and the handoff service.

:func:`running_stack` starts it the way `make run` does (``python -m handoff stack``), on ports
of its own and against a freshly seeded demo bank in a folder of the test session's, so the
tests exercise the launcher too and never touch a stack a developer has running. The caller
chooses the mode: the integration tests run the demo (``HANDOFF_DEMO_MODE=true``), the security
tests a deployment with secrets of its own.

The internal secrets (Rasa's API token, the handoff channel's and the action server's) are made
here rather than by the launcher, so that a test can reach Rasa as the service does, or start a
process of its own against the same Rasa (:attr:`RunningStack.secrets`).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 300
MODE_VARIABLES = frozenset(
    {"HANDOFF_DEMO_MODE", "HANDOFF_IDENTITY__SECRET", "HANDOFF_AGENTS__TOKEN_SECRET"}
)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts connections on ``port``."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def new_secret() -> str:
    """A random secret of 43 characters (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class RunningStack:
    process: subprocess.Popen[bytes]
    service_url: str
    rasa_url: str
    actions_url: str
    bank_url: str
    log: Path
    embedding_site: str
    """A host site (``http://localhost:<port>``, nothing served yet) allowed to embed the widget;
    loopback like the service, so Chromium lets its pages load the widget from the service."""
    secrets: dict[str, str] = dataclasses.field(default_factory=dict)
    """The ``HANDOFF_*`` variables of the stack's secrets and mode: a process of a test's own
    (another ``handoff serve``, ``handoff replay``) reaches the same Rasa with them."""

    @property
    def database_url(self) -> str:
        """The service's own database (SQLite beside the log)."""
        return f"sqlite:///{self.log.parent / 'handoff.sqlite'}"

    @property
    def ports(self) -> list[int]:
        return [
            int(url.rsplit(":", 1)[1])
            for url in (self.service_url, self.rasa_url, self.actions_url)
        ]

    @property
    def rasa_token(self) -> str:
        """The token of Rasa's HTTP API (``?token=``)."""
        return self.secrets["HANDOFF_RASA__AUTH_TOKEN"]

    @property
    def channel_headers(self) -> dict[str, str]:
        """The handoff channel's ``Authorization`` header, as the service sends it."""
        return {"Authorization": f"Bearer {self.secrets['HANDOFF_RASA__CHANNEL_TOKEN']}"}

    @property
    def actions_headers(self) -> dict[str, str]:
        """The action server's ``Authorization`` header, as Rasa sends it."""
        return {"Authorization": f"Bearer {self.secrets['HANDOFF_ACTIONS__TOKEN']}"}


def _require_models() -> None:
    if not list((ROOT / "models").glob("assistant-*.tar.gz")):
        pytest.fail("No trained assistant under models/: run `make models` (make test does).")


@contextmanager
def running_stack(
    workdir: Path,
    mode: Mapping[str, str],
    *,
    extra_env: Mapping[str, str] | None = None,
    embedding_site: str = "",
) -> Iterator[RunningStack]:
    """The stack, ready (``/readyz`` 200), in ``workdir``; stopped, leaving no port open.

    ``mode`` holds the ``HANDOFF_*`` variables of its mode and public secrets (demo mode, or a
    deployment's identity and agent token secrets); ``extra_env`` any other setting.
    """
    _require_models()
    bank_url = f"sqlite:///{workdir / 'demobank.sqlite'}"
    subprocess.run(
        [sys.executable, "-m", "demobank", "seed", "--url", bank_url],
        check=True, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    service_port, rasa_port, actions_port = free_port(), free_port(), free_port()
    running = RunningStack(
        process=None,  # type: ignore[arg-type]
        service_url=f"http://127.0.0.1:{service_port}",
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        actions_url=f"http://127.0.0.1:{actions_port}",
        bank_url=bank_url,
        log=workdir / "stack.log",
        embedding_site=embedding_site,
        secrets={
            **mode,
            "HANDOFF_RASA__AUTH_TOKEN": new_secret(),
            "HANDOFF_RASA__CHANNEL_TOKEN": new_secret(),
            "HANDOFF_ACTIONS__TOKEN": new_secret(),
        },
    )
    env = {
        # The mode is the caller's alone: none of it comes from the developer's shell.
        **{k: v for k, v in os.environ.items() if k not in MODE_VARIABLES},
        **running.secrets,
        "HANDOFF_SERVER__PORT": str(service_port),
        "HANDOFF_RASA__URL": running.rasa_url,
        "HANDOFF_ACTIONS__URL": running.actions_url,
        "HANDOFF_BANK__URL": bank_url,
        "HANDOFF_DATABASE__URL": running.database_url,
        "HANDOFF_PATHS__RUN_DIR": str(workdir),
        **(extra_env or {}),
    }
    with running.log.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "handoff", "stack"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = dataclasses.replace(running, process=process)
    wait_until_ready(process, running.service_url, running.log)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    # No orphans: once the launcher has exited, nothing may still serve on the stack's ports.
    still_open = [port for port in running.ports if port_open(port)]
    if still_open:
        raise RuntimeError(f"ports {still_open} still served after the stack stopped")


def wait_until_ready(
    process: subprocess.Popen[bytes],
    service_url: str,
    log: Path,
    *,
    what: str = "the stack",
    timeout: float = STARTUP_SECONDS,
    interval: float = 1.0,
) -> None:
    """Until ``service_url/readyz`` answers 200. Fails the test with the end of ``log`` when
    ``process`` exits first or ``timeout`` seconds pass (it is then sent SIGTERM)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited during start-up:\n{_tail(log)}")
        try:
            if httpx.get(f"{service_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    process.send_signal(signal.SIGTERM)
    pytest.fail(f"{what} was not ready in {timeout:g} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]
