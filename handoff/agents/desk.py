"""The agent desk: connected agents, the handoffs pushed to them, and their work on them.

One :class:`AgentDesk` per service process, in ``app.state.desk``. It knows which agents are
connected (each through one :class:`~handoff.gateway.hub.Subscriber` used as a writer, so a
slow agent only ever delays themselves) and keeps the gateway's
:class:`~handoff.gateway.presence.PresenceRegistry` in step, so customers' wait estimates count
the agents who are online.

* Queued: :meth:`AgentDesk.on_handoff_queued` (the conversation service's ``on_queued``
  observer) pushes the brief to every online agent who may take it: a member of its team, or a
  supervisor, who sees every team.
* Claimed: the store's atomic claim decides; the winner gets the transcript, everyone else who
  saw it is told to drop it. The winner's socket then watches the conversation on the hub (a
  :class:`ConversationTap`), so the customer's messages reach them as they are stored.
* Warm handoffs must be acknowledged before the agent may write; the acknowledgement sends the
  customer the agent's introduction (:func:`~handoff.agents.introduction.agent_introduction`).
  Cold ones are chat at once, with a one-line "has joined" message.
* Messages go to the customer through the hub; internal notes go to the agents watching the
  conversation only, never through the hub, and the customer socket filters them out of every
  replay as well.
* Transfer, hand back and resolve write through the store, publish the state change to the
  customer and stop the agent watching.
* Routing modes (``teams:`` of the escalation policy): a team in ``auto_assign`` mode has its
  queued handoffs given, most urgent first, to the least busy eligible agent (then the longest
  idle; :func:`~handoff.agents.routing.assignments`) whenever one is queued or an agent comes
  online or frees capacity; the store's atomic claim makes each assignment stick. ``claim``
  teams leave the queue to their agents.
* Outside a team's business hours the customer is told when it opens again; the handoff stays
  queued, brief and all, and is offered (or auto-assigned) to agents as they connect.
* Disconnect grace: when an agent's last socket closes their conversations wait
  ``grace`` for them; past it each goes back to the front of its queue, the customer is told
  and the team's agents are offered it again.
* Typing and read receipts pass between the customer and the agent holding the conversation;
  they are never stored.

Refusals raise :class:`~handoff.agents.exceptions.DeskRefusal`; the socket turns them into
``error`` frames.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from handoff.agents.accounts import AgentRecord
from handoff.agents.canned import CannedResponse, CannedResponses
from handoff.agents.exceptions import DeskRefusal
from handoff.agents.introduction import agent_introduction, agent_joined
from handoff.agents.protocol import (
    AgentAckFrame,
    AgentTranscriptFrame,
    AgentView,
    ClaimedFrame,
    ClaimFailedFrame,
    CustomerReadFrame,
    CustomerTypingFrame,
    DoneFrame,
    HandoffQueuedFrame,
    HandoffTakenFrame,
    HandoffView,
    ResolveFrame,
    WelcomeFrame,
)
from handoff.agents.routing import AgentState, QueueEntry, RoutingMode, assignments
from handoff.agents.sla import DEFAULT_WARNING_FRACTION
from handoff.brief.builder import humanize
from handoff.brief.notice import closed_notice
from handoff.escalation.decision import Severity, Tier
from handoff.escalation.hours import next_opening
from handoff.escalation.policy import TeamRules
from handoff.gateway.conversations import ConversationService
from handoff.gateway.hub import ConversationHub, Subscriber
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.protocol import ReadReceiptFrame, TranscriptFrame, TypingFrame
from handoff.gateway.transcript import INTERNAL, customer_frames, is_internal, to_frame
from handoff.store.agent_work import AgentWorkStore, ResolutionInput
from handoff.store.errors import (
    ConversationNotFound,
    HandoffStateError,
    IllegalTransition,
    NotAssignedAgent,
)
from handoff.store.repository import ConversationStore, HandoffRecord, MessageRecord
from handoff.store.states import AgentRole, HandoffStatus, Sender

__all__ = ["AgentConnection", "AgentDesk", "ConversationTap", "agent_frame"]

logger = logging.getLogger(__name__)

Status = Literal["online", "away"]


@dataclass(eq=False)
class AgentConnection:
    """One authenticated agent socket: the account, its status and its writer."""

    agent: AgentRecord
    writer: Subscriber
    status: Status = "online"

    @property
    def supervisor(self) -> bool:
        """Supervisors see (and may take) the handoffs of every team."""
        return self.agent.role is AgentRole.SUPERVISOR

    def may_see(self, team: str) -> bool:
        """Whether handoffs of ``team`` are this agent's business."""
        return self.supervisor or team in self.agent.teams

    def send(self, frame: BaseModel | str) -> None:
        """Queue ``frame`` (a model, or its JSON already serialised) for this socket; never
        waits on it."""
        self.writer.send_control(frame if isinstance(frame, str) else frame.model_dump_json())


