"""Stored messages in the shapes their readers need: socket frames, brief entries, engine turns.

Pure functions over :class:`~handoff.store.repository.MessageRecord`. A customer message's
payload holds what the service learnt while processing it (see :func:`turn_payload`); only the
public part of a payload ever reaches the customer's socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from handoff.brief.builder import TranscriptEntry
from handoff.escalation.decision import EscalationDecision
from handoff.escalation.signals import PastTurn
from handoff.gateway.protocol import TranscriptFrame
from handoff.sentiment.reading import SentimentReading
from handoff.store.repository import MessageRecord
from handoff.store.states import Sender
from handoff.trainer.inbox import RankedIntent, ReviewTurn, top_intents

PROCESSED = "processed"
"""Payload flag of a customer message whose turn has run to the end."""

IN_REPLY_TO = "in_reply_to"
"""Payload key of a bot or system message: the ``seq`` of the customer message it answers."""

INTERNAL = "internal"
"""Payload flag of an agent's internal note: for agents and supervisors, never the customer."""

# Payload keys a customer may see. Everything else (sentiment, intent, the engine's reasons)
# is for agents and analytics: showing customers "frustration 0.91" helps nobody.
_PUBLIC_KEYS = frozenset(
    {"buttons", "custom", "event", "from", "to", "team", "agent_name", "position",
     "wait_estimate_seconds", "agents_online", "notice", "handoff_team", IN_REPLY_TO}
)  # fmt: skip


# What the customer reads when the conversation changes hands. The stored text names the
# engine's reason code, which is for agents and analytics, not for the customer.
_STATE_TEXTS = {
    "queued": "Connecting you with a colleague.",
    "agent": "A colleague has joined the conversation.",
    "bot": "You're back with the assistant.",
    "closed": "This conversation is closed.",
}


def public_text(message: MessageRecord) -> str:
    """The text the customer sees for ``message``."""
    if message.payload.get("event") == "state_changed":
        return _STATE_TEXTS.get(str(message.payload.get("to")), "The conversation moved on.")
    return message.text


def is_internal(message: MessageRecord) -> bool:
    """Whether ``message`` is an internal note, which no customer may ever be sent."""
    return message.payload.get(INTERNAL) is True


def customer_frames(messages: Iterable[MessageRecord]) -> list[TranscriptFrame]:
    """The frames a customer may see of ``messages``: internal notes are left out.

    Their ``seq`` is skipped, so a customer's sequence can have gaps where notes were written.
    """
    return [to_frame(message) for message in messages if not is_internal(message)]


def to_frame(message: MessageRecord) -> TranscriptFrame:
    """The socket frame of a stored message, with only its public payload and text."""
    return TranscriptFrame(
        seq=message.seq,
        sender=message.sender.value,
        text=public_text(message),
        at=message.created_at,
        # Only the customer's own ids: an agent's is stored as "<agent id>:<id>".
        client_message_id=message.client_message_id if message.sender is Sender.CUSTOMER else None,
        data={key: value for key, value in message.payload.items() if key in _PUBLIC_KEYS},
    )


def reading_from_payload(payload: Mapping[str, Any]) -> SentimentReading | None:
    """The sentiment reading stored with a customer message, if it was scored."""
    stored = payload.get("sentiment")
    if not isinstance(stored, Mapping):
        return None
    return SentimentReading(
        label=str(stored["label"]),
        scores={str(k): float(v) for k, v in stored["scores"].items()},
        frustration=float(stored["frustration"]),
        irony=None if stored.get("irony") is None else float(stored["irony"]),
    )


def turn_payload(
    reading: SentimentReading | None,
    intent: str | None,
    confidence: float | None,
    decision: EscalationDecision,
    bot_error: str | None,
    ranking: Sequence[RankedIntent] = (),
    model_id: str | None = None,
) -> dict[str, Any]:
    """What a customer message keeps once its turn has run: the readings, the top of the
    assistant's intent ranking (:func:`~handoff.trainer.inbox.top_intents`, which the trainers'
    inbox reads back), the Rasa model that understood it, and the verdict."""
    return {
        "sentiment": None if reading is None else reading.to_json_dict(),
        "intent": intent,
        "confidence": confidence,
        "intent_ranking": ranking_document(top_intents(ranking)),
        "model_id": model_id,
        "bot_error": bot_error,
        "escalation": {
            "escalate": decision.escalate,
            "score": decision.score,
            "reasons": [hit.code for hit in decision.reasons],
        },
    }


def ranking_document(ranking: Iterable[RankedIntent]) -> list[dict[str, Any]]:
    """A ranking as stored (a turn's payload, an inbox item); :func:`review_turn` reads it."""
    return [{"name": ranked.name, "confidence": ranked.confidence} for ranked in ranking]


def review_turn(message: MessageRecord, *, escalated: bool) -> ReviewTurn:
    """What the assistant made of a processed customer message, as the trainers' inbox reads
    it from the payload (:func:`turn_payload`)."""
    payload = message.payload
    ranking = tuple(
        RankedIntent(str(entry["name"]), float(entry["confidence"]))
        for entry in payload.get("intent_ranking") or []
    )
    confidence = payload.get("confidence")
    return ReviewTurn(
        payload.get("intent"), None if confidence is None else float(confidence), ranking, escalated
    )


def escalating_message(messages: Sequence[MessageRecord], handoff_id: int) -> MessageRecord | None:
    """The customer message whose turn queued the handoff: the last customer message before
    the handoff's notice to the customer (None when the transcript has no such notice)."""
    notices = [
        m.seq
        for m in messages
        if m.payload.get("event") == "handoff_notice" and m.payload.get("handoff_id") == handoff_id
    ]
    if not notices:
        return None
    notice_seq = notices[0]
    before = [m for m in messages if m.sender is Sender.CUSTOMER and m.seq < notice_seq]
    return before[-1] if before else None


def past_turns(messages: Iterable[MessageRecord]) -> list[PastTurn]:
    """The engine's memory of the processed customer turns, oldest first."""
    turns: list[PastTurn] = []
    for message in messages:
        if message.sender is not Sender.CUSTOMER or not message.payload.get(PROCESSED):
            continue
        reading = reading_from_payload(message.payload)
        turns.append(
            PastTurn(
                intent=message.payload.get("intent"),
                confidence=message.payload.get("confidence"),
                polarity=None if reading is None else reading.label,
                frustration=None if reading is None else reading.frustration,
            )
        )
    return turns


def brief_entries(messages: Iterable[MessageRecord]) -> list[TranscriptEntry]:
    """The transcript as the brief builder takes it."""
    entries = []
    for message in messages:
        customer = message.sender is Sender.CUSTOMER
        entries.append(
            TranscriptEntry(
                seq=message.seq,
                sender=message.sender.value,
                text=message.text,
                at=message.created_at,
                sentiment=reading_from_payload(message.payload) if customer else None,
                intent=message.payload.get("intent") if customer else None,
                confidence=message.payload.get("confidence") if customer else None,
            )
        )
    return entries
