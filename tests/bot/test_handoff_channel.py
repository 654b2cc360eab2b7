"""Tests of the handoff service's input channel (bot/channels/handoff_channel.py).

Request parsing and the tracker readers are tested as pure functions; the webhook is tested
over HTTP against a real Sanic server, with a fake ``on_new_message`` that processes turns into
Rasa's InMemoryTrackerStore the way Rasa's processor and actions would (see conftest.py).
"""

import json
import logging
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.exceptions import RasaException

from bot.channels.handoff_channel import (
    DEFAULT_EMPTY_MESSAGE_REPLY,
    DEFAULT_MAX_MESSAGE_CHARS,
    ChannelRequestError,
    HandoffInput,
    TurnUnderstanding,
    find_handoff,
    is_authorized,
    parse_request,
    read_turn,
    truncate,
    turn_response,
)

TOKEN = "handoff-channel-test-token-0123456789abcdef"
SENDER = "conv-42"
HANDOFF = {
    "version": 1,
    "reason": "security_risk",
    "intent": "card_lost",
    "confidence": 0.91,
    "team": "security",
    "attempted_steps": [{"step": "freeze_card", "outcome": "done"}],
    "summary": "Card lost: card frozen",
}
STEPS = [{"step": "freeze_card", "outcome": "done", "summary": "Froze card ending 1234"}]
# An entity as Rasa's DIETClassifier logs it (role/group/processors are not passed on).
ENTITY = {
    "entity": "card_last4",
    "start": 17,
    "end": 21,
    "confidence_entity": 0.98,
    "role": "source",
    "value": "1234",
    "extractor": "DIETClassifier",
    "processors": ["EntitySynonymMapper"],
}
ENTITY_READING = {
    "entity": "card_last4",
    "value": "1234",
    "start": 17,
    "end": 21,
    "confidence_entity": 0.98,
    "extractor": "DIETClassifier",
}
# Slots a turn sets: the channel reports card_last4 only (see read_turn).
TURN_SLOTS = {
    "card_last4": "1234",
    "requested_slot": "card_last4",
    "session_started_metadata": {"customer_id": "C-1001"},
}


def body(**fields: Any) -> bytes:
    """A webhook body with the given fields."""
    return json.dumps(fields).encode("utf-8")


# --------------------------------------------------------------------------------------------
# parse_request
# --------------------------------------------------------------------------------------------


def test_parse_request_reads_sender_message_and_metadata() -> None:
    metadata = {"customer_id": "C-1001", "sentiment": {"label": "negative", "score": 0.8}}

    turn = parse_request(body(sender=SENDER, message="  lost my card  ", metadata=metadata), 2000)

    assert turn.sender == SENDER
    assert turn.text == "lost my card"
    assert turn.metadata == metadata
    assert turn.truncated is False
    assert turn.is_empty is False


@pytest.mark.parametrize("fields", [{}, {"metadata": None}])
def test_parse_request_without_metadata_gives_empty_dict(fields: dict[str, Any]) -> None:
    turn = parse_request(body(sender=SENDER, message="hi", **fields), 2000)

    assert turn.metadata == {}


@pytest.mark.parametrize("message", ["", "   ", "\n\t "])
def test_parse_request_whitespace_only_message_is_empty(message: str) -> None:
    turn = parse_request(body(sender=SENDER, message=message), 2000)

    assert turn.is_empty
    assert turn.truncated is False


def test_parse_request_truncates_long_message_and_flags_it() -> None:
    turn = parse_request(body(sender=SENDER, message="x" * 25), 10)

    assert turn.text == "x" * 10
    assert turn.truncated is True


def test_parse_request_message_of_exactly_the_limit_is_kept_whole() -> None:
    turn = parse_request(body(sender=SENDER, message=" " + "y" * 10 + " "), 10)

    assert turn.text == "y" * 10
    assert turn.truncated is False


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/request_human", "request_human"),
        ('  //card_arrival{"amount": 9999}', 'card_arrival{"amount": 9999}'),
        ("my card / PIN is blocked", "my card / PIN is blocked"),
    ],
)
def test_parse_request_never_lets_a_customer_pick_the_intent(typed: str, expected: str) -> None:
    body = json.dumps({"sender": "c-1", "message": typed}).encode()
    assert parse_request(body, max_message_chars=2000).text == expected


