"""The client of the assistant: one customer turn, one round trip to Rasa's handoff channel.

``POST {rasa}/webhooks/handoff/webhook`` (``bot/channels/handoff_channel.py``) answers the bot's
replies together with what the assistant made of the message: intent and ranking, the
message's entities, the conversation's set slots, the ``handoff`` signal an escalating action
sent (``actions/handoff_signal.py``), the steps already tried and the model that understood
the message (each turn keeps its id, so a model swap is traceable). :func:`parse_turn` reads
that body into a :class:`RasaTurn` without any I/O; :class:`RasaTurnClient` does the HTTP and
turns every way the call can fail into one of two errors:

* :class:`BotUnavailable`: Rasa is down, slow, has no model, failed on the message or answered
  something unreadable. The conversation should go to a human.
* :class:`BotRequestRejected`: Rasa refused the request itself (400 bad body, 401 wrong token,
  404 channel not configured). A bug or a configuration mistake here, not a passing outage.
"""

from __future__ import annotations

import logging
import numbers
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from handoff.exceptions import DependencyUnavailable, HandoffError
from handoff.http_client import describe_failure, is_slow_answer

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/handoff/webhook"
TRACKER_EVENTS_PATH = "/conversations/{conversation_id}/tracker/events"  # needs --enable-api
TRIGGER_INTENT_PATH = "/conversations/{conversation_id}/trigger_intent"  # needs --enable-api
DEPENDENCY = "rasa"  # the name the readiness check gives the Rasa server
HANDOFF_KEY = "handoff"  # key of the custom message that asks for a human
CUSTOMER_METADATA_KEY = "customer_id"  # read by the actions (actions/conversation.py)
_ERROR_TEXT_CHARS = 300  # how much of a non-JSON error body goes into an error message


class BotUnavailable(DependencyUnavailable):
    """The assistant cannot answer this turn; ``str(error)`` says what happened.

    ``status_code`` is Rasa's HTTP status when it answered at all, else None.
    """

    def __init__(self, reason: str, *, status_code: int | None = None) -> None:
        super().__init__(DEPENDENCY, reason)
        self.status_code = status_code


class BotRequestRejected(HandoffError):
    """Rasa refused the request (4xx): a bug in the request or a configuration mistake."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class MalformedTurn(ValueError):
    """A channel answer that does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class BotReply:
    """One message of the bot for the customer: text, buttons, or a custom payload."""

    text: str | None
    buttons: list[dict[str, Any]] = field(default_factory=list)
    custom: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RankedIntent:
    """One entry of the intent ranking; ``confidence`` 0.0 when Rasa gave none."""

    name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class RasaHandoffSignal:
    """An action's request for a human (the ``handoff`` custom message, version 1)."""

    reason: str
    intent: str | None
    confidence: float
    category: str | None
    severity: str | None
    team: str | None
    attempted_steps: list[dict[str, Any]]
    summary: str


@dataclass(frozen=True, slots=True)
class RasaTurn:
    """The assistant's answer to one customer message.

    ``replies`` are what the customer is shown, in order; the handoff signal is not among them
    but in ``handoff``. ``intent`` is None (and ``confidence`` 0.0) when NLU did not run, e.g.
    for an empty message. ``truncated`` says the channel cut the message before NLU.
    ``entities`` are this message's (``{"entity", "value"}`` plus ``start``, ``end``,
    ``confidence_entity``, ``extractor`` where known); ``slots`` are the conversation's set
    slots but ``attempted_steps``. Both are empty when the channel predates them.
    """

    replies: list[BotReply]
    handoff: RasaHandoffSignal | None
    intent: str | None
    confidence: float
    intent_ranking: list[RankedIntent]
    attempted_steps: list[dict[str, Any]]
    truncated: bool
    slots: dict[str, Any] = field(default_factory=dict)
    entities: list[dict[str, Any]] = field(default_factory=list)
    model_id: str | None = None  # the Rasa model that understood the message


