"""The customer's websocket, ``/ws/customer``: the edge where frames meet the service.

Per socket: the opening frame (``start`` or ``resume``) within the handshake timeout, then a
reader loop here and one writer task (the :class:`~handoff.gateway.hub.Subscriber`), so the
replies of a turn reach the customer while they type the next message. Errors become close
codes or ``error`` frames only here (see ``docs/protocol.md``): an opening the service refuses
closes the socket with a code and a reason (1011 when it fails unexpectedly); a bad frame later
gets an ``error`` frame and the connection stays up, so a client bug never costs the customer
their conversation, and neither does a server bug in handling one frame (``internal_error``).

The rate limits (:class:`~handoff.limits.ServiceLimits`, ``app.state.limits``) are enforced here
too: new conversations per client address on ``start``, then every frame per socket and every
``message`` per customer. A frame over a limit gets an ``error`` frame ``rate_limited`` saying
when to retry, and nothing else happens: a message is not stored and never reaches the
assistant; the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import Engine
from starlette.requests import HTTPConnection

from handoff.brief.builder import ANONYMOUS, CustomerInfo
from handoff.escalation.decision import Tier
from handoff.exceptions import DependencyUnavailable, RateLimited
from handoff.gateway.conversations import (
    ConversationService,
    ConversationUnavailable,
    queue_frame,
)
from handoff.gateway.hub import ConversationHub, Subscriber
from handoff.gateway.identity import (
    IdentityRejected,
    UnknownCustomer,
    resolve_customer,
    verify_identity_token,
)
from handoff.gateway.protocol import (
    AckFrame,
    CloseCode,
    CustomerTypingFrame,
    CustomerView,
    ErrorFrame,
    MessageFrame,
    PongFrame,
    ProtocolViolation,
    RateLimitedFrame,
    ReadFrame,
    ResumedFrame,
    ResumeFrame,
    StartedFrame,
    StartFrame,
    parse_conversation_frame,
    parse_opening,
)
from handoff.gateway.transcript import customer_frames
from handoff.limits import ServiceLimits
from handoff.origins import origin_allowed
from handoff.settings import Settings
from handoff.store.repository import ConversationRecord

logger = logging.getLogger(__name__)

router = APIRouter()

_MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: the reason fits a 125-byte control frame

INTERNAL_ERROR_FRAME = ErrorFrame(
    code="internal_error",
    message="the server failed on this frame; retry it once (a message with the same id is "
    "never stored twice), or report it if it fails again",
).model_dump_json()
"""The answer to a frame whose handling failed unexpectedly; the socket stays open."""

_Opened = TypeVar("_Opened")

# Close reason after "<reason_code>: " for a rejected identity token (docs/protocol.md).
_IDENTITY_ADVICE = {
    "expired": "the identity token has expired; sign a fresh one",
    "bad_signature": "the identity token is not signed with the shared secret (HS256)",
    "malformed": "the identity token is not a well-formed JWT",
    "missing_claim": "the identity token lacks sub, iat or exp",
}


@dataclass(frozen=True, slots=True)
class Gateway:
    """What the customer socket needs, built once by the app's lifespan."""

    settings: Settings
    service: ConversationService
    hub: ConversationHub
    bank_engine: Engine


