"""Card actions: delivery of a new card, freezing a card, and card-status questions."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta

from actions.attempted_steps import Outcome
from actions.base import AccountAction, Turn
from actions.formatting import age, card_label, day, money, reason_or_unknown, words
from demobank.models import Card, CardKind, CardStatus, TransactionKind, TransactionStatus
from demobank.queries import (
    IN_DELIVERY,
    active_physical_card,
    card_in_delivery,
    cards_for,
    freeze_card,
    latest_transaction,
)
from demobank.working_days import add_working_days, working_days_between

logger = logging.getLogger(__name__)

# A shipped card that has not arrived after this many working days is treated as lost in the
# post, and the customer can order a free replacement.
REPLACEMENT_AFTER_WORKING_DAYS = 10
# The delivery promise when the courier gave no due date.
STANDARD_DELIVERY_WORKING_DAYS = 5
# A replacement is sent automatically this long before a card expires.
AUTO_REPLACEMENT_BEFORE_EXPIRY = timedelta(days=30)
# "About to expire" means within this window; later expiries get the general explanation.
EXPIRY_SOON = timedelta(days=60)
# A declined payment this recent is probably what "my card isn't working" is about.
RECENT_DECLINE = timedelta(days=7)

_FROZEN_RESPONSES = {
    "lost_or_stolen_card": "utter_card_frozen_lost",
    "compromised_card": "utter_card_frozen_compromised",
    "card_swallowed": "utter_card_frozen_swallowed",
}
# Which card "my card isn't working" is most likely about: the first status present wins.
_NOT_WORKING_PRIORITY = (
    CardStatus.BLOCKED_PIN,
    CardStatus.FROZEN,
    CardStatus.DELIVERED,
    CardStatus.ACTIVE,
    CardStatus.EXPIRED,
)


class ActionCardDeliveryStatus(AccountAction):
    """Where the customer's new card is (card_arrival)."""

    intents = ("card_arrival",)
    step = "card_delivery_status"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_card_delivery_status"

    def handle(self, turn: Turn) -> None:
        """Report the status, dispatch and due dates of the card on its way."""
        card = card_in_delivery(turn.session, turn.customer.id)
        if card is None:
            turn.say("utter_card_none_in_transit")
            turn.record(Outcome.NOT_FOUND, "looked for a card on its way: none ordered or shipped")
            return
        if card.shipped_at is None:
            turn.say("utter_card_ordered", last4=card.last4, ordered_on=day(card.ordered_at))
            turn.record(
                Outcome.INFO,
                f"looked up {card_label(card)}: ordered {age(card.ordered_at, turn.now)} ago, "
                "not shipped yet",
            )
            return
        self._report_shipped(turn, card, card.shipped_at)

    def _report_shipped(self, turn: Turn, card: Card, shipped_at: datetime) -> None:
        shipped = shipped_at.date()
        today = turn.now.date()
        due = expected_delivery(card)
        replacement_from = add_working_days(shipped, REPLACEMENT_AFTER_WORKING_DAYS)
        values = {"last4": card.last4, "shipped_on": day(shipped), "due_on": day(due)}
        if today <= due:
            turn.say("utter_card_in_transit", **values)
            turn.record(
                Outcome.INFO,
                f"looked up {card_label(card)}: shipped {age(shipped_at, turn.now)} ago, "
                f"due {day(due)}",
            )
        elif today < replacement_from:
            turn.say("utter_card_delivery_late", replacement_on=day(replacement_from), **values)
            turn.record(
                Outcome.INFO,
                f"looked up {card_label(card)}: overdue since {day(due)}, free replacement "
                f"from {day(replacement_from)}",
            )
        else:
            shipped_days = working_days_between(shipped, today)
            turn.say("utter_card_delivery_lost", working_days=shipped_days, **values)
            turn.record(
                Outcome.INFO,
                f"looked up {card_label(card)}: shipped {shipped_days} working days ago, "
                "overdue; customer can order a free replacement",
            )


