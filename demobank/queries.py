"""Read and write operations on the demo bank, as the assistant's actions use them.

Every function takes the caller's session and neither commits nor closes it: the caller's
unit of work (``demobank.db.session_scope``) decides. "Latest" always means most recent by
the record's creation time, with the id as a tie-breaker so answers are deterministic.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from demobank.exceptions import (
    CardNotFound,
    CustomerNotFound,
    OperationNotAllowed,
    TransferNotFound,
)
from demobank.models import (
    Card,
    CardKind,
    CardStatus,
    Customer,
    Refund,
    RefundStatus,
    TopUp,
    TopUpStatus,
    Transaction,
    TransactionKind,
    TransactionStatus,
    Transfer,
    TransferDirection,
    TransferRail,
    TransferStatus,
)

logger = logging.getLogger(__name__)

IN_DELIVERY: frozenset[CardStatus] = frozenset({CardStatus.ORDERED, CardStatus.SHIPPED})
OPEN_REFUND: frozenset[RefundStatus] = frozenset({RefundStatus.REQUESTED, RefundStatus.PROCESSING})
# Two identical charges this close together are almost always one purchase charged twice.
DUPLICATE_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class DuplicateCharge:
    """Two card payments with the same card, merchant, amount and currency, close in time."""

    first: Transaction
    second: Transaction


@dataclass(frozen=True)
class AccountSnapshot:
    """What is still in flight on an account, e.g. before the customer closes it."""

    pending_transfers: tuple[Transfer, ...]
    pending_top_ups: tuple[TopUp, ...]
    pending_card_payments: tuple[Transaction, ...]
    open_refunds: tuple[Refund, ...]
    usable_cards: tuple[Card, ...]


def get_customer(session: Session, customer_id: str) -> Customer:
    """The customer with ``customer_id``; raises :class:`CustomerNotFound`."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFound(customer_id)
    return customer


def list_customers(session: Session) -> list[Customer]:
    """All customers, by id."""
    return list(session.scalars(select(Customer).order_by(Customer.id)))


def get_card(session: Session, card_id: str) -> Card:
    """The card with ``card_id``; raises :class:`CardNotFound`."""
    card = session.get(Card, card_id)
    if card is None:
        raise CardNotFound(card_id)
    return card


def cards_for(
    session: Session,
    customer_id: str,
    *,
    statuses: Collection[CardStatus] | None = None,
    kinds: Collection[CardKind] | None = None,
) -> list[Card]:
    """The customer's cards, most recently ordered first, optionally filtered."""
    query = select(Card).where(Card.customer_id == customer_id)
    if statuses is not None:
        query = query.where(Card.status.in_(list(statuses)))
    if kinds is not None:
        query = query.where(Card.kind.in_(list(kinds)))
    return list(session.scalars(query.order_by(Card.ordered_at.desc(), Card.id.desc())))


def card_in_delivery(session: Session, customer_id: str) -> Card | None:
    """The most recently ordered card that is ordered or shipped but not yet delivered."""
    cards = cards_for(session, customer_id, statuses=IN_DELIVERY)
    return cards[0] if cards else None


def active_physical_card(session: Session, customer_id: str) -> Card | None:
    """The customer's most recently ordered active physical card, if any."""
    cards = cards_for(session, customer_id, statuses={CardStatus.ACTIVE}, kinds={CardKind.PHYSICAL})
    return cards[0] if cards else None


def freeze_card(session: Session, card_id: str, now: datetime) -> Card:
    """Freeze an active card so no new payment or withdrawal can go through.

    Raises :class:`CardNotFound`, or :class:`OperationNotAllowed` when the card is not active
    (a frozen card is already safe; a cancelled or expired one cannot be used anyway).
    """
    card = get_card(session, card_id)
    if card.status is not CardStatus.ACTIVE:
        raise OperationNotAllowed(f"card {card_id} is {card.status.value}, not active")
    card.status = CardStatus.FROZEN
    card.frozen_at = now
    session.flush()
    logger.info("froze card %s of customer %s", card.id, card.customer_id)
    return card


def latest_transfer(
    session: Session,
    customer_id: str,
    statuses: Collection[TransferStatus] | None = None,
    *,
    direction: TransferDirection | None = TransferDirection.OUTGOING,
) -> Transfer | None:
    """The customer's most recent transfer in ``direction`` (any when None), optionally
    restricted to ``statuses``."""
    query = select(Transfer).where(Transfer.customer_id == customer_id)
    if direction is not None:
        query = query.where(Transfer.direction == direction)
    if statuses is not None:
        query = query.where(Transfer.status.in_(list(statuses)))
    query = query.order_by(Transfer.created_at.desc(), Transfer.id.desc()).limit(1)
    return session.scalars(query).first()


def is_cancellable(transfer: Transfer) -> bool:
    """A transfer can be recalled while pending, unless it went by Faster Payments, which
    settle instantly and are final once sent."""
    return (
        transfer.status is TransferStatus.PENDING
        and transfer.rail is not TransferRail.FASTER_PAYMENTS
    )


def cancel_transfer(session: Session, transfer_id: str) -> Transfer:
    """Cancel a pending, recallable transfer; the money stays in the customer's account.

    Raises :class:`TransferNotFound`, or :class:`OperationNotAllowed` when
    :func:`is_cancellable` says no.
    """
    transfer = session.get(Transfer, transfer_id)
    if transfer is None:
        raise TransferNotFound(transfer_id)
    if not is_cancellable(transfer):
        raise OperationNotAllowed(
            f"transfer {transfer_id} is {transfer.status.value} via {transfer.rail.value}"
        )
    transfer.status = TransferStatus.CANCELLED
    session.flush()
    logger.info("cancelled transfer %s of customer %s", transfer.id, transfer.customer_id)
    return transfer


