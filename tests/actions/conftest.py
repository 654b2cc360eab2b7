"""Shared fixtures for the action tests: a seeded in-memory bank, a pinned clock, trackers.

Every test in this folder runs against its own in-memory SQLite bank seeded at :data:`NOW`
(autouse), so no test can reach the repository's var/demobank.sqlite by accident.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from actions import bank_session, clock
from demobank.db import create_bank_engine, session_factory
from demobank.seed import create_demo_bank

# A Wednesday, so "2 working days ago" and "2 days ago" are the same day (Monday).
NOW = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)
DOMAIN_FILE = Path(__file__).resolve().parents[2] / "bot" / "domain" / "account.yml"
_TEMPLATE_VAR = re.compile(r"\{([a-z_]+)\}")


@dataclass
class ActionResult:
    """What one action run produced."""

    events: list[dict[str, Any]]
    messages: list[dict[str, Any]]

    @property
    def responses(self) -> list[str]:
        """The names of the domain responses sent, in order."""
        return [m["response"] for m in self.messages if m.get("response")]

    def message(self, response: str) -> dict[str, Any]:
        """The (single) message that used ``response``."""
        found = [m for m in self.messages if m.get("response") == response]
        assert len(found) == 1, f"{response} sent {len(found)} times: {self.responses}"
        return found[0]

    @property
    def handoff(self) -> dict[str, Any] | None:
        """The handoff signal's payload, if one was sent."""
        signals = [m["custom"]["handoff"] for m in self.messages if m.get("custom")]
        assert len(signals) <= 1
        return signals[0] if signals else None

    def slot(self, name: str) -> Any:
        """The value the events set ``name`` to (the last SlotSet wins)."""
        values = [e["value"] for e in self.events if e["event"] == "slot" and e["name"] == name]
        assert values, f"no SlotSet for {name} in {self.events}"
        return values[-1]

    def sets_slot(self, name: str) -> bool:
        """Whether the events set ``name``."""
        return any(e["event"] == "slot" and e["name"] == name for e in self.events)

    @property
    def new_steps(self) -> list[dict[str, Any]]:
        """The attempted steps stored by this run (the slot's full value)."""
        return self.slot("attempted_steps")


@pytest.fixture(scope="session")
def domain_responses() -> dict[str, list[dict[str, Any]]]:
    """The responses of bot/domain/account.yml."""
    return yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))["responses"]


@pytest.fixture
def bank_engine() -> Iterator[Engine]:
    """The seeded in-memory bank engine, not yet wired into the actions."""
    engine = create_bank_engine("sqlite://")
    create_demo_bank(engine, NOW)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def wired_bank(bank_engine: Engine) -> Iterator[Engine]:
    """Point the actions at the seeded bank and pin their clock to :data:`NOW`."""
    bank_session.configure(bank_engine)
    clock.set_clock(lambda: NOW)
    yield bank_engine
    bank_session.reset()
    clock.set_clock(None)


@pytest.fixture
def db(bank_engine: Engine) -> Iterator[Session]:
    """A session on the test bank, for checking what actions wrote."""
    with session_factory(bank_engine)() as session:
        yield session


def make_tracker(
    intent: str | None,
    *,
    customer_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    confidence: float = 0.93,
    text: str = "a message",
) -> Tracker:
    """A tracker whose latest message has ``intent``; ``customer_id`` goes into the slot."""
    latest_message: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else {},
        "entities": [],
        "metadata": metadata or {},
    }
    all_slots: dict[str, Any] = {
        "customer_id": customer_id,
        "attempted_steps": None,
        "handoff_reason": None,
        "session_started_metadata": None,
    }
    all_slots.update(slots or {})
    if events is None:
        events = [{"event": "user", "text": text, "parse_data": latest_message}]
    return Tracker(
        sender_id="test-conversation",
        slots=all_slots,
        latest_message=latest_message,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@pytest.fixture
def run(
    domain_responses: dict[str, list[dict[str, Any]]],
) -> Callable[[Action, Tracker], ActionResult]:
    """Run an action and check every response it sent exists and can be filled in."""

    def _run(
        action: Action, tracker: Tracker, domain: dict[str, Any] | None = None
    ) -> ActionResult:
        dispatcher = CollectingDispatcher()
        events = action.run(dispatcher, tracker, domain or {})
        assert isinstance(events, list), "actions run synchronously and return a list"
        for message in dispatcher.messages:
            response = message.get("response")
            if not response:
                continue
            assert response in domain_responses, f"{response} is not in the domain"
            for variant in domain_responses[response]:
                missing = set(_TEMPLATE_VAR.findall(variant["text"])) - message.keys()
                assert not missing, f"{response} sent without {missing}"
        return ActionResult(events=events, messages=dispatcher.messages)

    return _run


@pytest.fixture
def now() -> datetime:
    """The instant the bank was seeded at and the actions' clock is pinned to."""
    return NOW


@pytest.fixture
def tracker_for() -> Callable[..., Tracker]:
    """:func:`make_tracker` as a fixture."""
    return make_tracker
