"""The conversation service with a real store (SQLite and PostgreSQL), the shipped policy and
fake Rasa and sentiment.

The engine's own triggers are covered table by table in tests/handoff/escalation; these check
that the service feeds it the right facts across turns, enforces ownership, and never loses a
message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from postgres_server import BACKENDS
from sqlalchemy import Engine

from handoff.brief.builder import CustomerInfo
from handoff.brief.schema import HandoffBrief
from handoff.escalation.decision import Tier
from handoff.escalation.policy import EscalationPolicy, load_policy
from handoff.gateway.conversations import (
    BOT_TROUBLE_TEXT,
    ConversationService,
    hash_token,
)
from handoff.gateway.hub import ConversationHub, Subscriber
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.rasa_client import (
    BotReply,
    BotUnavailable,
    RankedIntent,
    RasaHandoffSignal,
    RasaTurn,
)
from handoff.sentiment.reading import SentimentReading
from handoff.settings import repo_root
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.repository import ConversationStore, NewMessage
from handoff.store.review import ReviewStore
from handoff.store.states import ConversationState, Sender

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PREMIUM = CustomerInfo("cus_1002", "Ana Premium", Tier.PREMIUM)
STANDARD = CustomerInfo("cus_1001", "Sam Standard", Tier.STANDARD)


def reading(label: str = "neutral", frustration: float = 0.05) -> SentimentReading:
    scores = {"negative": 0.1, "neutral": 0.8, "positive": 0.1}
    if label == "negative":
        scores = {"negative": 0.85, "neutral": 0.1, "positive": 0.05}
    return SentimentReading(label=label, scores=scores, frustration=frustration, irony=0.01)


def answer(intent: str = "card_arrival", confidence: float = 0.95, **extra: Any) -> RasaTurn:
    return RasaTurn(
        replies=[BotReply(text=f"answer about {intent}")],
        handoff=None,
        intent=intent,
        confidence=confidence,
        intent_ranking=[
            RankedIntent("lost_or_stolen_card", 0.01),
            RankedIntent(intent, confidence),
            RankedIntent("card_linking", 0.005),
            RankedIntent("card_delivery_estimate", 0.03),
        ],
        attempted_steps=[],
        truncated=False,
        **{"model_id": "20261203-120000-test-model", **extra},
    )


class FakeAssistant:
    """Answers from a script; records what it was sent."""

    def __init__(self) -> None:
        self.script: list[RasaTurn | Exception] = []
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        self.calls.append((conversation_id, text, metadata))
        outcome = self.script.pop(0) if self.script else answer()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class FakeSentiment:
    def __init__(self) -> None:
        self.script: list[SentimentReading | None] = []

    async def read(self, text: str) -> SentimentReading | None:
        return self.script.pop(0) if self.script else reading()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(scope="module")
def policy() -> EscalationPolicy:
    return load_policy(repo_root() / "data" / "escalation.yml")


_databases = itertools.count(1)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database on SQLite, and again on the test session's real PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'service.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"gateway_{next(_databases)}"
        )
    engine = create_database_engine(url)
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> ConversationStore:
    return ConversationStore(engine)


@pytest.fixture
def assistant() -> FakeAssistant:
    return FakeAssistant()


@pytest.fixture
def sentiment() -> FakeSentiment:
    return FakeSentiment()


@pytest.fixture
def service(
    store: ConversationStore,
    assistant: FakeAssistant,
    sentiment: FakeSentiment,
    policy: EscalationPolicy,
) -> ConversationService:
    return ConversationService(
        store=store, hub=ConversationHub(), assistant=assistant, sentiment=sentiment,
        policy=policy, presence=PresenceRegistry(), average_handle=timedelta(minutes=8),
        clock=Clock(),
    )  # fmt: skip


_ids = itertools.count()


def service_hub(service: ConversationService) -> ConversationHub:
    return service._hub


async def say(service: ConversationService, conversation_id: str, text: str):
    receipt = await service.receive(conversation_id, client_message_id=f"m{next(_ids)}", text=text)
    assert receipt.turn is not None
    return await receipt.turn


async def test_a_tier1_turn_stores_the_reading_and_the_reply(
    service: ConversationService, store: ConversationStore, assistant: FakeAssistant
) -> None:
    record, token = await service.start(STANDARD)
    result = await say(service, record.id, "where is my card?")

    assert result.state is ConversationState.BOT and not result.decision.escalate
    transcript = store.transcript(record.id)
    assert [(m.seq, m.sender) for m in transcript] == [(1, Sender.CUSTOMER), (2, Sender.BOT)]
    stored = transcript[0].payload
    assert stored["processed"] is True
    assert (stored["intent"], stored["confidence"]) == ("card_arrival", 0.95)
    assert stored["sentiment"]["label"] == "neutral"
    assert stored["model_id"] == "20261203-120000-test-model"
    # The top three of the ranking, best first, for the trainers' inbox.
    assert stored["intent_ranking"] == [
        {"name": "card_arrival", "confidence": 0.95},
        {"name": "card_delivery_estimate", "confidence": 0.03},
        {"name": "lost_or_stolen_card", "confidence": 0.01},
    ]
    # Rasa is told who the customer is, and nothing of the reading (no action reads it).
    ((_, text, metadata),) = assistant.calls
    assert metadata == {"customer_id": "cus_1001"}
    assert store.find_by_token_hash(hash_token(token)).id == record.id


async def test_a_turn_the_assistant_did_not_understand_goes_to_the_inbox_masked(
    service: ConversationService, engine: Engine, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    assistant.script = [answer("card_arrival", 0.97), answer("nlu_fallback", 0.45)]

    await say(service, record.id, "where is my card?")
    await say(service, record.id, "Sam here, card 4242 4242 4242 4242 is weird")

    (group,) = ReviewStore(engine).groups()
    assert group.text == "[name] here, card [card number] is weird"
    assert group.count == 1 and group.conversation_ids == [record.id]
    assert group.intent == "nlu_fallback" and group.suggestion is None
    assert [reason["source"] for reason in group.reasons] == ["fallback"]
    assert group.ranking[0] == {"name": "nlu_fallback", "confidence": 0.45}


async def test_an_ambiguous_turn_goes_to_the_inbox_with_the_intent_as_suggestion(
    service: ConversationService, engine: Engine, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    close = answer("card_arrival", 0.55)
    close = dataclasses.replace(
        close, intent_ranking=[RankedIntent("card_arrival", 0.55), RankedIntent("lost_card", 0.5)]
    )
    assistant.script = [close]

    await say(service, record.id, "my card?")

    (group,) = ReviewStore(engine).groups()
    assert [reason["source"] for reason in group.reasons] == ["ambiguous"]
    assert group.suggestion == "card_arrival"


async def test_an_avoidable_handoff_puts_the_turn_that_escalated_in_the_inbox_once(
    service: ConversationService, engine: Engine, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    assistant.script = [answer("card_arrival", 0.97), answer("request_human", 0.99)]
    await say(service, record.id, "where is my card?")
    escalated = await say(service, record.id, "I want a person")
    assert escalated.handoff is not None

    verdict = {"avoidable": True, "misunderstood_seq": None, "correct_intent": "card_arrival"}
    first = await service.record_agent_verdict(escalated.handoff, **verdict)
    again = await service.record_agent_verdict(escalated.handoff, **verdict)

    (group,) = ReviewStore(engine).groups()
    assert first == again and group.count == 1
    assert group.text == "I want a person"
    assert [reason["source"] for reason in group.reasons] == ["avoidable_handoff"]
    assert group.suggestion == "card_arrival"


async def test_a_misunderstood_message_already_in_the_inbox_gains_the_agents_reason(
    service: ConversationService, engine: Engine, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    assistant.script = [answer("nlu_fallback", 0.45), answer("request_human", 0.99)]
    await say(service, record.id, "my card got eaten by the machine")
    escalated = await say(service, record.id, "a person please")
    assert escalated.handoff is not None

    await service.record_agent_verdict(
        escalated.handoff, avoidable=True, misunderstood_seq=1, correct_intent="card_swallowed"
    )

    (group,) = ReviewStore(engine).groups()
    assert group.text == "my card got eaten by the machine"
    assert [reason["source"] for reason in group.reasons] == ["fallback", "misunderstood"]
    assert group.suggestion == "card_swallowed"


async def test_a_verdict_that_blames_nothing_adds_nothing(
    service: ConversationService, engine: Engine, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    assistant.script = [answer("request_human", 0.99)]
    escalated = await say(service, record.id, "a person please")
    assert escalated.handoff is not None

    written = await service.record_agent_verdict(
        escalated.handoff, avoidable=False, misunderstood_seq=None, correct_intent=None
    )

    assert written == [] and ReviewStore(engine).groups() == []


class GatedSentiment(FakeSentiment):
    """Scores only once the assistant has been asked: a turn that waited for the reading
    before asking Rasa would never finish."""

    def __init__(self, assistant: FakeAssistant) -> None:
        super().__init__()
        self._assistant = assistant

    async def read(self, text: str) -> SentimentReading | None:
        while not self._assistant.calls:
            await asyncio.sleep(0.001)
        return reading("negative", frustration=0.9)


async def test_rasa_is_asked_while_the_message_is_scored(
    store: ConversationStore, assistant: FakeAssistant, policy: EscalationPolicy
) -> None:
    service = ConversationService(
        store=store, hub=ConversationHub(), assistant=assistant,
        sentiment=GatedSentiment(assistant), policy=policy, presence=PresenceRegistry(),
        average_handle=timedelta(minutes=8), clock=Clock(),
    )  # fmt: skip
    record, _ = await service.start(STANDARD)

    result = await asyncio.wait_for(say(service, record.id, "where is my card?"), timeout=10)

    # Both reached the engine: Rasa's intent and the reading that came after it was asked.
    assert result.intent == "card_arrival" and result.reading is not None
    assert result.reading.frustration == pytest.approx(0.9)


async def test_a_retry_is_stored_and_answered_once(
    service: ConversationService, store: ConversationStore, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    first = await service.receive(record.id, client_message_id="abc", text="hello")
    await first.turn
    again = await service.receive(record.id, client_message_id="abc", text="hello")

    assert again.duplicate and again.turn is None
    assert again.message.seq == first.message.seq
    assert len(assistant.calls) == 1
    assert len(store.transcript(record.id)) == 2


async def test_frustration_escalates_with_a_valid_brief(
    service: ConversationService,
    store: ConversationStore,
    assistant: FakeAssistant,
    sentiment: FakeSentiment,
) -> None:
    record, _ = await service.start(PREMIUM)
    sentiment.script = [reading("negative", 0.93), reading("negative", 0.93)]
    first = await say(service, record.id, "where is my card? this is ridiculous")
    # A question the assistant understood: it answers first.
    assert first.state is ConversationState.BOT
    assert first.decision.reason_codes[-1] == "answer_first"
    assistant.script = [answer("nlu_fallback", 0.45)]
    result = await say(service, record.id, "It still hasn't come, that doesn't help")

    assert result.state is ConversationState.QUEUED
    assert result.decision.reason_codes[:2] == ("high_frustration", "unresolved_frustration")
    handoff = store.latest_handoff(record.id)
    brief = HandoffBrief.model_validate(handoff.brief)
    assert brief.customer.id == "cus_1002" and brief.customer.tier == "premium"
    assert [m.seq for m in brief.transcript] == [1, 2, 3, 4]  # the bot's answer included
    assert brief.sentiment_arc[-1].frustration == pytest.approx(0.93)
    assert brief.customer_notice == handoff.customer_notice
    # What the customer saw: the bot's answer, the state change, then the notice.
    tail = store.transcript(record.id)[-3:]
    assert [m.sender for m in tail] == [Sender.BOT, Sender.SYSTEM, Sender.SYSTEM]
    assert tail[1].payload["event"] == "state_changed" and tail[1].payload["to"] == "queued"
    assert tail[2].text == handoff.customer_notice
    assert store.get_conversation(record.id).state is ConversationState.QUEUED


async def test_once_queued_the_bot_never_sees_another_message(
    service: ConversationService, store: ConversationStore, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    assistant.script = [answer("request_human", 0.99)]
    await say(service, record.id, "let me talk to a human")
    calls = len(assistant.calls)

    result = await say(service, record.id, "hello? anyone there?")

    assert result.state is ConversationState.QUEUED
    assert len(assistant.calls) == calls
    last = store.transcript(record.id)[-1]
    assert last.sender is Sender.CUSTOMER and last.payload["processed"] is True


async def test_a_message_stored_while_the_turn_before_escalates_never_reaches_the_bot(
    service: ConversationService, store: ConversationStore, assistant: FakeAssistant
) -> None:
    # The second message is stored while the bot still owns the conversation, and its turn
    # starts only once the first one has queued the handoff: the owner it was stored with is
    # stale, and the turn must read it again.
    record, _ = await service.start(STANDARD)
    assistant.script = [answer("request_human", 0.99)]
    first = await service.receive(record.id, client_message_id="m1", text="a human, please")
    second = await service.receive(record.id, client_message_id="m2", text="hello? anyone?")
    assert first.turn is not None and second.turn is not None

    results = [await first.turn, await second.turn]

    assert [r.state for r in results] == [ConversationState.QUEUED, ConversationState.QUEUED]
    assert [text for _, text, _ in assistant.calls] == ["a human, please"]
    stored = [m for m in store.transcript(record.id) if m.client_message_id == "m2"]
    assert stored[0].payload["processed"] is True and stored[0].payload["owner"] == "queued"


async def test_rasa_signal_replaces_its_own_goodbye_with_the_notice(
    service: ConversationService, store: ConversationStore, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    signal = RasaHandoffSignal(
        reason="security_risk", intent="compromised_card", confidence=0.9, category="security",
        severity="sev1", team="security", attempted_steps=[], summary="card compromised",
    )  # fmt: skip
    assistant.script = [replace(answer("compromised_card", 0.9), handoff=signal)]
    result = await say(service, record.id, "someone used my card")

    assert result.decision.severity.value == "sev1" and result.decision.team == "security"
    senders = [m.sender for m in store.transcript(record.id)]
    assert senders == [Sender.CUSTOMER, Sender.SYSTEM, Sender.SYSTEM]  # no bot line


async def test_an_unreachable_assistant_tells_the_customer_and_escalates(
    service: ConversationService, store: ConversationStore, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    assistant.script = [BotUnavailable("connection refused")]
    result = await say(service, record.id, "my transfer failed")

    assert result.state is ConversationState.QUEUED
    assert result.decision.reason_codes[0] == "bot_error"
    texts = [m.text for m in store.transcript(record.id)]
    assert texts[0] == "my transfer failed"  # nothing lost
    assert BOT_TROUBLE_TEXT in texts


async def test_two_fallbacks_in_a_row_escalate_across_turns(
    service: ConversationService, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    assistant.script = [answer("nlu_fallback", 0.2), answer("nlu_fallback", 0.3)]
    first = await say(service, record.id, "blorp")
    second = await say(service, record.id, "flarn")

    assert not first.decision.escalate
    assert second.decision.escalate and "repeated_fallback" in second.decision.reason_codes


async def test_recover_runs_interrupted_turns_again(
    service: ConversationService, store: ConversationStore, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    # As if the service died after storing the message and before its turn ran.
    store.append_customer_message(
        record.id, client_message_id="lost", text="is my refund done?", payload={},
        now=START + timedelta(minutes=1),
    )  # fmt: skip

    tasks = await service.recover(record.id)
    results = [await task for task in tasks]

    assert [r.message.text for r in results] == ["is my refund done?"]
    assert [m.sender for m in store.transcript(record.id)] == [Sender.CUSTOMER, Sender.BOT]
    assert await service.recover(record.id) == []


async def test_a_missing_reading_does_not_stop_the_turn(
    service: ConversationService, store: ConversationStore, sentiment: FakeSentiment
) -> None:
    record, _ = await service.start(STANDARD)
    sentiment.script = [None]
    result = await say(service, record.id, "where is my card?")

    assert result.reading is None and result.state is ConversationState.BOT
    assert store.transcript(record.id)[0].payload["sentiment"] is None


async def test_a_more_urgent_handoff_moves_the_queue_and_tells_the_customer(
    service: ConversationService, assistant: FakeAssistant
) -> None:
    standard, _ = await service.start(STANDARD)
    plus, _ = await service.start(CustomerInfo("cus_1003", "Pat Plus", Tier.PLUS))
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    watcher = Subscriber(send)
    service_hub(service).subscribe(standard.id, watcher)
    watcher.start()
    assistant.script = [answer("request_human", 0.99), answer("request_human", 0.99)]
    first = await say(service, standard.id, "let me talk to a person")
    second = await say(service, plus.id, "I want a human, now")
    await watcher.close()

    assert first.handoff.team == second.handoff.team
    assert second.handoff.priority < first.handoff.priority
    updates = [json.loads(text) for text in sent if '"type":"queue"' in text]
    assert [u["position"] for u in updates] == [2]
    assert "2" in updates[0]["text"]


async def test_recover_does_not_ask_again_for_a_turn_that_was_answered(
    service: ConversationService, store: ConversationStore, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    # As if the service died after storing the bot's reply and before marking the turn done.
    message, _ = store.append_customer_message(
        record.id, client_message_id="x", text="where is my card?", payload={},
        now=START + timedelta(minutes=1),
    )  # fmt: skip
    store.append_message(
        record.id, sender="bot", text="It's on its way.", payload={"in_reply_to": message.seq},
        now=START + timedelta(minutes=2),
    )  # fmt: skip

    assert await service.recover(record.id) == []
    assert assistant.calls == []
    assert store.unprocessed_customer_messages(record.id) == []


async def test_recover_runs_again_an_escalation_that_died_before_the_handoff(
    service: ConversationService, store: ConversationStore, assistant: FakeAssistant
) -> None:
    record, _ = await service.start(STANDARD)
    # The turn had decided to escalate and stored the bot's answer, then the process died.
    message, _ = store.append_customer_message(
        record.id, client_message_id="x", text="I want a person", payload={},
        now=START + timedelta(minutes=1),
    )  # fmt: skip
    store.complete_turn(
        message.id, extra={"escalation": {"escalate": True}},
        replies=[NewMessage("bot", "One moment.", {"in_reply_to": message.seq})],
        now=START + timedelta(minutes=2),
    )  # fmt: skip
    assistant.script = [answer("request_human", 0.99)]

    results = [await task for task in await service.recover(record.id)]

    assert [r.state for r in results] == [ConversationState.QUEUED]
    assert store.get_conversation(record.id).state is ConversationState.QUEUED
