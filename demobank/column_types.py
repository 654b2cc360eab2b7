"""Column types shared by the demo bank's models."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite has no timezone-aware timestamp type and hands back naive values, so the offset is
    normalised to UTC on the way in and re-attached on the way out. Naive datetimes are
    rejected rather than guessed at: a silently wrong "since 2 days" is worse than an error.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC (naive for backends without timezone support)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the demo bank stores aware UTC times")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column_type(enum_class: type[StrEnum]) -> Enum:
    """An ``Enum`` type that stores the members' string values, not their Python names.

    Storing values keeps the database readable ("blocked_pin", not "BLOCKED_PIN") and lets a
    member be renamed in Python without a data migration. A VARCHAR is used instead of a native
    enum so adding a status is not a schema change on PostgreSQL.
    """

    def _values(members: Any) -> list[str]:
        return [member.value for member in members]

    return Enum(
        enum_class,
        native_enum=False,
        values_callable=_values,
        validate_strings=True,
        length=max(len(member.value) for member in enum_class),
    )
