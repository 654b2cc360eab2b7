"""The demo bank's data model (SQLAlchemy 2 declarative mapping).

All money amounts are ``Decimal`` with two places; all timestamps are aware UTC datetimes;
plain calendar days (card expiry, delivery due date) are ``date``. Ids are readable strings
("cus_1001", "T-1009") because customers quote them to the assistant and to agents.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from demobank.column_types import UtcDateTime, enum_column_type

MONEY = Numeric(12, 2)


class Base(DeclarativeBase):
    """Declarative base of the demo bank's tables."""


class CustomerTier(StrEnum):
    """The customer's plan; it decides limits and fees."""

    STANDARD = "standard"
    PLUS = "plus"
    PREMIUM = "premium"


class CardKind(StrEnum):
    """What the card is: a plastic card, a reusable virtual card or a one-payment card."""

    PHYSICAL = "physical"
    VIRTUAL = "virtual"
    DISPOSABLE = "disposable"


class CardNetwork(StrEnum):
    """The card scheme printed on the card."""

    VISA = "visa"
    MASTERCARD = "mastercard"


class CardStatus(StrEnum):
    """Life cycle of a card: ordered -> shipped -> delivered -> active, plus the stop states."""

    ORDERED = "ordered"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    ACTIVE = "active"
    FROZEN = "frozen"
    BLOCKED_PIN = "blocked_pin"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class TransactionKind(StrEnum):
    """The kinds of account debits the bank reports on."""

    CARD_PAYMENT = "card_payment"
    CASH_WITHDRAWAL = "cash_withdrawal"
    DIRECT_DEBIT = "direct_debit"


class TransactionStatus(StrEnum):
    """Pending until the merchant or ATM operator settles; reverted if cancelled before that."""

    PENDING = "pending"
    COMPLETED = "completed"
    DECLINED = "declined"
    REVERTED = "reverted"


class TransferDirection(StrEnum):
    """Whether money leaves or reaches the customer's account."""

    OUTGOING = "outgoing"
    INCOMING = "incoming"


class TransferRail(StrEnum):
    """The payment scheme a transfer travels on; it sets timing and whether it can be recalled."""

    FASTER_PAYMENTS = "faster_payments"
    SEPA = "sepa"
    SWIFT = "swift"


class TransferStatus(StrEnum):
    """Life cycle of a transfer."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class TopUpMethod(StrEnum):
    """How the customer added money."""

    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"


class TopUpStatus(StrEnum):
    """Life cycle of a top-up; reverted when the source (e.g. a card issuer) pulls it back."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    REVERTED = "reverted"


class RefundStatus(StrEnum):
    """Life cycle of a merchant refund, as reported by the merchant's acquirer."""

    REQUESTED = "requested"
    PROCESSING = "processing"
    COMPLETED = "completed"
    REJECTED = "rejected"


class Customer(Base):
    """A bank customer."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(200), unique=True)
    tier: Mapped[CustomerTier] = mapped_column(enum_column_type(CustomerTier))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Card(Base):
    """A payment card. ``ordered_at`` orders a customer's cards ("the most recent card")."""

    __tablename__ = "cards"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    last4: Mapped[str] = mapped_column(String(4))
    kind: Mapped[CardKind] = mapped_column(enum_column_type(CardKind))
    network: Mapped[CardNetwork] = mapped_column(enum_column_type(CardNetwork))
    status: Mapped[CardStatus] = mapped_column(enum_column_type(CardStatus))
    ordered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivery_due: Mapped[date | None] = mapped_column(Date())
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_on: Mapped[date] = mapped_column(Date())
    frozen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Transaction(Base):
    """A card payment, cash withdrawal or direct debit on the customer's account."""

    __tablename__ = "transactions"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    card_id: Mapped[str | None] = mapped_column(ForeignKey("cards.id"))
    kind: Mapped[TransactionKind] = mapped_column(enum_column_type(TransactionKind))
    merchant: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[TransactionStatus] = mapped_column(enum_column_type(TransactionStatus))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decline_reason: Mapped[str | None] = mapped_column(String(200))
    fee: Mapped[Decimal | None] = mapped_column(MONEY)


class Transfer(Base):
    """A bank transfer out of or into the customer's account."""

    __tablename__ = "transfers"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    direction: Mapped[TransferDirection] = mapped_column(enum_column_type(TransferDirection))
    counterparty: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    rail: Mapped[TransferRail] = mapped_column(enum_column_type(TransferRail))
    status: Mapped[TransferStatus] = mapped_column(enum_column_type(TransferStatus))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expected_by: Mapped[datetime] = mapped_column(UtcDateTime())
    failure_reason: Mapped[str | None] = mapped_column(String(200))


class TopUp(Base):
    """Money added to the account by card, bank transfer or cash."""

    __tablename__ = "top_ups"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    method: Mapped[TopUpMethod] = mapped_column(enum_column_type(TopUpMethod))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[TopUpStatus] = mapped_column(enum_column_type(TopUpStatus))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    failure_reason: Mapped[str | None] = mapped_column(String(200))


class Refund(Base):
    """A merchant refund the customer is waiting for."""

    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(30), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    merchant: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[RefundStatus] = mapped_column(enum_column_type(RefundStatus))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expected_by: Mapped[datetime] = mapped_column(UtcDateTime())
