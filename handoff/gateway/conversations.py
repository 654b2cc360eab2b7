"""The conversation service: one customer turn from the socket to the replies, and ownership.

For every customer message: store it (the acknowledgement waits for that), then, in the
conversation's own order, ask Rasa while the bot owns the conversation (the sentiment is scored
meanwhile), let the escalation engine decide, store and deliver the replies or queue the
handoff with its brief. While a conversation is ``queued`` or owned by an ``agent``, messages
are stored and delivered to whoever watches it, and never reach Rasa: the server enforces that
here, whatever the bot would do.

A turn that did not finish (the service was killed halfway) is run again the next time the
conversation is resumed: its message is stored, so nothing the customer said is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.exc import SQLAlchemyError

from handoff.brief.builder import CustomerInfo, build_brief, humanize
from handoff.brief.notice import customer_notice, queue_update
from handoff.escalation.decision import EscalationDecision, Severity, Tier
from handoff.escalation.engine import decide
from handoff.escalation.policy import EscalationPolicy
from handoff.escalation.signals import Polarity, RasaSignal, TurnSignals
from handoff.exceptions import DependencyUnavailable, HandoffError
from handoff.gateway.hub import ConversationHub
from handoff.gateway.outlook import Outlook, QueuedItem, outlook, outlook_at
from handoff.gateway.protocol import QueueFrame
from handoff.gateway.rasa_client import (
    BotReply,
    BotRequestRejected,
    BotUnavailable,
    RasaTurn,
    turn_metadata,
)
from handoff.gateway.transcript import (
    IN_REPLY_TO,
    PROCESSED,
    brief_entries,
    escalating_message,
    past_turns,
    ranking_document,
    review_turn,
    to_frame,
    turn_payload,
)
from handoff.sentiment.reading import SentimentReading
from handoff.store.repository import (
    ConversationRecord,
    ConversationStore,
    HandoffRecord,
    MessageRecord,
    NewHandoff,
    NewMessage,
    QueueEntryRecord,
)
from handoff.store.review import NewReviewItem
from handoff.store.states import ConversationState, Sender
from handoff.trainer import inbox

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
HandoffObserver = Callable[[HandoffRecord], Awaitable[None]]
"""Called with each handoff the moment it is queued (the agent desk pushes its brief)."""

REQUEST_HUMAN_INTENT = "request_human"
HANDBACK_SUMMARY_SLOT = "handback_summary"
"""The slot (bot/domain/account.yml) that carries the agent's summary back to the assistant."""
SATISFACTION_SLOT = "satisfaction_rating"
"""The slot the assistant fills with the customer's rating (1..5) of the human help."""
BACK_FROM_AGENT_INTENT = "EXTERNAL_back_from_agent"
"""The external intent that lets the assistant speak first when a conversation is its again."""
BOT_TROUBLE_TEXT = (
    "Sorry, I'm having technical trouble and can't answer right now. Nothing you wrote is lost."
)


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    """What the store keeps of a resume token: its SHA-256, so a database leak resumes nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


class ConversationUnavailable(HandoffError):
    """A resume token that matches no conversation, or one that is closed."""

    def __init__(self, message: str, *, closed: bool = False) -> None:
        super().__init__(message)
        self.closed = closed


class Assistant(Protocol):
    """What the service needs of Rasa: one round trip per turn."""

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        """The assistant's answer to ``text``; raises :class:`BotUnavailable` when it can't."""
        ...


@runtime_checkable
class ExternalEvents(Protocol):
    """An assistant that can be told things between customer turns (Rasa's HTTP API).

    Both raise :class:`BotUnavailable` or :class:`BotRequestRejected`.
    """

    async def set_slots(self, conversation_id: str, slots: Mapping[str, Any]) -> None:
        """Set the tracker's ``slots``."""
        ...

    async def trigger_intent(self, conversation_id: str, intent: str) -> list[BotReply]:
        """Run the assistant on an external ``intent``; what it says."""
        ...


class SentimentReader(Protocol):
    """What the service needs of the classifier."""

    async def read(self, text: str) -> SentimentReading | None:
        """The reading of ``text``, or ``None`` when it cannot be scored now."""
        ...


class AgentPresence(Protocol):
    """How many agents of each team are online (the agent side keeps this up to date)."""

    def online_by_team(self) -> Mapping[str, int]:
        """Online agents per team name."""
        ...


@dataclass(frozen=True, slots=True)
class Receipt:
    """A stored customer message: its sequence number, whether it was a retry, and the turn."""

    message: MessageRecord
    duplicate: bool
    turn: asyncio.Task[TurnResult] | None


@dataclass(frozen=True, slots=True)
class OwnerSnapshot:
    """The conversation as a message's storing transaction read it, and how many of its turns
    had ended just before (see ``ConversationService.receive``)."""

    conversation: ConversationRecord | None
    epoch: int


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What one customer turn did (``replay`` reports it; tests read it)."""

    message: MessageRecord
    state: ConversationState
    intent: str | None = None
    confidence: float | None = None
    reading: SentimentReading | None = None
    decision: EscalationDecision | None = None
    handoff: HandoffRecord | None = None


class ConversationService:
    """Owns every conversation; see the module docstring."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        hub: ConversationHub,
        assistant: Assistant,
        sentiment: SentimentReader,
        policy: EscalationPolicy,
        presence: AgentPresence,
        average_handle: timedelta,
        clock: Clock = utc_now,
        channel: str = "web",
        on_queued: HandoffObserver | None = None,
        inbox_intake: inbox.InboxIntake | None = None,
    ) -> None:
        """``inbox_intake`` decides which turns go to the trainers' inbox; by default the
        policy's meaning of "not served" and the settings' default margin and region."""
        self._store = store
        self._hub = hub
        self._assistant = assistant
        self._sentiment = sentiment
        self._policy = policy
        self._presence = presence
        self._average_handle = average_handle
        self._clock = clock
        self._channel = channel
        self._on_queued = on_queued
        self._inbox = inbox_intake or inbox.InboxIntake(inbox.InboxRules.from_policy(policy))
        self._locks: dict[str, asyncio.Lock] = {}
        # Per conversation, how many turns have ended: a snapshot of a bot-owned conversation
        # is current as long as this has not moved since just before it was read (receive()).
        self._epochs: dict[str, int] = {}
        self._turns: set[asyncio.Task[TurnResult]] = set()
        self._in_flight: set[int] = set()  # ids of messages whose turn is scheduled or running
        self._positions: dict[int, int] = {}  # handoff id -> the place its customer was told

    def clock(self) -> datetime:
        """The service's current time (a fake one in tests)."""
        return self._clock()

    @property
    def store(self) -> ConversationStore:
        """The store behind the service (the agent side shares it)."""
        return self._store

    # --- opening ----------------------------------------------------------------------

    async def start(self, customer: CustomerInfo) -> tuple[ConversationRecord, str]:
        """A new conversation owned by the bot, and the resume token (shown only once)."""
        token = secrets.token_urlsafe(32)
        record = await asyncio.to_thread(
            self._store.create_conversation,
            customer_id=customer.id,
            customer_name=customer.name,
            tier=customer.tier.value,
            channel=self._channel,
            resume_token_hash=hash_token(token),
            now=self._clock(),
        )
        logger.info("conversation %s started (%s)", record.id, customer.id or "anonymous")
        return record, token

    async def find(self, resume_token: str) -> ConversationRecord:
        """The open conversation ``resume_token`` was issued for."""
        record = await asyncio.to_thread(self._store.find_by_token_hash, hash_token(resume_token))
        if record is None:
            raise ConversationUnavailable("no conversation has this resume token")
        if record.state is ConversationState.CLOSED:
            raise ConversationUnavailable("this conversation is closed", closed=True)
        return record

    async def messages_after(self, conversation_id: str, seq: int) -> list[MessageRecord]:
        """Stored messages after ``seq``, in order."""
        return await asyncio.to_thread(self._store.messages_after, conversation_id, seq)

    async def recover(self, conversation_id: str) -> list[asyncio.Task[TurnResult]]:
        """Run again every turn a crash interrupted (stored messages not yet processed)."""
        pending = await asyncio.to_thread(
            self._store.unprocessed_customer_messages, conversation_id
        )
        if pending:
            logger.warning(
                "conversation %s: running %d interrupted turn(s) again", conversation_id,
                len(pending),
            )  # fmt: skip
        # A turn still running in this process (the customer's network blipped while Rasa was
        # answering) is not interrupted: running it again would answer the message twice.
        pending = [m for m in pending if m.id not in self._in_flight]
        if not pending:
            return []
        # A turn killed after its replies were stored but before it was marked done has
        # been answered: mark it, do not ask Rasa again.
        transcript = await self.messages_after(conversation_id, 0)
        conversation = await asyncio.to_thread(self._store.get_conversation, conversation_id)
        still_bot = conversation is not None and conversation.state is ConversationState.BOT
        replied = {m.payload.get(IN_REPLY_TO) for m in transcript if m.sender != Sender.CUSTOMER}
        # ...unless that turn had decided to escalate and died before queueing the handoff:
        # run it again, or the customer would never reach a person.
        answered = {
            m.seq
            for m in pending
            if m.seq in replied
            and not (still_bot and m.payload.get("escalation", {}).get("escalate"))
        }
        for message in pending:
            if message.seq in answered:
                await self._mark(message, {PROCESSED: True})
        return [self._schedule(m) for m in pending if m.seq not in answered]

    async def current_outlook(self, conversation_id: str) -> Outlook | None:
        """Queue position and wait estimate while the conversation is queued, else ``None``."""
        handoff = await asyncio.to_thread(self._store.latest_handoff, conversation_id)
        if handoff is None or handoff.status.value != "queued":
            return None
        return await self._outlook(handoff)

    # --- customer turns ----------------------------------------------------------------

    async def receive(self, conversation_id: str, *, client_message_id: str, text: str) -> Receipt:
        """Store a customer message and start its turn; a retried id is stored only once.

        Returns as soon as the message is stored, so the socket can acknowledge it; the turn
        runs in a task, after any earlier turn of the same conversation.
        """
        # Scoring starts now, while the message is being stored: the turn needs the reading
        # before it can ask Rasa, so this takes the classifier off the turn's critical path.
        reading = asyncio.create_task(self._sentiment.read(text), name="sentiment")
        # The transaction that stores the message reads the conversation too. Only a turn
        # moves a conversation away from the bot, so if the bot owned it then and no turn has
        # ended between now and the start of this message's turn, the bot still owns it: the
        # turn goes straight to Rasa, one trip to the database fewer on the customer's wait.
        # (A turn running now ends before this one starts, so it always moves the epoch.)
        epoch = self._epochs.get(conversation_id, 0)
        try:
            stored = await asyncio.to_thread(
                self._store.store_customer_message,
                conversation_id,
                client_message_id=client_message_id,
                text=text,
                payload={},
                now=self._clock(),
            )
        except SQLAlchemyError as exc:
            # Not stored, so not acknowledged: the client keeps the message and retries.
            reading.cancel()
            raise DependencyUnavailable("database", f"cannot store the message: {exc}") from exc
        message = stored.message
        if stored.duplicate:
            reading.cancel()
            return Receipt(message, duplicate=True, turn=None)
        self._hub.publish(conversation_id, [to_frame(message)])
        snapshot = OwnerSnapshot(stored.conversation, epoch)
        return Receipt(message, duplicate=False, turn=self._schedule(message, reading, snapshot))

    async def drain(self) -> None:
        """Wait for every running turn (shutdown, tests)."""
        while self._turns:
            await asyncio.gather(*list(self._turns), return_exceptions=True)

    def _schedule(
        self,
        message: MessageRecord,
        reading: asyncio.Task[SentimentReading | None] | None = None,
        snapshot: OwnerSnapshot | None = None,
    ) -> asyncio.Task[TurnResult]:
        self._in_flight.add(message.id)
        turn = self._run_turn(message, reading, snapshot)
        task = asyncio.create_task(turn, name=f"turn-{message.id}")
        self._turns.add(task)
        task.add_done_callback(lambda done: self._turn_done(done, message.id))
        return task

    def _turn_done(self, task: asyncio.Task[TurnResult], message_id: int) -> None:
        self._turns.discard(task)
        self._in_flight.discard(message_id)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a turn failed", exc_info=task.exception())

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        # Turns and hand-backs of one conversation run one at a time, in order.
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    async def _run_turn(
        self,
        message: MessageRecord,
        reading: asyncio.Task[SentimentReading | None] | None,
        snapshot: OwnerSnapshot | None,
    ) -> TurnResult:
        conversation_id = message.conversation_id
        async with self._lock(conversation_id):
            try:
                return await self._turn(message, reading, self._still_bot(snapshot))
            finally:
                # Before the lock is let go: the turn that takes it next sees the epoch moved.
                self._epochs[conversation_id] = self._epochs.get(conversation_id, 0) + 1

    def _still_bot(self, snapshot: OwnerSnapshot | None) -> ConversationRecord | None:
        # The snapshot's conversation when it is the bot's and no turn has ended since.
        if snapshot is None or snapshot.conversation is None:
            return None
        conversation = snapshot.conversation
        if conversation.state is not ConversationState.BOT:
            return None  # a person's: the desk moves it outside the lock, so read it again
        if snapshot.epoch != self._epochs.get(conversation.id, 0):
            return None
        return conversation

    async def _turn(
        self,
        message: MessageRecord,
        pending_reading: asyncio.Task[SentimentReading | None] | None,
        known: ConversationRecord | None = None,
    ) -> TurnResult:
        conversation_id = message.conversation_id
        # Only the owner before Rasa is asked: it decides whether Rasa may see the message.
        # ``known`` is the bot's conversation as the message's own transaction read it.
        conversation = known
        if conversation is None:
            conversation = await asyncio.to_thread(self._store.get_conversation, conversation_id)
        if conversation is None:  # deleted meanwhile; nothing to answer
            raise LookupError(f"conversation {conversation_id} is gone")
        if pending_reading is None:
            pending_reading = asyncio.create_task(self._sentiment.read(message.text))
        if conversation.state is not ConversationState.BOT:
            # A person owns it (or is about to): the bot must not see or answer this message.
            # Its reading is kept for the agent.
            reading = await pending_reading
            await self._mark(
                message,
                {PROCESSED: True, "owner": conversation.state.value,
                 "sentiment": None if reading is None else reading.to_json_dict()},
            )  # fmt: skip
            return TurnResult(message=message, state=conversation.state, reading=reading)

        # Rasa, the classifier and the read of the engine's history work at once: Rasa needs
        # neither, the engine needs all three, so the turn waits for the slowest of them rather
        # than their sum. The history is the same read later: turns of this conversation wait
        # for the lock this one holds, and only a finished turn counts in it.
        (rasa_turn, bot_error), reading, transcript = await asyncio.gather(
            self._ask_assistant(conversation, message),
            pending_reading,
            asyncio.to_thread(self._store.messages_after, conversation_id, 0),
        )
        history = past_turns(transcript)

        tier = Tier(conversation.tier)
        now = self._clock()
        signals = turn_signals(message.text, reading, rasa_turn, bot_error)
        decision = decide(signals, history, tier, self._policy, now)
        intent = None if rasa_turn is None else rasa_turn.intent
        confidence = None if rasa_turn is None else rasa_turn.confidence
        ranking = () if rasa_turn is None else assistant_ranking(rasa_turn)
        model_id = None if rasa_turn is None else rasa_turn.model_id
        readings = turn_payload(
            reading, intent, confidence, decision, bot_error, ranking, model_id=model_id
        )
        replies = turn_replies(message, rasa_turn, bot_error)
        review = self._review_item(message, conversation, rasa_turn, ranking, decision.escalate)
        if not decision.escalate:
            # The common turn: readings, "done", the replies and any inbox entry in one
            # transaction.
            processed, published = await asyncio.to_thread(
                self._store.complete_turn, message.id, extra={**readings, PROCESSED: True},
                replies=replies, now=self._clock(), review=review,
            )  # fmt: skip
            self._hub.publish(conversation_id, [to_frame(m) for m in published])
            if rasa_turn is not None:
                await self._record_rating(conversation_id, rasa_turn)
            state = ConversationState.BOT
            return TurnResult(processed, state, intent, confidence, reading, decision)

        # Escalating: the readings and replies first, so the brief sees this turn; "done" only
        # once the handoff is queued, so a crash in between runs the turn again on the next
        # resume (see recover()).
        _, published = await asyncio.to_thread(
            self._store.complete_turn, message.id, extra=readings, replies=replies,
            now=self._clock(), review=review,
        )  # fmt: skip
        self._hub.publish(conversation_id, [to_frame(m) for m in published])
        handoff = await self._queue_handoff(conversation, decision, rasa_turn)
        processed = await self._mark(message, {PROCESSED: True})
        state = ConversationState.QUEUED
        return TurnResult(processed, state, intent, confidence, reading, decision, handoff)

    def _review_item(
        self,
        message: MessageRecord,
        conversation: ConversationRecord,
        rasa_turn: RasaTurn | None,
        ranking: tuple[inbox.RankedIntent, ...],
        escalated: bool,
    ) -> NewReviewItem | None:
        # The trainers' inbox: what the assistant made of the message, if it needs a look.
        # A turn without an answer (Rasa failed) has nothing the assistant misunderstood.
        if rasa_turn is None:
            return None
        turn = inbox.ReviewTurn(rasa_turn.intent, rasa_turn.confidence, ranking, escalated)
        names = [conversation.customer_name] if conversation.customer_name else []
        entry = self._inbox.entry(message.text, turn, names=names)
        return None if entry is None else new_review_item(entry)

    async def _ask_assistant(
        self, conversation: ConversationRecord, message: MessageRecord
    ) -> tuple[RasaTurn | None, str | None]:
        """Rasa's answer to ``message``, or why there is none."""
        try:
            metadata = turn_metadata(conversation.customer_id)
            return await self._assistant.send(conversation.id, message.text, metadata), None
        except BotUnavailable as exc:
            logger.warning("conversation %s: the assistant failed: %s", conversation.id, exc)
            return None, str(exc)

    async def _mark(self, message: MessageRecord, payload: Mapping[str, Any]) -> MessageRecord:
        return await asyncio.to_thread(self._store.update_message_payload, message.id, payload)

    # --- handoff -----------------------------------------------------------------------

    async def _queue_handoff(
        self,
        conversation: ConversationRecord,
        decision: EscalationDecision,
        rasa_turn: RasaTurn | None,
    ) -> HandoffRecord:
        assert decision.team is not None and decision.acknowledge_due is not None
        now = self._clock()
        queue = await asyncio.to_thread(self._store.queue_entries, decision.team)
        provisional = QueuedItem(
            handoff_id=2**62, team=decision.team, priority=decision.priority or 0, queued_at=now
        )
        view = outlook(
            provisional, [entry_item(e) for e in queue],
            agents_online=self._presence.online_by_team(), average_handle=self._average_handle,
            acknowledge_due=decision.acknowledge_due, now=now,
        )  # fmt: skip
        notice = customer_notice(
            decision=decision,
            team_display_name=humanize(decision.team),
            queue_position=view.position,
            wait_estimate=view.wait_estimate,
            agents_available=view.agents_available,
        )
        transcript = await self.messages_after(conversation.id, 0)
        brief = build_brief(
            conversation_id=conversation.id,
            customer=CustomerInfo(
                conversation.customer_id, conversation.customer_name, Tier(conversation.tier)
            ),
            channel=conversation.channel,
            transcript=brief_entries(transcript),
            decision=decision,
            attempted_steps=[] if rasa_turn is None else rasa_turn.attempted_steps,
            slots={} if rasa_turn is None else rasa_turn.slots,
            entities=[] if rasa_turn is None else rasa_turn.entities,
            customer_notice=notice,
            now=now,
        )
        queued = await asyncio.to_thread(
            self._store.queue_handoff,
            conversation.id,
            handoff=new_handoff(decision, brief.model_dump(mode="json"), notice),
            notice=notice,
            notice_payload=notice_payload(decision.team, view),
            reason=decision.reasons[0].code if decision.reasons else "escalated",
            now=now,
        )
        self._hub.publish(
            conversation.id, [to_frame(queued.state_message), to_frame(queued.notice_message)]
        )
        self._positions[queued.handoff.id] = view.position
        logger.info(
            "conversation %s queued for %s (%s, %s): %s", conversation.id, decision.team,
            decision.severity, decision.mode, ", ".join(decision.reason_codes),
        )  # fmt: skip
        # Agents first: the brief reaching them is what ends the customer's wait.
        if self._on_queued is not None:
            try:
                await self._on_queued(queued.handoff)
            except Exception:
                # The handoff is queued and the customer told; agents still see it in the
                # queue when they (re)connect, so a failing push must not fail the turn.
                logger.exception("handoff %s: the queued observer failed", queued.handoff.id)
        await self.announce_queue(decision.team)
        return queued.handoff

    async def returned_to_bot(self, conversation_id: str, summary: str | None) -> bool:
        """The conversation is the bot's again (an agent handed it back or resolved it): tell
        the assistant and let it speak first. Call it after the change of owner is stored.

        The assistant gets the agent's ``summary`` in slot ``handback_summary`` (``None`` when
        there is none) and a cleared ``satisfaction_rating``, then the external intent
        ``EXTERNAL_back_from_agent``: it welcomes the customer back and asks for a rating.
        What it says is stored and delivered only while the bot still owns the conversation.
        Returns whether the assistant was told; a failure is logged, not raised: the
        conversation is the bot's either way, and its next turn works without this.
        """
        if not isinstance(self._assistant, ExternalEvents):
            return False
        slots = {HANDBACK_SUMMARY_SLOT: summary, SATISFACTION_SLOT: None}
        # Not between a customer turn's question and its answer.
        async with self._lock(conversation_id):
            try:
                await self._assistant.set_slots(conversation_id, slots)
                replies = await self._assistant.trigger_intent(
                    conversation_id, BACK_FROM_AGENT_INTENT
                )
            except (BotUnavailable, BotRequestRejected) as exc:
                logger.warning(
                    "conversation %s: the assistant was not told it has the customer back: %s",
                    conversation_id, exc,
                )  # fmt: skip
                return False
            stored = await asyncio.to_thread(
                self._store.append_bot_messages, conversation_id,
                [bot_message(reply, {}) for reply in replies if shown(reply)], now=self._clock(),
            )  # fmt: skip
        self._hub.publish(conversation_id, [to_frame(m) for m in stored])
        return True

    async def record_agent_verdict(
        self,
        handoff: HandoffRecord,
        *,
        avoidable: bool,
        misunderstood_seq: int | None,
        correct_intent: str | None,
    ) -> list[int]:
        """The resolving agent's word on the assistant, into the trainers' inbox: the message
        they marked misunderstood, else, for an avoidable handoff, the turn that escalated;
        their correct intent is the suggestion. Returns the inbox items written or updated."""
        if misunderstood_seq is None and not avoidable:
            return []
        transcript = await self.messages_after(handoff.conversation_id, 0)
        conversation = await asyncio.to_thread(
            self._store.get_conversation, handoff.conversation_id
        )
        escalating = escalating_message(transcript, handoff.id)
        if misunderstood_seq is not None:
            target = next((m for m in transcript if m.seq == misunderstood_seq), None)
        else:
            target = escalating
        if target is None or conversation is None:
            return []
        verdict = inbox.AgentVerdict(
            avoidable=avoidable,
            misunderstood=misunderstood_seq is not None,
            correct_intent=correct_intent,
        )
        turn = review_turn(target, escalated=escalating is not None and target.id == escalating.id)
        names = [conversation.customer_name] if conversation.customer_name else []
        entry = self._inbox.entry(target.text, turn, names=names, agent=verdict)
        if entry is None:
            return []
        item_id = await asyncio.to_thread(
            self._store.record_review, target.id, conversation_id=conversation.id,
            item=new_review_item(entry), now=self._clock(),
        )  # fmt: skip
        return [item_id]

    async def _record_rating(self, conversation_id: str, rasa_turn: RasaTurn) -> None:
        # The assistant put the customer's rating in its slot: kept on the handoff it rates,
        # then the slot is cleared so that later turns do not carry it again.
        rating = rasa_turn.slots.get(SATISFACTION_SLOT)
        if isinstance(rating, bool) or not isinstance(rating, int | float):
            return
        if not 1 <= rating <= 5 or rating != int(rating):
            logger.warning("conversation %s: rating %r ignored", conversation_id, rating)
            return
        handoff_id = await asyncio.to_thread(
            self._store.rate_last_handoff, conversation_id, int(rating), now=self._clock()
        )
        logger.info("conversation %s: handoff %s rated %d", conversation_id, handoff_id, rating)
        if isinstance(self._assistant, ExternalEvents):
            with contextlib.suppress(BotUnavailable, BotRequestRejected):
                await self._assistant.set_slots(conversation_id, {SATISFACTION_SLOT: None})

    async def announce_queue(self, team: str) -> None:
        """Tell every customer queued for ``team`` whose place has changed where they stand.

        Called whenever the team's queue changes: a more urgent handoff joins ahead of them, or
        one leaves it (taken by an agent, cancelled). One read of the team's queue, in order,
        without the briefs: with hundreds queued this runs on every change.
        """
        entries = await asyncio.to_thread(self._store.queue_entries, team)
        online = self._presence.online_by_team().get(team, 0)
        now = self._clock()
        for position, entry in enumerate(entries, start=1):
            if self._positions.get(entry.handoff_id) == position:
                continue
            self._positions[entry.handoff_id] = position
            view = outlook_at(
                position, agents_online=online, average_handle=self._average_handle,
                acknowledge_due=entry.acknowledge_due, now=now,
            )  # fmt: skip
            self._hub.publish_control(entry.conversation_id, queue_frame(view).model_dump_json())

    async def _outlook(self, handoff: HandoffRecord) -> Outlook:
        entries = await asyncio.to_thread(self._store.queue_entries, handoff.team)
        return outlook(
            queued_item(handoff), [entry_item(e) for e in entries],
            agents_online=self._presence.online_by_team(), average_handle=self._average_handle,
            acknowledge_due=handoff.acknowledge_due, now=self._clock(),
        )  # fmt: skip