def turn_metadata(customer_id: str | None) -> dict[str, Any]:
    """The metadata sent with a message: the verified customer, left out when anonymous.

    The sentiment reading is not sent: no action reads it, and the service scores the message
    while Rasa answers, so the reading is not ready when the message leaves. The engine and the
    agent's brief take it from the service's own store.
    """
    return {CUSTOMER_METADATA_KEY: customer_id} if customer_id else {}


class RasaTurnClient:
    """Sends customer messages to Rasa's handoff channel over the service's shared client."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        token: str | None,
        timeout: float,
        api_token: str | None = None,
    ) -> None:
        """``token`` is the channel's shared secret (``bot/credentials.yml``), None if unset;
        ``api_token`` is Rasa's ``--auth-token`` for its HTTP API (sent as ``?token=``)."""
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._url = self._base_url + WEBHOOK_PATH
        self._api_params = {"token": api_token} if api_token else {}
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout

    @property
    def url(self) -> str:
        """The webhook the client posts to."""
        return self._url

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        """Runs one customer message through the assistant and returns its answer.

        Raises:
            BotUnavailable: Rasa cannot be reached, times out, has no model loaded, fails on
                the message (5xx) or answers something that is not a turn.
            BotRequestRejected: Rasa refuses the request (400, 401, 404...).
        """
        body = {"sender": conversation_id, "message": text, "metadata": metadata}
        response = await self._post(self._url, _CHANNEL_NOT_FOUND, json=body, headers=self._headers)
        try:
            payload = response.json()
        except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
            raise BotUnavailable(
                f"Rasa answered with a body that is not JSON: {_excerpt(response.text)}",
                status_code=response.status_code,
            ) from None
        try:
            return parse_turn(payload, expected_sender=conversation_id)
        except MalformedTurn as exc:
            raise BotUnavailable(
                f"Rasa answered with a malformed turn: {exc}", status_code=response.status_code
            ) from exc

    async def set_slot(self, conversation_id: str, name: str, value: Any) -> None:
        """Set slot ``name`` of the conversation's tracker to ``value``."""
        await self.set_slots(conversation_id, {name: value})

    async def set_slots(self, conversation_id: str, slots: Mapping[str, Any]) -> None:
        """Set the conversation's tracker ``slots`` (``POST /conversations/{id}/tracker/events``
        with one ``slot`` event each, in one request).

        Raises as :meth:`send` does: :class:`BotUnavailable` when Rasa cannot be reached,
        times out or fails (5xx); :class:`BotRequestRejected` when it refuses the request
        (401/403 wrong ``api_token``, 404 API not enabled, other 4xx).
        """
        events = [{"event": "slot", "name": name, "value": value} for name, value in slots.items()]
        await self._post_api(TRACKER_EVENTS_PATH, conversation_id, events)
        logger.info("conversation %s: slots %s set in Rasa", conversation_id, ", ".join(slots))

    async def trigger_intent(self, conversation_id: str, intent: str) -> list[BotReply]:
        """Run the assistant on an external intent (``POST
        /conversations/{id}/trigger_intent``, no message from the customer) and return what
        it says. Raises as :meth:`set_slots` does, and :class:`BotUnavailable` for an answer
        without the documented ``messages``.
        """
        response = await self._post_api(
            TRIGGER_INTENT_PATH, conversation_id, {"name": intent, "entities": {}}
        )
        try:
            messages = _list_of_dicts(response.json().get("messages"), "messages")
        except (ValueError, AttributeError, MalformedTurn) as exc:
            raise BotUnavailable(
                f"Rasa answered the external intent with no messages list: {exc}",
                status_code=response.status_code,
            ) from None
        return [reply for reply in map(_reply, messages) if reply is not None]

    async def _post_api(self, path: str, conversation_id: str, body: Any) -> httpx.Response:
        url = self._base_url + path.format(conversation_id=urllib.parse.quote(conversation_id, ""))
        # include_events=NONE: the answer carries the tracker, which we do not need in full.
        params = {**self._api_params, "include_events": "NONE"}
        return await self._post(url, _API_NOT_FOUND, json=body, params=params)

    async def _post(self, url: str, not_found: str, **request: Any) -> httpx.Response:
        # One POST to Rasa: transport failures and error statuses as the documented errors.
        try:
            response = await self._http.post(url, timeout=self._timeout, **request)
        except httpx.RequestError as exc:
            if is_slow_answer(exc):
                raise BotUnavailable(
                    f"Rasa did not answer within {self._timeout:g} s ({url})"
                ) from None
            # Refused, reset, DNS failure, no connection in time...
            raise BotUnavailable(f"cannot reach Rasa at {url}: {describe_failure(exc)}") from exc
        self._raise_for_status(response, url, not_found)
        return response

    def _raise_for_status(self, response: httpx.Response, url: str, not_found: str) -> None:
        status = response.status_code
        if response.is_success:
            return
        error = _error_text(response)
        if status == 503:
            raise BotUnavailable(f"Rasa cannot answer yet (503): {error}", status_code=status)
        if status >= 500:
            raise BotUnavailable(
                f"Rasa failed on the message ({status}): {error}", status_code=status
            )
        if status in (401, 403):
            raise BotRequestRejected(
                status,
                f"Rasa refused the token ({status}): {error} The client's token must equal the "
                "handoff channel's token in bot/credentials.yml (for the HTTP API: Rasa's "
                "--auth-token).",
            )
        if status == 404:
            raise BotRequestRejected(status, f"nothing at {url} (404): {not_found}")
        if 400 <= status < 500:
            raise BotRequestRejected(status, f"Rasa refused the request ({status}): {error}")
        raise BotUnavailable(f"Rasa answered with status {status}: {error}", status_code=status)


