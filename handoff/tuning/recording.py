"""Recording the escalation engine's inputs of every turn, through the live path, once.

Each conversation runs through :func:`handoff.replay.live_service`, the code ``handoff replay``
uses: the running Rasa server, the real sentiment classifier and the conversation service. Two
things differ, both so that every turn is recorded: the engine runs with a copy of the policy
that never hands over (no trigger hard, an unreachable score), so no conversation leaves the
bot at its first escalation; and the Rasa client is wrapped to keep its answer. The engine's
input of the turn is then built by :func:`~handoff.gateway.conversations.turn_signals`, the
function the live turn builds it with.

A recording is JSON lines, one conversation each:
``{"conversation_id", "account_tier", "turns": [{"turn": 1, "signals": {...}}, ...]}``, where
``signals`` holds every field of :class:`~handoff.escalation.signals.TurnSignals`. Turns after
the assistant's own handoff are recorded as Rasa answers them; no policy can reach them, as its
``rasa_signal`` trigger stays hard.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from handoff.brief.builder import CustomerInfo
from handoff.escalation.decision import Severity, Tier
from handoff.escalation.policy import EscalationPolicy
from handoff.escalation.signals import Polarity, RasaSignal, TurnSignals
from handoff.gateway.conversations import Assistant, ConversationService, turn_signals
from handoff.gateway.rasa_client import BotUnavailable, RasaTurn
from handoff.replay import ReplayConversation, live_service
from handoff.settings import Settings
from handoff.tuning.labels import LabelError


@dataclass(frozen=True, slots=True)
class RecordedConversation:
    """The engine's input for every turn of one conversation; ``turns`` are 1-based numbers."""

    conversation_id: str
    tier: Tier
    turns: tuple[tuple[int, TurnSignals], ...]


def signals_to_json(signals: TurnSignals) -> dict[str, Any]:
    """``signals`` as a JSON-ready dict (every field)."""
    return dataclasses.asdict(signals)


def signals_from_json(raw: Mapping[str, Any]) -> TurnSignals:
    """The inverse of :func:`signals_to_json`."""
    polarity = raw.get("polarity")
    rasa = raw.get("rasa")
    return TurnSignals(
        **{
            **raw,
            "polarity": None if polarity is None else Polarity(**polarity),
            "rasa": None
            if rasa is None
            else RasaSignal(**{**rasa, "severity": _severity(rasa.get("severity"))}),
        }
    )


def _severity(value: str | None) -> Severity | None:
    return None if value is None else Severity(value)


def recording_line(recorded: RecordedConversation) -> str:
    """One line of a recording file."""
    body = {
        "conversation_id": recorded.conversation_id,
        "account_tier": recorded.tier.value,
        "turns": [{"turn": n, "signals": signals_to_json(s)} for n, s in recorded.turns],
    }
    return json.dumps(body)


def write_recording(recordings: Iterable[RecordedConversation], output: IO[str]) -> None:
    """Write ``recordings`` as JSON lines."""
    output.writelines(recording_line(r) + "\n" for r in recordings)


def read_recording(path: Path) -> dict[str, RecordedConversation]:
    """The recording at ``path`` by conversation id; a bad line is a :class:`LabelError`."""
    recorded: dict[str, RecordedConversation] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"cannot read the recording {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            item = RecordedConversation(
                conversation_id=raw["conversation_id"],
                tier=Tier(raw["account_tier"]),
                turns=tuple(
                    (int(t["turn"]), signals_from_json(t["signals"])) for t in raw["turns"]
                ),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise LabelError(f"{path} line {number}: not a recorded conversation: {exc}") from exc
        recorded[item.conversation_id] = item
    return recorded


def recording_policy(policy: EscalationPolicy) -> EscalationPolicy:
    """``policy`` made never to hand over: every trigger soft, a score no turn reaches."""
    soft = {
        code: policy.triggers.rule(code).model_copy(update={"hard": False})
        for code in type(policy.triggers).model_fields
    }
    return policy.model_copy(
        update={
            "escalate_score": float("inf"),
            "triggers": policy.triggers.model_copy(update=soft),
        }
    )


class _KeepingAssistant:
    """The Rasa client, keeping its latest answer (or failure) for the recorder."""

    def __init__(self, inner: Assistant) -> None:
        self._inner = inner
        self.latest: tuple[RasaTurn | None, str | None] = (None, None)

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        try:
            answer = await self._inner.send(conversation_id, text, metadata)
        except BotUnavailable as exc:
            self.latest = (None, str(exc))  # the live turn's bot_error is this very text
            raise
        self.latest = (answer, None)
        return answer


async def record_conversation(
    service: ConversationService, assistant: _KeepingAssistant, conversation: ReplayConversation
) -> RecordedConversation:
    """Every turn of ``conversation`` through ``service``; empty messages are skipped."""
    customer = CustomerInfo(None, None, Tier(conversation.account_tier))
    record, _ = await service.start(customer)
    turns: list[tuple[int, TurnSignals]] = []
    for number, text in enumerate(conversation.messages, start=1):
        if not text.strip():
            continue
        assistant.latest = (None, None)
        receipt = await service.receive(record.id, client_message_id=f"tune-{number}", text=text)
        assert receipt.turn is not None  # a fresh id in a fresh conversation
        result = await receipt.turn
        rasa_turn, bot_error = assistant.latest
        turns.append((number, turn_signals(text, result.reading, rasa_turn, bot_error)))
    return RecordedConversation(conversation.conversation_id, customer.tier, tuple(turns))


async def record(
    settings: Settings,
    policy: EscalationPolicy,
    conversations: Iterable[ReplayConversation],
    output: IO[str],
    progress: IO[str] | None = None,
) -> list[RecordedConversation]:
    """Record every turn of ``conversations`` into ``output`` (flushed per conversation).

    Every 25 conversations a line of progress goes to ``progress``, when given.
    """
    keeping: list[_KeepingAssistant] = []

    def wrap(inner: Assistant) -> Assistant:
        keeping.append(_KeepingAssistant(inner))
        return keeping[0]

    recorded = []
    async with live_service(settings, policy=recording_policy(policy), wrap_assistant=wrap) as live:
        for number, conversation in enumerate(conversations, start=1):
            item = await record_conversation(live, keeping[0], conversation)
            output.write(recording_line(item) + "\n")
            output.flush()
            recorded.append(item)
            if progress is not None and number % 25 == 0:
                print(f"recorded {number} conversations", file=progress, flush=True)
    return recorded
