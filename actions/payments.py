"""Payment actions: card payments, cash withdrawals and payments the customer doesn't recognise."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from actions.attempted_steps import Outcome
from actions.base import AccountAction, Turn
from actions.formatting import bullet_list, card_label, day, money, reason_or_unknown, words
from demobank.models import CardStatus, Transaction, TransactionKind, TransactionStatus
from demobank.queries import (
    active_physical_card,
    duplicate_card_payments,
    get_card,
    latest_card_payment_with_fee,
    latest_transaction,
    recent_transactions,
)

logger = logging.getLogger(__name__)

# How far back "charged twice" looks; older duplicates are a dispute, not a lookup.
DUPLICATE_LOOKBACK = timedelta(days=30)
UNRECOGNISED_LIST_LENGTH = 3
# Declined payments never took money, so they are not what a customer "doesn't recognise".
_TOOK_MONEY = frozenset({TransactionStatus.PENDING, TransactionStatus.COMPLETED})


def transaction_values(transaction: Transaction) -> dict[str, Any]:
    """The template values every payment response can use."""
    return {
        "transaction_id": transaction.id,
        "amount": money(transaction.amount, transaction.currency),
        "merchant": transaction.merchant,
        "date": day(transaction.created_at),
        "status": words(transaction.status),
        "reason": reason_or_unknown(transaction.decline_reason),
    }


def transaction_line(transaction: Transaction) -> str:
    """``£89.99 at SQ *HARBOUR LIGHTS on 26 November 2024 (completed)``."""
    values = transaction_values(transaction)
    return f"{values['amount']} at {values['merchant']} on {values['date']} ({values['status']})"


def _lookup_summary(transaction: Transaction) -> str:
    summary = (
        f"looked up {words(transaction.kind)} {transaction.id} "
        f"({money(transaction.amount, transaction.currency)} at {transaction.merchant}): "
        f"{words(transaction.status)}"
    )
    if transaction.decline_reason:
        summary += f" ({transaction.decline_reason})"
    return summary


class _TransactionStatusAction(AccountAction):
    """Reports the latest transaction of one kind in the status an intent asks about."""

    kind: ClassVar[TransactionKind]
    # intent -> (statuses to look for, response when found)
    lookups: ClassVar[Mapping[str, tuple[frozenset[TransactionStatus], str]]]
    none_response: ClassVar[str]

    def report_latest(self, turn: Turn) -> None:
        """Report the latest matching transaction, or that there is none."""
        statuses, response = self.lookups[turn.intent]
        transaction = latest_transaction(turn.session, turn.customer.id, self.kind, statuses)
        if transaction is None:
            wanted = " or ".join(sorted(words(status) for status in statuses))
            turn.say(self.none_response, status=wanted)
            turn.record(Outcome.NOT_FOUND, f"no {wanted} {words(self.kind)} found")
            return
        turn.say(response, **transaction_values(transaction))
        turn.record(Outcome.INFO, _lookup_summary(transaction))


class ActionCardPaymentStatus(_TransactionStatusAction):
    """Pending, declined, reverted, duplicated or unexpected card payments and their fees."""

    intents = (
        "pending_card_payment",
        "declined_card_payment",
        "reverted_card_payment?",
        "transaction_charged_twice",
        "extra_charge_on_statement",
        "card_payment_fee_charged",
    )
    step = "card_payment_status"
    kind = TransactionKind.CARD_PAYMENT
    lookups = {
        "pending_card_payment": (
            frozenset({TransactionStatus.PENDING}),
            "utter_card_payment_pending",
        ),
        "declined_card_payment": (
            frozenset({TransactionStatus.DECLINED}),
            "utter_card_payment_declined",
        ),
        "reverted_card_payment?": (
            frozenset({TransactionStatus.REVERTED}),
            "utter_card_payment_reverted",
        ),
    }
    none_response = "utter_card_payment_none_with_status"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_card_payment_status"

    def handle(self, turn: Turn) -> None:
        """Answer the card-payment question ``turn.intent`` asks."""
        if turn.intent == "transaction_charged_twice":
            self._duplicates(turn)
        elif turn.intent == "extra_charge_on_statement":
            self._recent_charges(turn)
        elif turn.intent == "card_payment_fee_charged":
            self._fee(turn)
        else:
            self.report_latest(turn)

    def _duplicates(self, turn: Turn) -> None:
        pairs = duplicate_card_payments(
            turn.session, turn.customer.id, since=turn.now - DUPLICATE_LOOKBACK
        )
        if not pairs:
            turn.say("utter_card_payment_no_duplicate")
            turn.record(Outcome.NOT_FOUND, "no duplicate card payments in the last 30 days")
            return
        pair = pairs[0]
        turn.say(
            "utter_card_payment_duplicate",
            amount=money(pair.first.amount, pair.first.currency),
            merchant=pair.first.merchant,
            date=day(pair.first.created_at),
            first_id=pair.first.id,
            first_status=words(pair.first.status),
            second_id=pair.second.id,
            second_status=words(pair.second.status),
        )
        turn.record(
            Outcome.INFO,
            f"found duplicate charge {pair.first.id}/{pair.second.id}: 2 x "
            f"{money(pair.first.amount, pair.first.currency)} at {pair.first.merchant}",
        )

    def _recent_charges(self, turn: Turn) -> None:
        payments = recent_transactions(
            turn.session, turn.customer.id, self.kind, 3, statuses=_TOOK_MONEY
        )
        if not payments:
            turn.say("utter_card_payment_none_recent")
            turn.record(Outcome.NOT_FOUND, "no recent card payments")
            return
        turn.say(
            "utter_card_payment_recent_charges",
            payments=bullet_list([transaction_line(p) for p in payments]),
        )
        turn.record(
            Outcome.INFO,
            f"listed last {len(payments)} card payments: "
            + ", ".join(f"{p.merchant} {money(p.amount, p.currency)}" for p in payments),
        )

    def _fee(self, turn: Turn) -> None:
        payment = latest_card_payment_with_fee(turn.session, turn.customer.id)
        if payment is None or payment.fee is None:
            turn.say("utter_card_payment_no_fee")
            turn.record(Outcome.NOT_FOUND, "no card payment with a fee")
            return
        turn.say(
            "utter_card_payment_fee",
            fee=money(payment.fee, payment.currency),
            tier=turn.customer.tier.value,
            **transaction_values(payment),
        )
        turn.record(
            Outcome.INFO,
            f"found fee {money(payment.fee, payment.currency)} on {payment.id} at "
            f"{payment.merchant}",
        )


class ActionCashWithdrawalStatus(_TransactionStatusAction):
    """Pending and declined cash withdrawals, and receiving the wrong amount of cash."""

    intents = (
        "pending_cash_withdrawal",
        "declined_cash_withdrawal",
        "wrong_amount_of_cash_received",
    )
    step = "cash_withdrawal_status"
    kind = TransactionKind.CASH_WITHDRAWAL
    lookups = {
        "pending_cash_withdrawal": (
            frozenset({TransactionStatus.PENDING}),
            "utter_cash_withdrawal_pending",
        ),
        "declined_cash_withdrawal": (
            frozenset({TransactionStatus.DECLINED}),
            "utter_cash_withdrawal_declined",
        ),
        # The ATM dispensed something, so the withdrawal went through (or is settling).
        "wrong_amount_of_cash_received": (
            _TOOK_MONEY,
            "utter_cash_withdrawal_wrong_amount",
        ),
    }
    none_response = "utter_cash_withdrawal_none_with_status"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_cash_withdrawal_status"

    def handle(self, turn: Turn) -> None:
        """Report the latest withdrawal in the state ``turn.intent`` asks about."""
        self.report_latest(turn)


_UNRECOGNISED = {
    "card_payment_not_recognised": (
        TransactionKind.CARD_PAYMENT,
        "utter_unrecognised_card_payments",
        "utter_unrecognised_no_card_payments",
    ),
    "cash_withdrawal_not_recognised": (
        TransactionKind.CASH_WITHDRAWAL,
        "utter_unrecognised_cash_withdrawals",
        "utter_unrecognised_no_cash_withdrawals",
    ),
    "direct_debit_payment_not_recognised": (
        TransactionKind.DIRECT_DEBIT,
        "utter_unrecognised_direct_debits",
        "utter_unrecognised_no_direct_debits",
    ),
}


class ActionReviewUnrecognisedPayments(AccountAction):
    """Show the latest payments of the kind the customer doesn't recognise, advise the safe
    step (freeze the card, or cancel the mandate), then hand over to the disputes team.

    The handoff itself is done by the base class (``possible_fraud`` for these intents).
    """

    intents = tuple(_UNRECOGNISED)
    step = "review_unrecognised_payments"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_review_unrecognised_payments"

    def handle(self, turn: Turn) -> None:
        """List the last payments of the kind, then give the first safe step."""
        kind, list_response, none_response = _UNRECOGNISED[turn.intent]
        payments = recent_transactions(
            turn.session, turn.customer.id, kind, UNRECOGNISED_LIST_LENGTH, statuses=_TOOK_MONEY
        )
        if payments:
            turn.say(list_response, payments=bullet_list([transaction_line(p) for p in payments]))
            turn.record(
                Outcome.INFO,
                f"listed last {len(payments)} {words(kind)}s: "
                + ", ".join(f"{p.merchant} {money(p.amount, p.currency)}" for p in payments),
            )
        else:
            turn.say(none_response)
            turn.record(Outcome.NOT_FOUND, f"no recent {words(kind)}s on the account")
        if kind is TransactionKind.DIRECT_DEBIT:
            turn.say("utter_advise_direct_debit")
            return
        self._advise_freezing(turn, payments)

    def _advise_freezing(self, turn: Turn, payments: list[Transaction]) -> None:
        # The card used for the newest listed payment is the one at risk; without one, the
        # customer's everyday physical card.
        card_id = next((p.card_id for p in payments if p.card_id), None)
        card = (
            get_card(turn.session, card_id)
            if card_id
            else active_physical_card(turn.session, turn.customer.id)
        )
        if card is None:
            return
        if card.status is CardStatus.ACTIVE:
            turn.say("utter_advise_freeze_card", last4=card.last4)
            turn.record(Outcome.INFO, f"advised freezing {card_label(card)}", step="advise_freeze")
        elif card.status is CardStatus.FROZEN:
            turn.say("utter_card_already_frozen", last4=card.last4)