class ActionFreezeCard(AccountAction):
    """Freeze the customer's physical card (lost, stolen, compromised or swallowed).

    For a compromised card the base class then hands over to the security team: freezing is
    the first safe step, not the whole answer.
    """

    intents = ("lost_or_stolen_card", "compromised_card", "card_swallowed")
    step = "freeze_card"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_freeze_card"

    def handle(self, turn: Turn) -> None:
        """Freeze the active physical card and explain how to replace it."""
        card = active_physical_card(turn.session, turn.customer.id)
        if card is not None:
            freeze_card(turn.session, card.id, turn.now)
            turn.say(_FROZEN_RESPONSES[turn.intent], last4=card.last4)
            turn.record(Outcome.DONE, f"froze {card_label(card)}: done")
        else:
            frozen = cards_for(
                turn.session,
                turn.customer.id,
                statuses={CardStatus.FROZEN},
                kinds={CardKind.PHYSICAL},
            )
            if frozen:
                turn.say("utter_card_already_frozen", last4=frozen[0].last4)
                turn.record(Outcome.INFO, f"{card_label(frozen[0])} was already frozen")
            else:
                turn.say("utter_no_card_to_freeze")
                turn.record(Outcome.NOT_FOUND, "found no active physical card to freeze")
        turn.say("utter_order_replacement_card")