_CHANNEL_NOT_FOUND = "start Rasa with --credentials bot/credentials.yml"
_API_NOT_FOUND = "start Rasa with --enable-api"


# --------------------------------------------------------------------------------------------
# Reading the channel's answer (pure functions)
# --------------------------------------------------------------------------------------------


def parse_turn(payload: Any, *, expected_sender: str | None = None) -> RasaTurn:
    """A :class:`RasaTurn` from the channel's JSON answer.

    Raises:
        MalformedTurn: the answer lacks a field, has one of the wrong type, or (with
            ``expected_sender``) belongs to another conversation.
    """
    if not isinstance(payload, dict):
        raise MalformedTurn(f"expected a JSON object, got {type(payload).__name__}")
    if expected_sender is not None and payload.get("sender") != expected_sender:
        # Replies meant for another customer must never be shown to this one.
        raise MalformedTurn(
            f"answer is for conversation {payload.get('sender')!r}, not {expected_sender!r}"
        )
    messages = _list_of_dicts(payload.get("messages"), "messages")
    intent = _optional_dict(payload.get("intent"), "intent")
    handoff = _optional_dict(payload.get(HANDOFF_KEY), HANDOFF_KEY)
    return RasaTurn(
        replies=[reply for reply in map(_reply, messages) if reply is not None],
        handoff=_handoff_signal(handoff) if handoff is not None else None,
        intent=_intent_name(intent),
        confidence=_confidence(intent.get("confidence")) if intent else 0.0,
        intent_ranking=_ranking(payload.get("intent_ranking")),
        attempted_steps=_steps(payload.get("attempted_steps"), "attempted_steps"),
        truncated=payload.get("truncated") is True,
        slots=dict(_optional_dict(payload.get("slots"), "slots") or {}),
        entities=_entities(payload.get("entities")),
        model_id=_optional_str(payload.get("model_id"), "model_id"),
    )


