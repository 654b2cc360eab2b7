"""Rasa input channel for the handoff service: one HTTP round trip per customer turn.

The handoff service relays every customer message to the assistant and needs, for that same
turn, the bot's replies *and* what the assistant made of the message: the intent and its
ranking, the entities it carried, whether an action asked for a human (the ``handoff`` custom
message), what was already tried (the ``attempted_steps`` slot) and the conversation's other
set slots, all of which the human agent's brief shows, and the id of the model that
understood the message (``model_id``), which the service keeps with the turn. Rasa's REST channel returns only the
replies; a second request to the tracker API would double the round trips and could read the
tracker of a later turn. This channel reads the tracker right after processing and answers
with everything.

Registered in ``bot/credentials.yml``::

    bot.channels.handoff_channel.HandoffInput:
      token: ${HANDOFF_RASA__CHANNEL_TOKEN}  # required: `Authorization: Bearer <token>`
      max_message_chars: 2000       # longer messages are truncated (and flagged), not refused
      empty_message_reply: <text>   # answer to an empty message, sent without calling Rasa

Routes, under ``/webhooks/handoff``:

* ``POST /webhook`` with ``{"sender": "<conversation id>", "message": "<text>",
  "metadata": {...}}`` (metadata optional) answers ``{"sender", "messages", "intent",
  "intent_ranking", "entities", "slots", "handoff", "attempted_steps", "truncated"}``.
  ``entities`` are those of this turn's user message, each ``{"entity", "value"}`` plus
  ``"start"``, ``"end"``, ``"confidence_entity"`` and ``"extractor"`` where known (``[]`` when
  NLU did not run); ``slots`` is an object of the conversation's set slots (value not null),
  without ``attempted_steps`` (its own field), ``requested_slot`` and Rasa's
  ``session_started_metadata``. Errors are JSON ``{"error": "..."}`` with status 400, 401, 500
  or 503.
* ``GET /`` is a health check answering ``{"status": "ok"}``.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import numbers
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from rasa.shared.nlu.constants import METADATA_MODEL_ID
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

if TYPE_CHECKING:  # importing the agent at runtime would pull in the whole Rasa core
    from rasa.core.agent import Agent
    from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

CHANNEL_NAME = "handoff"
DEFAULT_MAX_MESSAGE_CHARS = 2000
DEFAULT_EMPTY_MESSAGE_REPLY = (
    "I didn't receive any text. Please type your question and I'll do my best to help."
)
# The list slot that actions append to; the handoff service shows it to the human agent.
ATTEMPTED_STEPS_SLOT = "attempted_steps"
# Key of the custom message actions send to ask for a human (see actions/handoff_signal.py).
HANDOFF_KEY = "handoff"
INTENT_RANKING_SIZE = 5
# Slots left out of "slots": attempted_steps has its own field, the others are Rasa's bookkeeping.
EXCLUDED_SLOTS = frozenset({ATTEMPTED_STEPS_SLOT, "requested_slot", "session_started_metadata"})
# What is kept of an entity besides its name and value (role, group, processors... are not).
ENTITY_DETAIL_KEYS = ("start", "end", "confidence_entity", "extractor")
EXPECTED_BODY = '{"sender": "<conversation id>", "message": "<text>", "metadata": {...}}'


class ChannelRequestError(ValueError):
    """The request body is not what the channel accepts; the message says what to send."""


class AgentNotReadyError(RuntimeError):
    """The Rasa server runs without a loaded model, so it cannot answer messages yet."""


@dataclass(frozen=True)
class HandoffRequest:
    """One validated customer turn, as the handoff service sent it."""

    sender: str
    text: str  # stripped, and cut to max_message_chars
    metadata: dict[str, Any]
    truncated: bool

    @property
    def is_empty(self) -> bool:
        """Whether nothing but whitespace was sent."""
        return not self.text


@dataclass(frozen=True)
class TurnUnderstanding:
    """What the tracker says about a turn once Rasa has processed it."""

    intent: dict[str, Any] | None
    intent_ranking: list[dict[str, Any]]
    attempted_steps: list[Any]
    entities: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    # The model that understood the message: the processor stamps it on every event it logs,
    # so it is that turn's model even while another one is being loaded.
    model_id: str | None = None


# --------------------------------------------------------------------------------------------
# Request parsing and authorisation (pure functions, no Sanic or Rasa state involved)
# --------------------------------------------------------------------------------------------


def parse_request(body: bytes, max_message_chars: int) -> HandoffRequest:
    """Validates a webhook body and returns the turn it describes.

    Raises:
        ChannelRequestError: the body is not a JSON object with a string ``sender`` and
            ``message`` and an optional object ``metadata``.
    """
    payload = _decode_json_object(body)

    sender = payload.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        raise ChannelRequestError(
            f"'sender' must be a non-empty string (the conversation id), "
            f"got {_describe(sender)}. Send {EXPECTED_BODY}."
        )

    message = payload.get("message")
    if not isinstance(message, str):
        raise ChannelRequestError(
            f"'message' must be a string (the customer's text), got {_describe(message)}. "
            f"Send {EXPECTED_BODY}."
        )

    metadata = payload.get("metadata")
    # JSON null is read as "no metadata", which is what a client serialising None means.
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise ChannelRequestError(
            f"'metadata' must be a JSON object (or left out), got {_describe(metadata)}. "
            f"Send {EXPECTED_BODY}."
        )

    # Rasa strips the text anyway; stripping first keeps whitespace out of the length budget.
    text, truncated = truncate(customer_text(message), max_message_chars)
    return HandoffRequest(sender=sender, text=text, metadata=metadata, truncated=truncated)


def customer_text(message: str) -> str:
    """The message as plain customer text: leading slashes removed.

    Rasa reads a message starting with ``/`` as an intent shortcut (``/request_human``,
    ``/card_arrival{"x": 1}``) and skips NLU. A customer must not be able to pick the intent or
    inject entities, so the text reaches the classifier like any other message.
    """
    return message.strip().lstrip("/").strip()


def truncate(text: str, max_chars: int) -> tuple[str, bool]:
    """Cuts ``text`` to ``max_chars`` characters; also says whether anything was cut."""
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars].rstrip(), True


MIN_TOKEN_CHARS = 32


def is_authorized(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries the shared ``token``."""
    if not authorization:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":  # the auth scheme is case-insensitive (RFC 7235)
        return False
    # Constant-time comparison, so response timing does not reveal the token prefix.
    return hmac.compare_digest(credentials.strip().encode("utf-8"), token.encode("utf-8"))


