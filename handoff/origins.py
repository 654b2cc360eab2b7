"""Web origins: the one rule for which pages may open the service's websockets.

An origin is ``scheme://host[:port]`` (RFC 6454). :func:`normalise_origin` gives the one
spelling two equal origins share: scheme and host lowercased, the scheme's default port
(80 for http, 443 for https) left out, no path. :func:`origin_allowed` compares a request's
``Origin`` header with the trusted origins (the service's own public origins and the sites
allowed to embed the widget, both from settings), and nothing else: never with the request's
``Host`` header, which a page on a domain resolving to the service (DNS rebinding) controls.

Pure functions, no I/O: the sockets and the settings call them.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value: str) -> str | None:
    """``value`` as ``scheme://host[:port]``, or ``None`` when it is not an http(s) origin.

    ``None`` covers the opaque origin ``null`` (sandboxed frames, ``file:`` and ``data:``
    pages), other schemes, user info, a path other than ``/``, a query or a fragment, and a
    port that is not a number in 1-65535.
    """
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, or an unbalanced IPv6 bracket
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname  # lowercased by urlsplit, IPv6 brackets removed
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if parts.netloc.endswith(":"):  # "http://host:" names no port
        return None
    if port == 0:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_allowed(origin: str | None, trusted: Collection[str]) -> bool:
    """Whether a socket opened from ``origin`` (the ``Origin`` header) may connect.

    ``trusted`` holds normalised origins (:func:`normalise_origin`). Scheme, host and port must
    all match one of them. A request without ``Origin`` comes from no browser page (browsers
    always send it on websockets), so no other site's script speaks through it: it is let in.
    """
    if origin is None:
        return True
    normalised = normalise_origin(origin)
    return normalised is not None and normalised in trusted
