"""Card actions: delivery status, freezing, card status questions."""

from __future__ import annotations

from datetime import timedelta

from actions.cards import ActionCardDeliveryStatus, ActionCardStatus, ActionFreezeCard
from demobank.models import Card, CardStatus


def test_card_arrival_reports_status_and_dates(run, tracker_for, now):
    result = run(ActionCardDeliveryStatus(), tracker_for("card_arrival", customer_id="cus_1001"))

    assert result.responses == ["utter_card_in_transit"]
    message = result.message("utter_card_in_transit")
    assert message["last4"] == "5531"
    assert message["shipped_on"] == "25 November 2024"  # Monday, 2 working days before
    assert message["due_on"] == "30 November 2024"  # 3 days after NOW
    [step] = result.new_steps
    assert step == {
        "action": "action_card_delivery_status",
        "step": "card_delivery_status",
        "outcome": "info",
        "summary": "looked up card ending 5531: shipped 2 days ago, due 30 November 2024",
        "at": now.isoformat(),
    }
    assert result.handoff is None


def test_card_arrival_overdue_within_ten_working_days(run, tracker_for, db, now):
    db.get(Card, "card_1001_2").delivery_due = (now - timedelta(days=1)).date()
    db.commit()

    result = run(ActionCardDeliveryStatus(), tracker_for("card_arrival", customer_id="cus_1001"))

    message = result.message("utter_card_delivery_late")
    assert message["due_on"] == "26 November 2024"
    assert message["replacement_on"] == "9 December 2024"  # 10 working days after 25 Nov
    assert "overdue since 26 November 2024" in result.new_steps[-1]["summary"]


def test_card_arrival_lost_in_post_after_ten_working_days(run, tracker_for):
    result = run(ActionCardDeliveryStatus(), tracker_for("card_arrival", customer_id="cus_1006"))

    message = result.message("utter_card_delivery_lost")
    assert message["last4"] == "6021"
    assert message["working_days"] == 14


def test_card_arrival_without_card_on_its_way(run, tracker_for):
    result = run(ActionCardDeliveryStatus(), tracker_for("card_arrival", customer_id="cus_1002"))

    assert result.responses == ["utter_card_none_in_transit"]
    assert result.new_steps[-1]["outcome"] == "not_found"


def test_lost_card_is_frozen_in_the_bank(run, tracker_for, db, now):
    result = run(ActionFreezeCard(), tracker_for("lost_or_stolen_card", customer_id="cus_1002"))

    card = db.get(Card, "card_1002_1")
    assert card.status is CardStatus.FROZEN
    assert card.frozen_at == now
    assert result.responses == ["utter_card_frozen_lost", "utter_order_replacement_card"]
    assert result.message("utter_card_frozen_lost")["last4"] == "4242"
    [step] = result.new_steps
    assert (step["step"], step["outcome"], step["summary"]) == (
        "freeze_card",
        "done",
        "froze card ending 4242: done",
    )
    assert result.handoff is None
    assert not result.sets_slot("handoff_reason")


def test_swallowed_card_already_frozen(run, tracker_for):
    result = run(ActionFreezeCard(), tracker_for("card_swallowed", customer_id="cus_1005"))

    assert result.responses == ["utter_card_already_frozen", "utter_order_replacement_card"]
    assert result.message("utter_card_already_frozen")["last4"] == "2077"
    assert result.new_steps[-1]["outcome"] == "info"


def test_swallowed_card_is_frozen_with_tailored_text(run, tracker_for, db):
    result = run(ActionFreezeCard(), tracker_for("card_swallowed", customer_id="cus_1004"))

    assert result.responses[0] == "utter_card_frozen_swallowed"
    assert db.get(Card, "card_1004_1").status is CardStatus.FROZEN


def test_freeze_without_active_physical_card(run, tracker_for, db):
    result = run(ActionFreezeCard(), tracker_for("lost_or_stolen_card", customer_id="cus_1001"))

    assert result.responses == ["utter_no_card_to_freeze", "utter_order_replacement_card"]
    assert result.new_steps[-1]["outcome"] == "not_found"
    # The card in the post and the virtual card are left alone.
    assert db.get(Card, "card_1001_2").status is CardStatus.SHIPPED
    assert db.get(Card, "card_1001_3").status is CardStatus.ACTIVE


