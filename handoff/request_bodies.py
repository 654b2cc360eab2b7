"""JSON request bodies of every REST route, read strictly.

FastAPI reads a body with :func:`json.loads`, which accepts ``NaN``, ``Infinity``, ``1e400``
and escaped lone surrogates (``"\\ud800"``). None of them can be answered: a validation error
that echoes ``NaN`` fails to render, a surrogate fails to encode in a response or a database,
and each ended as a 500. Routes of :class:`StrictJsonRoute` read their bodies with
:func:`~handoff.strict_json.load_json` instead and answer what it refuses with a 422 in
FastAPI's own shape for a body that is not JSON (``type`` ``json_invalid``), saying what to
send instead. Every router of the service is built with it (``route_class``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute

from handoff.exceptions import UnsafeJson
from handoff.strict_json import load_json

__all__ = ["StrictJsonRequest", "StrictJsonRoute"]


class StrictJsonRequest(Request):
    """A request whose :meth:`json` refuses what :func:`load_json` refuses, with a 422."""

    async def json(self) -> Any:
        """The body's JSON value; :class:`HTTPException` 422 for JSON the service refuses."""
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                # No size limit here: the body is read already, under the server's own limit.
                self._json = load_json(body, max_bytes=None)
            except UnsafeJson as exc:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, _json_invalid(exc)
                ) from None
        return self._json


class StrictJsonRoute(APIRoute):
    """An API route whose JSON body is read by :class:`StrictJsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given the strict request in place of the plain one."""
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            strict = StrictJsonRequest(request.scope, request.receive, request._send)
            return await handler(strict)

        return strict_handler


def _json_invalid(exc: UnsafeJson) -> list[dict[str, Any]]:
    # FastAPI's shape for a body that is not JSON, so clients read both alike.
    return [{"type": "json_invalid", "loc": ["body"], "msg": str(exc), "input": {}}]
