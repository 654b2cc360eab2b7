"""Formatting of bank values for template variables and step summaries.

Only values are formatted here; the sentences around them live in the domain's responses.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from demobank.models import Card, TransferRail

# Filled into a "{reason}" slot of a response when the bank recorded no reason.
UNKNOWN_REASON = "no reason was recorded"

_CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
_RAIL_NAMES = {
    TransferRail.FASTER_PAYMENTS: "Faster Payments",
    TransferRail.SEPA: "SEPA",
    TransferRail.SWIFT: "SWIFT",
}


def money(amount: Decimal, currency: str) -> str:
    """``£89.99``; currencies without a well-known symbol as ``89.99 CHF``."""
    symbol = _CURRENCY_SYMBOLS.get(currency)
    if symbol is None:
        return f"{amount:,.2f} {currency}"
    return f"{symbol}{amount:,.2f}"


def day(value: date | datetime) -> str:
    """``25 November 2024`` (a datetime is taken in UTC, the bank's timezone)."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return f"{value.day} {value:%B %Y}"


def age(since: datetime, now: datetime) -> str:
    """How long ago ``since`` was: ``2 days``, ``1 day``, ``5 hours``, ``a few minutes``."""
    elapsed = now - since
    days = elapsed.days
    if days >= 1:
        return f"{days} day" if days == 1 else f"{days} days"
    hours = int(elapsed.total_seconds() // 3600)
    if hours >= 1:
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return "a few minutes"


def card_label(card: Card) -> str:
    """``card ending 4242``."""
    return f"card ending {card.last4}"


def rail_name(rail: TransferRail) -> str:
    """The payment scheme's public name, e.g. ``Faster Payments``."""
    return _RAIL_NAMES[rail]


def words(value: str) -> str:
    """An enum value as words: ``blocked_pin`` -> ``blocked pin``."""
    return value.replace("_", " ")


def bullet_list(lines: list[str]) -> str:
    """Lines as a newline-separated bulleted list, for a single template variable."""
    return "\n".join(f"• {line}" for line in lines)


def reason_or_unknown(reason: str | None) -> str:
    """The recorded reason, or :data:`UNKNOWN_REASON`."""
    return reason or UNKNOWN_REASON