class ActionCardStatus(AccountAction):
    """Answers about the state of the customer's cards: activation, PIN block, expiry, faults."""

    intents = ("card_not_working", "activate_my_card", "pin_blocked", "card_about_to_expire")
    step = "card_status"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_card_status"

    def handle(self, turn: Turn) -> None:
        """Answer the card question ``turn.intent`` asks."""
        cards = cards_for(turn.session, turn.customer.id, kinds={CardKind.PHYSICAL})
        if not cards:
            turn.say("utter_card_none_found")
            turn.record(Outcome.NOT_FOUND, "found no physical card on the account")
            return
        if turn.intent == "activate_my_card":
            self._activation(turn, cards)
        elif turn.intent == "pin_blocked":
            self._pin_block(turn, cards)
        elif turn.intent == "card_about_to_expire":
            self._expiry(turn, cards)
        else:
            self._not_working(turn, cards)

    def _activation(self, turn: Turn, cards: Sequence[Card]) -> None:
        delivered = _first_with(cards, {CardStatus.DELIVERED})
        in_delivery = _first_with(cards, IN_DELIVERY)
        active = _first_with(cards, {CardStatus.ACTIVE})
        if delivered is not None:
            turn.say("utter_card_activate", last4=delivered.last4)
            turn.record(
                Outcome.INFO,
                f"{card_label(delivered)} delivered, not activated yet: explained activation",
            )
        elif in_delivery is not None:
            turn.say(
                "utter_card_activate_not_arrived",
                last4=in_delivery.last4,
                due_on=day(expected_delivery(in_delivery)),
            )
            turn.record(
                Outcome.INFO, f"{card_label(in_delivery)} still {words(in_delivery.status)}"
            )
        elif active is not None:
            turn.say("utter_card_already_active", last4=active.last4)
            turn.record(Outcome.INFO, f"{card_label(active)} is already active")
        else:
            turn.say("utter_card_none_to_activate")
            turn.record(Outcome.NOT_FOUND, "found no card waiting to be activated")

    def _pin_block(self, turn: Turn, cards: Sequence[Card]) -> None:
        blocked = _first_with(cards, {CardStatus.BLOCKED_PIN})
        if blocked is not None:
            turn.say("utter_card_pin_blocked", last4=blocked.last4)
            turn.record(
                Outcome.INFO,
                f"{card_label(blocked)} is PIN-blocked: explained unblocking at an ATM",
            )
            return
        card = cards[0]
        turn.say("utter_card_pin_not_blocked", last4=card.last4, status=words(card.status))
        turn.record(Outcome.NOT_FOUND, f"no PIN-blocked card; {card_label(card)} is {card.status}")

    def _expiry(self, turn: Turn, cards: Sequence[Card]) -> None:
        in_use = [c for c in cards if c.status in (CardStatus.ACTIVE, CardStatus.FROZEN)]
        if not in_use:
            turn.say("utter_card_none_found")
            turn.record(Outcome.NOT_FOUND, "found no card in use to check the expiry of")
            return
        card = min(in_use, key=lambda c: c.expires_on)
        replacement = next(
            (
                c
                for c in cards
                if c.ordered_at > card.ordered_at
                and c.status in (*IN_DELIVERY, CardStatus.DELIVERED)
            ),
            None,
        )
        expires_on = day(card.expires_on)
        auto_replacement_on = card.expires_on - AUTO_REPLACEMENT_BEFORE_EXPIRY
        today = turn.now.date()
        if replacement is not None and replacement.status is CardStatus.DELIVERED:
            turn.say(
                "utter_card_expiring_replacement_delivered",
                last4=card.last4,
                expires_on=expires_on,
                new_last4=replacement.last4,
            )
            summary = f"replacement {card_label(replacement)} already delivered"
        elif replacement is not None:
            turn.say(
                "utter_card_expiring_replacement_in_transit",
                last4=card.last4,
                expires_on=expires_on,
                new_last4=replacement.last4,
                due_on=day(expected_delivery(replacement)),
            )
            summary = f"replacement {card_label(replacement)} is {words(replacement.status)}"
        elif card.expires_on - today > EXPIRY_SOON:
            turn.say(
                "utter_card_not_expiring_soon",
                last4=card.last4,
                expires_on=expires_on,
                replacement_on=day(auto_replacement_on),
            )
            summary = f"automatic replacement due {day(auto_replacement_on)}"
        elif auto_replacement_on >= today:
            turn.say(
                "utter_card_expiring",
                last4=card.last4,
                expires_on=expires_on,
                replacement_on=day(auto_replacement_on),
            )
            summary = f"automatic replacement due {day(auto_replacement_on)}"
        else:
            # The automatic replacement should already exist; it does not, so say how to
            # order one rather than promise a card that is not coming.
            turn.say("utter_card_expiring_no_replacement", last4=card.last4, expires_on=expires_on)
            summary = "no replacement on its way: customer can order one"
        turn.record(Outcome.INFO, f"{card_label(card)} expires {expires_on}; {summary}")

    def _not_working(self, turn: Turn, cards: Sequence[Card]) -> None:
        card = next(
            (c for status in _NOT_WORKING_PRIORITY for c in cards if c.status is status), None
        )
        if card is None:
            turn.say("utter_card_none_found")
            turn.record(Outcome.NOT_FOUND, "found no card in use")
            return
        if card.status is CardStatus.BLOCKED_PIN:
            turn.say("utter_card_pin_blocked", last4=card.last4)
        elif card.status is CardStatus.FROZEN:
            frozen_on = day(card.frozen_at) if card.frozen_at else day(turn.now)
            turn.say("utter_card_is_frozen", last4=card.last4, frozen_on=frozen_on)
        elif card.status is CardStatus.DELIVERED:
            turn.say("utter_card_activate", last4=card.last4)
        elif card.status is CardStatus.EXPIRED:
            turn.say("utter_card_expired", last4=card.last4, expires_on=day(card.expires_on))
        else:
            self._active_card_not_working(turn, card)
            return
        turn.record(Outcome.INFO, f"{card_label(card)} is {words(card.status)}: explained")

    def _active_card_not_working(self, turn: Turn, card: Card) -> None:
        turn.say("utter_card_active_troubleshoot", last4=card.last4)
        declined = latest_transaction(
            turn.session,
            turn.customer.id,
            TransactionKind.CARD_PAYMENT,
            statuses={TransactionStatus.DECLINED},
        )
        if declined is not None and turn.now - declined.created_at <= RECENT_DECLINE:
            turn.say(
                "utter_card_payment_declined",
                amount=money(declined.amount, declined.currency),
                merchant=declined.merchant,
                date=day(declined.created_at),
                reason=reason_or_unknown(declined.decline_reason),
            )
            turn.record(
                Outcome.INFO,
                f"{card_label(card)} is active; latest decline {declined.id}: "
                f"{declined.decline_reason}",
            )
        else:
            turn.record(Outcome.INFO, f"{card_label(card)} is active, no recent declines")


def expected_delivery(card: Card) -> date:
    """The card's due date, else the standard promise counted from dispatch (or order)."""
    if card.delivery_due is not None:
        return card.delivery_due
    sent = card.shipped_at or card.ordered_at
    return add_working_days(sent.date(), STANDARD_DELIVERY_WORKING_DAYS)


def _first_with(cards: Sequence[Card], statuses: Collection[CardStatus]) -> Card | None:
    return next((card for card in cards if card.status in statuses), None)