class OpeningRefused(Exception):
    """The opening frame cannot be honoured; the socket closes with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def close_reason(text: str) -> str:
    """``text`` cut to what a close frame can carry."""
    encoded = text.encode()
    if len(encoded) <= _MAX_CLOSE_REASON_BYTES:
        return text
    return encoded[: _MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."


async def receive_frame(websocket: WebSocket) -> str | bytes:
    """The next frame's data, text or binary; raises ``WebSocketDisconnect`` when it closes.

    Starlette's ``receive_text`` fails with ``KeyError`` on a binary frame, which would end the
    socket without a close code; the parser reads both (a binary frame as UTF-8 JSON).
    """
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is not None:
        return str(text)
    return bytes(message.get("bytes") or b"")


async def handshake(
    websocket: WebSocket,
    settings: Settings,
    *,
    name: str,
    hint: str,
    opening: Callable[[str | bytes], Awaitable[_Opened]],
) -> _Opened | None:
    """The edge rules the customer and agent sockets share; ``None`` once the socket is closed.

    The origin rule first (:func:`~handoff.origins.origin_allowed` against
    ``settings.trusted_origins``; close 1008, before accepting), then the opening frame within the
    handshake timeout (else close 4408 with ``hint``), handed to ``opening``, whose refusals
    (:class:`ProtocolViolation`, :class:`OpeningRefused`) close the socket with their code,
    and whose unexpected failures close it with 1011. An opening over a rate limit
    (:class:`RateLimited`) gets an ``error`` frame instead, and the socket waits, with a fresh
    timeout, for the client to send it again.
    """
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, settings.trusted_origins):
        logger.warning("%s socket refused: origin %s", name, origin)
        await websocket.close(code=CloseCode.POLICY_VIOLATION, reason="origin not allowed")
        return None
    await websocket.accept()
    try:
        while True:
            raw = await asyncio.wait_for(
                receive_frame(websocket), timeout=settings.gateway.handshake_timeout_seconds
            )
            try:
                return await opening(raw)
            except RateLimited as exc:
                # Nothing was opened yet, so there is no writer task: answer directly.
                await websocket.send_text(RateLimitedFrame.of(exc).model_dump_json())
    except TimeoutError:
        await close_socket(websocket, CloseCode.HANDSHAKE_TIMEOUT, hint)
    except ProtocolViolation as exc:
        await close_socket(websocket, exc.close_code, str(exc))
    except OpeningRefused as exc:
        await close_socket(websocket, exc.code, exc.reason)
    except WebSocketDisconnect:
        pass
    except Exception:
        # Never a dropped connection without a close frame: the client can tell a server
        # failure (retry later) from a refusal.
        logger.exception("%s socket: the opening could not be handled", name)
        await close_socket(websocket, CloseCode.INTERNAL_ERROR, "internal error; try again later")
    return None


@router.websocket("/ws/customer")
async def customer_socket(websocket: WebSocket) -> None:
    """One customer's chat; see the module docstring and ``docs/protocol.md``."""
    gateway: Gateway = websocket.app.state.gateway
    limits: ServiceLimits = websocket.app.state.limits

    async def opening(raw: str | bytes) -> tuple[ConversationRecord, Subscriber]:
        frame = parse_opening(raw)
        if isinstance(frame, StartFrame):
            limits.new_conversations.enforce(
                client_address(websocket), _seconds(gateway), "new conversations from here"
            )
        return await _open(gateway, websocket, frame)

    opened = await handshake(
        websocket, gateway.settings, name="customer",
        hint="send 'start' or 'resume' first", opening=opening,
    )  # fmt: skip
    if opened is None:
        return
    record, subscriber = opened
    try:
        await _converse(gateway, limits, websocket, record, subscriber)
    finally:
        gateway.hub.unsubscribe(record.id, subscriber)
        await subscriber.close()


def client_address(connection: HTTPConnection) -> str:
    """The client's address, of a socket or a request (the ASGI server's peer; a proxy in
    front must pass the client's own, e.g. uvicorn's ``--proxy-headers``)."""
    return connection.client.host if connection.client is not None else "unknown"


def customer_key(record: ConversationRecord) -> str:
    """Whose message budget a conversation's messages spend: the identified customer's, over
    all their conversations and sockets, else the conversation's own."""
    if record.customer_id is not None:
        return f"customer:{record.customer_id}"
    return f"conversation:{record.id}"


def _seconds(gateway: Gateway) -> float:
    # The limiters take time as seconds; the service's clock is the one tests control.
    return gateway.service.clock().timestamp()