def agent_frame(message: MessageRecord, handoff_id: int) -> AgentTranscriptFrame:
    """The agent's frame of a stored message: its public part, and whether it is a note."""
    return AgentTranscriptFrame.of(to_frame(message), handoff_id, internal=is_internal(message))


async def _no_socket(text: str) -> None:  # a tap writes through its agent's writer instead
    raise RuntimeError("a conversation tap has no socket of its own")


class ConversationTap(Subscriber):
    """An agent's subscription to one held conversation on the hub.

    It has no queue or writer of its own: frames go to the agent's writer, tagged with the
    handoff id. Each message is forwarded at most once (by ``seq``); while the claim's
    transcript is being read, live frames are held back and released after it. The customer's
    queue updates (``send_control``) are not the agent's business and are dropped.
    """

    def __init__(self, connection: AgentConnection, handoff_id: int) -> None:
        super().__init__(_no_socket)
        self.connection = connection
        self.handoff_id = handoff_id
        self._seen: set[int] = set()
        self._waiting: list[AgentTranscriptFrame] | None = None

    def deliver(self, frame: TranscriptFrame) -> None:
        """A customer-side frame published on the hub."""
        self.offer(AgentTranscriptFrame.of(frame, self.handoff_id, internal=False))

    def offer(self, frame: AgentTranscriptFrame) -> None:
        """Forward ``frame`` unless it was forwarded before (or hold it while catching up)."""
        if self._waiting is not None:
            self._waiting.append(frame)
            return
        if frame.seq in self._seen:
            return
        self._seen.add(frame.seq)
        self.connection.send(frame)

    def send_control(self, text: str) -> None:
        """Queue updates are for the customer; dropped."""

    def hold(self) -> None:
        """Hold live frames back until :meth:`release`."""
        self._waiting = []

    def release(self, already_sent: Iterable[int]) -> None:
        """The transcript up to now was sent (``already_sent`` seqs): forward what was held."""
        waiting, self._waiting = self._waiting or [], None
        self._seen.update(already_sent)
        for frame in sorted(waiting, key=lambda f: f.seq):
            self.offer(frame)