def test_pin_blocked_card_explains_unblocking(run, tracker_for):
    result = run(ActionCardStatus(), tracker_for("pin_blocked", customer_id="cus_1003"))

    assert result.responses == ["utter_card_pin_blocked"]
    assert result.message("utter_card_pin_blocked")["last4"] == "3310"
    assert "PIN-blocked" in result.new_steps[-1]["summary"]


def test_pin_blocked_when_card_is_not_blocked(run, tracker_for):
    result = run(ActionCardStatus(), tracker_for("pin_blocked", customer_id="cus_1002"))

    message = result.message("utter_card_pin_not_blocked")
    assert (message["last4"], message["status"]) == ("4242", "active")


def test_activate_delivered_card(run, tracker_for):
    result = run(ActionCardStatus(), tracker_for("activate_my_card", customer_id="cus_1004"))

    assert result.message("utter_card_activate")["last4"] == "9034"


def test_activate_card_still_in_the_post(run, tracker_for):
    result = run(ActionCardStatus(), tracker_for("activate_my_card", customer_id="cus_1001"))

    message = result.message("utter_card_activate_not_arrived")
    assert (message["last4"], message["due_on"]) == ("5531", "30 November 2024")


def test_activate_when_card_already_active(run, tracker_for):
    result = run(ActionCardStatus(), tracker_for("activate_my_card", customer_id="cus_1002"))

    assert result.responses == ["utter_card_already_active"]


def test_expiring_card_with_replacement_delivered(run, tracker_for):
    result = run(ActionCardStatus(), tracker_for("card_about_to_expire", customer_id="cus_1004"))

    message = result.message("utter_card_expiring_replacement_delivered")
    assert (message["last4"], message["new_last4"]) == ("8812", "9034")
    assert message["expires_on"] == "17 December 2024"


def test_card_far_from_expiry_names_the_automatic_replacement_date(run, tracker_for, now):
    result = run(ActionCardStatus(), tracker_for("card_about_to_expire", customer_id="cus_1002"))

    message = result.message("utter_card_not_expiring_soon")
    expires = now.date() + timedelta(days=600)
    assert message["expires_on"] == f"{expires.day} {expires:%B %Y}"
    replacement = expires - timedelta(days=30)
    assert message["replacement_on"] == f"{replacement.day} {replacement:%B %Y}"


def test_expiring_soon_without_replacement(run, tracker_for, db):
    db.delete(db.get(Card, "card_1004_2"))
    db.commit()

    result = run(ActionCardStatus(), tracker_for("card_about_to_expire", customer_id="cus_1004"))

    # 20 days left: the automatic replacement (30 days before) should exist but doesn't.
    assert result.responses == ["utter_card_expiring_no_replacement"]


def test_card_not_working_because_frozen(run, tracker_for):
    result = run(ActionCardStatus(), tracker_for("card_not_working", customer_id="cus_1005"))

    message = result.message("utter_card_is_frozen")
    assert (message["last4"], message["frozen_on"]) == ("2077", "26 November 2024")


def test_card_not_working_because_pin_blocked(run, tracker_for):
    result = run(ActionCardStatus(), tracker_for("card_not_working", customer_id="cus_1003"))

    assert result.responses == ["utter_card_pin_blocked"]


def test_card_not_working_when_card_is_active(run, tracker_for):
    result = run(ActionCardStatus(), tracker_for("card_not_working", customer_id="cus_1002"))

    assert result.responses == ["utter_card_active_troubleshoot"]
    assert result.new_steps[-1]["summary"] == "card ending 4242 is active, no recent declines"


def test_card_not_working_mentions_a_recent_decline(run, tracker_for, db):
    db.get(Card, "card_1003_1").status = CardStatus.ACTIVE
    db.commit()

    result = run(ActionCardStatus(), tracker_for("card_not_working", customer_id="cus_1003"))

    assert result.responses == ["utter_card_active_troubleshoot", "utter_card_payment_declined"]
    assert result.message("utter_card_payment_declined")["reason"] == "insufficient funds"