def recent_transactions(
    session: Session,
    customer_id: str,
    kind: TransactionKind,
    limit: int = 3,
    *,
    statuses: Collection[TransactionStatus] | None = None,
) -> list[Transaction]:
    """The customer's ``limit`` most recent transactions of ``kind``, newest first."""
    query = select(Transaction).where(
        Transaction.customer_id == customer_id, Transaction.kind == kind
    )
    if statuses is not None:
        query = query.where(Transaction.status.in_(list(statuses)))
    query = query.order_by(Transaction.created_at.desc(), Transaction.id.desc()).limit(limit)
    return list(session.scalars(query))


def latest_transaction(
    session: Session,
    customer_id: str,
    kind: TransactionKind,
    statuses: Collection[TransactionStatus] | None = None,
) -> Transaction | None:
    """The customer's most recent transaction of ``kind`` (and one of ``statuses``)."""
    found = recent_transactions(session, customer_id, kind, 1, statuses=statuses)
    return found[0] if found else None


def latest_card_payment_with_fee(session: Session, customer_id: str) -> Transaction | None:
    """The customer's most recent card payment that carried a fee."""
    query = (
        select(Transaction)
        .where(
            Transaction.customer_id == customer_id,
            Transaction.kind == TransactionKind.CARD_PAYMENT,
            Transaction.fee.is_not(None),
            Transaction.fee > 0,
        )
        .order_by(Transaction.created_at.desc(), Transaction.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def duplicate_card_payments(
    session: Session, customer_id: str, since: datetime
) -> list[DuplicateCharge]:
    """Pairs of card payments since ``since`` that look like one purchase charged twice.

    Declined and reverted payments are ignored: they never took money. Newest pair first.
    """
    payments: Sequence[Transaction] = list(
        session.scalars(
            select(Transaction)
            .where(
                Transaction.customer_id == customer_id,
                Transaction.kind == TransactionKind.CARD_PAYMENT,
                Transaction.status.in_([TransactionStatus.PENDING, TransactionStatus.COMPLETED]),
                Transaction.created_at >= since,
            )
            .order_by(Transaction.created_at, Transaction.id)
        )
    )
    pairs: list[DuplicateCharge] = []
    for earlier, later in zip(payments, payments[1:], strict=False):
        if (
            earlier.card_id == later.card_id
            and earlier.merchant == later.merchant
            and earlier.amount == later.amount
            and earlier.currency == later.currency
            and later.created_at - earlier.created_at <= DUPLICATE_WINDOW
        ):
            pairs.append(DuplicateCharge(first=earlier, second=later))
    return list(reversed(pairs))


def latest_top_up(
    session: Session, customer_id: str, statuses: Collection[TopUpStatus] | None = None
) -> TopUp | None:
    """The customer's most recent top-up, optionally one of ``statuses``."""
    query = select(TopUp).where(TopUp.customer_id == customer_id)
    if statuses is not None:
        query = query.where(TopUp.status.in_(list(statuses)))
    query = query.order_by(TopUp.created_at.desc(), TopUp.id.desc()).limit(1)
    return session.scalars(query).first()


def latest_refund(
    session: Session, customer_id: str, statuses: Collection[RefundStatus] | None = None
) -> Refund | None:
    """The customer's most recently requested refund, optionally one of ``statuses``."""
    query = select(Refund).where(Refund.customer_id == customer_id)
    if statuses is not None:
        query = query.where(Refund.status.in_(list(statuses)))
    query = query.order_by(Refund.requested_at.desc(), Refund.id.desc()).limit(1)
    return session.scalars(query).first()


def account_snapshot(session: Session, customer_id: str) -> AccountSnapshot:
    """Everything still in flight on the account, plus the cards that can still be used."""
    pending_transfers = session.scalars(
        select(Transfer)
        .where(Transfer.customer_id == customer_id, Transfer.status == TransferStatus.PENDING)
        .order_by(Transfer.created_at, Transfer.id)
    )
    pending_top_ups = session.scalars(
        select(TopUp)
        .where(TopUp.customer_id == customer_id, TopUp.status == TopUpStatus.PENDING)
        .order_by(TopUp.created_at, TopUp.id)
    )
    pending_payments = session.scalars(
        select(Transaction)
        .where(
            Transaction.customer_id == customer_id,
            Transaction.status == TransactionStatus.PENDING,
        )
        .order_by(Transaction.created_at, Transaction.id)
    )
    open_refunds = session.scalars(
        select(Refund)
        .where(Refund.customer_id == customer_id, Refund.status.in_(list(OPEN_REFUND)))
        .order_by(Refund.requested_at, Refund.id)
    )
    usable = cards_for(
        session,
        customer_id,
        statuses={CardStatus.ACTIVE, CardStatus.FROZEN, CardStatus.BLOCKED_PIN},
    )
    return AccountSnapshot(
        pending_transfers=tuple(pending_transfers),
        pending_top_ups=tuple(pending_top_ups),
        pending_card_payments=tuple(pending_payments),
        open_refunds=tuple(open_refunds),
        usable_cards=tuple(usable),
    )
