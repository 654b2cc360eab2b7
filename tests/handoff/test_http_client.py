"""The service's HTTP client on real sockets: what a turn's call to Rasa sends, and how each
way of failing reads (the transport under it is aiohttp's, not httpx's own)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from handoff.gateway.rasa_client import BotUnavailable, RasaTurnClient
from handoff.http_client import create_http_client

SENDER = "conv-7"
TOKEN = "channel-secret"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Starts aiohttp applications on free loopback ports; yields a starter returning the URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def closed_port() -> int:
    # A port that was just free and is closed again: nothing listens, a real ECONNREFUSED.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_turn_reaches_the_channel_with_its_token_and_body_and_reads_the_answer(
    serve: Callable[[web.Application], Awaitable[str]],
) -> None:
    seen: list[tuple[str | None, object]] = []

    async def channel(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization"), await request.json()))
        body = {
            "sender": SENDER,
            "messages": [{"recipient_id": SENDER, "text": "Your card is on its way."}],
            "intent": {"name": "card_arrival", "confidence": 0.97},
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/webhooks/handoff/webhook", channel)
    url = await serve(app)
    async with create_http_client(5.0) as http:
        client = RasaTurnClient(http, url, token=TOKEN, timeout=2.0)
        turn = await client.send(SENDER, "where is my card?", {"customer_id": "c-1"})

    assert seen == [
        (
            f"Bearer {TOKEN}",
            {"sender": SENDER, "message": "where is my card?", "metadata": {"customer_id": "c-1"}},
        )
    ]
    assert turn.intent == "card_arrival"
    assert [reply.text for reply in turn.replies] == ["Your card is on its way."]


async def test_a_refused_connection_reads_as_unreachable_not_as_a_timeout() -> None:
    async with create_http_client(5.0) as http:
        client = RasaTurnClient(http, f"http://127.0.0.1:{closed_port()}", token=None, timeout=2.0)
        with pytest.raises(BotUnavailable) as raised:
            await client.send(SENDER, "hi", {})

    message = str(raised.value)
    assert "cannot reach Rasa" in message
    assert "ClientConnectorError" in message
    assert "within" not in message and "Timeout:" not in message


async def test_a_server_that_never_answers_reads_as_a_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads nothing, answers nothing, keeps the connection open

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with create_http_client(5.0) as http:
            client = RasaTurnClient(http, f"http://127.0.0.1:{port}", token=None, timeout=0.2)
            with pytest.raises(BotUnavailable, match=r"did not answer within 0\.2 s"):
                await client.send(SENDER, "hi", {})
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_connection_closed_before_the_answer_reads_as_unreachable() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with create_http_client(5.0) as http:
            client = RasaTurnClient(http, f"http://127.0.0.1:{port}", token=None, timeout=2.0)
            with pytest.raises(BotUnavailable, match="cannot reach Rasa.*Server ?disconnected"):
                await client.send(SENDER, "hi", {})
    finally:
        server.close()
        await server.wait_closed()