def _decode_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a ChannelRequestError saying what was wrong."""
    if not body or not body.strip():
        raise ChannelRequestError(f"The request body is empty. Send {EXPECTED_BODY}.")
    try:
        payload = json.loads(body)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError both are ValueErrors
        raise ChannelRequestError(
            f"The request body is not valid JSON ({error}). Send {EXPECTED_BODY}."
        ) from error
    if not isinstance(payload, dict):
        raise ChannelRequestError(
            f"The request body must be a JSON object, got {_describe(payload)}. "
            f"Send {EXPECTED_BODY}."
        )
    return payload


def _describe(value: Any) -> str:
    """A JSON-flavoured description of a value's type, for error messages."""
    if value is None:
        return "nothing (missing or null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --------------------------------------------------------------------------------------------
# Reading the outcome of a turn (pure functions over collected messages and the tracker)
# --------------------------------------------------------------------------------------------


def find_handoff(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``handoff`` object of this turn's custom messages, or None.

    Actions send it as ``utter_message(json_message={"handoff": {...}})``, which the collector
    stores as ``{"custom": {"handoff": {...}}}``. Should several be sent, the last one wins:
    it is the most recent decision of the assistant.
    """
    found: dict[str, Any] | None = None
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get(HANDOFF_KEY), dict):
            if found is not None:
                logger.warning("Several handoff signals in one turn; the last one is returned.")
            found = custom[HANDOFF_KEY]
    return found


def read_turn(tracker: DialogueStateTracker | None, message_id: str | None) -> TurnUnderstanding:
    """Intent, ranking, entities and slots of the turn whose user message has ``message_id``.

    The user event is looked up by message id rather than taken as the latest one, so that a
    message Rasa did not log (or a later turn of the same conversation) is never reported as
    this turn's intent or entities. With ``message_id`` None only the slots are read.
    """
    if tracker is None:
        return TurnUnderstanding(intent=None, intent_ranking=[], attempted_steps=[])

    intent: dict[str, Any] | None = None
    ranking: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    model_id: str | None = None
    if message_id is not None:
        event = _find_user_event(tracker, message_id)
        if event is None:
            logger.warning(
                "No user event for message %s in conversation %s; intent left empty.",
                message_id,
                tracker.sender_id,
            )
        else:
            intent = _intent_reading(event.parse_data.get("intent"))
            ranking = [
                reading
                for reading in map(_intent_reading, event.parse_data.get("intent_ranking") or [])
                if reading is not None
            ][:INTENT_RANKING_SIZE]
            entities = [
                reading for reading in map(_entity_reading, event.entities) if reading is not None
            ]
            stamped = (event.metadata or {}).get(METADATA_MODEL_ID)
            model_id = stamped if isinstance(stamped, str) else None

    return TurnUnderstanding(
        intent=intent,
        intent_ranking=ranking,
        attempted_steps=_attempted_steps(tracker),
        entities=entities,
        slots=_set_slots(tracker),
        model_id=model_id,
    )


def turn_response(
    sender: str,
    messages: list[dict[str, Any]],
    understanding: TurnUnderstanding,
    truncated: bool,
) -> dict[str, Any]:
    """The JSON body the webhook answers with."""
    return {
        "sender": sender,
        "messages": messages,
        "intent": understanding.intent,
        "intent_ranking": understanding.intent_ranking,
        "entities": understanding.entities,
        "slots": understanding.slots,
        "handoff": find_handoff(messages),
        "attempted_steps": understanding.attempted_steps,
        "truncated": truncated,
        "model_id": understanding.model_id,
    }


def _find_user_event(tracker: DialogueStateTracker, message_id: str) -> UserUttered | None:
    """The user event logged for ``message_id`` (searched from the end, where it usually is)."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered) and event.message_id == message_id:
            return event
    return None


def _intent_reading(raw: Any) -> dict[str, Any] | None:
    """``{"name", "confidence"}`` from a parse-data intent entry; None if it names no intent."""
    if not isinstance(raw, dict) or not raw.get("name"):
        return None
    confidence = raw.get("confidence")
    # float() also turns numpy scalars from custom classifiers into something JSON can hold.
    if isinstance(confidence, numbers.Real) and not isinstance(confidence, bool):
        confidence = float(confidence)
    else:
        confidence = None
    return {"name": str(raw["name"]), "confidence": confidence}


def _entity_reading(raw: Any) -> dict[str, Any] | None:
    """``{"entity", "value"}`` plus the known details of a parse-data entity; None if unnamed."""
    if not isinstance(raw, dict) or not raw.get("entity"):
        return None
    reading = {"entity": str(raw["entity"]), "value": raw.get("value")}
    for key in ENTITY_DETAIL_KEYS:
        value = raw.get(key)
        if value is None:
            continue
        # Extractors may give numpy scalars for offsets and confidences; JSON cannot hold them.
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
        reading[key] = value
    return reading


def _set_slots(tracker: DialogueStateTracker) -> dict[str, Any]:
    """The conversation's slots that hold a value, but those in EXCLUDED_SLOTS."""
    return {
        name: slot.value
        for name, slot in tracker.slots.items()
        if name not in EXCLUDED_SLOTS and slot.value is not None
    }


def _attempted_steps(tracker: DialogueStateTracker) -> list[Any]:
    """The ``attempted_steps`` slot as a list ([] when unset or not in the domain)."""
    # Looked up directly: get_slot logs on every call when a (say, NLU-only) model lacks it.
    slot = tracker.slots.get(ATTEMPTED_STEPS_SLOT)
    value = slot.value if slot is not None else None
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    # A list slot should always hold a list; wrap anything else rather than drop it.
    logger.warning("Slot '%s' holds a %s, not a list.", ATTEMPTED_STEPS_SLOT, type(value).__name__)
    return [value]


# --------------------------------------------------------------------------------------------
# The channel
# --------------------------------------------------------------------------------------------


class HandoffInput(InputChannel):
    """Input channel for the handoff service (its only intended caller)."""

    @classmethod
    def name(cls) -> str:
        """The channel name, also the URL prefix: ``/webhooks/handoff``."""
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> HandoffInput:
        """Builds the channel from its section of the credentials file (``token`` required)."""
        credentials = credentials or {}
        return cls(
            token=_optional_string(credentials, "token") or "",
            max_message_chars=_positive_int(
                credentials, "max_message_chars", DEFAULT_MAX_MESSAGE_CHARS
            ),
            empty_message_reply=(
                _optional_string(credentials, "empty_message_reply") or DEFAULT_EMPTY_MESSAGE_REPLY
            ),
        )

    def __init__(
        self,
        token: str,
        max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
        empty_message_reply: str = DEFAULT_EMPTY_MESSAGE_REPLY,
    ) -> None:
        """Creates the channel; every request must carry ``token`` (Rasa refuses to start
        without one of at least :data:`MIN_TOKEN_CHARS` characters: the channel sets customer
        ids, so it never runs open)."""
        if len(token) < MIN_TOKEN_CHARS:
            raise RasaException(
                f"{CHANNEL_NAME}: 'token' must be a secret of {MIN_TOKEN_CHARS} characters or "
                "more (set HANDOFF_RASA__CHANNEL_TOKEN, which bot/credentials.yml reads)."
            )
        if max_message_chars < 1:
            raise RasaException(f"{CHANNEL_NAME}: max_message_chars must be at least 1.")
        if not empty_message_reply.strip():
            raise RasaException(f"{CHANNEL_NAME}: empty_message_reply must not be blank.")
        self.token = token
        self.max_message_chars = max_message_chars
        self.empty_message_reply = empty_message_reply

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The channel's routes; ``on_new_message`` hands a message to the Rasa agent."""
        module = inspect.getmodule(self)
        webhook = Blueprint(
            f"custom_webhook_{type(self).__name__}", module.__name__ if module else None
        )

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.handle_webhook(request, on_new_message)

        return webhook

    async def handle_webhook(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        """Answers one webhook call; every outcome, errors included, is a JSON response."""
        if not is_authorized(request.headers.get("Authorization"), self.token):
            logger.warning("Handoff channel rejected a request without a valid bearer token.")
            return _error_response(
                401,
                "Missing or wrong token. Send the shared secret configured in the channel's "
                "credentials as 'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": 'Bearer realm="handoff"'},
            )

        try:
            turn = parse_request(request.body or b"", self.max_message_chars)
        except ChannelRequestError as error:
            logger.warning("Handoff channel refused a request: %s", error)
            return _error_response(400, str(error))

        # CancelledError (client gone, response timeout) is not an Exception and propagates,
        # letting Sanic end the request as it does for every other route.
        try:
            agent = _agent(request)
            if turn.is_empty:
                body = await self._answer_empty_message(agent, turn)
            else:
                body = await self._process_turn(agent, turn, on_new_message)
        except AgentNotReadyError as error:
            logger.warning("Handoff channel cannot answer: %s", error)
            return _error_response(503, str(error))
        except Exception:
            logger.exception("Handoff channel failed on a message of conversation %s.", turn.sender)
            return _error_response(
                500,
                # No retry hint: actions may already have changed the bank before the failure.
                "The assistant failed to process this message (details are in the Rasa server "
                "log). Treat the turn as a bot error and hand the conversation to a human.",
            )
        return response.json(body)

    async def _process_turn(
        self,
        agent: Agent,
        turn: HandoffRequest,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> dict[str, Any]:
        """Runs the message through Rasa and reads the turn's outcome from the tracker."""
        # An agent without a model silently ignores messages; say so instead of answering {}.
        if not agent.is_ready():
            raise AgentNotReadyError(
                "The assistant has no trained model loaded yet; retry once the Rasa server "
                "has loaded one."
            )
        if turn.truncated:
            logger.info(
                "Message of conversation %s cut to %d characters.",
                turn.sender,
                self.max_message_chars,
            )
        collector = CollectingOutputChannel()
        message = UserMessage(
            turn.text,
            collector,
            turn.sender,
            input_channel=self.name(),
            metadata=turn.metadata,
        )
        await on_new_message(message)
        tracker = await agent.tracker_store.retrieve(turn.sender)
        understanding = read_turn(tracker, message.message_id)
        return turn_response(turn.sender, collector.messages, understanding, turn.truncated)

    async def _answer_empty_message(self, agent: Agent, turn: HandoffRequest) -> dict[str, Any]:
        """Asks the customer to type their question, without running NLU on nothing.

        The tracker is only read, so ``attempted_steps`` and ``slots`` still report the
        conversation's state rather than empty values the handoff service could mistake for
        "nothing tried"; ``entities`` is empty, as no message was understood this turn.
        """
        tracker = await agent.tracker_store.retrieve(turn.sender)
        understanding = read_turn(tracker, message_id=None)
        reply = {"recipient_id": turn.sender, "text": self.empty_message_reply}
        return turn_response(turn.sender, [reply], understanding, truncated=False)


def _agent(request: Request) -> Agent:
    """The Rasa agent the server put on the app context."""
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None:
        raise RuntimeError("No Rasa agent on app.ctx; is the channel running inside `rasa run`?")
    return agent


def _error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> HTTPResponse:
    """A JSON error body, so the handoff service never has to parse an HTML page."""
    return response.json({"error": message}, status=status, headers=headers)


def _optional_string(credentials: dict[str, Any], key: str) -> str | None:
    """A string credential; None when missing or empty."""
    value = credentials.get(key)
    if value is None or value == "":
        return None
    # A YAML number (say `token: 0123`) would lose characters on conversion; refuse it instead.
    if not isinstance(value, str):
        raise RasaException(
            f"{CHANNEL_NAME}: '{key}' must be a string in the credentials file; quote the value."
        )
    return value


def _positive_int(credentials: dict[str, Any], key: str, default: int) -> int:
    """A positive integer credential (a digit string, as environment variables give, is fine)."""
    value = credentials.get(key)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RasaException(f"{CHANNEL_NAME}: '{key}' must be a positive integer, got {value!r}.")
    return value
