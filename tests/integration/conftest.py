"""Start the real stack once per test session: Rasa 3.6, the action server, the handoff service.

It is started the way `make run` starts it (`python -m handoff stack`), on ports of its own and
against a freshly seeded demo bank in a temporary folder, so the tests exercise the launcher
too and never touch a stack a developer has running.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from browser import CHROMIUM_ARGS, SCREENSHOTS, chromium_path
from customer_chat import TURN_SECONDS, free_port, port_open
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

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
    embedding_site: str
    """A host site (``http://localhost:<port>``, nothing served yet) allowed to embed the widget;
    loopback like the service, so Chromium lets its pages load the widget from the service."""
    secrets: dict[str, str] = dataclasses.field(default_factory=dict)
    """The environment that carries the stack's internal secrets and its demo mode: a process
    of a test's own (another ``handoff serve``, ``handoff replay``) reaches Rasa with it."""

    @property
    def rasa_token(self) -> str:
        """The token of Rasa's HTTP API (``?token=``)."""
        return self.secrets["HANDOFF_RASA__AUTH_TOKEN"]

    @property
    def channel_headers(self) -> dict[str, str]:
        """The handoff channel's ``Authorization`` header, as the service sends it."""
        return {"Authorization": f"Bearer {self.secrets['HANDOFF_RASA__CHANNEL_TOKEN']}"}

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
        embedding_site=f"http://localhost:{free_port()}",
        # Set here, not made up by the launcher, so that the tests can reach Rasa too. Demo
        # mode, as `make run` starts it: the tests play the demo customers and agents.
        secrets={
            "HANDOFF_DEMO_MODE": "true",
            "HANDOFF_RASA__AUTH_TOKEN": secrets.token_urlsafe(32),
            "HANDOFF_RASA__CHANNEL_TOKEN": secrets.token_urlsafe(32),
            "HANDOFF_ACTIONS__TOKEN": secrets.token_urlsafe(32),
        },
    )
    env = {
        **os.environ,
        **running.secrets,
        "HANDOFF_SERVER__PORT": str(service_port),
        "HANDOFF_RASA__URL": running.rasa_url,
        "HANDOFF_ACTIONS__URL": running.actions_url,
        "HANDOFF_BANK__URL": bank_url,
        "HANDOFF_DATABASE__URL": running.database_url,
        "HANDOFF_PATHS__RUN_DIR": str(workdir),
        "HANDOFF_GATEWAY__ALLOWED_ORIGINS": json.dumps([running.embedding_site]),
    }
    with running.log.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "handoff", "stack"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = dataclasses.replace(running, process=process)
    _wait_until_ready(running)
    yield running
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    # No orphans: once the launcher has exited, nothing may still serve on the stack's ports.
    still_open = [port for port in running.ports if port_open(port)]
    if still_open:
        raise RuntimeError(f"ports {still_open} still served after the stack stopped")


@pytest.fixture(scope="session")
def demo_agents(stack: RunningStack) -> None:
    """The demo agents (password ``demo-password``) in the stack's service database."""
    subprocess.run(
        [sys.executable, "-m", "handoff", "agents", "seed-demo"],
        cwd=ROOT,
        env={**os.environ, **stack.secrets, "HANDOFF_DATABASE__URL": stack.database_url},
        check=True,
        capture_output=True,
        timeout=60,
    )


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's package, never a downloaded one), one per test module.

    Not one per session: Playwright's sync API keeps an event loop running in this thread
    while it is open, and a later module's ``asyncio.run`` would then refuse to start.
    """
    executable = chromium_path()
    if executable is None:
        pytest.fail("No Chromium on PATH: `make system-deps` installs Debian's chromium package.")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """A factory of pages, each in a fresh context (its own storage: one person per context).

    Every console error or uncaught exception on any page fails the test at teardown.
    """
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def make() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TURN_SECONDS * 1000)
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        page.on(
            "console",
            lambda message: (
                errors.append(f"{page.url}: {message.text}") if message.type == "error" else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, "errors in the browser:\n" + "\n".join(errors)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder screenshots go to (``reports/browser/``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