def turn_signals(
    text: str,
    reading: SentimentReading | None,
    rasa_turn: RasaTurn | None,
    bot_error: str | None,
) -> TurnSignals:
    """The engine's input for one turn, from the reading and the assistant's answer."""
    signal = None if rasa_turn is None else rasa_turn.handoff
    intent = None if rasa_turn is None else rasa_turn.intent
    return TurnSignals(
        text=text,
        intent=intent,
        confidence=None if rasa_turn is None or intent is None else rasa_turn.confidence,
        polarity=None if reading is None else Polarity.from_scores(reading.label, reading.scores),
        frustration=None if reading is None else reading.frustration,
        requested_human=intent == REQUEST_HUMAN_INTENT
        or (signal is not None and signal.reason == REQUEST_HUMAN_INTENT),
        rasa=None
        if signal is None
        else rasa_signal(signal.reason, signal.category, signal.severity, signal.team),  # fmt: skip
        bot_error=bot_error,
        steps_attempted=0 if rasa_turn is None else len(rasa_turn.attempted_steps),
    )


def turn_replies(
    message: MessageRecord, rasa_turn: RasaTurn | None, bot_error: str | None
) -> list[NewMessage]:
    """What the customer is shown for this turn, before any handoff notice.

    The bot's own answer is kept even when the engine escalates (it may hold the facts the
    customer asked for); when Rasa itself handed over, the service's notice replaces its "a
    colleague will help" line; when Rasa failed, a plain apology.
    """
    if rasa_turn is None:
        if bot_error is None:
            return []
        payload = {"event": "bot_error", IN_REPLY_TO: message.seq}
        return [NewMessage(Sender.SYSTEM.value, BOT_TROUBLE_TEXT, payload)]
    if rasa_turn.handoff is not None:
        return []
    return [
        bot_message(reply, {IN_REPLY_TO: message.seq})
        for reply in rasa_turn.replies
        if shown(reply)
    ]


