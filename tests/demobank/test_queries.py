"""The repository functions the actions use, plus the engine and unit-of-work plumbing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError

from demobank import queries
from demobank.db import create_bank_engine, session_factory, session_scope
from demobank.exceptions import (
    BankError,
    BankUnavailable,
    CardNotFound,
    CustomerNotFound,
    OperationNotAllowed,
    TransferNotFound,
)
from demobank.limits import TOP_UP_LIMITS, top_up_limits_for
from demobank.models import (
    Card,
    CardKind,
    CardStatus,
    CustomerTier,
    RefundStatus,
    TopUpStatus,
    Transaction,
    TransactionKind,
    TransactionStatus,
    Transfer,
    TransferDirection,
    TransferStatus,
)
from demobank.working_days import add_working_days, working_days_between


def test_get_customer(session):
    assert queries.get_customer(session, "cus_1002").name == "Ben Okafor"
    with pytest.raises(CustomerNotFound) as caught:
        queries.get_customer(session, "cus_9999")
    assert caught.value.customer_id == "cus_9999"
    assert isinstance(caught.value, BankError)


def test_list_customers(session):
    assert [c.id for c in queries.list_customers(session)][:2] == ["cus_1001", "cus_1002"]


def test_cards_for_newest_first_and_filtered(session):
    cards = queries.cards_for(session, "cus_1001")
    assert [c.last4 for c in cards] == ["5531", "7702", "1180"]
    virtual = queries.cards_for(session, "cus_1001", kinds={CardKind.VIRTUAL})
    assert [c.last4 for c in virtual] == ["7702"]
    cancelled = queries.cards_for(session, "cus_1001", statuses={CardStatus.CANCELLED})
    assert [c.last4 for c in cancelled] == ["1180"]


def test_card_in_delivery(session):
    assert queries.card_in_delivery(session, "cus_1001").last4 == "5531"
    assert queries.card_in_delivery(session, "cus_1002") is None


def test_active_physical_card(session):
    assert queries.active_physical_card(session, "cus_1002").last4 == "4242"
    assert queries.active_physical_card(session, "cus_1001") is None


def test_freeze_card_writes_status_and_time(engine, seeded_at):
    factory = session_factory(engine)
    with session_scope(factory) as session:
        card = queries.freeze_card(session, "card_1002_1", seeded_at)
        assert card.status is CardStatus.FROZEN
    with factory() as session:
        stored = session.get(Card, "card_1002_1")
        assert (stored.status, stored.frozen_at) == (CardStatus.FROZEN, seeded_at)


def test_freeze_card_refuses_cards_that_are_not_active(session, seeded_at):
    with pytest.raises(OperationNotAllowed):
        queries.freeze_card(session, "card_1005_1", seeded_at)  # already frozen
    with pytest.raises(CardNotFound):
        queries.freeze_card(session, "card_0000", seeded_at)


def test_latest_transfer_by_status_and_direction(session):
    assert queries.latest_transfer(session, "cus_1001").id == "T-1009"
    assert queries.latest_transfer(session, "cus_1001", {TransferStatus.COMPLETED}).id == "T-1004"
    assert queries.latest_transfer(session, "cus_1002").id == "T-1010"
    incoming = queries.latest_transfer(session, "cus_1002", direction=TransferDirection.INCOMING)
    assert incoming.id == "T-1012"
    assert queries.latest_transfer(session, "cus_1002", direction=None).id == "T-1012"
    assert queries.latest_transfer(session, "cus_1004") is None


def test_cancel_transfer(session):
    assert queries.is_cancellable(session.get(Transfer, "T-1009"))
    assert queries.cancel_transfer(session, "T-1009").status is TransferStatus.CANCELLED


def test_faster_payments_and_finished_transfers_cannot_be_cancelled(session):
    assert not queries.is_cancellable(session.get(Transfer, "T-1021"))  # Faster Payments
    assert not queries.is_cancellable(session.get(Transfer, "T-1004"))  # completed
    with pytest.raises(OperationNotAllowed):
        queries.cancel_transfer(session, "T-1021")
    with pytest.raises(TransferNotFound):
        queries.cancel_transfer(session, "T-0000")


def test_recent_transactions_newest_first_with_limit(session):
    payments = queries.recent_transactions(session, "cus_1002", TransactionKind.CARD_PAYMENT, 2)
    assert [p.id for p in payments] == ["TX-5101", "TX-5102"]
    pending = queries.recent_transactions(
        session,
        "cus_1002",
        TransactionKind.CARD_PAYMENT,
        statuses={TransactionStatus.PENDING},
    )
    assert [p.id for p in pending] == ["TX-5103"]


def test_latest_transaction(session):
    withdrawal = queries.latest_transaction(
        session, "cus_1005", TransactionKind.CASH_WITHDRAWAL, {TransactionStatus.DECLINED}
    )
    assert withdrawal.id == "TX-5406"
    assert queries.latest_transaction(session, "cus_1001", TransactionKind.DIRECT_DEBIT) is None


def test_latest_card_payment_with_fee(session):
    assert queries.latest_card_payment_with_fee(session, "cus_1002").fee == Decimal("0.32")
    assert queries.latest_card_payment_with_fee(session, "cus_1001") is None


def test_duplicate_card_payments(session, seeded_at):
    [pair] = queries.duplicate_card_payments(session, "cus_1004", seeded_at - timedelta(days=30))
    assert (pair.first.id, pair.second.id) == ("TX-5301", "TX-5302")
    assert (
        queries.duplicate_card_payments(session, "cus_1002", seeded_at - timedelta(days=30)) == []
    )
    # Outside the look-back window nothing is found.
    assert queries.duplicate_card_payments(session, "cus_1004", seeded_at) == []


def test_identical_payments_far_apart_are_not_duplicates(session, seeded_at):
    second = session.get(Transaction, "TX-5302")
    second.created_at = second.created_at + timedelta(hours=3)
    session.flush()
    assert (
        queries.duplicate_card_payments(session, "cus_1004", seeded_at - timedelta(days=30)) == []
    )


def test_latest_top_up_and_refund(session):
    assert queries.latest_top_up(session, "cus_1004").id == "TU-3005"
    assert queries.latest_top_up(session, "cus_1004", {TopUpStatus.REVERTED}).id == "TU-3004"
    assert queries.latest_top_up(session, "cus_1002") is None
    assert queries.latest_refund(session, "cus_1002").status is RefundStatus.PROCESSING
    assert queries.latest_refund(session, "cus_1002", {RefundStatus.COMPLETED}) is None


def test_account_snapshot(session):
    snapshot = queries.account_snapshot(session, "cus_1002")
    assert [t.id for t in snapshot.pending_transfers] == ["T-1012"]
    assert snapshot.pending_top_ups == ()
    assert [p.id for p in snapshot.pending_card_payments] == ["TX-5103"]
    assert [r.id for r in snapshot.open_refunds] == ["RF-4001"]
    assert [c.last4 for c in snapshot.usable_cards] == ["6610", "4242"]


def test_session_scope_turns_driver_errors_into_bank_unavailable(engine):
    factory = session_factory(engine)
    with pytest.raises(BankUnavailable) as caught, session_scope(factory) as session:
        session.execute(text("SELECT * FROM no_such_table"))
    assert "OperationalError" in str(caught.value)


def test_session_scope_rolls_back_on_error(engine):
    factory = session_factory(engine)
    with pytest.raises(RuntimeError), session_scope(factory) as session:
        session.get(Card, "card_1002_1").status = CardStatus.FROZEN
        session.flush()
        raise RuntimeError("boom")
    with factory() as session:
        assert session.get(Card, "card_1002_1").status is CardStatus.ACTIVE


def test_unreachable_database_is_bank_unavailable(tmp_path):
    engine = create_bank_engine(f"sqlite:///{tmp_path}/missing/bank.sqlite")
    with pytest.raises(BankUnavailable), session_scope(session_factory(engine)) as session:
        queries.get_customer(session, "cus_1001")
    engine.dispose()


def test_sqlite_foreign_keys_are_enforced(session, seeded_at):
    session.add(
        Card(
            id="card_orphan",
            customer_id="cus_nobody",
            last4="0000",
            kind=CardKind.PHYSICAL,
            network="visa",
            status=CardStatus.ACTIVE,
            ordered_at=seeded_at,
            expires_on=date(2030, 1, 1),
        )
    )
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        session.flush()


def test_naive_datetimes_are_rejected(session):
    card = session.get(Card, "card_1002_1")
    card.frozen_at = datetime(2024, 11, 27, 10, 0)
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_timestamps_come_back_aware_utc(session):
    transfer = session.scalars(select(Transfer)).first()
    assert transfer.created_at.tzinfo is UTC


def test_working_days():
    wednesday = date(2024, 11, 27)
    assert add_working_days(wednesday, -2) == date(2024, 11, 25)
    assert add_working_days(date(2024, 11, 29), 1) == date(2024, 12, 2)  # Friday -> Monday
    assert add_working_days(wednesday, 0) == wednesday
    assert working_days_between(date(2024, 11, 25), date(2024, 12, 9)) == 10
    assert working_days_between(date(2024, 12, 9), date(2024, 11, 25)) == -10


def test_top_up_limits_grow_with_the_tier():
    assert set(TOP_UP_LIMITS) == set(CustomerTier)
    standard, plus, premium = (top_up_limits_for(t) for t in CustomerTier)
    assert standard.per_top_up < plus.per_top_up < premium.per_top_up
    assert standard.monthly < plus.monthly < premium.monthly
