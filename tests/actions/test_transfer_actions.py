"""Transfer status, cancelling a transfer, and incoming transfers."""

from __future__ import annotations

from actions.transfers import ActionTransferStatus
from demobank.models import Transfer, TransferStatus


def test_pending_transfer_reports_id_status_and_dates(run, tracker_for):
    result = run(ActionTransferStatus(), tracker_for("pending_transfer", customer_id="cus_1001"))

    message = result.message("utter_transfer_pending")
    assert message["transfer_id"] == "T-1009"
    assert message["amount"] == "€250.00"
    assert message["counterparty"] == "Lena Fischer"
    assert message["since"] == "25 November 2024"
    assert message["age"] == "2 days"
    assert message["expected_by"] == "28 November 2024"
    assert message["rail"] == "SEPA"
    assert result.new_steps[-1]["summary"] == "looked up transfer T-1009: pending since 2 days"


def test_pending_transfer_past_its_expected_date(run, tracker_for):
    result = run(ActionTransferStatus(), tracker_for("pending_transfer", customer_id="cus_1006"))

    assert result.message("utter_transfer_pending_late")["transfer_id"] == "T-1021"


def test_no_pending_transfer_names_the_latest(run, tracker_for):
    result = run(ActionTransferStatus(), tracker_for("pending_transfer", customer_id="cus_1003"))

    message = result.message("utter_transfer_none_pending")
    assert (message["transfer_id"], message["status"]) == ("T-1017", "declined")
    assert result.new_steps[-1]["outcome"] == "not_found"


def test_failed_transfer_gives_the_reason(run, tracker_for):
    result = run(ActionTransferStatus(), tracker_for("failed_transfer", customer_id="cus_1003"))

    message = result.message("utter_transfer_failed")
    assert message["transfer_id"] == "T-1015"
    assert "account is closed" in message["reason"]
    assert "T-1015: failed since 3 days (the recipient's bank" in result.new_steps[-1]["summary"]


def test_declined_transfer_gives_the_reason(run, tracker_for):
    result = run(ActionTransferStatus(), tracker_for("declined_transfer", customer_id="cus_1003"))

    message = result.message("utter_transfer_declined")
    assert message["transfer_id"] == "T-1017"
    assert message["reason"] == "payments to this beneficiary are not allowed"


def test_no_failed_transfer(run, tracker_for):
    result = run(ActionTransferStatus(), tracker_for("failed_transfer", customer_id="cus_1002"))

    assert result.message("utter_transfer_none_failed")["transfer_id"] == "T-1010"


def test_transfer_not_received_when_completed(run, tracker_for):
    result = run(
        ActionTransferStatus(),
        tracker_for("transfer_not_received_by_recipient", customer_id="cus_1002"),
    )

    message = result.message("utter_transfer_completed")
    assert (message["transfer_id"], message["rail"]) == ("T-1010", "Faster Payments")


def test_cancel_pending_sepa_transfer_writes_to_the_bank(run, tracker_for, db):
    result = run(ActionTransferStatus(), tracker_for("cancel_transfer", customer_id="cus_1001"))

    assert db.get(Transfer, "T-1009").status is TransferStatus.CANCELLED
    assert result.responses == ["utter_transfer_cancelled"]
    [step] = result.new_steps
    assert (step["step"], step["outcome"], step["summary"]) == (
        "cancel_transfer",
        "done",
        "cancelled transfer T-1009: done",
    )


def test_faster_payment_cannot_be_cancelled(run, tracker_for, db):
    result = run(ActionTransferStatus(), tracker_for("cancel_transfer", customer_id="cus_1006"))

    assert db.get(Transfer, "T-1021").status is TransferStatus.PENDING
    message = result.message("utter_transfer_cannot_cancel")
    assert (message["transfer_id"], message["rail"]) == ("T-1021", "Faster Payments")
    assert result.new_steps[-1]["step"] == "cancel_transfer"
    assert result.new_steps[-1]["outcome"] == "info"


def test_nothing_to_cancel(run, tracker_for):
    # Ben's only pending transfer is incoming, which is not his to cancel.
    result = run(ActionTransferStatus(), tracker_for("cancel_transfer", customer_id="cus_1002"))

    assert result.responses == ["utter_transfer_nothing_to_cancel"]
    assert result.new_steps[-1]["outcome"] == "not_found"


def test_incoming_transfer_pending(run, tracker_for):
    result = run(
        ActionTransferStatus(),
        tracker_for("balance_not_updated_after_bank_transfer", customer_id="cus_1002"),
    )

    message = result.message("utter_incoming_transfer_pending")
    assert message["transfer_id"] == "T-1012"
    assert message["amount"] == "$1,500.00"
    assert message["counterparty"] == "Okafor Holdings Ltd"


def test_incoming_transfer_completed(run, tracker_for):
    result = run(
        ActionTransferStatus(),
        tracker_for("balance_not_updated_after_bank_transfer", customer_id="cus_1005"),
    )

    assert result.message("utter_incoming_transfer_completed")["amount"] == "£3,200.00"


def test_no_incoming_transfer(run, tracker_for):
    result = run(
        ActionTransferStatus(),
        tracker_for("balance_not_updated_after_bank_transfer", customer_id="cus_1001"),
    )

    assert result.responses == ["utter_incoming_transfer_none"]


def test_unserved_intent_falls_back_to_pending_transfer(run, tracker_for):
    result = run(ActionTransferStatus(), tracker_for("greet", customer_id="cus_1001"))

    assert result.responses == ["utter_transfer_pending"]
