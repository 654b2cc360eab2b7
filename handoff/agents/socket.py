"""The agent's websocket, ``/ws/agent``: the edge where agent frames meet the desk.

As for the customer socket: the origin rule first (close 1008), then ``auth`` within the
handshake timeout (else close 4408), and a token that is not a valid agent token of an active
account closes with 4401, whatever it is (a customer's identity token is refused as
``wrong_type``, a resume token as ``malformed``). After that a bad frame, an action the desk
refuses, a frame over the socket's rate limit (``rate_limited``, with when to retry; the action
is not done), or one that fails unexpectedly (``internal_error``, logged with its traceback)
gets an ``error`` frame and the connection stays up. One writer per socket (a
:class:`~handoff.gateway.hub.Subscriber`); the reader loop here runs the agent's actions in
order. The frames are in :mod:`handoff.agents.protocol`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from handoff.agents.accounts import AgentRecord, AgentStore
from handoff.agents.desk import AgentConnection, AgentDesk
from handoff.agents.exceptions import AgentTokenRejected, DeskRefusal
from handoff.agents.protocol import (
    AcknowledgeFrame,
    AgentMessageFrame,
    AgentReadFrame,
    AgentTypingFrame,
    ClaimFrame,
    ClientFrame,
    HandBackFrame,
    NoteFrame,
    PresenceFrame,
    ResolveFrame,
    TransferFrame,
    parse_agent_frame,
    parse_auth,
)
from handoff.agents.tokens import verify_agent_token
from handoff.exceptions import RateLimited
from handoff.gateway.customer_socket import (
    INTERNAL_ERROR_FRAME,
    OpeningRefused,
    close_socket,
    handshake,
    receive_frame,
)
from handoff.gateway.hub import Subscriber
from handoff.gateway.protocol import (
    CloseCode,
    ErrorFrame,
    PongFrame,
    ProtocolViolation,
    RateLimitedFrame,
)
from handoff.limits import RateLimiter
from handoff.settings import Settings

__all__ = ["agent_socket", "router"]

logger = logging.getLogger(__name__)

router = APIRouter()


@router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket) -> None:
    """One agent's desk; see the module docstring."""
    settings: Settings = websocket.app.state.settings
    desk: AgentDesk = websocket.app.state.desk
    limiter: RateLimiter = websocket.app.state.limits.agent_frames

    async def opening(raw: str | bytes) -> AgentRecord:
        return await _authenticate(websocket, settings, parse_auth(raw).token)

    agent = await handshake(
        websocket, settings, name="agent", hint="send 'auth' first", opening=opening
    )
    if agent is None:
        return
    writer = Subscriber(websocket.send_text)
    writer.start()
    connection = await desk.connect(agent, writer)
    try:
        await _work(desk, limiter, websocket, connection)
    finally:
        await desk.disconnect(connection)
        await writer.close()


async def _authenticate(websocket: WebSocket, settings: Settings, token: str) -> AgentRecord:
    desk: AgentDesk = websocket.app.state.desk
    store: AgentStore = websocket.app.state.agent_store
    try:
        claims = verify_agent_token(
            token,
            secret=settings.agents.require_token_secret(),
            now=desk.clock(),
            max_lifetime=settings.agents.token_ttl,
        )
    except AgentTokenRejected as exc:
        logger.info("agent socket: token rejected: %s", exc)
        advice = "log in again" if exc.reason_code == "expired" else "not a valid agent token"
        raise OpeningRefused(CloseCode.IDENTITY_REJECTED, f"{exc.reason_code}: {advice}") from None
    agent = await asyncio.to_thread(store.get_agent, claims.agent_id)
    if agent is None or not agent.active:
        raise OpeningRefused(
            CloseCode.IDENTITY_REJECTED, "inactive: the account is deactivated or gone"
        )
    return agent


async def _work(
    desk: AgentDesk, limiter: RateLimiter, websocket: WebSocket, connection: AgentConnection
) -> None:
    socket_key = f"agent-socket:{secrets.token_urlsafe(12)}"
    while True:
        await asyncio.sleep(0)  # the writer keeps up with a flood (see the customer socket)
        try:
            raw = await receive_frame(websocket)
        except WebSocketDisconnect:
            return
        if connection.writer.overflowed:
            await close_socket(
                websocket, CloseCode.TRY_AGAIN_LATER, "reading too slowly; reconnect"
            )
            return
        try:
            limiter.enforce(socket_key, desk.clock().timestamp(), "frames on this socket")
            await _act(desk, connection, parse_agent_frame(raw))
        except ProtocolViolation as exc:
            connection.send(ErrorFrame(code="bad_frame", message=str(exc)))
        except DeskRefusal as exc:
            connection.send(ErrorFrame(code=exc.code, message=exc.message))
        except RateLimited as exc:
            connection.send(RateLimitedFrame.of(exc))
        except Exception:
            # A bug in one action must not drop the agent's desk (and start their grace
            # countdown): the frame fails, the socket stays (docs/agent-protocol.md).
            logger.exception("agent %s: a frame could not be handled", connection.agent.username)
            connection.send(INTERNAL_ERROR_FRAME)


async def _act(desk: AgentDesk, connection: AgentConnection, frame: ClientFrame) -> None:
    match frame:
        case ClaimFrame(handoff_id=handoff_id):
            await desk.claim(connection, handoff_id)
        case AcknowledgeFrame(handoff_id=handoff_id):
            await desk.acknowledge(connection, handoff_id)
        case AgentMessageFrame(handoff_id=handoff_id, client_message_id=cmid, text=text):
            if not text.strip():
                raise ProtocolViolation("the message is empty: send some text")
            await desk.send_message(connection, handoff_id, cmid, text)
        case NoteFrame(handoff_id=handoff_id, text=text):
            if not text.strip():
                raise ProtocolViolation("the note is empty: send some text")
            await desk.add_note(connection, handoff_id, text)
        case TransferFrame(handoff_id=handoff_id, to_team=to_team, reason=reason):
            await desk.transfer(connection, handoff_id, to_team, reason)
        case HandBackFrame(handoff_id=handoff_id, summary=summary):
            await desk.hand_back(connection, handoff_id, summary)
        case ResolveFrame():
            await desk.resolve(connection, frame)
        case PresenceFrame(status=status):
            await desk.set_presence(connection, status)
        case AgentTypingFrame(handoff_id=handoff_id):
            await desk.agent_typing(connection, handoff_id)
        case AgentReadFrame(handoff_id=handoff_id, seq=seq):
            await desk.agent_read(connection, handoff_id, seq)
        case _:  # ping
            connection.send(PongFrame())