def shown(reply: BotReply) -> bool:
    """Whether a bot message has anything the customer can see."""
    return bool(reply.text or reply.buttons or reply.custom)


def bot_message(reply: BotReply, payload: Mapping[str, Any]) -> NewMessage:
    """The stored form of one bot message; ``payload`` plus its buttons and custom data."""
    stored: dict[str, Any] = dict(payload)
    if reply.buttons:
        stored["buttons"] = reply.buttons
    if reply.custom:
        stored["custom"] = reply.custom
    return NewMessage(Sender.BOT.value, reply.text or "", stored)


def rasa_signal(
    reason: str, category: str | None, severity: str | None, team: str | None
) -> RasaSignal:
    """The engine's view of the assistant's handoff message (an unknown severity is dropped)."""
    known = {s.value for s in Severity}
    return RasaSignal(
        reason=reason,
        category=category,
        severity=Severity(severity) if severity in known else None,
        team=team,
    )


def assistant_ranking(rasa_turn: RasaTurn) -> tuple[inbox.RankedIntent, ...]:
    """Rasa's intent ranking as the inbox reads rankings."""
    return tuple(inbox.RankedIntent(e.name, e.confidence) for e in rasa_turn.intent_ranking)


def new_review_item(entry: inbox.InboxEntry) -> NewReviewItem:
    """The store's row of an inbox entry: reasons and ranking as JSON documents."""
    reasons = [
        {"source": reason.source.value, "value": reason.value, "threshold": reason.threshold,
         "detail": reason.detail}
        for reason in entry.verdict.reasons
    ]  # fmt: skip
    return NewReviewItem(
        text=entry.text,
        occurrence_key=entry.occurrence_key,
        intent=entry.intent,
        confidence=entry.confidence,
        ranking=ranking_document(entry.ranking),
        reasons=reasons,
        suggestion=entry.verdict.suggestion,
    )