def test_truncate_drops_whitespace_left_at_the_cut() -> None:
    assert truncate("hello world", 6) == ("hello", True)
    assert truncate("hello", 6) == ("hello", False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "body is empty"),
        (b"   ", "body is empty"),
        (b"not json", "not valid JSON"),
        (b"\xff\xfe\xfa", "not valid JSON"),
        (b'["sender", "message"]', "must be a JSON object, got an array"),
        (b'"hello"', "must be a JSON object, got a string"),
        (body(message="hi"), "'sender' must be a non-empty string"),
        (body(sender=42, message="hi"), "got a number"),
        (body(sender="  ", message="hi"), "got an empty string"),
        (body(sender=SENDER), "'message' must be a string"),
        (body(sender=SENDER, message=None), "'message' must be a string"),
        (body(sender=SENDER, message=["hi"]), "got an array"),
        (body(sender=SENDER, message="hi", metadata="vip"), "'metadata' must be a JSON object"),
        (body(sender=SENDER, message="hi", metadata=[1]), "'metadata' must be a JSON object"),
    ],
)
def test_parse_request_rejects_bad_bodies_saying_what_to_send(raw: bytes, expected: str) -> None:
    with pytest.raises(ChannelRequestError) as caught:
        parse_request(raw, 2000)

    assert expected in str(caught.value)
    assert '"sender": "<conversation id>"' in str(caught.value)  # and what to send instead


# --------------------------------------------------------------------------------------------
# is_authorized
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, False),
        ("", False),
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"Bearer  {TOKEN} ", True),
        ("Bearer wrong", False),
        (f"Bearer {TOKEN}-and-more", False),
        (f"Basic {TOKEN}", False),
        (TOKEN, False),
    ],
)
def test_is_authorized(header: Any, allowed: bool) -> None:
    assert is_authorized(header, TOKEN) is allowed


# --------------------------------------------------------------------------------------------
# find_handoff, read_turn, turn_response
# --------------------------------------------------------------------------------------------


def test_find_handoff_takes_the_custom_handoff_object() -> None:
    messages = [
        {"recipient_id": SENDER, "text": "A colleague will take over."},
        {"recipient_id": SENDER, "custom": {"handoff": HANDOFF}},
    ]

    assert find_handoff(messages) == HANDOFF


def test_find_handoff_is_none_without_a_handoff_payload() -> None:
    messages = [
        {"recipient_id": SENDER, "text": "Your balance is 12.00 EUR."},
        {"recipient_id": SENDER, "custom": {"chart": [1, 2]}},
        {"recipient_id": SENDER, "custom": {"handoff": "not an object"}},
    ]

    assert find_handoff(messages) is None
    assert find_handoff([]) is None


def test_find_handoff_last_signal_wins() -> None:
    first, second = {"reason": "bot_error"}, {"reason": "security_risk"}
    messages = [{"custom": {"handoff": first}}, {"custom": {"handoff": second}}]

    assert find_handoff(messages) == second


def _tracker_with_turn(
    domain: Any, message_id: str, ranking: Any, entities: Any = (), slots: Any = None
) -> Any:
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(SENDER, domain.slots)
    entities = list(entities)
    parse_data = {"intent": ranking[0], "intent_ranking": ranking, "entities": entities}
    tracker.update(UserUttered("hi", ranking[0], entities, parse_data, message_id=message_id))
    tracker.update(SlotSet("attempted_steps", STEPS))
    for name, value in (TURN_SLOTS if slots is None else slots).items():
        tracker.update(SlotSet(name, value))
    return tracker


def test_read_turn_reads_the_turn_with_the_message_id(domain: Any) -> None:
    ranking = [{"name": f"intent_{i}", "confidence": 0.5 - i * 0.05} for i in range(7)]
    tracker = _tracker_with_turn(domain, "m-1", ranking, entities=[ENTITY])

    understanding = read_turn(tracker, "m-1")

    assert understanding.intent == {"name": "intent_0", "confidence": 0.5}
    assert understanding.intent_ranking == ranking[:5]
    assert understanding.attempted_steps == STEPS
    assert understanding.entities == [ENTITY_READING]
    # Not attempted_steps (its own field), requested_slot or session_started_metadata.
    assert understanding.slots == {"card_last4": "1234"}


