"""The real stack once per test session, in demo mode as `make run` starts it (see
``tests/running_stack.py``), the demo agents, and Chromium for the browser tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser import CHROMIUM_ARGS, SCREENSHOTS, chromium_path
from customer_chat import TURN_SECONDS
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from running_stack import RunningStack, free_port, running_stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The stack in demo mode, as `make run` starts it: the tests play the demo customers and
    agents. A host site of its own may embed the widget."""
    embedding_site = f"http://localhost:{free_port()}"
    with running_stack(
        tmp_path_factory.mktemp("stack"),
        {"HANDOFF_DEMO_MODE": "true"},
        extra_env={
            "HANDOFF_GATEWAY__ALLOWED_ORIGINS": json.dumps([embedding_site]),
            # Every test customer comes from 127.0.0.1 and the demo customers are shared by
            # every test, faster on a faster machine: the per-address and per-customer budgets
            # are lifted so that no result depends on the machine's speed. The limits at their
            # defaults are the security suite's to try, on a stack of its own.
            "HANDOFF_LIMITS__NEW_CONVERSATIONS_BURST": "100000",
            "HANDOFF_LIMITS__CUSTOMER_MESSAGES_BURST": "100000",
        },
        embedding_site=embedding_site,
    ) as running:
        yield running


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
