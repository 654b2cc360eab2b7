"""``handoff replay``: run recorded conversations through the live decision path, offline.

Each input line is ``{"conversation_id", "account_tier", "messages": [...]}``. Every message
goes through :class:`~handoff.gateway.conversations.ConversationService`, the same code the
websocket uses: the running Rasa server, the real sentiment classifier, the escalation engine
and a throwaway SQLite database that is deleted afterwards. One output line per processed
turn; a conversation stops at its first escalation, as a live one would leave the bot there.
A summary (containment rate, escalations by reason) goes to stderr, so the output file stays
pure JSON lines.

Bad input lines are reported on stderr with their line number and skipped; the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handoff.brief.builder import CustomerInfo
from handoff.escalation.decision import Tier
from handoff.escalation.policy import EscalationPolicy, load_escalation_policy
from handoff.gateway.conversations import Assistant, ConversationService, TurnResult
from handoff.gateway.hub import ConversationHub
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.rasa_client import RasaTurnClient
from handoff.gateway.sentiment_reader import BatcherSentimentReader
from handoff.readiness import RasaProbe, SentimentProbe, check_all
from handoff.resources import open_resources
from handoff.settings import Settings
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.repository import ConversationStore
from handoff.store.states import ConversationState

logger = logging.getLogger(__name__)


class ReplayConversation(BaseModel):
    """One input line."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(min_length=1)
    account_tier: Literal["standard", "plus", "premium"]
    messages: list[str]


class ReplayNotReady(Exception):
    """The services replay needs are not up; ``str()`` says which and how to start them."""


@dataclass
class ReplaySummary:
    """Counts for the closing summary."""

    conversations: int = 0
    turns: int = 0
    escalated: int = 0
    skipped_lines: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def containment_rate(self) -> float:
        """Share of conversations the bot kept to the end."""
        return 0.0 if not self.conversations else 1 - self.escalated / self.conversations

    def format(self) -> str:
        """The summary as a few lines of text."""
        lines = [
            f"conversations {self.conversations}, turns {self.turns}, "
            f"escalated {self.escalated}, containment rate {self.containment_rate:.1%}"
            + (f", skipped input lines {self.skipped_lines}" if self.skipped_lines else ""),
        ]
        if self.reasons:
            lines.append("escalations by reason (every reason that fired):")
            width = max(len(code) for code in self.reasons)
            lines += [f"  {code:{width}s} {n}" for code, n in self.reasons.most_common()]
        return "\n".join(lines)


def turn_line(conversation_id: str, turn: int, text: str, result: TurnResult) -> dict[str, Any]:
    """One output line of the replay contract."""
    decision = result.decision
    reading = result.reading
    return {
        "conversation_id": conversation_id,
        "turn": turn,
        "text": text,
        "intent": result.intent,
        "confidence": result.confidence,
        "label": None if reading is None else reading.label,
        "frustration": None if reading is None else reading.frustration,
        "escalate": bool(decision and decision.escalate),
        "reasons": [] if decision is None else list(decision.reason_codes),
        "severity": None if decision is None or decision.severity is None
        else decision.severity.value,
        "category": None if decision is None or decision.category is None
        else decision.category.value,
    }  # fmt: skip


def read_conversations(
    source: IO[str], summary: ReplaySummary, errors: IO[str]
) -> Iterator[ReplayConversation]:
    """Parsed input lines; a bad line is reported on ``errors`` and skipped."""
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            yield ReplayConversation.model_validate_json(line)
        except ValidationError as exc:
            summary.skipped_lines += 1
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "line"
            print(f"replay: line {number} skipped: {where}: {problem['msg']}", file=errors)


async def replay_conversation(
    service: ConversationService, conversation: ReplayConversation, output: IO[str]
) -> list[TurnResult]:
    """Run one conversation's messages in order until the first escalation."""
    customer = CustomerInfo(None, None, Tier(conversation.account_tier))
    record, _ = await service.start(customer)
    results = []
    for turn, text in enumerate(conversation.messages):
        if not text.strip():
            logger.warning("%s turn %d: empty message skipped", conversation.conversation_id, turn)
            continue
        receipt = await service.receive(record.id, client_message_id=f"replay-{turn}", text=text)
        assert receipt.turn is not None  # a fresh id in a fresh conversation
        result = await receipt.turn
        results.append(result)
        line = turn_line(conversation.conversation_id, turn, text, result)
        output.write(json.dumps(line) + "\n")
        if result.state is not ConversationState.BOT:
            break
    return results


async def check_services(settings: Settings, resources: Any) -> None:
    """Refuse to start unless Rasa answers and the sentiment model is loaded."""
    probes = [
        RasaProbe(resources.http_client, settings.rasa.url, settings.rasa.auth_token),
        SentimentProbe(resources.sentiment),
    ]
    results = await check_all(probes, settings.readiness.probe_timeout_seconds)
    failing = [f"{r.name}: {r.detail}" for r in results if not r.ok]
    if failing:
        raise ReplayNotReady(
            "replay needs the services of `make run` (Rasa with its model, the action server) "
            "and the sentiment model; not ready: " + "; ".join(failing)
        )


@contextlib.asynccontextmanager
async def live_service(
    settings: Settings,
    *,
    policy: EscalationPolicy | None = None,
    wrap_assistant: Callable[[Assistant], Assistant] | None = None,
) -> AsyncIterator[ConversationService]:
    """The conversation service of the live path on a throwaway SQLite database.

    The running Rasa server, the real sentiment classifier and the engine with ``policy``
    (default: the configured one); ``wrap_assistant`` may wrap the Rasa client (``handoff tune``
    records what it answers). Raises :class:`ReplayNotReady` when the services are not up.
    """
    async with open_resources(settings) as resources:
        await check_services(settings, resources)
        with tempfile.TemporaryDirectory(prefix="handoff-replay-") as scratch:
            engine = create_database_engine(f"sqlite:///{Path(scratch) / 'replay.sqlite'}")
            try:
                await asyncio.to_thread(upgrade_database, engine)
                channel_token = settings.rasa.channel_token
                assistant: Assistant = RasaTurnClient(
                    resources.http_client, settings.rasa.url,
                    token=None if channel_token is None else channel_token.get_secret_value(),
                    timeout=settings.rasa.request_timeout_seconds,
                )  # fmt: skip
                yield ConversationService(
                    store=ConversationStore(engine),
                    hub=ConversationHub(),
                    assistant=assistant if wrap_assistant is None else wrap_assistant(assistant),
                    sentiment=BatcherSentimentReader(resources.sentiment),
                    policy=load_escalation_policy(settings) if policy is None else policy,
                    presence=PresenceRegistry(),
                    average_handle=timedelta(minutes=settings.gateway.average_handle_minutes),
                    channel="replay",
                )
            finally:
                engine.dispose()


async def replay(
    settings: Settings, source: IO[str], output: IO[str], errors: IO[str] = sys.stderr
) -> ReplaySummary:
    """Replay every conversation of ``source`` into ``output``; returns the summary."""
    summary = ReplaySummary()
    async with live_service(settings) as service:
        for conversation in read_conversations(source, summary, errors):
            results = await replay_conversation(service, conversation, output)
            summary.conversations += 1
            summary.turns += len(results)
            if results and results[-1].state is not ConversationState.BOT:
                summary.escalated += 1
                decision = results[-1].decision
                summary.reasons.update(decision.reason_codes if decision else ["owned"])
        output.flush()
    return summary
