"""Top-up limits per customer tier: the one table the bank and the assistant read them from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from demobank.models import CustomerTier

LIMITS_CURRENCY = "GBP"


@dataclass(frozen=True)
class TopUpLimits:
    """How much a customer on one tier may add to the account, in :data:`LIMITS_CURRENCY`."""

    tier: CustomerTier
    per_top_up: Decimal
    daily: Decimal
    monthly: Decimal
    free_card_top_ups_per_month: int


TOP_UP_LIMITS: Mapping[CustomerTier, TopUpLimits] = MappingProxyType(
    {
        CustomerTier.STANDARD: TopUpLimits(
            CustomerTier.STANDARD, Decimal("2000"), Decimal("3000"), Decimal("10000"), 3
        ),
        CustomerTier.PLUS: TopUpLimits(
            CustomerTier.PLUS, Decimal("5000"), Decimal("10000"), Decimal("30000"), 10
        ),
        CustomerTier.PREMIUM: TopUpLimits(
            CustomerTier.PREMIUM, Decimal("10000"), Decimal("25000"), Decimal("100000"), 50
        ),
    }
)


def top_up_limits_for(tier: CustomerTier) -> TopUpLimits:
    """The top-up limits of ``tier``."""
    return TOP_UP_LIMITS[tier]
