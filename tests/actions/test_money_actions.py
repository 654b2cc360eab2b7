"""Card payments, cash withdrawals, top-ups, refunds and tier limits."""

from __future__ import annotations

from actions.account import ActionTierLimits
from actions.payments import ActionCardPaymentStatus, ActionCashWithdrawalStatus
from actions.refunds import ActionRefundStatus
from actions.top_ups import ActionTopUpStatus


def test_pending_card_payment(run, tracker_for):
    result = run(
        ActionCardPaymentStatus(), tracker_for("pending_card_payment", customer_id="cus_1002")
    )

    message = result.message("utter_card_payment_pending")
    assert (message["merchant"], message["amount"]) == ("Booking.com", "€412.80")
    assert result.new_steps[-1]["summary"] == (
        "looked up card payment TX-5103 (€412.80 at Booking.com): pending"
    )


def test_declined_card_payment(run, tracker_for):
    result = run(
        ActionCardPaymentStatus(), tracker_for("declined_card_payment", customer_id="cus_1003")
    )

    message = result.message("utter_card_payment_declined")
    assert (message["merchant"], message["reason"]) == ("Zara Online", "insufficient funds")


def test_reverted_card_payment(run, tracker_for):
    result = run(
        ActionCardPaymentStatus(), tracker_for("reverted_card_payment?", customer_id="cus_1004")
    )

    assert result.message("utter_card_payment_reverted")["merchant"] == "Deliveroo"


def test_no_card_payment_in_that_status(run, tracker_for):
    result = run(
        ActionCardPaymentStatus(), tracker_for("declined_card_payment", customer_id="cus_1001")
    )

    assert result.message("utter_card_payment_none_with_status")["status"] == "declined"
    assert result.new_steps[-1]["outcome"] == "not_found"


def test_charged_twice_finds_the_duplicate(run, tracker_for):
    result = run(
        ActionCardPaymentStatus(), tracker_for("transaction_charged_twice", customer_id="cus_1004")
    )

    message = result.message("utter_card_payment_duplicate")
    assert (message["first_id"], message["second_id"]) == ("TX-5301", "TX-5302")
    assert (message["merchant"], message["amount"]) == ("Tesco Express", "£23.45")


def test_charged_twice_without_duplicate(run, tracker_for):
    result = run(
        ActionCardPaymentStatus(), tracker_for("transaction_charged_twice", customer_id="cus_1002")
    )

    assert result.responses == ["utter_card_payment_no_duplicate"]


def test_extra_charge_lists_recent_payments(run, tracker_for):
    result = run(
        ActionCardPaymentStatus(), tracker_for("extra_charge_on_statement", customer_id="cus_1004")
    )

    payments = result.message("utter_card_payment_recent_charges")["payments"]
    lines = payments.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("• £23.45 at Tesco Express")
    assert all("Deliveroo" not in line for line in lines)  # reverted: it took no money


def test_card_payment_fee(run, tracker_for):
    result = run(
        ActionCardPaymentStatus(), tracker_for("card_payment_fee_charged", customer_id="cus_1002")
    )

    message = result.message("utter_card_payment_fee")
    assert (message["fee"], message["merchant"], message["tier"]) == (
        "€0.32",
        "Uniqlo Paris",
        "premium",
    )


def test_no_card_payment_fee(run, tracker_for):
    result = run(
        ActionCardPaymentStatus(), tracker_for("card_payment_fee_charged", customer_id="cus_1004")
    )

    assert result.responses == ["utter_card_payment_no_fee"]


def test_pending_cash_withdrawal(run, tracker_for):
    result = run(
        ActionCashWithdrawalStatus(), tracker_for("pending_cash_withdrawal", customer_id="cus_1005")
    )

    message = result.message("utter_cash_withdrawal_pending")
    assert (message["amount"], message["merchant"]) == (
        "€200.00",
        "Bancomat Intesa Sanpaolo, Milan",
    )


def test_declined_cash_withdrawal(run, tracker_for):
    result = run(
        ActionCashWithdrawalStatus(),
        tracker_for("declined_cash_withdrawal", customer_id="cus_1005"),
    )

    assert result.message("utter_cash_withdrawal_declined")["reason"] == (
        "the daily cash withdrawal limit was reached"
    )


def test_wrong_amount_of_cash(run, tracker_for):
    result = run(
        ActionCashWithdrawalStatus(),
        tracker_for("wrong_amount_of_cash_received", customer_id="cus_1002"),
    )

    message = result.message("utter_cash_withdrawal_wrong_amount")
    assert (message["amount"], message["merchant"]) == ("£100.00", "Cardtronics ATM, King's Cross")


def test_no_pending_cash_withdrawal(run, tracker_for):
    result = run(
        ActionCashWithdrawalStatus(), tracker_for("pending_cash_withdrawal", customer_id="cus_1001")
    )

    assert result.message("utter_cash_withdrawal_none_with_status")["status"] == "pending"


