"""seed_demo_bank: deterministic, idempotent, relative to `now`, covering every situation."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from demobank.db import session_factory
from demobank.models import (
    Card,
    CardNetwork,
    CardStatus,
    Customer,
    CustomerTier,
    Refund,
    RefundStatus,
    TopUp,
    TopUpStatus,
    Transaction,
    TransactionKind,
    TransactionStatus,
    Transfer,
    TransferStatus,
)
from demobank.seed import seed_demo_bank

MODELS = (Customer, Card, Transaction, Transfer, TopUp, Refund)


def _counts(session) -> dict[str, int]:
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in MODELS}


def test_seeds_six_customers_with_all_tiers(session):
    customers = session.scalars(select(Customer).order_by(Customer.id)).all()

    assert [c.id for c in customers] == [f"cus_{n}" for n in range(1001, 1007)]
    assert {c.tier for c in customers} == set(CustomerTier)
    assert customers[0].name == "Alice Moreau"
    assert customers[0].tier is CustomerTier.STANDARD
    assert customers[1].tier is CustomerTier.PREMIUM


def test_reseeding_does_not_duplicate(engine, session, seeded_at):
    before = _counts(session)

    with session_factory(engine)() as again:
        summary = seed_demo_bank(again, seeded_at)
        again.commit()

    session.expire_all()
    assert _counts(session) == before
    assert summary.customers == before["Customer"]
    assert summary.transactions == before["Transaction"]


def test_reseeding_resets_demo_changes_and_keeps_other_rows(engine, seeded_at):
    factory = session_factory(engine)
    with factory() as session:
        session.get(Card, "card_1002_1").status = CardStatus.FROZEN
        session.add(
            Customer(
                id="cus_2000",
                name="Not Seeded",
                email="other@example.com",
                tier=CustomerTier.PLUS,
                created_at=seeded_at,
            )
        )
        session.commit()

    with factory() as session:
        seed_demo_bank(session, seeded_at)
        session.commit()

    with factory() as session:
        assert session.get(Card, "card_1002_1").status is CardStatus.ACTIVE
        assert session.get(Customer, "cus_2000") is not None


def test_dates_are_relative_to_now(session, seeded_at):
    card = session.get(Card, "card_1001_2")
    assert card.status is CardStatus.SHIPPED
    assert card.delivery_due == seeded_at.date() + timedelta(days=3)
    assert card.shipped_at.date() == datetime(2024, 11, 25).date()  # 2 working days before Wed

    transfer = session.get(Transfer, "T-1009")
    assert transfer.status is TransferStatus.PENDING
    assert transfer.created_at == seeded_at - timedelta(days=2)
    assert transfer.created_at.tzinfo is not None


def test_seeding_later_moves_every_date(engine, seeded_at):
    later = seeded_at + timedelta(days=7)
    with session_factory(engine)() as session:
        seed_demo_bank(session, later)
        session.commit()
        assert session.get(Transfer, "T-1009").created_at == later - timedelta(days=2)


def test_rejects_a_naive_now(session):
    with pytest.raises(ValueError, match="aware"):
        seed_demo_bank(session, datetime(2024, 11, 27, 10, 0))


def test_amounts_are_decimals(session):
    payment = session.get(Transaction, "TX-5101")
    assert payment.amount == Decimal("89.99")
    assert isinstance(payment.amount, Decimal)


def test_all_cards_are_visa(session):
    # Product fact: every Northwind card is a Visa debit card.
    assert {c.network for c in session.scalars(select(Card))} == {CardNetwork.VISA}


def test_situations_needed_by_the_assistant_exist(session):
    def exists(model, **filters) -> bool:
        return session.scalars(select(model).filter_by(**filters)).first() is not None

    assert exists(Card, customer_id="cus_1002", last4="4242", status=CardStatus.ACTIVE)
    assert exists(Card, customer_id="cus_1003", status=CardStatus.BLOCKED_PIN)
    assert exists(Card, customer_id="cus_1004", status=CardStatus.DELIVERED)
    assert exists(Card, customer_id="cus_1005", status=CardStatus.FROZEN)
    assert exists(Transfer, customer_id="cus_1003", status=TransferStatus.FAILED)
    assert exists(Transfer, customer_id="cus_1003", status=TransferStatus.DECLINED)
    assert exists(TopUp, customer_id="cus_1001", status=TopUpStatus.PENDING)
    assert exists(TopUp, customer_id="cus_1004", status=TopUpStatus.REVERTED)
    assert exists(Refund, customer_id="cus_1002", status=RefundStatus.PROCESSING)
    assert exists(
        Transaction,
        customer_id="cus_1005",
        kind=TransactionKind.CASH_WITHDRAWAL,
        status=TransactionStatus.PENDING,
    )
    assert exists(Transaction, customer_id="cus_1005", kind=TransactionKind.DIRECT_DEBIT)
    assert exists(
        Transaction,
        customer_id="cus_1003",
        kind=TransactionKind.CARD_PAYMENT,
        status=TransactionStatus.DECLINED,
    )
