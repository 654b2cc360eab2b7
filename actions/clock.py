"""The action server's notion of "now", replaceable so tests can pin it.

Answers such as "pending since 2 days" depend on the current time; tests seed the demo bank
at a fixed instant and point this clock at the same instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(UTC)


_clock: Clock = _system_clock


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return _clock().astimezone(UTC)


def set_clock(clock: Clock | None) -> None:
    """Use ``clock`` for :func:`utc_now`; ``None`` restores the system clock."""
    global _clock
    _clock = clock if clock is not None else _system_clock
