"""Clients of the deployment, each from a loopback address of its own.

The service keeps rate limits per client address. Every test (and each fuzzer) connects from its
own address in 127.0.0.0/8, which is all loopback, so that one test's flood never spends
another's budget: the same isolation that two customers behind different networks have.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

Frame = dict[str, Any]
_hosts = itertools.count(2)


def new_address() -> str:
    """A loopback address no other test of the session uses (127.0.0.2, 127.0.0.3...)."""
    n = next(_hosts)
    return f"127.0.{n // 250}.{n % 250 + 2}"


def http_from(address: str) -> httpx.Client:
    """An HTTP client whose connections come from ``address``."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


@contextmanager
def socket_from(address: str, url: str) -> Iterator[ClientConnection]:
    """A websocket to ``url`` (``ws://127.0.0.1:PORT/...``) from ``address``."""
    target = urlsplit(url)
    raw = socket.create_connection(
        (target.hostname, target.port), timeout=10, source_address=(address, 0)
    )
    with connect(url, sock=raw, open_timeout=10, close_timeout=5, max_size=2**20) as connection:
        yield connection


def ws_url(service_url: str, path: str) -> str:
    return service_url.replace("http://", "ws://", 1) + path


def receive(connection: ClientConnection, timeout: float = 30) -> Frame:
    frame: Frame = json.loads(connection.recv(timeout=timeout))
    return frame


def receive_until(
    connection: ClientConnection, wanted: str, timeout: float = 30, code: str | None = None
) -> Frame:
    """The next frame of type ``wanted`` (and error ``code``), skipping others."""
    while True:
        frame = receive(connection, timeout)
        if frame.get("type") == wanted and (code is None or frame.get("code") == code):
            return frame


def still_open(connection: ClientConnection) -> bool:
    """Whether the socket answers: a ``ping`` gets a ``pong`` or, over a rate limit, an error.

    Frames that were on their way (a bot's answer, an ack) are skipped.
    """
    try:
        connection.send(json.dumps({"type": "ping"}))
        while True:
            frame = receive(connection, timeout=30)
            if frame.get("type") == "pong":
                return True
            if frame.get("type") == "error" and frame.get("code") == "rate_limited":
                return True
    except (ConnectionClosed, TimeoutError):
        return False


def close_code(connection: ClientConnection) -> int | None:
    """How the server closed the socket (reading whatever came before)."""
    try:
        while True:
            connection.recv(timeout=30)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


@contextmanager
def customer(service_url: str, address: str | None = None) -> Iterator[ClientConnection]:
    """An anonymous customer's socket, its conversation started."""
    with socket_from(address or new_address(), ws_url(service_url, "/ws/customer")) as ws:
        ws.send(json.dumps({"type": "start", "v": 1}))
        assert receive_until(ws, "started")
        yield ws


@contextmanager
def agent(service_url: str, token: str, address: str | None = None) -> Iterator[ClientConnection]:
    """An agent's socket, signed in with ``token``."""
    with socket_from(address or new_address(), ws_url(service_url, "/ws/agent")) as ws:
        ws.send(json.dumps({"type": "auth", "v": 1, "token": token}))
        assert receive_until(ws, "welcome")
        yield ws