def test_read_turn_reports_the_model_that_understood_the_message(domain: Any) -> None:
    ranking = [{"name": "card_arrival", "confidence": 0.9}]
    tracker = _tracker_with_turn(domain, "m-1", ranking)
    tracker.model_id = "model-a"  # as the processor sets it before logging the turn
    parse_data = {"intent": ranking[0]}
    tracker.update(UserUttered("and now?", ranking[0], [], parse_data, message_id="m-2"))

    assert read_turn(tracker, "m-2").model_id == "model-a"
    # The first turn was logged before a model was set: no id rather than a wrong one.
    assert read_turn(tracker, "m-1").model_id is None
    assert read_turn(tracker, None).model_id is None


def test_read_turn_keeps_entity_name_and_value_and_drops_unnamed_entities(domain: Any) -> None:
    entities = [
        {"entity": "amount", "value": {"amount": 50, "currency": "EUR"}},
        {"entity": "card_last4", "value": None, "start": 0, "end": 4},
        {"value": "orphan"},
        {"entity": "", "value": "blank"},
    ]
    tracker = _tracker_with_turn(domain, "m-1", [{"name": "greet"}], entities=entities)

    assert read_turn(tracker, "m-1").entities == [
        {"entity": "amount", "value": {"amount": 50, "currency": "EUR"}},
        {"entity": "card_last4", "value": None, "start": 0, "end": 4},
    ]


def test_read_turn_leaves_unset_slots_out(domain: Any) -> None:
    tracker = _tracker_with_turn(domain, "m-1", [{"name": "greet"}], slots={})

    assert read_turn(tracker, "m-1").slots == {}


def test_read_turn_reports_the_rating_slots_of_the_assistants_domain() -> None:
    # The handoff service reads the customer's rating of an agent from "slots" (set by
    # actions/feedback.py), so the slots' types in bot/domain must survive the round trip.
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Slot auto-fill has been removed")
        domain = Domain.load(str(Path(__file__).resolve().parents[2] / "bot" / "domain"))
    tracker = DialogueStateTracker(SENDER, domain.slots)
    tracker.update(SlotSet("satisfaction_rating", 5.0))
    tracker.update(SlotSet("rating_requested", False))

    slots = read_turn(tracker, None).slots

    assert json.loads(json.dumps(slots)) == {"satisfaction_rating": 5.0, "rating_requested": False}


def test_read_turn_never_reports_another_turns_intent(domain: Any) -> None:
    tracker = _tracker_with_turn(
        domain, "m-1", [{"name": "greet", "confidence": 0.9}], entities=[ENTITY]
    )

    understanding = read_turn(tracker, "m-2")

    assert understanding.intent is None
    assert understanding.intent_ranking == []
    assert understanding.entities == []
    # The slots are still the conversation's.
    assert understanding.attempted_steps == STEPS
    assert understanding.slots == {"card_last4": "1234"}


def test_read_turn_turns_numpy_confidences_into_floats(domain: Any) -> None:
    np = pytest.importorskip("numpy")
    ranking = [{"name": "greet", "confidence": np.float32(0.75)}]
    entity = {
        "entity": "card_last4",
        "value": "1234",
        "start": np.int64(3),
        "confidence_entity": np.float32(0.5),
    }
    tracker = _tracker_with_turn(domain, "m-1", ranking, entities=[entity])

    understanding = read_turn(tracker, "m-1")

    assert type(understanding.intent["confidence"]) is float
    (reading,) = understanding.entities
    assert (type(reading["start"]), type(reading["confidence_entity"])) == (int, float)
    json.dumps([understanding.intent_ranking, understanding.entities])  # JSON-serialisable


def test_read_turn_without_the_slot_in_the_domain_gives_no_steps() -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(SENDER, [])  # e.g. an NLU-only model's domain

    understanding = read_turn(tracker, None)

    assert (understanding.attempted_steps, understanding.slots) == ([], {})


