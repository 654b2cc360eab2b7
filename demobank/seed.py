"""Demo customers whose accounts exercise every answer the assistant can give.

Every date is relative to ``now``, so a freshly seeded bank always shows a card "due in 3
days" and a transfer "pending for 2 days". Ids are fixed, and rows are merged by primary key,
so seeding again never duplicates anything: it puts the seeded rows back to their seeded state
(undoing a demo freeze or cancellation) and leaves rows that are not part of the seed alone.

Who is who (the situations the assistant's actions are demonstrated with):

* ``cus_1001`` Alice Moreau, standard: new card ending 5531 shipped 2 working days ago and due in
  3 days; outgoing SEPA transfer T-1009 pending for 2 days (cancellable); pending top-up.
* ``cus_1002`` Ben Okafor, premium: active card ending 4242 with a payment he may not recognise,
  a pending card payment, a payment with a foreign-currency fee, a refund being processed and an
  incoming SWIFT transfer on its way.
* ``cus_1003`` Chloé Martin, plus: PIN-blocked card ending 3310, a failed and a declined
  transfer, a declined card payment and cash withdrawal, a rejected refund.
* ``cus_1004`` Dmitri Ivanov, standard: card ending 8812 about to expire with its replacement
  (9034) delivered but not activated, a reverted and a failed top-up, a duplicate charge, a
  reverted card payment.
* ``cus_1005`` Elena Rossi, premium: frozen card ending 2077, a pending and a declined cash
  withdrawal, direct debits including one from an unknown company.
* ``cus_1006`` Farid Haddad, plus: card ending 6021 lost in the post (shipped 14 working days
  ago), a Faster Payments transfer held for checks (not cancellable), an overdue refund.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from demobank.db import create_schema, session_factory, session_scope
from demobank.models import (
    Base,
    Card,
    CardKind,
    CardNetwork,
    CardStatus,
    Customer,
    CustomerTier,
    Refund,
    RefundStatus,
    TopUp,
    TopUpMethod,
    TopUpStatus,
    Transaction,
    TransactionKind,
    TransactionStatus,
    Transfer,
    TransferDirection,
    TransferRail,
    TransferStatus,
)
from demobank.working_days import add_working_days

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeedSummary:
    """How many rows of each kind the seed wrote (inserted or reset)."""

    customers: int
    cards: int
    transactions: int
    transfers: int
    top_ups: int
    refunds: int

    def describe(self) -> str:
        """One human-readable line, e.g. for a CLI."""
        return (
            f"{self.customers} customers, {self.cards} cards, {self.transactions} transactions, "
            f"{self.transfers} transfers, {self.top_ups} top-ups, {self.refunds} refunds"
        )


def create_demo_bank(engine: Engine, now: datetime) -> SeedSummary:
    """Create any missing tables and seed the demo customers, in one committed transaction."""
    create_schema(engine)
    with session_scope(session_factory(engine)) as session:
        return seed_demo_bank(session, now)


def seed_demo_bank(session: Session, now: datetime) -> SeedSummary:
    """Insert, or reset to their seeded state, the demo customers and their accounts.

    The caller owns the transaction: rows are flushed, not committed.
    """
    if now.tzinfo is None:
        raise ValueError("seed_demo_bank needs an aware datetime for `now`")
    now = now.astimezone(UTC)
    rows = demo_rows(now)
    # Parents before children so foreign keys hold at every flush.
    for row in rows:
        session.merge(row)
    session.flush()
    summary = SeedSummary(
        customers=_count(rows, Customer),
        cards=_count(rows, Card),
        transactions=_count(rows, Transaction),
        transfers=_count(rows, Transfer),
        top_ups=_count(rows, TopUp),
        refunds=_count(rows, Refund),
    )
    logger.info("seeded the demo bank: %s", summary.describe())
    return summary


def _count(rows: list[Base], model: type[Base]) -> int:
    return sum(1 for row in rows if isinstance(row, model))


def demo_rows(now: datetime) -> list[Base]:
    """The seeded rows, parents first, with dates relative to the aware UTC ``now``."""
    today = now.date()
    return [
        *_alice(now, today),
        *_ben(now, today),
        *_chloe(now, today),
        *_dmitri(now, today),
        *_elena(now, today),
        *_farid(now, today),
    ]


def _ago(now: datetime, days: float = 0, hours: float = 0) -> datetime:
    return now - timedelta(days=days, hours=hours)


def _on(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _card(
    card_id: str,
    customer_id: str,
    last4: str,
    kind: CardKind,
    network: CardNetwork,
    status: CardStatus,
    *,
    ordered_at: datetime,
    expires_on: date,
    shipped_at: datetime | None = None,
    delivery_due: date | None = None,
    frozen_at: datetime | None = None,
) -> Card:
    return Card(
        id=card_id,
        customer_id=customer_id,
        last4=last4,
        kind=kind,
        network=network,
        status=status,
        ordered_at=ordered_at,
        shipped_at=shipped_at,
        delivery_due=delivery_due,
        expires_on=expires_on,
        frozen_at=frozen_at,
    )


def _tx(
    tx_id: str,
    customer_id: str,
    card_id: str | None,
    kind: TransactionKind,
    merchant: str,
    amount: str,
    currency: str,
    status: TransactionStatus,
    created_at: datetime,
    *,
    decline_reason: str | None = None,
    fee: str | None = None,
) -> Transaction:
    return Transaction(
        id=tx_id,
        customer_id=customer_id,
        card_id=card_id,
        kind=kind,
        merchant=merchant,
        amount=Decimal(amount),
        currency=currency,
        status=status,
        created_at=created_at,
        decline_reason=decline_reason,
        fee=Decimal(fee) if fee is not None else None,
    )


def _transfer(
    transfer_id: str,
    customer_id: str,
    direction: TransferDirection,
    counterparty: str,
    amount: str,
    currency: str,
    rail: TransferRail,
    status: TransferStatus,
    created_at: datetime,
    expected_by: datetime,
    failure_reason: str | None = None,
) -> Transfer:
    return Transfer(
        id=transfer_id,
        customer_id=customer_id,
        direction=direction,
        counterparty=counterparty,
        amount=Decimal(amount),
        currency=currency,
        rail=rail,
        status=status,
        created_at=created_at,
        expected_by=expected_by,
        failure_reason=failure_reason,
    )


def _top_up(
    top_up_id: str,
    customer_id: str,
    method: TopUpMethod,
    amount: str,
    status: TopUpStatus,
    created_at: datetime,
    failure_reason: str | None = None,
) -> TopUp:
    return TopUp(
        id=top_up_id,
        customer_id=customer_id,
        method=method,
        amount=Decimal(amount),
        currency="GBP",
        status=status,
        created_at=created_at,
        failure_reason=failure_reason,
    )


def _refund(
    refund_id: str,
    customer_id: str,
    merchant: str,
    amount: str,
    status: RefundStatus,
    requested_at: datetime,
    expected_by: datetime,
) -> Refund:
    return Refund(
        id=refund_id,
        customer_id=customer_id,
        merchant=merchant,
        amount=Decimal(amount),
        currency="GBP",
        status=status,
        requested_at=requested_at,
        expected_by=expected_by,
    )


_PHYSICAL, _VIRTUAL = CardKind.PHYSICAL, CardKind.VIRTUAL
# Every Northwind card is a Visa debit card (see the product facts in bot/domain/answers.yml).
_VISA = CardNetwork.VISA
_PAYMENT = TransactionKind.CARD_PAYMENT
_CASH = TransactionKind.CASH_WITHDRAWAL
_DEBIT = TransactionKind.DIRECT_DEBIT
_OUT, _IN = TransferDirection.OUTGOING, TransferDirection.INCOMING


def _alice(now: datetime, today: date) -> list[Base]:
    cid = "cus_1001"
    return [
        Customer(
            id=cid,
            name="Alice Moreau",
            email="alice.moreau@example.com",
            tier=CustomerTier.STANDARD,
            created_at=_ago(now, days=420),
        ),
        # Her first card was reported lost and cancelled; the replacement is in the post.
        _card(
            "card_1001_1",
            cid,
            "1180",
            _PHYSICAL,
            _VISA,
            CardStatus.CANCELLED,
            ordered_at=_ago(now, days=420),
            shipped_at=_ago(now, days=418),
            expires_on=today + timedelta(days=700),
        ),
        _card(
            "card_1001_2",
            cid,
            "5531",
            _PHYSICAL,
            _VISA,
            CardStatus.SHIPPED,
            ordered_at=_on(add_working_days(today, -4), 14, 10),
            shipped_at=_on(add_working_days(today, -2), 9, 30),
            delivery_due=today + timedelta(days=3),
            expires_on=today + timedelta(days=3 * 365),
        ),
        _card(
            "card_1001_3",
            cid,
            "7702",
            _VIRTUAL,
            _VISA,
            CardStatus.ACTIVE,
            ordered_at=_ago(now, days=300),
            expires_on=today + timedelta(days=800),
        ),
        _tx(
            "TX-5001",
            cid,
            "card_1001_3",
            _PAYMENT,
            "Spotify",
            "10.99",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=3),
        ),
        _tx(
            "TX-5002",
            cid,
            "card_1001_3",
            _PAYMENT,
            "Deliveroo",
            "21.40",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=6),
        ),
        _transfer(
            "T-1004",
            cid,
            _OUT,
            "Harbourside Lettings",
            "950.00",
            "GBP",
            TransferRail.FASTER_PAYMENTS,
            TransferStatus.COMPLETED,
            _ago(now, days=20),
            _ago(now, days=20, hours=-1),
        ),
        _transfer(
            "T-1009",
            cid,
            _OUT,
            "Lena Fischer",
            "250.00",
            "EUR",
            TransferRail.SEPA,
            TransferStatus.PENDING,
            _ago(now, days=2),
            _ago(now, days=-1),
        ),
        _top_up(
            "TU-3001", cid, TopUpMethod.CARD, "50.00", TopUpStatus.COMPLETED, _ago(now, days=10)
        ),
        _top_up(
            "TU-3002",
            cid,
            TopUpMethod.BANK_TRANSFER,
            "300.00",
            TopUpStatus.PENDING,
            _ago(now, days=1),
        ),
    ]


def _ben(now: datetime, today: date) -> list[Base]:
    cid = "cus_1002"
    card = "card_1002_1"
    return [
        Customer(
            id=cid,
            name="Ben Okafor",
            email="ben.okafor@example.com",
            tier=CustomerTier.PREMIUM,
            created_at=_ago(now, days=900),
        ),
        _card(
            card,
            cid,
            "4242",
            _PHYSICAL,
            _VISA,
            CardStatus.ACTIVE,
            ordered_at=_ago(now, days=400),
            shipped_at=_ago(now, days=398),
            expires_on=today + timedelta(days=600),
        ),
        _card(
            "card_1002_2",
            cid,
            "6610",
            _VIRTUAL,
            _VISA,
            CardStatus.ACTIVE,
            ordered_at=_ago(now, days=200),
            expires_on=today + timedelta(days=900),
        ),
        _tx(
            "TX-5101",
            cid,
            card,
            _PAYMENT,
            "SQ *HARBOUR LIGHTS",
            "89.99",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=1),
        ),
        _tx(
            "TX-5102",
            cid,
            card,
            _PAYMENT,
            "Pret A Manger",
            "6.45",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=2),
        ),
        _tx(
            "TX-5103",
            cid,
            card,
            _PAYMENT,
            "Booking.com",
            "412.80",
            "EUR",
            TransactionStatus.PENDING,
            _ago(now, days=3),
        ),
        _tx(
            "TX-5104",
            cid,
            card,
            _PAYMENT,
            "Uniqlo Paris",
            "64.00",
            "EUR",
            TransactionStatus.COMPLETED,
            _ago(now, days=5),
            fee="0.32",
        ),
        _tx(
            "TX-5105",
            cid,
            card,
            _CASH,
            "Cardtronics ATM, King's Cross",
            "100.00",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=4),
        ),
        _tx(
            "TX-5106",
            cid,
            None,
            _DEBIT,
            "British Gas",
            "68.00",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=7),
        ),
        _transfer(
            "T-1010",
            cid,
            _OUT,
            "Sam Okafor",
            "40.00",
            "GBP",
            TransferRail.FASTER_PAYMENTS,
            TransferStatus.COMPLETED,
            _ago(now, days=8),
            _ago(now, days=8),
        ),
        _transfer(
            "T-1012",
            cid,
            _IN,
            "Okafor Holdings Ltd",
            "1500.00",
            "USD",
            TransferRail.SWIFT,
            TransferStatus.PENDING,
            _ago(now, days=1),
            _ago(now, days=-2),
        ),
        _refund(
            "RF-4001",
            cid,
            "ASOS",
            "59.00",
            RefundStatus.PROCESSING,
            _ago(now, days=5),
            _ago(now, days=-5),
        ),
    ]


def _chloe(now: datetime, today: date) -> list[Base]:
    cid = "cus_1003"
    card = "card_1003_1"
    return [
        Customer(
            id=cid,
            name="Chloé Martin",
            email="chloe.martin@example.com",
            tier=CustomerTier.PLUS,
            created_at=_ago(now, days=250),
        ),
        _card(
            card,
            cid,
            "3310",
            _PHYSICAL,
            _VISA,
            CardStatus.BLOCKED_PIN,
            ordered_at=_ago(now, days=240),
            shipped_at=_ago(now, days=238),
            expires_on=today + timedelta(days=500),
        ),
        _card(
            "card_1003_2",
            cid,
            "8054",
            _VIRTUAL,
            _VISA,
            CardStatus.ACTIVE,
            ordered_at=_ago(now, days=240),
            expires_on=today + timedelta(days=500),
        ),
        _tx(
            "TX-5201",
            cid,
            card,
            _PAYMENT,
            "Zara Online",
            "120.00",
            "GBP",
            TransactionStatus.DECLINED,
            _ago(now, days=1),
            decline_reason="insufficient funds",
        ),
        _tx(
            "TX-5202",
            cid,
            card,
            _CASH,
            "Euronet ATM, Lisbon",
            "200.00",
            "EUR",
            TransactionStatus.DECLINED,
            _ago(now, days=2),
            decline_reason="the PIN was entered incorrectly",
        ),
        _tx(
            "TX-5203",
            cid,
            "card_1003_2",
            _PAYMENT,
            "Netflix",
            "10.99",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=9),
        ),
        _transfer(
            "T-1015",
            cid,
            _OUT,
            "Marc Lefèvre",
            "300.00",
            "EUR",
            TransferRail.SEPA,
            TransferStatus.FAILED,
            _ago(now, days=3),
            _ago(now, days=2),
            failure_reason="the recipient's bank returned it because the account is closed",
        ),
        _transfer(
            "T-1017",
            cid,
            _OUT,
            "BitVault Exchange",
            "2000.00",
            "GBP",
            TransferRail.FASTER_PAYMENTS,
            TransferStatus.DECLINED,
            _ago(now, days=1),
            _ago(now, days=1),
            failure_reason="payments to this beneficiary are not allowed",
        ),
        _refund(
            "RF-4002",
            cid,
            "Currys",
            "249.00",
            RefundStatus.REJECTED,
            _ago(now, days=15),
            _ago(now, days=5),
        ),
    ]


def _dmitri(now: datetime, today: date) -> list[Base]:
    cid = "cus_1004"
    card = "card_1004_1"
    duplicate_at = _ago(now, days=1)
    return [
        Customer(
            id=cid,
            name="Dmitri Ivanov",
            email="dmitri.ivanov@example.com",
            tier=CustomerTier.STANDARD,
            created_at=_ago(now, days=1100),
        ),
        _card(
            card,
            cid,
            "8812",
            _PHYSICAL,
            _VISA,
            CardStatus.ACTIVE,
            ordered_at=_ago(now, days=1075),
            shipped_at=_ago(now, days=1073),
            expires_on=today + timedelta(days=20),
        ),
        # The automatic replacement for 8812: delivered, waiting to be activated.
        _card(
            "card_1004_2",
            cid,
            "9034",
            _PHYSICAL,
            _VISA,
            CardStatus.DELIVERED,
            ordered_at=_on(add_working_days(today, -7), 8),
            shipped_at=_on(add_working_days(today, -5), 9),
            delivery_due=today - timedelta(days=2),
            expires_on=today + timedelta(days=3 * 365),
        ),
        _tx(
            "TX-5301",
            cid,
            card,
            _PAYMENT,
            "Tesco Express",
            "23.45",
            "GBP",
            TransactionStatus.COMPLETED,
            duplicate_at,
        ),
        _tx(
            "TX-5302",
            cid,
            card,
            _PAYMENT,
            "Tesco Express",
            "23.45",
            "GBP",
            TransactionStatus.COMPLETED,
            duplicate_at + timedelta(seconds=90),
        ),
        _tx(
            "TX-5303",
            cid,
            card,
            _PAYMENT,
            "Deliveroo",
            "18.20",
            "GBP",
            TransactionStatus.REVERTED,
            _ago(now, days=4),
        ),
        _tx(
            "TX-5304",
            cid,
            card,
            _PAYMENT,
            "Hertz UK",
            "150.00",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=6),
        ),
        _top_up(
            "TU-3004",
            cid,
            TopUpMethod.CARD,
            "200.00",
            TopUpStatus.REVERTED,
            _ago(now, days=2),
            failure_reason="the card issuer reversed the payment after approving it",
        ),
        _top_up(
            "TU-3005",
            cid,
            TopUpMethod.CARD,
            "75.00",
            TopUpStatus.FAILED,
            _ago(now, days=1),
            failure_reason="the card issuer declined the 3-D Secure check",
        ),
    ]


def _elena(now: datetime, today: date) -> list[Base]:
    cid = "cus_1005"
    card = "card_1005_1"
    return [
        Customer(
            id=cid,
            name="Elena Rossi",
            email="elena.rossi@example.com",
            tier=CustomerTier.PREMIUM,
            created_at=_ago(now, days=1200),
        ),
        _card(
            card,
            cid,
            "2077",
            _PHYSICAL,
            _VISA,
            CardStatus.FROZEN,
            ordered_at=_ago(now, days=500),
            shipped_at=_ago(now, days=498),
            expires_on=today + timedelta(days=400),
            frozen_at=_ago(now, days=1),
        ),
        _card(
            "card_1005_2",
            cid,
            "4519",
            _VIRTUAL,
            _VISA,
            CardStatus.ACTIVE,
            ordered_at=_ago(now, days=450),
            expires_on=today + timedelta(days=450),
        ),
        _tx(
            "TX-5401",
            cid,
            card,
            _CASH,
            "Bancomat Intesa Sanpaolo, Milan",
            "200.00",
            "EUR",
            TransactionStatus.PENDING,
            _ago(now, days=1),
        ),
        _tx(
            "TX-5406",
            cid,
            card,
            _CASH,
            "Bancomat UniCredit, Milan",
            "500.00",
            "EUR",
            TransactionStatus.DECLINED,
            _ago(now, days=1, hours=1),
            decline_reason="the daily cash withdrawal limit was reached",
        ),
        _tx(
            "TX-5402",
            cid,
            card,
            _CASH,
            "Post Office ATM, Bath",
            "100.00",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=6),
        ),
        _tx(
            "TX-5403",
            cid,
            None,
            _DEBIT,
            "Thames Water",
            "42.10",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=3),
        ),
        _tx(
            "TX-5404",
            cid,
            None,
            _DEBIT,
            "PureGym",
            "24.99",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=8),
        ),
        _tx(
            "TX-5405",
            cid,
            None,
            _DEBIT,
            "Unknown Media Ltd",
            "9.99",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=2),
        ),
        _transfer(
            "T-1018",
            cid,
            _IN,
            "Rossi Design Studio",
            "3200.00",
            "GBP",
            TransferRail.FASTER_PAYMENTS,
            TransferStatus.COMPLETED,
            _ago(now, days=5),
            _ago(now, days=5),
        ),
        _refund(
            "RF-4003",
            cid,
            "Trainline",
            "45.60",
            RefundStatus.COMPLETED,
            _ago(now, days=12),
            _ago(now, days=2),
        ),
    ]


def _farid(now: datetime, today: date) -> list[Base]:
    cid = "cus_1006"
    return [
        Customer(
            id=cid,
            name="Farid Haddad",
            email="farid.haddad@example.com",
            tier=CustomerTier.PLUS,
            created_at=_ago(now, days=60),
        ),
        _card(
            "card_1006_1",
            cid,
            "6021",
            _PHYSICAL,
            _VISA,
            CardStatus.SHIPPED,
            ordered_at=_on(add_working_days(today, -16), 11),
            shipped_at=_on(add_working_days(today, -14), 9),
            delivery_due=add_working_days(today, -9),
            expires_on=today + timedelta(days=3 * 365),
        ),
        _card(
            "card_1006_2",
            cid,
            "1440",
            _VIRTUAL,
            _VISA,
            CardStatus.ACTIVE,
            ordered_at=_ago(now, days=59),
            expires_on=today + timedelta(days=1000),
        ),
        _tx(
            "TX-5501",
            cid,
            "card_1006_2",
            _PAYMENT,
            "Uber",
            "14.60",
            "GBP",
            TransactionStatus.COMPLETED,
            _ago(now, days=2),
        ),
        # Faster Payments are near-instant; this one is held for checks and cannot be recalled.
        _transfer(
            "T-1021",
            cid,
            _OUT,
            "Amira Haddad",
            "500.00",
            "GBP",
            TransferRail.FASTER_PAYMENTS,
            TransferStatus.PENDING,
            _ago(now, hours=3),
            _ago(now, hours=1),
        ),
        _top_up("TU-3006", cid, TopUpMethod.CASH, "40.00", TopUpStatus.PENDING, _ago(now, hours=5)),
        _refund(
            "RF-4004",
            cid,
            "Nike",
            "89.95",
            RefundStatus.PROCESSING,
            _ago(now, days=20),
            _ago(now, days=6),
        ),
    ]
