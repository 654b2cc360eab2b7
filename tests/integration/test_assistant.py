"""The assistant end to end: handoff channel -> Rasa 3.6 -> rasa-sdk actions -> demo bank.

Every request goes through Rasa's real HTTP server with the trained model, and every
account-specific answer through the real action server reading the demo bank, so these tests
also prove that the current rasa-sdk action server works with the Rasa 3.6 server.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from actions.formatting import day
from demobank.db import create_bank_engine, session_factory
from demobank.models import Card, CardStatus
from demobank.queries import card_in_delivery

pytestmark = pytest.mark.integration


def say(
    stack, text: str, customer_id: str | None = None, sender: str | None = None
) -> dict[str, Any]:
    metadata = {"customer_id": customer_id} if customer_id else {}
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/handoff/webhook",
        json={"sender": sender or uuid.uuid4().hex, "message": text, "metadata": metadata},
        headers=stack.channel_headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def texts(turn: dict[str, Any]) -> str:
    return "\n".join(m.get("text", "") for m in turn["messages"] if m.get("text"))


def bank_session(stack):
    return session_factory(create_bank_engine(stack.bank_url))()


def test_service_is_ready_with_every_dependency(stack) -> None:
    body = httpx.get(f"{stack.service_url}/readyz", timeout=10).json()
    assert body["status"] == "ready"
    assert all(check["ok"] for check in body["checks"])


def test_card_arrival_answers_with_this_customers_card_from_the_bank(stack) -> None:
    with bank_session(stack) as session:
        card = card_in_delivery(session, "cus_1001")
    assert card is not None and card.delivery_due is not None
    turn = say(stack, "my card still hasn't arrived", customer_id="cus_1001")
    assert turn["intent"]["name"] == "card_arrival"
    reply = texts(turn)
    assert card.last4 in reply
    assert day(card.delivery_due) in reply
    assert turn["handoff"] is None
    assert any(step["action"] == "action_card_delivery_status" for step in turn["attempted_steps"])


def test_a_turn_names_the_model_that_understood_it(stack) -> None:
    status = httpx.get(
        f"{stack.rasa_url}/status", params={"token": stack.rasa_token}, timeout=10
    ).json()

    turn = say(stack, "how do I change my PIN?")

    assert turn["model_id"] == status["model_id"] and turn["model_id"]


def test_anonymous_customer_gets_general_guidance_and_a_sign_in_hint(stack) -> None:
    turn = say(stack, "my card still hasn't arrived")
    assert turn["intent"]["name"] == "card_arrival"
    assert "sign" in texts(turn).lower()


def test_tier1_policy_question_is_answered_without_handoff(stack) -> None:
    turn = say(stack, "how much does it cost to top up with a credit card?", customer_id="cus_1002")
    assert turn["intent"]["name"] == "top_up_by_card_charge"
    assert texts(turn)
    assert turn["handoff"] is None


def test_compromised_card_is_frozen_first_then_escalated_as_security(stack) -> None:
    turn = say(
        stack,
        "I think someone has my card details, there are payments I didn't make online",
        customer_id="cus_1002",
    )
    assert turn["intent"]["name"] in {"compromised_card", "card_payment_not_recognised"}
    handoff = turn["handoff"]
    assert handoff is not None and handoff["reason"] in {"security_risk", "possible_fraud"}
    assert handoff["attempted_steps"], "the brief must list what the bot already did"


def test_freezing_a_lost_card_writes_to_the_bank(stack) -> None:
    turn = say(stack, "I lost my card yesterday, please block it", customer_id="cus_1004")
    assert turn["intent"]["name"] == "lost_or_stolen_card"
    with bank_session(stack) as session:
        frozen = session.scalars(
            select(Card).where(Card.customer_id == "cus_1004", Card.status == CardStatus.FROZEN)
        ).all()
    assert frozen, "the lost card should be frozen in the bank"
    assert any(card.last4 in texts(turn) for card in frozen)


def test_request_human_escalates_at_once(stack) -> None:
    turn = say(stack, "I want to talk to a real person", customer_id="cus_1003")
    assert turn["intent"]["name"] == "request_human"
    assert turn["handoff"]["reason"] == "request_human"


def test_terminate_account_escalates_to_relationship_team(stack) -> None:
    turn = say(stack, "I want to close my account with you for good", customer_id="cus_1001")
    assert turn["intent"]["name"] == "terminate_account"
    assert turn["handoff"]["reason"] == "churn_risk"
    assert turn["handoff"]["team"] == "relationship"


def test_second_consecutive_fallback_escalates(stack) -> None:
    sender = uuid.uuid4().hex
    first = say(stack, "asdf qwer zxcv", sender=sender)
    assert first["intent"]["name"] == "nlu_fallback"
    assert first["handoff"] is None and texts(first)
    second = say(stack, "lkjhg", sender=sender)
    assert second["intent"]["name"] == "nlu_fallback"
    assert second["handoff"]["reason"] == "repeated_fallback"


@pytest.mark.parametrize(
    "message",
    [
        "   ",
        "😡😡😡",
        "¿Dónde está mi tarjeta nueva? Hace dos semanas que la pedí.",
        "我的卡还没到",
        "card " * 3000,
        "<script>alert('x')</script>",
    ],
    ids=["empty", "emoji-only", "spanish", "chinese", "very-long", "markup"],
)
def test_bad_input_gets_a_sensible_reply(stack, message: str) -> None:
    turn = say(stack, message, customer_id="cus_1001")
    assert texts(turn), "every message gets a reply the customer can read"
    if len(message) > 2000:
        assert turn["truncated"] is True


def test_malformed_request_is_refused_with_a_clear_error(stack) -> None:
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/handoff/webhook",
        json={"message": "hi"},
        headers=stack.channel_headers,
        timeout=10,
    )
    assert response.status_code == 400
    assert "sender" in response.json()["error"]