def test_read_turn_without_tracker_is_empty() -> None:
    assert read_turn(None, "m-1") == TurnUnderstanding(None, [], [], entities=[], slots={})


def test_turn_response_has_every_field() -> None:
    messages = [{"recipient_id": SENDER, "custom": {"handoff": HANDOFF}}]
    understanding = TurnUnderstanding(
        {"name": "card_lost", "confidence": 0.9},
        [],
        STEPS,
        entities=[ENTITY_READING],
        slots={"card_last4": "1234"},
        model_id="20261203-120000-brisk-card",
    )

    assert turn_response(SENDER, messages, understanding, truncated=True) == {
        "sender": SENDER,
        "messages": messages,
        "intent": {"name": "card_lost", "confidence": 0.9},
        "intent_ranking": [],
        "entities": [ENTITY_READING],
        "slots": {"card_last4": "1234"},
        "handoff": HANDOFF,
        "attempted_steps": STEPS,
        "truncated": True,
        "model_id": "20261203-120000-brisk-card",
    }


# --------------------------------------------------------------------------------------------
# from_credentials
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials", [{"token": TOKEN}, {"token": TOKEN, "empty_message_reply": ""}]
)
def test_from_credentials_defaults(credentials: Any) -> None:
    channel = HandoffInput.from_credentials(credentials)

    assert channel.name() == "handoff"
    assert channel.token == TOKEN
    assert channel.max_message_chars == DEFAULT_MAX_MESSAGE_CHARS == 2000
    assert channel.empty_message_reply == DEFAULT_EMPTY_MESSAGE_REPLY


@pytest.mark.parametrize(
    "credentials", [None, {}, {"token": None}, {"token": ""}, {"token": "short-secret"}]
)
def test_from_credentials_refuses_to_run_without_a_strong_token(credentials: Any) -> None:
    # The channel sets customer ids from its metadata: it never runs open.
    with pytest.raises(RasaException, match="HANDOFF_RASA__CHANNEL_TOKEN"):
        HandoffInput.from_credentials(credentials)


def test_from_credentials_reads_every_key() -> None:
    channel = HandoffInput.from_credentials(
        {"token": TOKEN, "max_message_chars": "500", "empty_message_reply": "Type away!"}
    )

    assert (channel.token, channel.max_message_chars, channel.empty_message_reply) == (
        TOKEN,
        500,
        "Type away!",
    )


@pytest.mark.parametrize(
    "credentials",
    [
        {"token": TOKEN, "max_message_chars": 0},
        {"token": TOKEN, "max_message_chars": -5},
        {"token": TOKEN, "max_message_chars": "lots"},
        {"token": TOKEN, "max_message_chars": True},
        {"token": 1234},
        {"token": TOKEN, "empty_message_reply": "   "},
    ],
)
def test_from_credentials_rejects_bad_values(credentials: dict[str, Any]) -> None:
    with pytest.raises(RasaException):
        HandoffInput.from_credentials(credentials)


# --------------------------------------------------------------------------------------------
# The webhook, over HTTP
# --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_health(serve_channel: Any, fake_rasa: Any, agent: Any) -> None:
    server = await serve_channel(HandoffInput(token=TOKEN), fake_rasa, agent)

    reply = await server.get("/")

    assert reply.status == 200
    assert reply.json() == {"status": "ok"}


@pytest.mark.asyncio
async def test_turn_returns_messages_intent_entities_slots_handoff_and_steps(
    serve_channel: Any, fake_rasa: Any, agent: Any
) -> None:
    fake_rasa.handoff = HANDOFF
    fake_rasa.steps = STEPS
    fake_rasa.entities = [ENTITY]
    fake_rasa.slots = TURN_SLOTS
    fake_rasa.intent_ranking = [
        {"name": f"intent_{i}", "confidence": round(0.6 - i * 0.08, 2)} for i in range(7)
    ]
    server = await serve_channel(HandoffInput(TOKEN), fake_rasa, agent)

    reply = await server.post({"sender": SENDER, "message": "I lost my card"})

    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.json() == {
        "sender": SENDER,
        "messages": [
            {"recipient_id": SENDER, "text": "I've frozen your card."},
            {"recipient_id": SENDER, "custom": {"handoff": HANDOFF}},
        ],
        "intent": {"name": "intent_0", "confidence": 0.6},
        "intent_ranking": fake_rasa.intent_ranking[:5],
        "entities": [ENTITY_READING],
        "slots": {"card_last4": "1234"},
        "handoff": HANDOFF,
        "attempted_steps": STEPS,
        "truncated": False,
        "model_id": fake_rasa.model_id,
    }
    assert fake_rasa.received[0].text == "I lost my card"