class AgentDesk:
    """The agents' side of the service; see the module docstring."""

    def __init__(
        self,
        *,
        service: ConversationService,
        work: AgentWorkStore,
        hub: ConversationHub,
        presence: PresenceRegistry,
        teams: Collection[str] | None = None,
        team_rules: Mapping[str, TeamRules] | None = None,
        grace: timedelta = timedelta(seconds=120),
        canned: CannedResponses | None = None,
        warning_fraction: float = DEFAULT_WARNING_FRACTION,
    ) -> None:
        self._service = service
        self._store: ConversationStore = service.store
        self._work = work
        self._hub = hub
        self._presence = presence
        self._teams = None if teams is None else frozenset(teams)
        self._connections: set[AgentConnection] = set()
        self._taps: defaultdict[str, set[ConversationTap]] = defaultdict(set)
        # (handoff id, agent id) acknowledged in the current assignment: the store keeps only
        # the first acknowledgement of a handoff (the SLA's), not one per agent after transfers.
        self._acknowledged: set[tuple[int, str]] = set()
        self._rules: dict[str, TeamRules] = dict(team_rules or {})
        self._grace = grace
        self._canned = canned if canned is not None else CannedResponses()
        self._warning_fraction = warning_fraction  # the SLA monitor's, told to the consoles
        self._grace_tasks: dict[str, asyncio.Task[None]] = {}  # agent id -> their countdown
        self._idle_since: dict[str, datetime] = {}  # agent id -> last took or freed a chat
        self._assigning = asyncio.Lock()  # one auto-assign pass at a time in this process

    def clock(self) -> datetime:
        """The service's current time (a fake one in tests)."""
        return self._service.clock()

    # --- connections ---------------------------------------------------------------------

    async def connect(self, agent: AgentRecord, writer: Subscriber) -> AgentConnection:
        """Register an authenticated socket: ``welcome``, then a ``claimed`` per held handoff."""
        connection = AgentConnection(agent, writer)
        self._connections.add(connection)
        self._refresh_presence(agent)
        countdown = self._grace_tasks.pop(agent.id, None)
        if countdown is not None:  # back within the grace period: they keep their chats
            countdown.cancel()
        self._idle_since.setdefault(agent.id, self.clock())
        open_handoffs = await asyncio.to_thread(self._work.open_handoffs)
        queue = [
            h for h in open_handoffs
            if h.status is HandoffStatus.QUEUED and connection.may_see(h.team)
        ]  # fmt: skip
        held = [h for h in open_handoffs if h.status is HandoffStatus.ASSIGNED
                and h.agent_id == agent.id]  # fmt: skip
        view = AgentView(
            id=agent.id, name=agent.display_name, role=agent.role.value, teams=list(agent.teams)
        )
        connection.send(
            WelcomeFrame(
                agent=view,
                queue=[HandoffView.of(h) for h in queue],
                assigned=[self._view(h, agent.id) for h in held],
                canned_responses=self.canned_responses(agent),
                teams=sorted(self.team_routing()),
                sla_warning_fraction=self._warning_fraction,
            )
        )
        for handoff in held:
            await self._watch(connection, handoff)
        logger.info("agent %s connected (%d held)", agent.username, len(held))
        await self.auto_assign()
        return connection

    async def disconnect(self, connection: AgentConnection) -> None:
        """Forget a socket: its taps, and its agent's presence if it was their last."""
        self._connections.discard(connection)
        for conversation_id, taps in list(self._taps.items()):
            for tap in [t for t in taps if t.connection is connection]:
                self._unwatch(conversation_id, tap)
        self._refresh_presence(connection.agent)
        logger.info("agent %s disconnected", connection.agent.username)
        agent = connection.agent
        if not any(c.agent.id == agent.id for c in self._connections):
            previous = self._grace_tasks.pop(agent.id, None)
            if previous is not None:
                previous.cancel()
            self._grace_tasks[agent.id] = asyncio.create_task(
                self._grace_period(agent), name=f"grace-{agent.id}"
            )

    async def set_presence(self, connection: AgentConnection, status: Status) -> None:
        """Online: pushed new handoffs and counted in wait estimates. Away: neither."""
        connection.status = status
        self._refresh_presence(connection.agent)
        if status == "online":
            await self.auto_assign()

    async def close(self) -> None:
        """Stop the grace countdowns (the service is stopping; chats stay assigned)."""
        tasks, self._grace_tasks = list(self._grace_tasks.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def canned_responses(self, agent: AgentRecord) -> list[CannedResponse]:
        """The canned responses ``agent`` may use (a supervisor: every one)."""
        return self._canned.for_agent(agent.teams, every_team=agent.role is AgentRole.SUPERVISOR)

    def connected(self) -> list[AgentConnection]:
        """The sockets connected now."""
        return list(self._connections)

    def presence(self) -> dict[str, Status]:
        """Each agent with a socket open: online if any of their sockets is, else away."""
        seen: dict[str, Status] = {}
        for connection in self._connections:
            if seen.get(connection.agent.id) != "online":
                seen[connection.agent.id] = connection.status
        return seen

    def team_routing(self) -> dict[str, str]:
        """Each team the desk serves, with its routing mode."""
        teams = self._teams if self._teams is not None else frozenset(self._rules)
        return {team: self.routing_mode(team).value for team in teams}

    async def alert_supervisors(self, team: str, frame: BaseModel) -> None:
        """Send ``frame`` to every connected supervisor (supervisors see every team, ``team``
        included); a supervisor with several sockets gets it on each."""
        sent = 0
        for connection in list(self._connections):
            if connection.supervisor and connection.may_see(team):
                connection.send(frame)
                sent += 1
        logger.info("supervisor alert for %s sent to %d socket(s)", team, sent)

    # --- the queue -----------------------------------------------------------------------

    async def on_handoff_queued(self, handoff: HandoffRecord) -> None:
        """Push a newly queued (or transferred) handoff, with its brief, to those who may take
        it: online members of its team and online supervisors."""
        # Serialised once: the brief carries the whole transcript, and every eligible agent
        # of the team gets the same bytes.
        frame = HandoffQueuedFrame(handoff=HandoffView.of(handoff)).model_dump_json()
        pushed = 0
        for connection in list(self._connections):
            if connection.status == "online" and connection.may_see(handoff.team):
                connection.send(frame)
                pushed += 1
        logger.info("handoff %s (%s) pushed to %d agent(s)", handoff.id, handoff.team, pushed)
        await self._tell_if_closed(handoff)
        await self.auto_assign()

    def routing_mode(self, team: str) -> RoutingMode:
        """How ``team``'s handoffs reach its agents (claim unless the policy says otherwise)."""
        rules = self._rules.get(team)
        return RoutingMode(rules.routing) if rules is not None else RoutingMode.CLAIM

    async def auto_assign(self) -> list[tuple[int, str]]:
        """Give queued handoffs of auto-assign teams to their least busy eligible agents.

        Most urgent first; each pair is made to stick by the store's atomic claim, so a
        handoff another agent or instance took meanwhile is skipped. The pairs assigned.
        """
        modes = {team: self.routing_mode(team) for team in self._rules}
        auto_teams = [team for team, mode in modes.items() if mode is RoutingMode.AUTO_ASSIGN]
        if not auto_teams:
            return []
        async with self._assigning:
            # Usually nothing waits in an auto-assign team (it is assigned as it comes): one
            # light read says so before the read of every open handoff below.
            waiting = await asyncio.to_thread(
                functools.partial(self._store.queue_entries, teams=auto_teams)
            )
            if not waiting:
                return []
            # Without briefs: this runs on every queued handoff and every freed seat, and only
            # the handoffs actually assigned below need theirs (read then). The tier the
            # routing order would take from a brief is already in the priority.
            open_handoffs = await asyncio.to_thread(
                functools.partial(self._work.open_handoffs, with_briefs=False)
            )
            queued = {
                h.id: h
                for h in open_handoffs
                if h.status is HandoffStatus.QUEUED and modes.get(h.team) is RoutingMode.AUTO_ASSIGN
            }
            if not queued:
                return []
            active: defaultdict[str, int] = defaultdict(int)
            for h in open_handoffs:
                if h.status is HandoffStatus.ASSIGNED and h.agent_id is not None:
                    active[h.agent_id] += 1
            pairs = assignments(
                [_queue_entry(h) for h in queued.values()], self._agent_states(active), modes,
                self.clock(),
            )  # fmt: skip
            done: list[tuple[int, str]] = []
            for handoff_id, agent_id in pairs:
                full = await asyncio.to_thread(self._store.get_handoff, handoff_id)
                if full is not None and await self._assign(full, agent_id):
                    done.append((handoff_id, agent_id))
            return done

    def _agent_states(self, active: Mapping[str, int]) -> list[AgentState]:
        agents = {connection.agent.id: connection.agent for connection in self._connections}
        presence = self.presence()
        return [
            AgentState(
                agent_id=agent.id,
                teams=frozenset(agent.teams),
                presence=presence[agent.id],
                capacity=agent.capacity,
                active_chats=active.get(agent.id, 0),
                idle_since=self._idle_since.get(agent.id),
            )  # fmt: skip
            for agent in agents.values()
        ]

    async def _assign(self, handoff: HandoffRecord, agent_id: str) -> bool:
        # One auto-assignment: the atomic claim, then as for a claim by every socket of the agent.
        connections = [c for c in self._connections if c.agent.id == agent_id]
        if not connections:
            return False
        agent = connections[0].agent
        before = await self._last_seq(handoff.conversation_id)
        try:
            with _refusals():
                claimed = await asyncio.to_thread(
                    self._work.claim_handoff, handoff.id, agent_id=agent.id,
                    agent_name=agent.display_name, now=self.clock(),
                )  # fmt: skip
        except DeskRefusal as exc:
            logger.warning("auto-assign of handoff %s failed: %s", handoff.id, exc.message)
            return False
        if claimed is None:  # taken meanwhile
            return False
        logger.info("handoff %s auto-assigned to agent %s", handoff.id, agent.username)
        await self._took(connections, claimed, before)
        return True

    async def claim(self, connection: AgentConnection, handoff_id: int) -> None:
        """Try to take a queued handoff: ``claimed`` or ``claim_failed``."""
        agent = connection.agent
        handoff = await asyncio.to_thread(self._store.get_handoff, handoff_id)
        if handoff is None or not connection.may_see(handoff.team):
            connection.send(ClaimFailedFrame(handoff_id=handoff_id, reason="not_found"))
            return
        if handoff.status is not HandoffStatus.QUEUED:
            connection.send(ClaimFailedFrame(handoff_id=handoff_id, reason="taken"))
            return
        if not connection.supervisor:
            held = await asyncio.to_thread(self._work.assigned_handoffs, agent.id)
            if len(held) >= agent.capacity:
                connection.send(ClaimFailedFrame(handoff_id=handoff_id, reason="at_capacity"))
                return
        before = await self._last_seq(handoff.conversation_id)
        with _refusals():
            claimed = await asyncio.to_thread(
                self._work.claim_handoff, handoff_id, agent_id=agent.id,
                agent_name=agent.display_name, now=self._service.clock(),
            )  # fmt: skip
        if claimed is None:  # another agent's claim committed first
            connection.send(ClaimFailedFrame(handoff_id=handoff_id, reason="taken"))
            return
        await self._took([connection], claimed, before)

    async def _took(
        self, connections: list[AgentConnection], claimed: HandoffRecord, before: int
    ) -> None:
        # The claim (or auto-assignment) won: the cold join message, the transcript to the
        # agent's sockets, "taken" to everyone else who saw it, and new places in the queue.
        agent = connections[0].agent
        handoff_id = claimed.id
        self._idle_since[agent.id] = self.clock()
        if claimed.mode != "warm":
            # Cold: the agent is in the chat at once; taking it is the SLA's acknowledgement.
            with _refusals():
                claimed = await asyncio.to_thread(
                    self._work.acknowledge_handoff, handoff_id, agent_id=agent.id,
                    now=self._service.clock(),
                )  # fmt: skip
                await asyncio.to_thread(
                    self._store.append_message, claimed.conversation_id,
                    sender=Sender.SYSTEM.value, text=agent_joined(agent.display_name, claimed.team),
                    payload={"event": "agent_joined", "agent_name": agent.display_name,
                             "team": claimed.team},
                    now=self._service.clock(),
                )  # fmt: skip
        await self._publish_since(claimed.conversation_id, before)
        for connection in connections:
            await self._watch(connection, claimed)
        taken = HandoffTakenFrame(handoff_id=handoff_id, agent_name=agent.display_name)
        for other in list(self._connections):
            if other not in connections and other.may_see(claimed.team):
                other.send(taken)
        await self._service.announce_queue(claimed.team)

    # --- a held handoff -----------------------------------------------------------------

    async def acknowledge(self, connection: AgentConnection, handoff_id: int) -> None:
        """The agent has read the brief. Warm: the customer gets the introduction (once)."""
        agent = connection.agent
        handoff = await self._held(connection, handoff_id, with_brief=True)  # the intro reads it
        if self._is_acknowledged(handoff, agent.id):
            connection.send(DoneFrame(action="acknowledged", handoff_id=handoff_id))
            return
        before = await self._last_seq(handoff.conversation_id)
        with _refusals():
            await asyncio.to_thread(
                self._work.acknowledge_handoff, handoff_id, agent_id=agent.id,
                now=self._service.clock(),
            )  # fmt: skip
            self._acknowledged.add((handoff_id, agent.id))
            await asyncio.to_thread(
                self._store.append_message, handoff.conversation_id, sender=Sender.AGENT.value,
                text=agent_introduction(agent.display_name, handoff.team, handoff.brief),
                payload={"agent_name": agent.display_name, "team": handoff.team,
                         "introduction": True},
                now=self._service.clock(),
            )  # fmt: skip
        await self._publish_since(handoff.conversation_id, before)
        connection.send(DoneFrame(action="acknowledged", handoff_id=handoff_id))

    async def send_message(
        self, connection: AgentConnection, handoff_id: int, client_message_id: str, text: str
    ) -> None:
        """Relay the agent's message to the customer; ``ack`` once stored."""
        agent = connection.agent
        handoff = await self._held(connection, handoff_id)
        if not self._is_acknowledged(handoff, agent.id):
            raise DeskRefusal(
                "acknowledge_first",
                f"handoff {handoff_id} is warm: read the brief and send 'acknowledge' first",
            )
        with _refusals():
            # A retry with the same id (no ack seen, connection lost) is stored only once.
            message, duplicate = await asyncio.to_thread(
                self._store.append_agent_message, handoff.conversation_id, agent_id=agent.id,
                client_message_id=client_message_id, text=text,
                payload={"agent_name": agent.display_name, "team": handoff.team,
                         "agent_id": agent.id},
                now=self._service.clock(),
            )  # fmt: skip
        if not duplicate:
            self._hub.publish(handoff.conversation_id, customer_frames([message]))
        connection.send(AgentAckFrame(client_message_id=client_message_id, seq=message.seq))

    async def add_note(self, connection: AgentConnection, handoff_id: int, text: str) -> None:
        """Store an internal note and show it to the agents watching; never to the customer."""
        agent = connection.agent
        handoff = await self._held(connection, handoff_id)
        with _refusals():
            note = await asyncio.to_thread(
                self._store.append_message, handoff.conversation_id, sender=Sender.AGENT.value,
                text=text,
                payload={INTERNAL: True, "agent_name": agent.display_name, "agent_id": agent.id},
                now=self._service.clock(),
            )  # fmt: skip
        # Not through the hub: customers subscribe there.
        for tap in list(self._taps.get(handoff.conversation_id, ())):
            tap.offer(agent_frame(note, tap.handoff_id))
        connection.send(DoneFrame(action="noted", handoff_id=handoff_id, seq=note.seq))

    async def transfer(
        self, connection: AgentConnection, handoff_id: int, to_team: str, reason: str
    ) -> None:
        """Send the handoff, brief and all, to ``to_team``'s queue and push it to its agents."""
        if self._teams is not None and to_team not in self._teams:
            known = ", ".join(sorted(self._teams))
            raise DeskRefusal("unknown_team", f"no team {to_team!r}; teams: {known}")
        handoff = await self._held(connection, handoff_id)
        before = await self._last_seq(handoff.conversation_id)
        with _refusals():
            moved = await asyncio.to_thread(
                self._work.transfer_handoff, handoff_id, to_team=to_team, reason=reason,
                now=self._service.clock(),
            )  # fmt: skip
        self._release(handoff)
        await self._publish_since(handoff.conversation_id, before)
        connection.send(DoneFrame(action="transferred", handoff_id=handoff_id))
        self._idle_since[connection.agent.id] = self.clock()
        await self.on_handoff_queued(moved)  # assigns it, and anything else this freed room for
        await self._service.announce_queue(to_team)

    async def hand_back(self, connection: AgentConnection, handoff_id: int, summary: str) -> None:
        """Give the customer back to the assistant."""
        handoff = await self._held(connection, handoff_id)
        before = await self._last_seq(handoff.conversation_id)
        with _refusals():
            await asyncio.to_thread(
                self._work.hand_back_to_bot, handoff_id, agent_id=connection.agent.id,
                summary=summary, now=self._service.clock(),
            )  # fmt: skip
        self._release(handoff)
        await self._publish_since(handoff.conversation_id, before)
        connection.send(DoneFrame(action="handed_back", handoff_id=handoff_id))
        await self._freed(connection.agent)
        # The assistant gets the agent's summary (slot handback_summary) and carries on.
        await self._service.returned_to_bot(handoff.conversation_id, summary)

    async def resolve(self, connection: AgentConnection, frame: ResolveFrame) -> None:
        """Resolve with the agent's record; the store decides ``within_sla``."""
        handoff = await self._held(connection, frame.handoff_id)
        trigger = (
            str(handoff.reasons[0].get("code", "escalated")) if handoff.reasons else "escalated"
        )
        record = ResolutionInput(
            trigger=trigger[:64], avoidable=frame.avoidable, root_cause=frame.root_cause.value,
            note=frame.note, correct_intent=frame.correct_intent,
            misunderstood_message_seq=frame.misunderstood_message_seq,
        )  # fmt: skip
        before = await self._last_seq(handoff.conversation_id)
        with _refusals():
            resolved = await asyncio.to_thread(
                self._work.resolve_handoff, frame.handoff_id, agent_id=connection.agent.id,
                resolution=record, now=self._service.clock(),
            )  # fmt: skip
        self._release(handoff)
        await self._publish_since(handoff.conversation_id, before)
        # Once the resolution is stored, and before the agent is told it is done, so that what
        # they see done is done: the inbox entry is derived from it, and a failure here is
        # logged, never undoes the resolution.
        try:
            await self._service.record_agent_verdict(
                handoff, avoidable=frame.avoidable,
                misunderstood_seq=frame.misunderstood_message_seq,
                correct_intent=frame.correct_intent,
            )  # fmt: skip
        except (SQLAlchemyError, ValueError):
            logger.exception("handoff %s: the agent's verdict did not reach the inbox", handoff.id)
        connection.send(
            DoneFrame(
                action="resolved",
                handoff_id=frame.handoff_id,
                within_sla=resolved.resolution.within_sla,
            )  # fmt: skip
        )
        await self._freed(connection.agent)
        await self._service.returned_to_bot(handoff.conversation_id, None)

    # --- typing and receipts --------------------------------------------------------------

    async def agent_typing(self, connection: AgentConnection, handoff_id: int) -> None:
        """Show the customer of a held handoff that its agent is typing (nothing is stored)."""
        handoff = await self._held(connection, handoff_id)
        frame = TypingFrame(sender="agent", name=connection.agent.display_name)
        self._hub.publish_control(handoff.conversation_id, frame.model_dump_json())

    async def agent_read(self, connection: AgentConnection, handoff_id: int, seq: int) -> None:
        """The agent has read a held handoff's messages up to ``seq``: the customer's read
        receipt (nothing is stored)."""
        handoff = await self._held(connection, handoff_id)
        frame = ReadReceiptFrame(seq=seq)
        self._hub.publish_control(handoff.conversation_id, frame.model_dump_json())

    def customer_typing(self, conversation_id: str) -> None:
        """The customer is typing: tell the agent sockets watching the conversation."""
        for tap in list(self._taps.get(conversation_id, ())):
            tap.connection.send(CustomerTypingFrame(handoff_id=tap.handoff_id))

    def customer_read(self, conversation_id: str, seq: int) -> None:
        """The customer has read up to ``seq``: the read receipt, to the watching agents."""
        for tap in list(self._taps.get(conversation_id, ())):
            tap.connection.send(CustomerReadFrame(handoff_id=tap.handoff_id, seq=seq))

    # --- internals ----------------------------------------------------------------------

    async def _freed(self, agent: AgentRecord) -> None:
        # The agent has room for one more: they wait from now, and the queue may fill it.
        self._idle_since[agent.id] = self.clock()
        await self.auto_assign()

    async def _grace_period(self, agent: AgentRecord) -> None:
        try:
            await asyncio.sleep(self._grace.total_seconds())
            if any(c.agent.id == agent.id for c in self._connections):
                return
            self._grace_tasks.pop(agent.id, None)
            await self.release_agent(agent)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("agent %s: releasing their conversations failed", agent.username)

    async def release_agent(self, agent: AgentRecord) -> list[HandoffRecord]:
        """Put every handoff ``agent`` holds back at the front of its queue (they left)."""
        held = await asyncio.to_thread(self._work.assigned_handoffs, agent.id)
        released: list[HandoffRecord] = []
        for handoff in held:
            before = await self._last_seq(handoff.conversation_id)
            try:
                with _refusals():
                    back = await asyncio.to_thread(
                        self._work.release_handoff, handoff.id, reason="agent_disconnected",
                        now=self.clock(),
                    )  # fmt: skip
                    await asyncio.to_thread(
                        self._store.append_message, handoff.conversation_id,
                        sender=Sender.SYSTEM.value, text=AGENT_DISCONNECTED,
                        payload={"event": "agent_disconnected", "handoff_id": handoff.id},
                        now=self.clock(),
                    )  # fmt: skip
            except DeskRefusal as exc:  # resolved or moved meanwhile
                logger.info("handoff %s not released: %s", handoff.id, exc.message)
                continue
            self._release(handoff)
            await self._publish_since(handoff.conversation_id, before)
            released.append(back)
            logger.info("handoff %s back in the queue: agent %s left", back.id, agent.username)
        for back in released:
            await self.on_handoff_queued(back)
        for team in sorted({back.team for back in released}):
            await self._service.announce_queue(team)
        return released

    async def _tell_if_closed(self, handoff: HandoffRecord) -> None:
        # Outside the team's hours: when it opens again, as a system message to the customer.
        rules = self._rules.get(handoff.team)
        if rules is None:
            return
        now = self.clock()
        opens_at = next_opening(rules.business_hours, now)
        if opens_at is None:
            return
        text = closed_notice(team_display_name=humanize(handoff.team), opens_at=opens_at, now=now)
        before = await self._last_seq(handoff.conversation_id)
        try:
            with _refusals():
                await asyncio.to_thread(
                    self._store.append_message, handoff.conversation_id,
                    sender=Sender.SYSTEM.value, text=text,
                    payload={"event": "outside_hours", "team": handoff.team,
                             "opens_at": opens_at.isoformat()},
                    now=now,
                )  # fmt: skip
        except DeskRefusal as exc:
            logger.warning("handoff %s: outside-hours notice not stored: %s", handoff.id, exc)
            return
        await self._publish_since(handoff.conversation_id, before)

    async def _held(
        self, connection: AgentConnection, handoff_id: int, *, with_brief: bool = False
    ) -> HandoffRecord:
        # The handoff, if this agent holds it now; a handoff they may not see is "not found".
        # Without its brief unless asked: this runs for every message an agent sends.
        handoff = await asyncio.to_thread(
            functools.partial(self._store.get_handoff, handoff_id, with_brief=with_brief)
        )
        mine = handoff is not None and handoff.agent_id == connection.agent.id
        if handoff is None or not (mine or connection.may_see(handoff.team)):
            raise DeskRefusal("not_found", f"no handoff {handoff_id} in your queues")
        if handoff.status is not HandoffStatus.ASSIGNED or not mine:
            raise DeskRefusal(
                "not_assigned", f"handoff {handoff_id} is not yours ({handoff.status.value}); "
                "claim it first",
            )  # fmt: skip
        return handoff

    def _is_acknowledged(self, handoff: HandoffRecord, agent_id: str) -> bool:
        if handoff.mode != "warm" or (handoff.id, agent_id) in self._acknowledged:
            return True
        # After a restart: the stored acknowledgement counts if it is of this assignment.
        acknowledged, assigned = handoff.acknowledged_at, handoff.assigned_at
        return acknowledged is not None and assigned is not None and acknowledged >= assigned

    def _view(self, handoff: HandoffRecord, agent_id: str) -> HandoffView:
        return HandoffView.of(handoff, acknowledged=self._is_acknowledged(handoff, agent_id))

    async def _watch(self, connection: AgentConnection, handoff: HandoffRecord) -> None:
        # Subscribe first, holding live frames, then read the transcript: nothing stored in
        # between is lost or sent twice (as the customer's resume does).
        tap = ConversationTap(connection, handoff.id)
        tap.hold()
        self._taps[handoff.conversation_id].add(tap)
        self._hub.subscribe(handoff.conversation_id, tap)
        try:
            transcript = await asyncio.to_thread(self._store.transcript, handoff.conversation_id)
        except BaseException:
            self._unwatch(handoff.conversation_id, tap)
            raise
        connection.send(
            ClaimedFrame(
                handoff=self._view(handoff, connection.agent.id),
                transcript=[agent_frame(m, handoff.id) for m in transcript],
            )
        )
        tap.release(m.seq for m in transcript)

    def _unwatch(self, conversation_id: str, tap: ConversationTap) -> None:
        self._hub.unsubscribe(conversation_id, tap)
        taps = self._taps.get(conversation_id)
        if taps is not None:
            taps.discard(tap)
            if not taps:
                del self._taps[conversation_id]

    def _release(self, handoff: HandoffRecord) -> None:
        # The handoff left its agent (transferred, handed back, resolved): stop watching.
        for tap in list(self._taps.get(handoff.conversation_id, ())):
            self._unwatch(handoff.conversation_id, tap)
        self._acknowledged = {key for key in self._acknowledged if key[0] != handoff.id}

    async def _last_seq(self, conversation_id: str) -> int:
        conversation = await asyncio.to_thread(self._store.get_conversation, conversation_id)
        return 0 if conversation is None else conversation.last_seq

    async def _publish_since(self, conversation_id: str, seq: int) -> None:
        # What a store operation wrote (state changes, introductions) reaches the customer and
        # the watching agent; subscribers drop what they already had.
        messages = await asyncio.to_thread(self._store.messages_after, conversation_id, seq)
        self._hub.publish(conversation_id, customer_frames(messages))

    def _refresh_presence(self, agent: AgentRecord) -> None:
        if self.presence().get(agent.id) == "online":
            self._presence.set_online(agent.id, agent.teams)
        else:
            self._presence.set_offline(agent.id)


AGENT_DISCONNECTED = (
    "Sorry, your agent got disconnected. You're back at the front of the queue, and the next "
    "available colleague will pick up your conversation with everything you've told us."
)


def _queue_entry(handoff: HandoffRecord) -> QueueEntry:
    # Routing's view of a queued handoff; the tier comes from the brief's customer when the
    # brief was read (standard otherwise: equal priorities already mean equal tiers).
    customer = handoff.brief.get("customer") if isinstance(handoff.brief, dict) else None
    raw_tier = customer.get("tier") if isinstance(customer, dict) else None
    tier = Tier(raw_tier) if raw_tier in {t.value for t in Tier} else Tier.STANDARD
    severity = Severity(handoff.severity) if handoff.severity in {s.value for s in Severity} \
        else Severity.SEV4  # fmt: skip
    return QueueEntry(
        handoff_id=handoff.id, conversation_id=handoff.conversation_id, team=handoff.team,
        severity=severity, tier=tier, priority=handoff.priority, queued_at=handoff.created_at,
        status=handoff.status,
    )  # fmt: skip


@contextmanager
def _refusals() -> Iterator[None]:
    """The store's refusals as :class:`DeskRefusal` (nothing was written in any case)."""
    try:
        yield
    except NotAssignedAgent as exc:
        raise DeskRefusal("not_assigned", str(exc)) from None
    except (HandoffStateError, IllegalTransition) as exc:
        raise DeskRefusal("wrong_state", str(exc)) from None
    except (LookupError, ConversationNotFound) as exc:
        raise DeskRefusal("not_found", str(exc)) from None
    except SQLAlchemyError as exc:
        logger.error("agent desk: the database failed: %s", exc)
        raise DeskRefusal("not_stored", "not stored: the database is unavailable; retry") from None
    except ValueError as exc:
        raise DeskRefusal("invalid", str(exc)) from None