def test_pending_top_up_by_bank_transfer(run, tracker_for):
    result = run(ActionTopUpStatus(), tracker_for("pending_top_up", customer_id="cus_1001"))

    message = result.message("utter_top_up_pending_bank_transfer")
    assert (message["top_up_id"], message["amount"]) == ("TU-3002", "£300.00")
    assert result.new_steps[-1]["summary"] == "looked up top-up TU-3002: pending since 1 day"


def test_pending_cash_top_up(run, tracker_for):
    result = run(ActionTopUpStatus(), tracker_for("pending_top_up", customer_id="cus_1006"))

    assert result.message("utter_top_up_pending_cash")["age"] == "5 hours"


def test_failed_top_up(run, tracker_for):
    result = run(ActionTopUpStatus(), tracker_for("top_up_failed", customer_id="cus_1004"))

    message = result.message("utter_top_up_failed")
    assert message["top_up_id"] == "TU-3005"
    assert "3-D Secure" in message["reason"]


def test_reverted_top_up(run, tracker_for):
    result = run(ActionTopUpStatus(), tracker_for("top_up_reverted", customer_id="cus_1004"))

    assert result.message("utter_top_up_reverted")["top_up_id"] == "TU-3004"


def test_no_top_up_in_that_status(run, tracker_for):
    result = run(ActionTopUpStatus(), tracker_for("top_up_reverted", customer_id="cus_1001"))

    message = result.message("utter_top_up_none_with_status")
    assert (message["wanted_status"], message["top_up_id"]) == ("reverted", "TU-3002")


def test_no_top_ups_at_all(run, tracker_for):
    result = run(ActionTopUpStatus(), tracker_for("top_up_failed", customer_id="cus_1002"))

    assert result.responses == ["utter_no_top_ups"]


def test_refund_in_progress(run, tracker_for):
    result = run(ActionRefundStatus(), tracker_for("Refund_not_showing_up", customer_id="cus_1002"))

    message = result.message("utter_refund_in_progress")
    assert (message["merchant"], message["status"]) == ("ASOS", "processing")
    assert message["expected_by"] == "2 December 2024"


def test_refund_overdue(run, tracker_for):
    result = run(ActionRefundStatus(), tracker_for("Refund_not_showing_up", customer_id="cus_1006"))

    assert result.message("utter_refund_overdue")["merchant"] == "Nike"


def test_refund_rejected_and_completed(run, tracker_for):
    rejected = run(
        ActionRefundStatus(), tracker_for("Refund_not_showing_up", customer_id="cus_1003")
    )
    completed = run(
        ActionRefundStatus(), tracker_for("Refund_not_showing_up", customer_id="cus_1005")
    )

    assert rejected.responses == ["utter_refund_rejected"]
    assert completed.responses == ["utter_refund_completed"]


def test_no_refund(run, tracker_for):
    result = run(ActionRefundStatus(), tracker_for("Refund_not_showing_up", customer_id="cus_1001"))

    assert result.responses == ["utter_refund_none"]


def test_request_refund_explains_and_reports_the_open_refund(run, tracker_for):
    result = run(ActionRefundStatus(), tracker_for("request_refund", customer_id="cus_1002"))

    assert result.responses == ["utter_general_request_refund", "utter_refund_in_progress"]
    assert result.new_steps[-1]["summary"].startswith(
        "explained how refunds work; looked up refund"
    )


def test_request_refund_without_open_refund(run, tracker_for):
    result = run(ActionRefundStatus(), tracker_for("request_refund", customer_id="cus_1005"))

    assert result.responses == ["utter_general_request_refund"]
    assert result.new_steps[-1]["summary"] == "explained how refunds work; no refund in progress"


def test_top_up_limits_follow_the_tier(run, tracker_for):
    standard = run(ActionTierLimits(), tracker_for("top_up_limits", customer_id="cus_1001"))
    premium = run(ActionTierLimits(), tracker_for("top_up_limits", customer_id="cus_1002"))

    assert standard.message("utter_top_up_limits")["tier"] == "standard"
    assert standard.message("utter_top_up_limits")["per_top_up"] == "£2,000.00"
    assert premium.message("utter_top_up_limits")["monthly"] == "£100,000.00"


def test_top_up_limits_for_anonymous_customer_list_every_tier(run, tracker_for):
    result = run(ActionTierLimits(), tracker_for("top_up_limits"))

    assert result.responses == ["utter_general_top_up_limits", "utter_sign_in_for_details"]
    limits = result.message("utter_general_top_up_limits")["limits_by_tier"]
    assert [line.split(":")[0] for line in limits.splitlines()] == [
        "• standard",
        "• plus",
        "• premium",
    ]
