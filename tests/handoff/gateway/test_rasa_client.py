"""The Rasa turn client against a faked handoff channel (httpx.MockTransport).

The real channel and server are covered by the bot's integration tests; these check that every
answer the channel documents, and every way the call can fail, comes out as intended.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from handoff.exceptions import DependencyUnavailable, HandoffError
from handoff.gateway.rasa_client import (
    BotReply,
    BotRequestRejected,
    BotUnavailable,
    MalformedTurn,
    RankedIntent,
    RasaHandoffSignal,
    RasaTurnClient,
    parse_turn,
    turn_metadata,
)

BASE_URL = "http://rasa.test:5005/"
WEBHOOK = "http://rasa.test:5005/webhooks/handoff/webhook"
SENDER = "conv-42"

STEP = {
    "action": "action_freeze_card",
    "step": "freeze_card",
    "outcome": "done",
    "summary": "froze card ending 4242: done",
    "at": "2024-11-27T10:00:00+00:00",
}
SIGNAL = {
    "version": 1,
    "reason": "security_risk",
    "intent": "compromised_card",
    "confidence": 0.93,
    "category": "security",
    "severity": "sev1",
    "team": "security",
    "attempted_steps": [STEP],
    "summary": "Customer reports a compromised card: froze card ending 4242: done",
}


def channel_answer(**overrides: Any) -> dict[str, Any]:
    """A body as the handoff channel sends it, for a plain answered turn."""
    body: dict[str, Any] = {
        "sender": SENDER,
        "messages": [{"recipient_id": SENDER, "text": "Your card is on its way."}],
        "intent": {"name": "card_arrival", "confidence": 0.97},
        "intent_ranking": [
            {"name": "card_arrival", "confidence": 0.97},
            {"name": "card_delivery_estimate", "confidence": 0.02},
        ],
        "entities": [],
        "slots": {},
        "handoff": None,
        "attempted_steps": [],
        "truncated": False,
        "model_id": "20261203-120000-brisk-card",
    }
    body.update(overrides)
    return body


Handler = Callable[[httpx.Request], httpx.Response]


class FakeRasa:
    """A MockTransport handler that records requests and answers with ``respond``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.respond: Handler = lambda request: httpx.Response(200, json=channel_answer())

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)

    @property
    def last_body(self) -> dict[str, Any]:
        return json.loads(self.requests[-1].content)


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
async def http(rasa: FakeRasa) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(rasa)) as client:
        yield client


def make_client(http: httpx.AsyncClient, token: str | None = None) -> RasaTurnClient:
    return RasaTurnClient(http, BASE_URL, token=token, timeout=2.5)