async def _open(
    gateway: Gateway, websocket: WebSocket, opening: StartFrame | ResumeFrame
) -> tuple[ConversationRecord, Subscriber]:
    service = gateway.service
    if isinstance(opening, StartFrame):
        customer = await _customer(gateway, opening.identity_token)
        record, token = await service.start(customer)
        subscriber = Subscriber(websocket.send_text)
        gateway.hub.subscribe(record.id, subscriber)
        subscriber.start()
        view = CustomerView(id=record.customer_id, name=record.customer_name, tier=record.tier)
        subscriber.send_control(
            StartedFrame(
                conversation_id=record.id, resume_token=token, customer=view,
                state=record.state.value, last_seq=record.last_seq,
            ).model_dump_json()
        )  # fmt: skip
        return record, subscriber

    try:
        record = await service.find(opening.resume_token)
    except ConversationUnavailable as exc:
        code = CloseCode.CONVERSATION_CLOSED if exc.closed else CloseCode.UNKNOWN_CONVERSATION
        raise OpeningRefused(code, str(exc)) from None
    if opening.last_seq > record.last_seq:
        # The subscriber would drop every frame up to the client's number as already seen,
        # so the customer would silently miss what comes next: refuse instead.
        raise OpeningRefused(
            CloseCode.PROTOCOL_ERROR,
            f"last_seq {opening.last_seq} is ahead of the conversation ({record.last_seq})",
        )
    subscriber = Subscriber(websocket.send_text, last_seq=opening.last_seq)
    # Subscribe before reading what was missed, holding live frames back meanwhile: nothing
    # published in between can be lost, and nothing is sent twice.
    subscriber.hold()
    gateway.hub.subscribe(record.id, subscriber)
    subscriber.start()
    try:
        await _catch_up(gateway, subscriber, record, opening.last_seq)
    except BaseException:
        gateway.hub.unsubscribe(record.id, subscriber)
        await subscriber.close()
        raise
    return record, subscriber


async def _catch_up(
    gateway: Gateway, subscriber: Subscriber, record: ConversationRecord, last_seq: int
) -> None:
    service = gateway.service
    missed = await service.messages_after(record.id, last_seq)
    view = CustomerView(id=record.customer_id, name=record.customer_name, tier=record.tier)
    subscriber.send_control(
        ResumedFrame(
            conversation_id=record.id, customer=view, state=record.state.value,
            last_seq=max([last_seq, *(m.seq for m in missed)]),
        ).model_dump_json()
    )  # fmt: skip
    subscriber.catch_up(customer_frames(missed))  # never an agent's internal note
    await service.recover(record.id)
    outlook = await service.current_outlook(record.id)
    if outlook is not None:
        subscriber.send_control(queue_frame(outlook).model_dump_json())


async def _customer(gateway: Gateway, token: str | None) -> CustomerInfo:
    if token is None:
        return ANONYMOUS
    settings = gateway.settings.identity
    try:
        identity = verify_identity_token(
            token, secret=settings.require_secret(), now=gateway.service.clock()
        )
        profile = await asyncio.to_thread(resolve_customer, identity, gateway.bank_engine)
    except IdentityRejected as exc:
        # The details (customer id, expiry, PyJWT's message) are for the logs only.
        logger.warning("identity token rejected: %s", exc)
        raise OpeningRefused(
            CloseCode.IDENTITY_REJECTED,
            f"{exc.reason_code}: {_IDENTITY_ADVICE.get(exc.reason_code, 'token rejected')}",
        ) from None
    except UnknownCustomer as exc:
        raise OpeningRefused(CloseCode.UNKNOWN_CUSTOMER, str(exc)) from None
    except DependencyUnavailable as exc:
        raise OpeningRefused(
            CloseCode.TRY_AGAIN_LATER, f"cannot verify the customer: {exc}"
        ) from None
    return CustomerInfo(profile.customer_id, profile.name, Tier(profile.tier.value))


