"""The service's HTTP client for Rasa and the action server, and how its failures read.

httpx's API over aiohttp's connections (``httpx-aiohttp``): every customer turn waits for one
POST to Rasa, and httpx's own asyncio transport (httpcore on anyio) spent 1.7 to 2.9 ms more
per call to Rasa than aiohttp did on this project's machine (encode/httpx#3215); through this
transport a call costs what a synchronous httpx call does. Callers and tests keep httpx's
requests, responses, errors and ``MockTransport``.
"""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport

from handoff import __version__


def create_http_client(timeout_seconds: float) -> httpx.AsyncClient:
    """An HTTP client whose default timeout is ``timeout_seconds``.

    The aiohttp session behind it is opened on the first request, on the running loop.
    """
    return httpx.AsyncClient(
        transport=AiohttpTransport(),
        timeout=timeout_seconds,
        headers={"User-Agent": f"handoff-desk/{__version__}"},
    )


def is_slow_answer(error: httpx.RequestError) -> bool:
    """Whether the server was reached and did not answer in time (as against not reached).

    The transport reports a refused connection as ``httpx.ConnectTimeout``, so only the
    timeouts of a connection already made count as slow.
    """
    return isinstance(error, httpx.ReadTimeout | httpx.WriteTimeout)


def describe_failure(error: httpx.HTTPError) -> str:
    """``"Type: message"`` of what went wrong underneath: aiohttp's error where the
    transport wrapped one (its ``ClientConnectorError`` says "Connect call failed"), so the
    reader is not told of a timeout that never happened."""
    cause = error.__cause__ if isinstance(error.__cause__, Exception) else error
    return f"{type(cause).__name__}: {cause}"