def _reply(message: dict[str, Any]) -> BotReply | None:
    """The customer-facing part of one bot message; None for the handoff signal alone."""
    custom = _optional_dict(message.get("custom"), "custom")
    is_signal = custom is not None and isinstance(custom.get(HANDOFF_KEY), dict)
    if is_signal:
        # The signal is read from the answer's top-level "handoff"; anything else the message
        # carries (not how actions send it) still reaches the customer.
        custom = {key: value for key, value in custom.items() if key != HANDOFF_KEY} or None
    text = _optional_str(message.get("text"), "a message's text")
    buttons = _list_of_dicts(message.get("buttons") or [], "buttons")
    if text is None and not buttons and custom is None:
        if not is_signal:  # an image or attachment: nothing the chat can show
            logger.warning("bot message without text, buttons or custom dropped: %s", message)
        return None
    return BotReply(text=text, buttons=buttons, custom=custom)


def _handoff_signal(raw: dict[str, Any]) -> RasaHandoffSignal:
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason:
        raise MalformedTurn("the handoff signal has no 'reason'")
    summary = raw.get("summary")
    return RasaHandoffSignal(
        reason=reason,
        intent=_optional_str(raw.get("intent"), "handoff intent"),
        confidence=_confidence(raw.get("confidence")),
        category=_optional_str(raw.get("category"), "handoff category"),
        severity=_optional_str(raw.get("severity"), "handoff severity"),
        team=_optional_str(raw.get("team"), "handoff team"),
        attempted_steps=_steps(raw.get("attempted_steps"), "handoff attempted_steps"),
        summary=summary if isinstance(summary, str) else "",
    )


def _intent_name(intent: dict[str, Any] | None) -> str | None:
    if intent is None:
        return None
    return _optional_str(intent.get("name"), "intent name") or None


def _ranking(raw: Any) -> list[RankedIntent]:
    ranking = []
    for entry in _list_of_dicts(raw if raw is not None else [], "intent_ranking"):
        name = _optional_str(entry.get("name"), "ranked intent name")
        if name:
            ranking.append(RankedIntent(name=name, confidence=_confidence(entry.get("confidence"))))
    return ranking


def _entities(raw: Any) -> list[dict[str, Any]]:
    """The message's entities; an older channel sends none, which reads as []."""
    if raw is None:
        return []
    entities = _list_of_dicts(raw, "entities")
    for entity in entities:
        if not isinstance(entity.get("entity"), str) or not entity["entity"]:
            raise MalformedTurn("an entry of 'entities' has no 'entity' name")
    return [dict(entity) for entity in entities]


def _steps(raw: Any, what: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MalformedTurn(f"'{what}' is a {type(raw).__name__}, not an array")
    steps = [step for step in raw if isinstance(step, dict)]
    if len(steps) < len(raw):
        # Actions only ever store dicts; keep what is readable rather than lose the turn.
        logger.warning("%d entries of %s are not objects; dropped", len(raw) - len(steps), what)
    return steps


def _confidence(raw: Any) -> float:
    if isinstance(raw, numbers.Real) and not isinstance(raw, bool):
        return float(raw)
    return 0.0


def _list_of_dicts(raw: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise MalformedTurn(f"'{what}' must be an array of objects")
    return raw


def _optional_dict(raw: Any, what: str) -> dict[str, Any] | None:
    if raw is not None and not isinstance(raw, dict):
        raise MalformedTurn(f"'{what}' is a {type(raw).__name__}, not an object")
    return raw


def _optional_str(raw: Any, what: str) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise MalformedTurn(f"{what} is a {type(raw).__name__}, not a string")
    return raw


def _error_text(response: httpx.Response) -> str:
    """The channel's ``{"error": ...}`` message, else the start of whatever body came back."""
    try:
        body = response.json()
    except ValueError:
        return _excerpt(response.text) or "(empty body)"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return _excerpt(response.text)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_TEXT_CHARS else text[:_ERROR_TEXT_CHARS] + "..."