@pytest.mark.asyncio
async def test_turn_without_handoff_or_steps(
    serve_channel: Any, fake_rasa: Any, agent: Any
) -> None:
    server = await serve_channel(HandoffInput(TOKEN), fake_rasa, agent)

    data = (await server.post({"sender": SENDER, "message": "hi"})).json()

    assert data["handoff"] is None
    assert data["attempted_steps"] == []
    assert (data["entities"], data["slots"]) == ([], {})
    assert data["intent"] == {"name": "card_lost", "confidence": 0.91}
    assert [r["name"] for r in data["intent_ranking"]] == ["card_lost", "check_balance", "greet"]


@pytest.mark.asyncio
async def test_metadata_reaches_rasa_and_the_tracker(
    serve_channel: Any, fake_rasa: Any, agent: Any, tracker_store: Any
) -> None:
    metadata = {"customer_id": "C-1001", "sentiment": {"label": "negative", "score": -0.7}}
    server = await serve_channel(HandoffInput(TOKEN), fake_rasa, agent)

    reply = await server.post({"sender": SENDER, "message": "hello", "metadata": metadata})

    assert reply.status == 200
    (message,) = fake_rasa.received
    assert message.metadata == metadata
    assert message.sender_id == SENDER
    assert message.input_channel == "handoff"
    tracker = await tracker_store.retrieve(SENDER)
    # What actions read as tracker.latest_message["metadata"].
    assert tracker.latest_message.parse_data["metadata"] == metadata


@pytest.mark.asyncio
async def test_each_turn_reports_its_own_intent(
    serve_channel: Any, fake_rasa: Any, agent: Any
) -> None:
    server = await serve_channel(HandoffInput(TOKEN), fake_rasa, agent)
    await server.post({"sender": SENDER, "message": "I lost my card"})
    fake_rasa.intent_ranking = [{"name": "greet", "confidence": 0.97}]
    fake_rasa.steps = STEPS

    data = (await server.post({"sender": SENDER, "message": "hello"})).json()

    assert data["intent"] == {"name": "greet", "confidence": 0.97}
    assert data["attempted_steps"] == STEPS


@pytest.mark.asyncio
async def test_empty_message_is_answered_without_rasa(
    serve_channel: Any, fake_rasa: Any, agent: Any, tracker_store: Any
) -> None:
    tracker = await tracker_store.get_or_create_tracker(SENDER)
    tracker.update(SlotSet("attempted_steps", STEPS))
    tracker.update(SlotSet("card_last4", "1234"))
    await tracker_store.save(tracker)
    server = await serve_channel(HandoffInput(TOKEN), fake_rasa, agent)

    reply = await server.post({"sender": SENDER, "message": "   \n"})

    assert reply.status == 200
    assert reply.json() == {
        "sender": SENDER,
        "messages": [{"recipient_id": SENDER, "text": DEFAULT_EMPTY_MESSAGE_REPLY}],
        "intent": None,
        "intent_ranking": [],
        "entities": [],  # no message was understood this turn
        "slots": {"card_last4": "1234"},  # still the conversation's, like attempted_steps
        "handoff": None,
        "attempted_steps": STEPS,  # still the conversation's, not "nothing tried"
        "truncated": False,
        "model_id": None,  # no model read a message this turn
    }
    assert fake_rasa.received == []


@pytest.mark.asyncio
async def test_empty_message_uses_configured_reply_for_new_conversation(
    serve_channel: Any, fake_rasa: Any, agent: Any
) -> None:
    channel = HandoffInput.from_credentials(
        {"token": TOKEN, "empty_message_reply": "Please type something."}
    )
    server = await serve_channel(channel, fake_rasa, agent)

    data = (await server.post({"sender": "new-conv", "message": ""})).json()

    assert data["messages"] == [{"recipient_id": "new-conv", "text": "Please type something."}]
    assert data["intent"] is None
    assert data["attempted_steps"] == []
    assert fake_rasa.received == []