async def _converse(
    gateway: Gateway,
    limits: ServiceLimits,
    websocket: WebSocket,
    record: ConversationRecord,
    subscriber: Subscriber,
) -> None:
    conversation_id = record.id
    socket_key = f"customer-socket:{secrets.token_urlsafe(12)}"
    while True:
        # Frames already received are handed over without a pause, so a flood would queue an
        # answer to each before the writer sent any, and the socket would be closed as a slow
        # reader. One turn of the event loop per frame lets the writer keep up.
        await asyncio.sleep(0)
        try:
            raw = await receive_frame(websocket)
        except WebSocketDisconnect:
            return
        if subscriber.overflowed:
            await close_socket(websocket, CloseCode.TRY_AGAIN_LATER, "reading too slowly; resume")
            return
        try:
            # Counted before parsing: a flood of bad frames costs its sender too.
            limits.customer_frames.enforce(socket_key, _seconds(gateway), "frames on this socket")
            frame = parse_conversation_frame(raw)
            if isinstance(frame, MessageFrame):
                await _receive(gateway, limits, subscriber, record, frame)
            elif isinstance(frame, CustomerTypingFrame | ReadFrame):
                _signal(websocket, conversation_id, frame)
            else:
                subscriber.send_control(PongFrame().model_dump_json())
        except ProtocolViolation as exc:
            error = ErrorFrame(code="bad_frame", message=str(exc))
            subscriber.send_control(error.model_dump_json())
        except RateLimited as exc:
            subscriber.send_control(RateLimitedFrame.of(exc).model_dump_json())
        except DependencyUnavailable as exc:
            # The database is down: the message is not stored, so it is not acknowledged;
            # the client keeps it and retries with the same id.
            logger.error("conversation %s: cannot store a message: %s", conversation_id, exc)
            subscriber.send_control(
                ErrorFrame(code="not_stored", message="message not stored, retry").model_dump_json()
            )
        except Exception:
            # A bug must not cost the customer their conversation: one frame failed, not the
            # socket (docs/protocol.md: a bad frame never closes it).
            logger.exception("conversation %s: a frame could not be handled", conversation_id)
            subscriber.send_control(INTERNAL_ERROR_FRAME)


class AgentSignals(Protocol):
    """Who hears the customer's typing and read receipts (the agent desk, when there is one)."""

    def customer_typing(self, conversation_id: str) -> None: ...

    def customer_read(self, conversation_id: str, seq: int) -> None: ...


def _signal(
    websocket: WebSocket, conversation_id: str, frame: CustomerTypingFrame | ReadFrame
) -> None:
    # Not stored and not answered: only the agent holding the conversation is told.
    signals: AgentSignals | None = getattr(websocket.app.state, "desk", None)
    if signals is None:
        return
    if isinstance(frame, ReadFrame):
        signals.customer_read(conversation_id, frame.seq)
    else:
        signals.customer_typing(conversation_id)


async def _receive(
    gateway: Gateway,
    limits: ServiceLimits,
    subscriber: Subscriber,
    record: ConversationRecord,
    frame: MessageFrame,
) -> None:
    if not frame.text.strip():
        raise ProtocolViolation("the message is empty: send some text")
    # Before the service sees it: a refused message is neither stored nor sent to Rasa.
    limits.customer_messages.enforce(customer_key(record), _seconds(gateway), "messages")
    receipt = await gateway.service.receive(
        record.id, client_message_id=frame.client_message_id, text=frame.text
    )
    subscriber.send_control(
        AckFrame(
            client_message_id=frame.client_message_id, seq=receipt.message.seq,
            duplicate=receipt.duplicate,
        ).model_dump_json()
    )  # fmt: skip


async def close_socket(websocket: WebSocket, code: int, reason: str) -> None:
    """Close with ``code`` and ``reason`` (cut to fit); a socket already gone is fine."""
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code=code, reason=close_reason(reason))
