"""The customer websocket end to end: socket -> service -> sentiment, Rasa, actions, bank -> socket.

A customer signs in with a token the service signs for a demo customer (as the demo page does)
and chats over ``/ws/customer`` of the session's stack. Every escalation trigger is reached
with the real assistant and the real classifier; which trigger fired is read from the
service's own database, since the customer's frames deliberately do not say.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from customer_chat import (
    TURN_SECONDS,
    Chat,
    after,
    assert_answered_once,
    assert_gapless,
    identity_token,
    is_bot,
    is_event,
    open_store,
)

from demobank.db import create_bank_engine, session_factory
from demobank.queries import card_in_delivery
from handoff.store.repository import ConversationStore, MessageRecord
from handoff.store.states import ConversationState, Sender

pytestmark = pytest.mark.integration

FURIOUS = (
    "This is absolutely ridiculous!!! I have been waiting for weeks, nobody does anything "
    "and I am sick and tired of your useless service. I am furious."
)


@pytest.fixture(scope="module")
def store(stack) -> Iterator[ConversationStore]:
    # The session stack keeps its service database beside its log (tests/integration/conftest.py).
    with open_store(stack.database_url) as store:
        yield store


@pytest.fixture
def chat(stack) -> Iterator[Chat]:
    with Chat.open(stack.service_url) as chat:
        yield chat


def processed(store: ConversationStore, conversation_id: str, seq: int) -> MessageRecord:
    """The customer message ``seq`` once its turn has run (polls the service's database)."""
    deadline = time.monotonic() + TURN_SECONDS
    while time.monotonic() < deadline:
        (message,) = [m for m in store.messages_after(conversation_id, seq - 1) if m.seq == seq]
        if message.payload.get("processed") is True:
            return message
        time.sleep(0.1)
    raise AssertionError(f"message {seq} of {conversation_id} was not processed in time")


def reason_codes(store: ConversationStore, conversation_id: str) -> list[str]:
    handoff = store.latest_handoff(conversation_id)
    assert handoff is not None, "queued without a handoff record"
    return [reason["code"] for reason in handoff.reasons]


def test_signed_in_customer_gets_an_answer_from_the_bank(stack, chat, store) -> None:
    with session_factory(create_bank_engine(stack.bank_url))() as session:
        card = card_in_delivery(session, "cus_1001")
    assert card is not None
    started = chat.start(identity_token(stack.service_url, "cus_1001"))
    assert started["customer"] == {"id": "cus_1001", "name": started["customer"]["name"],
                                   "tier": "standard"}  # fmt: skip
    assert started["state"] == "bot" and started["last_seq"] == 0

    ack = chat.say("my card still hasn't arrived")
    assert ack["seq"] == 1 and ack["duplicate"] is False
    reply = chat.wait_for(after(ack["seq"], lambda f: is_bot(f) and card.last4 in f["text"]))
    assert reply["seq"] > ack["seq"]

    processed(store, started["conversation_id"], ack["seq"])
    conversation = store.get_conversation(started["conversation_id"])
    assert conversation is not None and conversation.state is ConversationState.BOT
    assert not [f for f in chat.messages() if f["sender"] == "system"], "a tier-1 turn escalated"
    # The customer's own message comes back as a transcript frame too, before the reply.
    own = chat.messages()[0]
    assert (own["seq"], own["sender"], own["client_message_id"]) == (1, "customer", ack[
        "client_message_id"])  # fmt: skip


@pytest.mark.parametrize(
    ("customer", "messages", "reason", "team"),
    [
        ("cus_1001", ["I want to talk to a human"], "request_human", None),
        ("cus_1003", ["I'm going to contact the financial ombudsman"], "risk_phrase", "compliance"),
        ("cus_1004", ["you will be hearing from my lawyer"], "risk_phrase", "compliance"),
        ("cus_1004", ["someone used my card without permission"], "rasa_signal", "security"),
        ("cus_1001", ["asdf qwer zxcv", "lkjhg"], "repeated_fallback", None),
        ("cus_1002", [FURIOUS], "high_frustration", None),
    ],
    ids=["request-human", "ombudsman", "lawyer", "compromised-card", "fallback", "premium-fury"],
)
def test_each_trigger_queues_the_conversation(
    stack, chat, store, customer: str, messages: list[str], reason: str, team: str | None
) -> None:
    started = chat.start(identity_token(stack.service_url, customer))
    for text in messages[:-1]:
        ack, _ = chat.ask(text)
        assert not [f for f in chat.messages() if f["sender"] == "system"], "escalated too early"
    ack = chat.say(messages[-1])

    changed, notice = chat.queued(ack)
    assert changed["data"]["from"] == "bot"
    assert notice["text"] and notice["data"]["team"] == changed["data"]["handoff_team"]
    if team is not None:
        assert changed["data"]["handoff_team"] == team
    assert reason in reason_codes(store, started["conversation_id"])
    if customer == "cus_1002":  # premium: the tier's lower frustration threshold decided it
        handoff = store.latest_handoff(started["conversation_id"])
        assert handoff is not None and handoff.mode == "warm"
    assert_gapless(chat.messages())


def test_message_after_queueing_is_acknowledged_but_never_reaches_the_bot(
    stack, chat, store
) -> None:
    started = chat.start(identity_token(stack.service_url, "cus_1001"))
    chat.queued(chat.say("I want to talk to a human"))
    mark = chat.mark()

    ack = chat.say("my card still hasn't arrived")
    assert ack["duplicate"] is False

    message = processed(store, started["conversation_id"], ack["seq"])
    assert message.payload.get("owner") == "queued"
    assert "intent" not in message.payload, "a queued conversation's message reached Rasa"
    transcript = store.transcript(started["conversation_id"])
    assert transcript[-1].seq == ack["seq"], "something answered the queued customer"
    assert [(f["sender"], f["seq"]) for f in chat.messages(mark)] == [("customer", ack["seq"])]


def test_retried_message_is_stored_once_and_answered_once(stack, chat, store) -> None:
    started = chat.start(identity_token(stack.service_url, "cus_1003"))
    text = "how much does it cost to top up with a credit card?"
    # The retry goes out before the first turn ends, as a client that lost the ack would.
    chat.send(type="message", client_message_id="retry-1", text=text)
    chat.send(type="message", client_message_id="retry-1", text=text)
    acks = [
        chat.wait_for(lambda f: f["type"] == "ack", timeout=10),
        chat.wait_for(lambda f: f["type"] == "ack" and f["duplicate"], timeout=10),
    ]
    assert [a["duplicate"] for a in acks] == [False, True]
    assert acks[0]["seq"] == acks[1]["seq"]
    first = acks[0]["seq"]

    # Turns run in order: once the next message is answered, a second run of the first would
    # have answered before it.
    chat.bot_reply(acks[0])
    chat.ask("thanks")
    assert_answered_once(chat.messages(), first)
    customer = [f for f in chat.messages() if f["sender"] == "customer"]
    assert [f["client_message_id"] for f in customer].count("retry-1") == 1
    stored = store.transcript(started["conversation_id"])
    assert [m.client_message_id for m in stored if m.sender is Sender.CUSTOMER].count(
        "retry-1"
    ) == 1
    assert_gapless(chat.messages())


def test_resume_sends_exactly_the_missed_frames_in_order(stack) -> None:
    token = identity_token(stack.service_url, "cus_1001")
    with Chat.open(stack.service_url) as first:
        started = first.start(token)
        first.ask("my card still hasn't arrived")
        # Gone right after the ack, while the assistant is still working on the answer.
        ack = first.say("how much does it cost to top up with a credit card?")
        seen = first.messages()
    last_seq = max(f["seq"] for f in seen)

    with Chat.open(stack.service_url) as second:
        resumed = second.resume(started["resume_token"], last_seq)
        assert resumed["conversation_id"] == started["conversation_id"]
        assert resumed["state"] == "bot"
        second.bot_reply(ack)
        second.ask("thanks")
        missed = second.messages()

    assert missed[0]["seq"] == last_seq + 1
    assert_gapless(missed, first=last_seq + 1)
    assert_gapless(seen + missed)
    assert_answered_once(missed, ack["seq"])

    # A resume from the very start gives the same transcript, frame for frame.
    with Chat.open(stack.service_url) as third:
        third.resume(started["resume_token"], 0)
        everything = third.wait_for(lambda f: f.get("seq") == missed[-1]["seq"], timeout=10)
        assert everything is not None
        key = [(f["seq"], f["sender"], f["text"]) for f in third.messages()]
    assert key == [(f["seq"], f["sender"], f["text"]) for f in seen + missed]


def test_queue_frame_and_state_on_resume_while_queued(stack, chat) -> None:
    started = chat.start(identity_token(stack.service_url, "cus_1006"))
    _, notice = chat.queued(chat.say("I want to talk to a human"))
    with Chat.open(stack.service_url) as again:
        resumed = again.resume(started["resume_token"], notice["seq"])
        assert resumed["state"] == "queued" and resumed["last_seq"] == notice["seq"]
        queue = again.wait_for(lambda f: f["type"] == "queue", timeout=10)
        assert queue["position"] >= 1 and queue["text"]
        assert again.messages() == []
    assert is_event("handoff_notice")(notice)
