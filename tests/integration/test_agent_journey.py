"""An agent's journey end to end: customer socket and agent sockets against the real stack.

Two agents of the team a "request a person" handoff routes to sign in over ``/ws/agent``; the
customer escalates; both are pushed the brief and race to claim it; the winner talks to the
customer, writes an internal note (which the customer never sees, not even on a resume from the
start) and hands the customer back to the assistant with a summary that Rasa then holds in its
``handback_summary`` slot and repeats to the customer. Every wait is bounded and waits for a
frame, never a fixed time.
"""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from agent_desk import agent_socket, agent_url, queued_for
from customer_chat import TURN_SECONDS, Chat, Frame, after, identity_token, is_bot, is_event
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

pytestmark = pytest.mark.integration

# Both demo agents of the general team, where a standard customer's "a person, please" goes
# (request_human: sev3; no topic category -> technical; technical sev3 -> general, claim mode).
GENERAL_AGENTS = {"carla.relationship": "Carla Nunes", "dev.support": "Dev Patel"}


def refused_with(service_url: str, token: str) -> ConnectionClosed:
    """How the agent socket closes after ``auth`` with ``token``."""
    with connect(agent_url(service_url), open_timeout=10, close_timeout=5) as connection:
        connection.send(json.dumps({"type": "auth", "token": token}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:  # nothing but the close may come; bounded by recv's timeout
                frame = json.loads(connection.recv(timeout=TURN_SECONDS))
                assert frame["type"] not in {"welcome", "claimed"}, f"accepted: {frame}"
    return closed.value


def test_customer_tokens_and_foreign_origins_are_refused_on_the_agent_socket(
    stack, demo_agents
) -> None:
    token = identity_token(stack.service_url, "cus_1001")
    with Chat.open(stack.service_url) as chat:
        started = chat.start(token)
    for customer_token in (token, started["resume_token"]):
        closed = refused_with(stack.service_url, customer_token)
        assert closed.rcvd is not None and closed.rcvd.code == 4401, closed

    # A page of another site: refused before the socket opens (Starlette answers the closed
    # handshake with 403), or closed with 1008 should the server accept first.
    try:
        with connect(
            agent_url(stack.service_url), origin="https://evil.example", open_timeout=10
        ) as connection:
            with pytest.raises(ConnectionClosed) as closed:
                connection.recv(timeout=TURN_SECONDS)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    except InvalidStatus as exc:
        assert exc.response.status_code == 403


def test_two_agents_race_for_a_handoff_and_the_winner_hands_back_to_the_bot(
    stack, demo_agents
) -> None:
    with (
        agent_socket(stack.service_url, "carla.relationship") as (carla, carla_welcome),
        agent_socket(stack.service_url, "dev.support") as (dev, dev_welcome),
        Chat.open(stack.service_url) as chat,
    ):
        for welcome in (carla_welcome, dev_welcome):
            assert "general" in welcome["agent"]["teams"]
        started = chat.start(identity_token(stack.service_url, "cus_1001"))
        conversation_id = started["conversation_id"]
        chat.ask("my card still hasn't arrived")
        ack = chat.say("I want to talk to a person")
        changed, notice = chat.queued(ack)
        team = changed["data"]["handoff_team"]
        assert team == "general" and notice["data"]["team"] == team

        # Both agents are pushed the same handoff, with the brief.
        pushed = [desk.wait_for(queued_for(conversation_id)) for desk in (carla, dev)]
        handoff = pushed[0]["handoff"]
        assert pushed[1]["handoff"]["id"] == handoff["id"] and handoff["team"] == team
        brief = handoff["brief"]
        said = [m["text"] for m in brief["transcript"] if m["sender"] == "customer"]
        assert said == ["my card still hasn't arrived", "I want to talk to a person"]
        codes = [r["code"] for r in brief["reasons"]]
        assert "request_human" in codes or any(
            r["code"] == "rasa_signal" and r["value"] == "request_human" for r in brief["reasons"]
        ), brief["reasons"]
        assert brief["customer"]["id"] == "cus_1001"

        # Both claim at once: exactly one wins.
        handoff_id = handoff["id"]
        marks = {"carla": carla.mark(), "dev": dev.mark()}
        results: dict[str, Frame] = {}
        errors: list[BaseException] = []
        gate = threading.Barrier(2)

        def claim(name: str, desk: Chat) -> None:
            try:
                gate.wait(timeout=10)
                desk.send(type="claim", handoff_id=handoff_id)
                results[name] = desk.wait_for(
                    lambda f: (
                        f.get("handoff_id", f.get("handoff", {}).get("id")) == handoff_id
                        and f["type"] in {"claimed", "claim_failed", "handoff_taken"}
                    ),
                    since=marks[name],
                )
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [
            threading.Thread(target=claim, args=("carla", carla)),
            threading.Thread(target=claim, args=("dev", dev)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TURN_SECONDS + 15)
        assert not errors, errors
        kinds = [results[name]["type"] for name in ("carla", "dev")]
        # Exactly one winner; the loser hears either answer, whichever frame comes first.
        assert kinds.count("claimed") == 1, results
        assert {k for k in kinds if k != "claimed"} <= {"claim_failed", "handoff_taken"}, results
        winner_name = next(name for name, frame in results.items() if frame["type"] == "claimed")
        agent, loser = (carla, dev) if winner_name == "carla" else (dev, carla)
        display = GENERAL_AGENTS["carla.relationship" if winner_name == "carla" else "dev.support"]
        claimed = results[winner_name]
        # The loser also ends up told the handoff is gone, and never gets its transcript.
        loser.wait_for(
            lambda f: (
                f.get("handoff_id") == handoff_id and f["type"] in {"claim_failed", "handoff_taken"}
            )
        )
        assert not [f for f in loser.frames if f["type"] == "claimed"
                    and f["handoff"]["id"] == handoff_id]  # fmt: skip
        assert [m["text"] for m in claimed["transcript"] if m["sender"] == "customer"] == said

        first_name = display.split()[0]
        if claimed["handoff"]["mode"] == "warm":
            mark = agent.mark()
            agent.send(type="message", handoff_id=handoff_id, client_message_id="early", text="hi")
            error = agent.wait_for(lambda f: f["type"] == "error", since=mark)
            assert error["code"] == "acknowledge_first"
            agent.send(type="acknowledge", handoff_id=handoff_id)
            agent.wait_for(lambda f: f["type"] == "done" and f["action"] == "acknowledged",
                           since=mark)  # fmt: skip
            intro = chat.wait_for(
                after(ack["seq"], lambda f: f["sender"] == "agent" and first_name in f["text"])
            )
            assert "general team" in intro["text"] and intro["data"]["agent_name"] == display
        else:  # cold: one line says who joined
            joined = chat.wait_for(after(ack["seq"], is_event("agent_joined")))
            assert first_name in joined["text"] and "general team" in joined["text"]
            assert joined["data"] == {"event": "agent_joined", "agent_name": display,
                                      "team": "general"}  # fmt: skip

        chat.wait_for(after(ack["seq"], is_event("state_changed", to="agent")))

        # Agent -> customer, with the agent's name.
        mark = agent.mark()
        agent.send(type="message", handoff_id=handoff_id, client_message_id="a1",
                   text="Let me look into your card delivery.")  # fmt: skip
        agent_ack = agent.wait_for(
            lambda f: f["type"] == "ack" and f["client_message_id"] == "a1", since=mark
        )
        relayed = chat.wait_for(lambda f: f.get("seq") == agent_ack["seq"])
        assert (
            relayed["sender"] == "agent"
            and relayed["text"] == "Let me look into your card delivery."
        )
        assert relayed["data"]["agent_name"] == display

        # Customer -> agent.
        mark = agent.mark()
        reply = chat.say("thank you, it was ordered two weeks ago")
        heard = agent.wait_for(lambda f: f["type"] == "message" and f["seq"] == reply["seq"],
                               since=mark)  # fmt: skip
        assert heard["sender"] == "customer" and heard["handoff_id"] == handoff_id
        assert heard["text"] == "thank you, it was ordered two weeks ago"

        # An internal note: to the agent, never to the customer.
        note_text = "INTERNAL: customer verified, card re-issue likely needed"
        mark = agent.mark()
        agent.send(type="note", handoff_id=handoff_id, text=note_text)
        noted = agent.wait_for(lambda f: f["type"] == "done" and f["action"] == "noted",
                               since=mark)  # fmt: skip
        shown = agent.wait_for(lambda f: f["type"] == "message" and f["seq"] == noted["seq"],
                               since=mark)  # fmt: skip
        assert shown["internal"] is True and shown["text"] == note_text

        # Hand back: the customer is the bot's again, and Rasa has the summary.
        summary = "Card re-issue ordered; customer informed it takes 3-5 days."
        mark_chat = chat.mark()
        mark = agent.mark()
        agent.send(type="hand_back", handoff_id=handoff_id, summary=summary)
        agent.wait_for(lambda f: f["type"] == "done" and f["action"] == "handed_back", since=mark)
        back = chat.wait_for(is_event("state_changed", to="bot"), since=mark_chat)
        assert back["data"]["from"] == "agent"
        # The assistant speaks first, with the summary it was given, and asks for a rating.
        welcome = chat.wait_for(after(back["seq"], is_bot))
        assert summary.rstrip(".") in welcome["text"] and "1 (poor) to 5" in welcome["text"]
        tracker = httpx.get(
            f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
            params={"include_events": "NONE", "token": stack.rasa_token},
            timeout=10,
        )
        assert tracker.status_code == 200, tracker.text
        assert tracker.json()["slots"].get("handback_summary") == summary

        # The assistant answers again.
        again, answer = chat.ask("how long does a transfer take?")
        assert answer["seq"] > again["seq"] and answer["text"]
        assert note_text not in [f.get("text") for f in chat.frames]
        assert noted["seq"] not in [f.get("seq") for f in chat.messages()]
        last_seq = answer["seq"]

    # A resume from the very start replays everything the customer may see: not the note.
    with Chat.open(stack.service_url) as replay:
        replay.resume(started["resume_token"], 0)
        replay.wait_for(lambda f: f.get("seq") == last_seq)
        texts = [f["text"] for f in replay.messages()]
        assert note_text not in texts and noted["seq"] not in [f["seq"] for f in replay.messages()]
        assert "Let me look into your card delivery." in texts
        assert any(is_bot(f) and f["seq"] > back["seq"] for f in replay.messages())


def test_warm_handoff_must_be_acknowledged_before_the_agent_writes(stack, demo_agents) -> None:
    # A premium customer is always handed over warm; wanting to leave goes to relationship.
    with (
        agent_socket(stack.service_url, "carla.relationship") as (carla, _),
        Chat.open(stack.service_url) as chat,
    ):
        started = chat.start(identity_token(stack.service_url, "cus_1002"))
        ack = chat.say("I want to close my account")
        changed, _ = chat.queued(ack)
        team = changed["data"]["handoff_team"]
        assert team == "relationship"
        pushed = carla.wait_for(queued_for(started["conversation_id"]))
        handoff_id = pushed["handoff"]["id"]
        assert pushed["handoff"]["mode"] == "warm"

        mark = carla.mark()
        carla.send(type="claim", handoff_id=handoff_id)
        claimed = carla.wait_for(lambda f: f["type"] == "claimed", since=mark)
        assert claimed["handoff"]["acknowledged"] is False
        carla.send(type="message", handoff_id=handoff_id, client_message_id="early", text="hi")
        error = carla.wait_for(lambda f: f["type"] == "error", since=mark)
        assert error["code"] == "acknowledge_first"

        carla.send(type="acknowledge", handoff_id=handoff_id)
        carla.wait_for(lambda f: f["type"] == "done" and f["action"] == "acknowledged", since=mark)
        intro = chat.wait_for(after(ack["seq"], lambda f: f["sender"] == "agent"))
        assert intro["text"].startswith("Hi, I'm Carla from our relationship team.")
        assert intro["data"]["agent_name"] == "Carla Nunes"
        assert "hi" not in [f["text"] for f in chat.messages()], "a refused message got through"

        mark = carla.mark()
        carla.send(type="hand_back", handoff_id=handoff_id, summary="Retention offer declined.")
        carla.wait_for(lambda f: f["type"] == "done" and f["action"] == "handed_back", since=mark)