def raising(error: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


async def test_a_turn_is_posted_to_the_channel_and_parsed(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    turn = await make_client(http).send(SENDER, "where is my card?", {"customer_id": "cus_1001"})

    request = rasa.requests[-1]
    assert (request.method, str(request.url)) == ("POST", WEBHOOK)
    assert rasa.last_body == {
        "sender": SENDER,
        "message": "where is my card?",
        "metadata": {"customer_id": "cus_1001"},
    }
    assert turn.replies == [BotReply(text="Your card is on its way.", buttons=[], custom=None)]
    assert turn.handoff is None
    assert (turn.intent, turn.confidence) == ("card_arrival", 0.97)
    assert turn.intent_ranking == [
        RankedIntent("card_arrival", 0.97),
        RankedIntent("card_delivery_estimate", 0.02),
    ]
    assert turn.attempted_steps == []
    assert turn.truncated is False
    assert (turn.entities, turn.slots) == ([], {})
    assert turn.model_id == "20261203-120000-brisk-card"


async def test_replies_keep_their_order_buttons_and_custom_payloads(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    buttons = [
        {"title": "Yes, freeze it", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
    ]
    rasa.respond = lambda request: httpx.Response(
        200,
        json=channel_answer(
            messages=[
                {"recipient_id": SENDER, "text": "Shall I freeze card 4242?", "buttons": buttons},
                {"recipient_id": SENDER, "custom": {"card": {"last4": "4242"}}},
                {"recipient_id": SENDER, "text": "Anything else?"},
            ]
        ),
    )

    turn = await make_client(http).send(SENDER, "my card was stolen", {})

    assert turn.replies == [
        BotReply(text="Shall I freeze card 4242?", buttons=buttons, custom=None),
        BotReply(text=None, buttons=[], custom={"card": {"last4": "4242"}}),
        BotReply(text="Anything else?", buttons=[], custom=None),
    ]


async def test_the_handoff_signal_is_separated_from_the_replies(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    rasa.respond = lambda request: httpx.Response(
        200,
        json=channel_answer(
            messages=[
                {"recipient_id": SENDER, "text": "A colleague from security takes over now."},
                {"recipient_id": SENDER, "custom": {"handoff": SIGNAL}},
            ],
            intent={"name": "compromised_card", "confidence": 0.93},
            handoff=SIGNAL,
            attempted_steps=[STEP],
        ),
    )

    turn = await make_client(http).send(SENDER, "someone used my card", {})

    assert turn.replies == [BotReply(text="A colleague from security takes over now.")]
    assert turn.handoff == RasaHandoffSignal(
        reason="security_risk",
        intent="compromised_card",
        confidence=0.93,
        category="security",
        severity="sev1",
        team="security",
        attempted_steps=[STEP],
        summary="Customer reports a compromised card: froze card ending 4242: done",
    )
    assert turn.attempted_steps == [STEP]


def test_a_turn_without_nlu_has_no_intent_and_zero_confidence() -> None:
    # The channel's answer to an empty message: no intent, the steps so far, a canned reply.
    turn = parse_turn(
        channel_answer(intent=None, intent_ranking=[], attempted_steps=[STEP], truncated=False)
    )

    assert (turn.intent, turn.confidence, turn.intent_ranking) == (None, 0.0, [])
    assert turn.attempted_steps == [STEP]


def test_entities_and_slots_are_read() -> None:
    entities = [
        {
            "entity": "card_last4",
            "value": "4242",
            "start": 20,
            "end": 24,
            "confidence_entity": 0.98,
            "extractor": "DIETClassifier",
        },
        {"entity": "amount", "value": {"amount": 50, "currency": "EUR"}},
    ]
    slots = {"card_last4": "4242", "customer_verified": True, "amount": 50.0}

    turn = parse_turn(channel_answer(entities=entities, slots=slots))

    assert turn.entities == entities
    assert turn.slots == slots


def test_an_older_channel_without_entities_slots_and_model_still_parses() -> None:
    body = channel_answer()
    del body["entities"], body["slots"], body["model_id"]

    turn = parse_turn(body)

    assert (turn.entities, turn.slots, turn.model_id) == ([], {}, None)
    assert turn.intent == "card_arrival"


def test_a_model_id_that_is_not_text_is_malformed() -> None:
    with pytest.raises(MalformedTurn, match="model_id"):
        parse_turn(channel_answer(model_id=42))


def test_null_entities_and_slots_read_as_empty() -> None:
    turn = parse_turn(channel_answer(entities=None, slots=None))

    assert (turn.entities, turn.slots) == ([], {})


def test_a_truncated_message_is_flagged_and_a_missing_confidence_reads_zero() -> None:
    turn = parse_turn(
        channel_answer(truncated=True, intent={"name": "card_arrival", "confidence": None})
    )

    assert turn.truncated is True
    assert (turn.intent, turn.confidence) == ("card_arrival", 0.0)


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


async def test_the_bearer_token_is_sent_when_configured(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    await make_client(http, token="s3cret").send(SENDER, "hi", {})
    await make_client(http, token=None).send(SENDER, "hi", {})

    assert rasa.requests[0].headers["Authorization"] == "Bearer s3cret"
    assert "Authorization" not in rasa.requests[1].headers


async def test_the_customer_is_forwarded_and_nothing_else(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    await make_client(http).send(SENDER, "still no card!!", turn_metadata("cus_1001"))

    assert rasa.last_body["metadata"] == {"customer_id": "cus_1001"}


def test_an_anonymous_customer_sends_no_metadata() -> None:
    assert turn_metadata(None) == {}
    assert turn_metadata("") == {}


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------


async def test_a_timeout_means_the_bot_is_unavailable(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    rasa.respond = raising(httpx.ReadTimeout("timed out"))

    with pytest.raises(BotUnavailable, match=r"did not answer within 2\.5 s") as caught:
        await make_client(http).send(SENDER, "hi", {})

    assert isinstance(caught.value, DependencyUnavailable)
    assert caught.value.dependency == "rasa"
    assert caught.value.status_code is None


async def test_a_refused_connection_means_the_bot_is_unavailable(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    rasa.respond = raising(httpx.ConnectError("[Errno 111] Connection refused"))

    with pytest.raises(BotUnavailable, match="cannot reach Rasa.*Connection refused"):
        await make_client(http).send(SENDER, "hi", {})


async def test_a_server_error_means_the_bot_is_unavailable(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    rasa.respond = lambda request: httpx.Response(
        500, json={"error": "The assistant failed to process this message."}
    )

    with pytest.raises(BotUnavailable, match=r"failed on the message \(500\)") as caught:
        await make_client(http).send(SENDER, "hi", {})

    assert caught.value.status_code == 500
    assert "failed to process this message" in str(caught.value)


async def test_no_model_loaded_means_the_bot_is_unavailable_with_rasas_words(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    error = "The assistant has no trained model loaded yet; retry once the Rasa server has one."
    rasa.respond = lambda request: httpx.Response(503, json={"error": error})

    with pytest.raises(BotUnavailable) as caught:
        await make_client(http).send(SENDER, "hi", {})

    assert caught.value.status_code == 503
    assert error in str(caught.value)


async def test_an_html_error_page_is_reported_as_text(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    rasa.respond = lambda request: httpx.Response(502, text="<h1>502 Bad Gateway</h1>")

    with pytest.raises(BotUnavailable, match="502 Bad Gateway"):
        await make_client(http).send(SENDER, "hi", {})


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, content=b""),
        httpx.Response(200, content=b"\xff\xfe{"),
    ],
)
async def test_a_body_that_is_not_json_means_the_bot_is_unavailable(
    rasa: FakeRasa, http: httpx.AsyncClient, response: httpx.Response
) -> None:
    rasa.respond = lambda request: response

    with pytest.raises(BotUnavailable, match="not JSON"):
        await make_client(http).send(SENDER, "hi", {})


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"sender": SENDER},
        channel_answer(messages="hello"),
        channel_answer(messages=[{"text": 42}]),
        channel_answer(intent="card_arrival"),
        channel_answer(handoff={"team": "security"}),
        channel_answer(attempted_steps="froze the card"),
        channel_answer(slots=["card_last4", "4242"]),
        channel_answer(slots="card_last4=4242"),
        channel_answer(entities={"entity": "card_last4", "value": "4242"}),
        channel_answer(entities=["card_last4"]),
        channel_answer(entities=[{"value": "4242"}]),
        channel_answer(sender="another-conversation"),
    ],
)
async def test_json_of_the_wrong_shape_means_the_bot_is_unavailable(
    rasa: FakeRasa, http: httpx.AsyncClient, body: Any
) -> None:
    rasa.respond = lambda request: httpx.Response(200, json=body)

    with pytest.raises(BotUnavailable, match="malformed turn"):
        await make_client(http).send(SENDER, "hi", {})


async def test_a_wrong_token_is_a_rejected_request(rasa: FakeRasa, http: httpx.AsyncClient) -> None:
    rasa.respond = lambda request: httpx.Response(401, json={"error": "Missing or wrong token."})

    with pytest.raises(BotRequestRejected, match="credentials.yml") as caught:
        await make_client(http, token="wrong").send(SENDER, "hi", {})

    assert caught.value.status_code == 401
    assert isinstance(caught.value, HandoffError)
    assert not isinstance(caught.value, DependencyUnavailable)


@pytest.mark.parametrize("status", [400, 404, 413])
async def test_other_client_errors_are_rejected_requests(
    rasa: FakeRasa, http: httpx.AsyncClient, status: int
) -> None:
    rasa.respond = lambda request: httpx.Response(status, json={"error": "'sender' must be..."})

    with pytest.raises(BotRequestRejected) as caught:
        await make_client(http).send(SENDER, "hi", {})

    assert caught.value.status_code == status


def test_a_non_positive_timeout_is_refused(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="timeout"):
        RasaTurnClient(http, BASE_URL, token=None, timeout=0)


# --------------------------------------------------------------------------------------------
# Setting a slot through Rasa's HTTP API (the agent's hand-back summary)
# --------------------------------------------------------------------------------------------

EVENTS_URL = "http://rasa.test:5005/conversations/conv-42/tracker/events"


async def test_set_slot_posts_one_slot_event_to_the_tracker(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    rasa.respond = lambda request: httpx.Response(200, json={"sender_id": SENDER, "slots": {}})

    await make_client(http, token="channel-secret").set_slot(
        SENDER, "handback_summary", "Card unblocked; customer may ask about the new PIN."
    )

    request = rasa.requests[-1]
    assert request.method == "POST"
    assert str(request.url).split("?")[0] == EVENTS_URL
    assert dict(request.url.params) == {"include_events": "NONE"}
    assert rasa.last_body == [
        {
            "event": "slot",
            "name": "handback_summary",
            "value": "Card unblocked; customer may ask about the new PIN.",
        }
    ]
    assert "authorization" not in request.headers  # the channel's secret is not the API's


async def test_set_slot_sends_the_api_token_and_escapes_the_conversation_id(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    client = RasaTurnClient(http, BASE_URL, token=None, timeout=2.5, api_token="api-secret")

    await client.set_slot("a/b c", "handback_summary", "done")

    request = rasa.requests[-1]
    assert request.url.raw_path.startswith(b"/conversations/a%2Fb%20c/tracker/events?")
    assert request.url.params["token"] == "api-secret"


@pytest.mark.parametrize(
    ("respond", "error", "match"),
    [
        (raising(httpx.ReadTimeout("timed out")), BotUnavailable, r"did not answer within 2\.5"),
        (raising(httpx.ConnectError("refused")), BotUnavailable, "cannot reach Rasa"),
        (lambda r: httpx.Response(500, json={"error": "boom"}), BotUnavailable, r"\(500\)"),
        (lambda r: httpx.Response(503, json={"error": "no model"}), BotUnavailable, "no model"),
        (lambda r: httpx.Response(401, json={"error": "wrong"}), BotRequestRejected, "token"),
        (lambda r: httpx.Response(403, json={"error": "no"}), BotRequestRejected, "token"),
        (lambda r: httpx.Response(404, text="Not Found"), BotRequestRejected, "--enable-api"),
        (lambda r: httpx.Response(400, json={"error": "bad"}), BotRequestRejected, "bad"),
    ],
    ids=["timeout", "refused", "500", "503", "401", "403", "404-no-api", "400"],
)
async def test_set_slot_maps_failures_as_send_does(
    rasa: FakeRasa,
    http: httpx.AsyncClient,
    respond: Handler,
    error: type[Exception],
    match: str,
) -> None:
    rasa.respond = respond

    with pytest.raises(error, match=match):
        await make_client(http).set_slot(SENDER, "handback_summary", "done")


async def test_trigger_intent_returns_what_the_assistant_says(
    rasa: FakeRasa, http: httpx.AsyncClient
) -> None:
    rasa.respond = lambda request: httpx.Response(
        200, json={"tracker": {}, "messages": [{"text": "Welcome back!"}, {"image": "x.png"}]}
    )

    replies = await make_client(http).trigger_intent(SENDER, "EXTERNAL_back_from_agent")

    assert [reply.text for reply in replies] == ["Welcome back!"]  # the image is not shown
    request = rasa.requests[-1]
    assert request.url.path == "/conversations/conv-42/trigger_intent"
    assert rasa.last_body == {"name": "EXTERNAL_back_from_agent", "entities": {}}


@pytest.mark.parametrize("body", [{"tracker": {}}, {"messages": "hi"}, ["not", "an", "object"]])
async def test_trigger_intent_without_a_messages_list_is_bot_unavailable(
    rasa: FakeRasa, http: httpx.AsyncClient, body: Any
) -> None:
    rasa.respond = lambda request: httpx.Response(200, json=body)

    with pytest.raises(BotUnavailable, match="no messages list"):
        await make_client(http).trigger_intent(SENDER, "EXTERNAL_back_from_agent")
