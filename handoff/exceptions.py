"""Errors raised by the handoff service on purpose.

Hierarchy::

    HandoffError                  base class of every error below
    ├── ConfigurationError        a setting is well-formed but cannot be used, e.g. the
    │                             database driver of a URL is not installed or the folder
    │                             of the service's SQLite file cannot be created
    ├── UnsafeJson                JSON from a client that the service will not parse or
    │                             keep (also a ValueError): too large, nested too deep, not
    │                             UTF-8, NaN or Infinity, an absurdly long integer, a lone
    │                             surrogate; the sockets send it back as an ``error`` frame,
    │                             the REST routes as a 422
    ├── DependencyUnavailable     a dependency (Rasa, the action server, a database) cannot
    │                             serve right now; readiness probes raise it and report it
    │                             as a failing check, so it never escapes as an HTTP 500
    └── RateLimited               a client went over a rate limit or is locked out
                                  (:mod:`handoff.limits`); the sockets answer an ``error``
                                  frame ``rate_limited``, the login a 429, both saying when
                                  to retry

The conversation store's errors, ``ConversationNotFound`` and ``IllegalTransition``, also derive
from ``HandoffError``; they live with the store, in :mod:`handoff.store.errors`.

Malformed settings (a port out of range, a non-http URL) are refused earlier, by pydantic, as
``pydantic.ValidationError`` when :class:`handoff.settings.Settings` is built.

Errors are turned into HTTP status codes only at the edge, in :mod:`handoff.app`; the CLI turns
them into exit codes.
"""

from __future__ import annotations


class HandoffError(Exception):
    """Base class of every error the handoff service raises on purpose."""


class ConfigurationError(HandoffError):
    """A setting passed validation but cannot be put to use on this machine."""


class UnsafeJson(HandoffError, ValueError):
    """JSON the strict loader refuses (:func:`handoff.strict_json.load_json`); ``str(error)``
    says what is wrong and what to send instead."""


class DependencyUnavailable(HandoffError):
    """A dependency of the service cannot serve; ``str(error)`` says why, for an operator."""

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(reason)
        self.dependency = dependency
        self.reason = reason


class RateLimited(HandoffError):
    """A client went over a limit; nothing was done, and it may retry after
    ``retry_after_seconds`` (whole seconds, at least 1)."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_seconds = retry_after_seconds