@pytest.mark.asyncio
async def test_long_message_is_truncated_and_flagged(
    serve_channel: Any, fake_rasa: Any, agent: Any
) -> None:
    server = await serve_channel(HandoffInput(TOKEN, max_message_chars=10), fake_rasa, agent)

    reply = await server.post({"sender": SENDER, "message": "abcdefghij" + "k" * 5000})

    assert reply.status == 200
    assert reply.json()["truncated"] is True
    assert fake_rasa.received[0].text == "abcdefghij"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "body is empty"),
        (b"[]", "must be a JSON object"),
        (body(message="hi"), "'sender'"),
        (body(sender=SENDER), "'message'"),
        (body(sender=SENDER, message="hi", metadata="vip"), "'metadata'"),
    ],
)
async def test_bad_request_is_400_json(
    serve_channel: Any, fake_rasa: Any, agent: Any, raw: bytes, expected: str
) -> None:
    server = await serve_channel(HandoffInput(TOKEN), fake_rasa, agent)

    reply = await server.post_raw(raw)

    assert reply.status == 400
    assert reply.content_type == "application/json"
    assert expected in reply.json()["error"]
    assert fake_rasa.received == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
async def test_a_request_without_the_token_is_refused(
    serve_channel: Any, fake_rasa: Any, agent: Any, headers: dict[str, str]
) -> None:
    server = await serve_channel(HandoffInput(token=TOKEN), fake_rasa, agent)

    reply = await server.post({"sender": SENDER, "message": "hi"}, headers=headers)

    assert reply.status == 401
    assert reply.content_type == "application/json"
    assert "Authorization: Bearer <token>" in reply.json()["error"]
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert fake_rasa.received == []


@pytest.mark.asyncio
async def test_right_token_is_accepted(serve_channel: Any, fake_rasa: Any, agent: Any) -> None:
    channel = HandoffInput.from_credentials({"token": TOKEN})
    server = await serve_channel(channel, fake_rasa, agent)

    reply = await server.post(
        {"sender": SENDER, "message": "hi"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert reply.status == 200
    assert reply.json()["intent"]["name"] == "card_lost"


@pytest.mark.asyncio
async def test_rasa_exception_is_500_json_and_logged(
    serve_channel: Any, fake_rasa: Any, agent: Any, caplog: Any
) -> None:
    fake_rasa.error = RuntimeError("action server exploded")
    server = await serve_channel(HandoffInput(TOKEN), fake_rasa, agent)

    with caplog.at_level(logging.ERROR, logger="bot.channels.handoff_channel"):
        reply = await server.post({"sender": SENDER, "message": "hi"})

    assert reply.status == 500
    assert reply.content_type == "application/json"
    assert "failed to process" in reply.json()["error"]
    assert "Traceback" not in reply.body.decode()
    assert any(
        record.exc_info and "action server exploded" in str(record.exc_info[1])
        for record in caplog.records
    )


@pytest.mark.asyncio
async def test_tracker_store_failure_is_500_json(
    serve_channel: Any, fake_rasa: Any, tracker_store: Any
) -> None:
    async def broken_retrieve(sender_id: str) -> None:
        raise ConnectionError("tracker store down")

    agent = SimpleNamespace(
        tracker_store=SimpleNamespace(retrieve=broken_retrieve), is_ready=lambda: True
    )
    server = await serve_channel(HandoffInput(TOKEN), fake_rasa, agent)

    reply = await server.post({"sender": SENDER, "message": ""})

    assert reply.status == 500
    assert "error" in reply.json()


@pytest.mark.asyncio
async def test_agent_without_model_is_503_json(
    serve_channel: Any, fake_rasa: Any, agent: Any
) -> None:
    agent.ready = False
    server = await serve_channel(HandoffInput(TOKEN), fake_rasa, agent)

    reply = await server.post({"sender": SENDER, "message": "hi"})

    assert reply.status == 503
    assert "no trained model" in reply.json()["error"]
    assert fake_rasa.received == []
