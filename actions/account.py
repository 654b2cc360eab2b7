"""Account-level actions: what closing the account involves, and top-up limits per tier."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from actions.attempted_steps import Outcome
from actions.base import AccountAction, Turn
from actions.formatting import bullet_list, card_label, money, words
from demobank.limits import LIMITS_CURRENCY, TOP_UP_LIMITS, top_up_limits_for
from demobank.models import TransferDirection
from demobank.queries import AccountSnapshot, account_snapshot

logger = logging.getLogger(__name__)


def pending_item_lines(snapshot: AccountSnapshot) -> list[str]:
    """One line per item still in flight, e.g. ``transfer T-1009: €250.00 to Lena Fischer``."""
    lines = [
        f"{words(t.direction)} transfer {t.id}: {money(t.amount, t.currency)} "
        f"{'to' if t.direction is TransferDirection.OUTGOING else 'from'} {t.counterparty}"
        for t in snapshot.pending_transfers
    ]
    lines += [
        f"top-up {u.id}: {money(u.amount, u.currency)} by {words(u.method)}"
        for u in snapshot.pending_top_ups
    ]
    lines += [
        f"{words(p.kind)} {p.id}: {money(p.amount, p.currency)} at {p.merchant}"
        for p in snapshot.pending_card_payments
    ]
    lines += [
        f"refund {r.id}: {money(r.amount, r.currency)} from {r.merchant}"
        for r in snapshot.open_refunds
    ]
    return lines


class ActionAccountOverview(AccountAction):
    """Before an account is closed: what is still in flight and what closing involves.

    The base class then hands over to the relationship team (``churn_risk``).
    """

    intents = ("terminate_account",)
    step = "account_overview"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_account_overview"

    def handle(self, turn: Turn) -> None:
        """Summarise pending items and cards, then explain the closing steps."""
        snapshot = account_snapshot(turn.session, turn.customer.id)
        pending = pending_item_lines(snapshot)
        if pending:
            turn.say("utter_account_overview_pending", items=bullet_list(pending))
        else:
            turn.say("utter_account_overview_nothing_pending")
        if snapshot.usable_cards:
            cards = [
                f"{card_label(c)} ({words(c.kind)}, {words(c.status)})"
                for c in snapshot.usable_cards
            ]
            turn.say("utter_account_overview_cards", cards=bullet_list(cards))
        turn.say("utter_account_closing_steps")
        turn.record(
            Outcome.INFO,
            f"summarised the account before closing: {len(pending)} item(s) in progress, "
            f"{len(snapshot.usable_cards)} card(s) to cancel",
        )


class ActionTierLimits(AccountAction):
    """The customer's top-up limits, which depend on their tier."""

    intents = ("top_up_limits",)
    step = "tier_limits"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_tier_limits"

    def handle(self, turn: Turn) -> None:
        """Tell the customer the limits of their own tier."""
        limits = top_up_limits_for(turn.customer.tier)
        turn.say(
            "utter_top_up_limits",
            tier=limits.tier.value,
            per_top_up=money(limits.per_top_up, LIMITS_CURRENCY),
            daily=money(limits.daily, LIMITS_CURRENCY),
            monthly=money(limits.monthly, LIMITS_CURRENCY),
            free_card_top_ups=limits.free_card_top_ups_per_month,
        )
        turn.record(Outcome.INFO, f"told the top-up limits of the {limits.tier.value} tier")

    def general_guidance_values(self) -> Mapping[str, Any]:
        """Every tier's limits, for a customer who is not signed in."""
        return {
            "limits_by_tier": bullet_list(
                [
                    f"{limits.tier.value}: {money(limits.per_top_up, LIMITS_CURRENCY)} / "
                    f"{money(limits.daily, LIMITS_CURRENCY)} / "
                    f"{money(limits.monthly, LIMITS_CURRENCY)}"
                    for limits in TOP_UP_LIMITS.values()
                ]
            )
        }
