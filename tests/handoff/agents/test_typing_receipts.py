"""Typing indicators both ways and the customer's read receipts; none of them is stored."""

# ruff: noqa: F811 - the shared fixtures are imported from test_agent_socket
from __future__ import annotations

from starlette.testclient import WebSocketTestSession
from test_agent_socket import (  # noqa: F401 - fixtures
    Harness,
    assert_quiet,
    auth,
    claim,
    escalate,
    event,
    hand_over,
    harness,
    migrated_engine,
    of_type,
    policy,
    receive,
    receive_until,
    say,
    service_engine,
    start,
)

from handoff.agents.protocol import parse_agent_frame
from handoff.gateway.protocol import ReadFrame, parse_conversation_frame


def held(harness: Harness, customer: WebSocketTestSession, agent: WebSocketTestSession) -> int:
    """The customer escalates (cold) and the agent takes it; the handoff id."""
    start(customer)
    handoff_id = escalate(harness, customer, hand_over("security"))
    auth(agent, harness.token("ana"))
    assert claim(agent, handoff_id)["type"] == "claimed"
    receive_until(customer, event("agent_joined"))
    return handoff_id


def stored_count(harness: Harness, handoff_id: int) -> int:
    handoff = harness.store.get_handoff(handoff_id)
    assert handoff is not None
    return len(harness.store.transcript(handoff.conversation_id))


def test_the_frames_parse_and_refuse_what_they_do_not_define() -> None:
    assert parse_agent_frame('{"type": "typing", "handoff_id": 3}').handoff_id == 3  # type: ignore[union-attr]
    assert parse_agent_frame('{"type": "read", "handoff_id": 3, "seq": 9}').seq == 9  # type: ignore[union-attr]
    assert parse_conversation_frame('{"type": "read", "seq": 4}') == ReadFrame(type="read", seq=4)
    assert parse_conversation_frame('{"type": "typing"}').type == "typing"


def test_the_agent_typing_is_shown_to_the_customer_and_not_stored(harness: Harness) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        handoff_id = held(harness, customer, ana)
        before = stored_count(harness, handoff_id)
        ana.send_json({"type": "typing", "handoff_id": handoff_id})
        typing = receive_until(customer, of_type("typing"))
        assert typing == {"type": "typing", "sender": "agent", "name": "Ana Souza"}
        assert_quiet(ana)  # no answer to the agent
        assert stored_count(harness, handoff_id) == before


def test_the_customer_typing_reaches_the_agent_holding_the_conversation(harness: Harness) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        handoff_id = held(harness, customer, ana)
        before = stored_count(harness, handoff_id)
        customer.send_json({"type": "typing"})
        assert receive_until(ana, of_type("typing")) == {"type": "typing", "handoff_id": handoff_id}
        assert_quiet(customer)  # not answered
        assert stored_count(harness, handoff_id) == before


def test_read_and_delivery_receipts(harness: Harness) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        handoff_id = held(harness, customer, ana)
        say(ana, "a1", "I've frozen your card.", handoff_id)
        delivered = receive_until(ana, of_type("ack"))  # the delivery receipt: stored, sent
        seen = receive_until(customer, lambda f: f.get("text") == "I've frozen your card.")
        assert seen["seq"] == delivered["seq"]
        customer.send_json({"type": "read", "seq": seen["seq"]})
        read = receive_until(ana, of_type("read"))
        assert read == {"type": "read", "handoff_id": handoff_id, "seq": delivered["seq"]}


def test_the_agents_read_receipt_reaches_the_customer_and_is_not_stored(
    harness: Harness,
) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        handoff_id = held(harness, customer, ana)
        say(customer, "c1", "Is it frozen now?")
        written = receive_until(customer, lambda f: f.get("text") == "Is it frozen now?")
        receive_until(ana, lambda f: f.get("text") == "Is it frozen now?")
        before = stored_count(harness, handoff_id)

        ana.send_json({"type": "read", "handoff_id": handoff_id, "seq": written["seq"]})

        receipt = receive_until(customer, of_type("read"))
        assert receipt == {"type": "read", "sender": "agent", "seq": written["seq"]}
        assert_quiet(ana)  # not answered
        assert stored_count(harness, handoff_id) == before


def test_signals_with_nobody_to_tell_are_dropped_and_bad_ones_refused(harness: Harness) -> None:
    with harness.connect_customer() as customer:
        start(customer)
        customer.send_json({"type": "typing"})
        customer.send_json({"type": "read", "seq": 1})
        assert_quiet(customer)
        customer.send_json({"type": "read", "seq": 0})
        assert receive(customer)["code"] == "bad_frame"
    with harness.connect_customer() as customer, harness.connect_agent() as bo:
        start(customer)
        handoff_id = escalate(harness, customer, hand_over("security"))
        auth(bo, harness.token("bo"))
        bo.send_json({"type": "typing", "handoff_id": handoff_id})  # not theirs
        error = receive_until(bo, of_type("error"))
        assert error["code"] == "not_assigned"
        bo.send_json({"type": "read", "handoff_id": handoff_id, "seq": 1})  # not theirs either
        assert receive_until(bo, of_type("error"))["code"] == "not_assigned"