def queued_item(handoff: HandoffRecord) -> QueuedItem:
    """A stored handoff as the outlook sees it."""
    return QueuedItem(handoff.id, handoff.team, handoff.priority, handoff.created_at)


def entry_item(entry: QueueEntryRecord) -> QueuedItem:
    """A queue entry as the outlook sees it."""
    return QueuedItem(entry.handoff_id, entry.team, entry.priority, entry.created_at)


def new_handoff(decision: EscalationDecision, brief: dict[str, Any], notice: str) -> NewHandoff:
    """The handoff row of an escalating decision."""
    assert decision.severity and decision.category and decision.team and decision.mode
    assert decision.acknowledge_due and decision.resolve_due and decision.priority is not None
    return NewHandoff(
        reasons=[
            {"code": h.code, "value": h.value, "threshold": h.threshold, "detail": h.detail}
            for h in decision.reasons
        ],
        score=decision.score,
        severity=decision.severity.value,
        category=decision.category.value,
        team=decision.team,
        priority=decision.priority,
        mode=decision.mode.value,
        acknowledge_due=decision.acknowledge_due,
        resolve_due=decision.resolve_due,
        brief=brief,
        customer_notice=notice,
    )


def notice_payload(team: str, view: Outlook) -> dict[str, Any]:
    """The public facts of the handoff notice, for the widget to show."""
    return {
        "team": team,
        "position": view.position,
        "agents_online": view.agents_online,
        "wait_estimate_seconds": None
        if view.wait_estimate is None
        else int(view.wait_estimate.total_seconds()),
    }


def outlook_text(view: Outlook) -> str:
    """The queue update sentence for a customer waiting in the queue."""
    return queue_update(view.position, view.wait_estimate)


def queue_frame(view: Outlook) -> QueueFrame:
    """The ``queue`` frame of an outlook."""
    return QueueFrame(
        position=view.position,
        agents_online=view.agents_online,
        wait_estimate_seconds=None
        if view.wait_estimate is None
        else int(view.wait_estimate.total_seconds()),
        text=outlook_text(view),
    )
