"""Security headers on every HTTP response of the service.

:class:`SecurityHeaders` is an ASGI middleware that adds, to each HTTP response:

* ``Content-Security-Policy``: scripts, styles, images and connections from the service only
  (``'self'``, plus the ``ws:``/``wss:`` form of its own origins for the websockets), no inline
  script or style, no plugins, no ``<base>``. The pages keep their scripts and styles in files
  under ``/static`` to fit it.
* ``frame-ancestors`` in that policy: ``'none'`` for everything (agent console, supervisor
  view, API, static files), which also get ``X-Frame-Options: DENY`` for older browsers.
  The pages meant to be embedded or hosted (:data:`EMBEDDABLE_PATHS`: the demo page and the
  widget's script) may be framed by the service's own origins and the allowed embedding sites
  (``server.public_origins``, ``gateway.allowed_origins``); they get no ``X-Frame-Options``,
  which cannot name several origins.
* ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: strict-origin-when-cross-origin``
  (the browsers' default made explicit: other sites see the origin, never a path).

A response that already carries one of these headers keeps its own: the API docs
(:mod:`handoff.web.api_docs`) load Swagger UI and ReDoc from a CDN and set a policy of their own
with :func:`docs_content_security_policy`. Websocket handshakes are not touched.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handoff.settings import Settings

EMBEDDABLE_PATHS = frozenset({"/", "/widget.js"})
"""Paths other sites' pages may frame: the demo page and the widget's script."""

REFERRER_POLICY = "strict-origin-when-cross-origin"

DOCS_CDN = "https://cdn.jsdelivr.net"
"""Where FastAPI's API docs load Swagger UI and ReDoc from."""

_DOCS_IMAGES = (DOCS_CDN, "https://fastapi.tiangolo.com", "https://validator.swagger.io")
_DOCS_STYLES = (DOCS_CDN, "https://fonts.googleapis.com", "'unsafe-inline'")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


def content_security_policy(*, own_origins: Sequence[str], frame_ancestors: Sequence[str]) -> str:
    """The pages' policy; ``frame_ancestors`` empty means ``'none'``.

    ``own_origins`` are the service's normalised origins: their websocket forms are allowed
    to connect, since not every browser counts ``ws:`` as ``'self'``.
    """
    sockets = [_websocket_origin(origin) for origin in own_origins]
    return _join(
        ("default-src", ["'self'"]),
        ("script-src", ["'self'"]),
        ("style-src", ["'self'"]),
        ("img-src", ["'self'", "data:"]),
        ("connect-src", ["'self'", *sockets]),
        ("object-src", ["'none'"]),
        ("base-uri", ["'none'"]),
        ("form-action", ["'self'"]),
        ("frame-ancestors", list(frame_ancestors) or ["'none'"]),
    )


def docs_content_security_policy(html: str) -> str:
    """A policy for an API docs page of FastAPI (Swagger UI or ReDoc) with ``html`` as body.

    Its scripts come from :data:`DOCS_CDN`, and its inline scripts are allowed by their hash
    only; inline styles are allowed (the UIs set them), fonts and images come from the places
    FastAPI's pages name, and ReDoc's search runs in a ``blob:`` worker. Never framed.
    """
    hashes = [f"'sha256-{_sha256(script)}'" for script in _INLINE_SCRIPT.findall(html)]
    return _join(
        ("default-src", ["'none'"]),
        ("script-src", ["'self'", DOCS_CDN, *hashes]),
        ("style-src", ["'self'", *_DOCS_STYLES]),
        ("font-src", ["'self'", "https://fonts.gstatic.com"]),
        ("img-src", ["'self'", "data:", *_DOCS_IMAGES]),
        ("connect-src", ["'self'"]),
        ("worker-src", ["'self'", "blob:"]),
        ("base-uri", ["'none'"]),
        ("form-action", ["'self'"]),
        ("frame-ancestors", ["'none'"]),
    )


def security_headers(settings: Settings, *, embeddable: bool) -> list[tuple[str, str]]:
    """The headers of a response; ``embeddable`` for the pages other sites may frame."""
    own = settings.server.origins
    common = [("x-content-type-options", "nosniff"), ("referrer-policy", REFERRER_POLICY)]
    if embeddable:
        ancestors = list(dict.fromkeys((*own, *settings.gateway.allowed_origins)))
        policy = content_security_policy(own_origins=own, frame_ancestors=ancestors)
        return [("content-security-policy", policy), *common]
    policy = content_security_policy(own_origins=own, frame_ancestors=[])
    return [("content-security-policy", policy), ("x-frame-options", "DENY"), *common]


class SecurityHeaders:
    """ASGI middleware: :func:`security_headers` on every HTTP response, unless already set."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self._app = app
        self._embeddable = security_headers(settings, embeddable=True)
        self._strict = security_headers(settings, embeddable=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to its response's start message."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = self._embeddable if scope["path"] in EMBEDDABLE_PATHS else self._strict

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = MutableHeaders(scope=message)
                for name, value in headers:
                    if name not in present:
                        present.append(name, value)
            await send(message)

        await self._app(scope, receive, send_with_headers)


def _websocket_origin(origin: str) -> str:
    scheme, rest = origin.split("://", 1)
    return f"{_WEBSOCKET_SCHEMES.get(scheme, scheme)}://{rest}"


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _join(*directives: tuple[str, Iterable[str]]) -> str:
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives)
