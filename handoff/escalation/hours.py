"""A team's business hours: pure, the time passed in.

``data/escalation.yml`` gives each team ``business_hours: always`` or a weekly window such as
``{days: mon-fri, start: "08:00", end: "20:00", timezone: Europe/Paris}``. The window is read in
its own time zone, so a Paris team opens at 08:00 Paris time whatever the server's clock says,
daylight saving included. :func:`is_open` says whether a team is open at ``now``;
:func:`next_opening` when it opens again.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = ["ALWAYS", "BusinessHours", "Hours", "is_open", "next_opening"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "always"


def _parse_days(value: Any) -> Any:
    # "mon-fri", "mon,wed,fri", "sat-sun" or a list of day names; Monday is 0.
    if isinstance(value, str):
        parts = [part.strip().lower() for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple | set | frozenset):
        parts = [str(part).strip().lower() for part in value]
    else:
        raise ValueError(f"expected days such as mon-fri or [mon, wed], got {value!r}")
    days: set[int] = set()
    for part in parts:
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(f"unknown day in {part!r}; days are {', '.join(DAY_NAMES)}")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        span = range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)]
        days.update(span)
    if not days:
        raise ValueError("days must name at least one day")
    return frozenset(days)


class BusinessHours(BaseModel):
    """Open on ``days`` (Monday is 0) from ``start`` to ``end``, local time of ``timezone``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: frozenset[int]
    start: time
    end: time
    timezone: str

    _parse = field_validator("days", mode="before")(lambda cls, value: _parse_days(value))

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted_time(cls, value: Any) -> Any:
        # YAML reads an unquoted 08:00 as the number 480 (base 60): refuse it, do not guess.
        if isinstance(value, int | float):
            raise ValueError(f'write the time in quotes, such as "08:00", got {value!r}')
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as "
                             "Europe/Paris") from None  # fmt: skip
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> BusinessHours:
        if self.start >= self.end:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The time zone the window is read in."""
        return ZoneInfo(self.timezone)


Hours = BusinessHours | Literal["always"]
"""A team's hours: a weekly window, or ``"always"`` open."""


def is_open(hours: Hours, now: datetime) -> bool:
    """Whether a team with ``hours`` is open at ``now`` (timezone-aware)."""
    if hours == ALWAYS:
        return True
    assert isinstance(hours, BusinessHours)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(hours.zone)
    return local.weekday() in hours.days and hours.start <= local.time() < hours.end


def next_opening(hours: Hours, now: datetime) -> datetime | None:
    """When the team opens next, in its own time zone; ``None`` while it is open."""
    if is_open(hours, now):
        return None
    assert isinstance(hours, BusinessHours)
    local = now.astimezone(hours.zone)
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in hours.days:
            continue
        opening = datetime.combine(day, hours.start, tzinfo=hours.zone)
        if opening > local:
            return opening
    raise AssertionError("a week always holds an opening")  # days is never empty
