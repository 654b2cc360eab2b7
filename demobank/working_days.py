"""Working-day arithmetic (Monday to Friday; the demo bank has no holiday calendar)."""

from __future__ import annotations

from datetime import date, timedelta

_SATURDAY = 5


def is_working_day(day: date) -> bool:
    """True from Monday to Friday."""
    return day.weekday() < _SATURDAY


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (before it when ``days`` is negative).

    ``start`` itself is not counted, so ``add_working_days(friday, 1)`` is the next Monday.
    """
    step = 1 if days >= 0 else -1
    remaining = abs(days)
    current = start
    while remaining:
        current += timedelta(days=step)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """How many working days lie after ``start`` up to and including ``end`` (negative if
    ``end`` is earlier)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(
        1
        for offset in range(1, (end - start).days + 1)
        if is_working_day(start + timedelta(offset))
    )
