"""The agent console (``/agent``) in headless Chromium against the real stack.

The customer side is the Python websocket client of ``customer_chat.py`` (never the chat
widget): a customer escalates, and an agent signed in to the console in the browser sees the
handoff in the queue, reads the brief, claims it and works it to an end (resolve, hand back or
transfer). Every wait is a condition (Playwright's ``expect`` or a frame the customer socket
receives), never a fixed sleep. What depends on time (the SLA countdown and its colours) is
checked by moving the page's own clock (Playwright's ``page.clock``), never by waiting on the
wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from customer_chat import TURN_SECONDS, Chat, Frame, identity_token, is_event
from playwright.sync_api import Browser, Locator, Page, WebSocketRoute, expect

from handoff.agents.demo import DEMO_PASSWORD
from handoff.store.agent_work import AgentWorkStore
from handoff.store.database import create_database_engine
from handoff.store.repository import ConversationStore

pytestmark = pytest.mark.integration

AGENT = "carla.relationship"  # teams relationship and general: where these customers go
AGENT_TEAMS = {"relationship", "general"}
ASK_FOR_A_PERSON = "I want to talk to a person"
FRUSTRATED = "this is the third time I'm asking, this is ridiculous, I want to speak to a person"
MARKUP = "<img src=x onerror=alert(1)><script>alert(2)</script>"


@contextmanager
def stored(stack) -> Iterator[tuple[ConversationStore, AgentWorkStore]]:
    """The service's stores, read beside the running service."""
    engine = create_database_engine(stack.database_url)
    try:
        yield ConversationStore(engine), AgentWorkStore(engine)
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """``expect`` waits as long as a turn may take (its default of 5 s is too short here)."""
    expect.set_options(timeout=TURN_SECONDS * 1000)
    yield
    expect.set_options(timeout=5_000)


# --------------------------------------------------------------------------- helpers


def sign_in(page: Page, stack, username: str = AGENT) -> None:
    page.goto(f"{stack.service_url}/agent")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")


@contextmanager
def escalated(stack, customer_id: str, *messages: str) -> Iterator[tuple[Chat, Frame, str]]:
    """A customer socket whose last message got them queued: (chat, started, team)."""
    with Chat.open(stack.service_url) as chat:
        started = chat.start(identity_token(stack.service_url, customer_id))
        for text in messages[:-1]:
            chat.ask(text)
        ack = chat.say(messages[-1])
        changed, _ = chat.queued(ack)
        team = changed["data"]["handoff_team"]
        assert team in AGENT_TEAMS, f"routed to {team}, not one of {AGENT}'s teams"
        yield chat, started, team


def queue_item(page: Page, conversation_id: str) -> Locator:
    return page.locator(f'[data-testid="queue-item"][data-conversation-id="{conversation_id}"]')


def held_item(page: Page, conversation_id: str) -> Locator:
    return page.locator(f'[data-testid="held-item"][data-conversation-id="{conversation_id}"]')


def chat_message(page: Page, author: str, text: str) -> Locator:
    return page.get_by_test_id("chat-log").locator(
        f'[data-testid="chat-message"][data-author="{author}"]', has_text=text
    )


def take(page: Page, chat: Chat, conversation_id: str) -> None:
    """Open the queued handoff, claim it and, if it is warm, acknowledge it."""
    queue_item(page, conversation_id).get_by_test_id("queue-open").click()
    mark = chat.mark()
    page.get_by_test_id("claim-button").click()
    expect(held_item(page, conversation_id)).to_be_visible()
    expect(queue_item(page, conversation_id)).to_have_count(0)
    conversation = page.get_by_test_id("conversation")
    if conversation.get_attribute("data-mode") == "warm":
        # The protocol's rule, shown in the console: no writing before the acknowledgement.
        expect(page.get_by_test_id("warm-banner")).to_be_visible()
        expect(page.get_by_test_id("chat-input")).to_be_disabled()
        page.get_by_test_id("acknowledge-button").click()
        expect(conversation).to_have_attribute("data-acknowledged", "true")
        chat.wait_for(lambda f: f.get("type") == "message" and f["sender"] == "agent", since=mark)
    expect(conversation).to_have_attribute("data-acknowledged", "true")
    expect(page.get_by_test_id("chat-input")).to_be_enabled()


def hand_back(page: Page, chat: Chat, conversation_id: str, summary: str) -> None:
    mark = chat.mark()
    page.get_by_test_id("handback-open").click()
    page.get_by_test_id("handback-summary").fill(summary)
    page.get_by_test_id("handback-submit").click()
    # The page's answer first: a routed socket (test g) is relayed only during Playwright calls.
    expect(held_item(page, conversation_id)).to_have_count(0)
    chat.wait_for(is_event("state_changed", to="bot"), since=mark)


def customer_texts(chat: Chat) -> list[str]:
    return [frame["text"] for frame in chat.messages()]


# --------------------------------------------------------------------------- tests


def test_a_wrong_password_is_refused_with_a_clear_error(
    stack, demo_agents, browser: Browser
) -> None:
    # Chromium logs the login's 401 response as a console error: that one is expected here,
    # so this test watches the console itself instead of through `new_page`.
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{stack.service_url}/agent")
        page.get_by_test_id("login-username").fill(AGENT)
        page.get_by_test_id("login-password").fill("not-the-password")
        page.get_by_test_id("login-submit").click()
        error = page.get_by_test_id("login-error")
        expect(error).to_be_visible(timeout=10_000)
        expect(error).to_have_text("Unknown username or wrong password.")
        expect(page.get_by_test_id("login-form")).to_be_visible()
        expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "offline")
        assert page.evaluate("sessionStorage.length") == 0
    finally:
        context.close()
    unexpected = [e for e in errors if "status of 401" not in e]
    assert not unexpected, unexpected


def test_b_agent_reads_the_brief_claims_and_chats_and_notes_stay_internal(
    stack, demo_agents, new_page: Callable[[], Page], screenshots: Path
) -> None:
    page = new_page()
    # The page's clock is Playwright's: the countdown is seen to tick by moving it a minute on,
    # never by waiting for the wall clock to cross a minute boundary.
    page.clock.install()
    sign_in(page, stack)
    said = ["my card still hasn't arrived", FRUSTRATED]
    with escalated(stack, "cus_1001", *said) as (chat, started, _):
        conversation_id = started["conversation_id"]

        # The queue: severity, tier, category, reason, preview, waiting time and SLA countdown.
        item = queue_item(page, conversation_id)
        expect(item).to_be_visible()
        assert re.fullmatch(r"sev[1-4]", item.get_attribute("data-severity") or "")
        expect(item.get_by_test_id("queue-severity")).to_have_text(re.compile(r"^Sev [1-4]$"))
        expect(item.get_by_test_id("queue-tier")).to_have_text("standard")
        expect(item.get_by_test_id("queue-category")).to_have_text(re.compile(r"\w+"))
        expect(item.get_by_test_id("queue-reason")).to_have_text("request_human")
        expect(item.get_by_test_id("queue-preview")).to_have_text(FRUSTRATED)
        expect(item.get_by_test_id("queue-waiting")).to_have_text(re.compile(r"^Waiting \d"))
        sla = item.get_by_test_id("sla")
        expect(sla).to_have_attribute("data-sla-state", re.compile(r"^(active|warning|breached)$"))
        expect(sla).to_have_attribute("data-sla-target", "acknowledge")
        countdown = sla.text_content()
        assert countdown and re.match(r"Ack (in|overdue) \d", countdown), countdown
        page.clock.fast_forward(61_000)
        expect(sla).not_to_have_text(countdown)  # it ticks: a minute less to go
        page.screenshot(path=screenshots / "agent-console-queue.png")

        # The brief, before claiming.
        item.get_by_test_id("queue-open").click()
        brief = page.get_by_test_id("brief")
        expect(brief.get_by_test_id("brief-summary")).to_contain_text("Alice Moreau")
        expect(
            brief.locator('[data-testid="reason-code"][data-code="request_human"]')
        ).to_be_visible()
        chart = brief.get_by_test_id("sentiment-chart")
        expect(chart.locator('svg[role="img"]')).to_be_visible()
        expect(chart.locator("svg circle")).to_have_count(4)  # two messages, two series
        expect(chart.locator("table")).to_contain_text("Frustration")
        expect(brief.get_by_test_id("brief-tier")).to_have_attribute("data-tier", "standard")
        steps = brief.get_by_test_id("attempted-step")
        expect(steps.first).to_be_visible()
        expect(steps.first).to_have_attribute("data-outcome", re.compile(r"\w+"))
        customer_lines = brief.locator('[data-testid="transcript-message"][data-author="customer"]')
        expect(customer_lines.locator(".line-text")).to_have_text(said)
        expect(customer_lines.get_by_test_id("message-sentiment")).to_have_count(2)
        page.screenshot(path=screenshots / "agent-console-brief.png")

        take(page, chat, conversation_id)

        # A canned response goes into the input for editing; the customer sees the agent type.
        mark = chat.mark()
        page.get_by_test_id("canned-picker").select_option(label="Greeting")
        chat_input = page.get_by_test_id("chat-input")
        expect(chat_input).to_have_value(re.compile(r"^Hello, thanks for waiting\."))
        chat_input.press("End")
        chat_input.press_sequentially(" I can see your card was posted.")
        chat.wait_for(lambda f: f["type"] == "typing" and f.get("sender") == "agent", since=mark)
        reply = chat_input.input_value()
        chat_input.press("Enter")
        relayed = chat.wait_for(
            lambda f: f.get("type") == "message" and f["sender"] == "agent" and f["text"] == reply,
            since=mark,
        )
        mine = chat_message(page, "agent", "I can see your card was posted.")
        expect(mine).to_have_attribute("data-delivery", "sent")
        chat.send(type="read", seq=relayed["seq"])
        expect(mine).to_have_attribute("data-delivery", "read")

        # The customer types, then answers.
        chat.send(type="typing")
        expect(page.get_by_test_id("customer-typing")).to_contain_text("is typing")
        answer = "thank you, it was ordered two weeks ago"
        answered = chat.say(answer)
        expect(chat_message(page, "customer", answer)).to_be_visible()
        expect(page.get_by_test_id("customer-typing")).to_be_hidden()
        # The console, showing the conversation, tells the customer it was read.
        receipt = chat.wait_for(lambda f: f.get("type") == "read" and f["seq"] >= answered["seq"])
        assert receipt == {"type": "read", "sender": "agent", "seq": answered["seq"]}

        # An internal note: shown apart in the console, never sent to the customer.
        note = "INTERNAL: customer verified, card re-issue likely needed"
        page.get_by_test_id("note-open").click()
        page.get_by_test_id("note-input").fill(note)
        page.get_by_test_id("note-submit").click()
        shown = page.locator('[data-testid="chat-message"][data-internal="true"]', has_text=note)
        expect(shown).to_contain_text("not visible to the customer")
        note_seq = int(shown.get_attribute("data-seq") or 0)

        # A reload keeps the session and restores the conversation from the desk.
        page.reload()
        expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
        expect(page.get_by_test_id("login-form")).to_be_hidden()
        held_item(page, conversation_id).get_by_test_id("held-open").click()
        expect(chat_message(page, "customer", answer)).to_be_visible()
        expect(chat_message(page, "agent", note)).to_have_attribute("data-internal", "true")

        hand_back(page, chat, conversation_id, "Card posted; customer told when it arrives.")
        assert note not in customer_texts(chat)
        assert note_seq not in [frame["seq"] for frame in chat.messages()]


def test_c_customer_markup_is_shown_as_literal_text(
    stack, demo_agents, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, stack)
    said = f"{MARKUP} {ASK_FOR_A_PERSON}"
    with escalated(stack, "cus_1004", said) as (chat, started, _):
        conversation_id = started["conversation_id"]
        item = queue_item(page, conversation_id)
        expect(item.get_by_test_id("queue-preview")).to_have_text(said)
        expect(item.locator("img, script")).to_have_count(0)

        item.get_by_test_id("queue-open").click()
        line = page.get_by_test_id("brief").locator(
            '[data-testid="transcript-message"][data-author="customer"] .line-text'
        )
        expect(line).to_have_text(said)

        take(page, chat, conversation_id)
        message = chat_message(page, "customer", MARKUP)
        expect(message.locator(".msg-text")).to_have_text(said)
        expect(page.locator("main img, main script")).to_have_count(0)
        assert dialogs == []

        hand_back(page, chat, conversation_id, "Asked for a person; nothing to do.")
    assert dialogs == []


def test_d_resolve_records_the_outcome_and_the_conversation_leaves_the_list(
    stack, demo_agents, new_page: Callable[[], Page], screenshots: Path
) -> None:
    page = new_page()
    sign_in(page, stack)
    with escalated(stack, "cus_1001", ASK_FOR_A_PERSON) as (chat, started, _):
        conversation_id = started["conversation_id"]
        take(page, chat, conversation_id)

        page.get_by_test_id("resolve-open").click()
        strongest = page.get_by_test_id("reason-code").first.get_attribute("data-code")
        expect(page.get_by_test_id("resolve-trigger")).to_have_value(strongest or "")
        page.get_by_test_id("resolve-avoidable-yes").check()
        page.get_by_test_id("resolve-root-cause").select_option("agent_knowledge_gap")
        page.get_by_test_id("resolve-correct-intent").fill("request_human")
        misunderstood = page.get_by_test_id("resolve-misunderstood")
        misunderstood.select_option(index=1)  # the first customer message
        first_customer_seq = int(misunderstood.input_value())
        page.get_by_test_id("resolve-note").fill("The assistant could have offered a callback.")
        page.screenshot(path=screenshots / "agent-console-resolve.png")

        mark = chat.mark()
        page.get_by_test_id("resolve-submit").click()
        expect(held_item(page, conversation_id)).to_have_count(0)
        expect(page.get_by_test_id("notifications")).to_contain_text("resolved within the SLA")
        back = chat.wait_for(is_event("state_changed", to="bot"), since=mark)
        assert back["data"]["from"] == "agent"

    with stored(stack) as (store, work):
        handoff = store.latest_handoff(conversation_id)
        assert handoff is not None and handoff.status.value == "resolved"
        resolution = work.get_resolution(handoff.id)
    assert resolution is not None and resolution.trigger == strongest
    assert resolution.avoidable is True and resolution.within_sla is True
    assert resolution.root_cause.value == "agent_knowledge_gap"
    assert resolution.correct_intent == "request_human"
    assert resolution.misunderstood_message_seq == first_customer_seq
    assert resolution.note == "The assistant could have offered a callback."


def test_e_hand_back_gives_the_customer_and_the_summary_to_the_assistant(
    stack, demo_agents, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    sign_in(page, stack)
    with escalated(stack, "cus_1001", ASK_FOR_A_PERSON) as (chat, started, _):
        conversation_id = started["conversation_id"]
        take(page, chat, conversation_id)
        summary = "Customer only wanted to confirm the card delivery date; told 29 November."
        mark = chat.mark()
        hand_back(page, chat, conversation_id, summary)
        expect(page.get_by_test_id("notifications")).to_contain_text("back with the assistant")
        # The assistant speaks first (after it has the summary), repeating it.
        welcome = chat.wait_for(lambda f: f.get("sender") == "bot", since=mark)
        assert summary.rstrip(".") in welcome["text"]

    tracker = httpx.get(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
        params={"include_events": "NONE", "token": stack.rasa_token},
        timeout=10,
    )
    assert tracker.status_code == 200, tracker.text
    assert tracker.json()["slots"].get("handback_summary") == summary


def test_f_transfer_sends_the_customer_to_another_team_with_a_reason(
    stack, demo_agents, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    sign_in(page, stack)
    with escalated(stack, "cus_1001", ASK_FOR_A_PERSON) as (chat, started, _):
        conversation_id = started["conversation_id"]
        take(page, chat, conversation_id)

        mark = chat.mark()
        page.get_by_test_id("transfer-open").click()
        page.get_by_test_id("transfer-team").fill("disputes")
        page.get_by_test_id("transfer-reason").fill("Disputed card payment, not a delivery issue")
        page.get_by_test_id("transfer-submit").click()
        expect(held_item(page, conversation_id)).to_have_count(0)
        moved = chat.wait_for(is_event("state_changed", to="queued"), since=mark)
        assert moved["text"] == "Connecting you with a colleague."
        # Not Carla's team: it does not come back to her queue.
        expect(page.get_by_test_id("notifications")).to_contain_text("was transferred")
        expect(queue_item(page, conversation_id)).to_have_count(0)

    with stored(stack) as (store, _):
        handoff = store.latest_handoff(conversation_id)
    assert handoff is not None and handoff.team == "disputes" and handoff.transfer_count == 1
    assert handoff.status.value == "queued" and handoff.agent_id is None


def test_g_a_dropped_socket_reconnects_and_the_desk_restores_the_conversation(
    stack, demo_agents, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    sockets: list[WebSocketRoute] = []

    # The real desk, behind a socket the test can drop. Playwright's sync API relays a routed
    # socket's frames only while the test is in a Playwright call, so each step below waits on
    # the page (an `expect`) before it waits on the customer's socket.
    def relay(socket: WebSocketRoute) -> None:
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile(r"/ws/agent$"), relay)
    sign_in(page, stack)
    # Every state the connection goes through, as the page shows it.
    page.evaluate(
        """() => {
            const status = document.querySelector('[data-testid="connection-status"]');
            window.connectionStates = [];
            new MutationObserver(() => window.connectionStates.push(status.dataset.state))
                .observe(status, {attributes: true, attributeFilter: ['data-state']});
        }"""
    )
    with escalated(stack, "cus_1001", ASK_FOR_A_PERSON) as (chat, started, _):
        conversation_id = started["conversation_id"]
        take(page, chat, conversation_id)
        chat.say("are you still there?")
        expect(chat_message(page, "customer", "are you still there?")).to_be_visible()

        sockets[-1].close(code=1012, reason="service restart")
        page.wait_for_function("() => window.connectionStates.includes('reconnecting')")
        # Written around the drop: sent (or resent, with its id) once the socket is back.
        text = "Yes, sorry: the connection dropped for a moment."
        page.get_by_test_id("chat-input").fill(text)
        page.get_by_test_id("send-button").click()
        page.wait_for_function("() => window.connectionStates.at(-1) === 'online'")
        assert len(sockets) == 2

        expect(held_item(page, conversation_id)).to_be_visible()
        expect(chat_message(page, "customer", "are you still there?")).to_be_visible()
        expect(chat_message(page, "agent", text)).to_have_attribute("data-delivery", "sent")
        chat.wait_for(lambda f: f.get("type") == "message" and f.get("text") == text)
        hand_back(page, chat, conversation_id, "Connection dropped; customer reassured.")
        assert customer_texts(chat).count(text) == 1


def test_h_several_conversations_are_held_at_once_and_switched_between(
    stack, demo_agents, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    sign_in(page, stack)
    with (
        escalated(stack, "cus_1001", ASK_FOR_A_PERSON) as (first, first_started, _),
        escalated(stack, "cus_1004", ASK_FOR_A_PERSON) as (second, second_started, _),
    ):
        first_id = first_started["conversation_id"]
        second_id = second_started["conversation_id"]
        take(page, first, first_id)
        page.get_by_test_id("chat-input").fill("a draft for the first customer")
        take(page, second, second_id)
        expect(page.get_by_test_id("held-item")).to_have_count(2)
        expect(page.get_by_test_id("chat-input")).to_have_value("")

        # The first customer writes while the second conversation is open.
        first.say("hello, anyone there?")
        unread = held_item(page, first_id).get_by_test_id("held-unread")
        expect(unread).to_have_text("1")
        expect(chat_message(page, "customer", "hello, anyone there?")).to_have_count(0)

        held_item(page, first_id).get_by_test_id("held-open").click()
        expect(chat_message(page, "customer", "hello, anyone there?")).to_be_visible()
        expect(unread).to_have_count(0)
        expect(page.get_by_test_id("chat-input")).to_have_value("a draft for the first customer")

        hand_back(page, first, first_id, "Greeted; nothing else needed.")
        held_item(page, second_id).get_by_test_id("held-open").click()
        hand_back(page, second, second_id, "Greeted; nothing else needed.")
    expect(page.get_by_test_id("held-count")).to_have_text("0")


def test_i_a_sev1_handoff_raises_an_alert_and_is_auto_assigned(
    stack, demo_agents, new_page: Callable[[], Page]
) -> None:
    # Security routes by auto-assignment; the supervisor is of every team, so it comes to them.
    page = new_page()
    sign_in(page, stack, "sam.supervisor")
    with Chat.open(stack.service_url) as chat:
        started = chat.start(identity_token(stack.service_url, "cus_1001"))
        chat.queued(chat.say("my account was hacked, someone is taking my money"))
        conversation_id = started["conversation_id"]

        alerts = page.get_by_test_id("notifications")
        expect(alerts).to_have_attribute("role", "alert")
        sev1 = alerts.locator('[data-testid="notification"][data-level="error"]', has_text="Sev 1")
        expect(sev1.first).to_be_visible()
        item = held_item(page, conversation_id)
        expect(item).to_have_attribute("data-severity", "sev1")
        expect(item).to_have_attribute("data-mode", "warm")
        item.get_by_test_id("held-open").click()
        expect(page.get_by_test_id("acknowledge-button")).to_be_visible()
        hand_back(page, chat, conversation_id, "Test alert only; the customer is safe.")


def test_j_the_sla_countdown_turns_amber_then_red_and_each_crossing_notifies(
    stack, demo_agents, new_page: Callable[[], Page], screenshots: Path
) -> None:
    # The page's clock is Playwright's, moved forward by hand: hours of an SLA window pass in
    # an instant, while the socket and the service keep real time.
    page = new_page()
    page.clock.install()
    sign_in(page, stack)
    with escalated(stack, "cus_1004", ASK_FOR_A_PERSON) as (_, started, _):
        conversation_id = started["conversation_id"]
        sla = queue_item(page, conversation_id).get_by_test_id("sla")
        expect(sla).to_have_attribute("data-sla-state", "active")
        page.clock.run_for(2000)  # a tick or two: the console notes the level it starts at
        with stored(stack) as (store, _):
            handoff = store.latest_handoff(conversation_id)
        assert handoff is not None
        window = (handoff.acknowledge_due - handoff.created_at).total_seconds()
        alerts = page.get_by_test_id("notifications").locator(
            '[data-testid="notification"]', has_text=f"Handoff #{handoff.id} "
        )

        page.clock.fast_forward(int(window * 0.85 * 1000))
        expect(sla).to_have_attribute("data-sla-state", "warning")
        expect(sla).to_have_class(re.compile(r"\bsla-warning\b"))
        expect(alerts.and_(page.locator('[data-level="warning"]'))).to_contain_text("due soon")

        page.clock.fast_forward(int(window * 0.2 * 1000))
        expect(sla).to_have_attribute("data-sla-state", "breached")
        expect(sla).to_contain_text("overdue")
        expect(alerts.and_(page.locator('[data-level="error"]'))).to_contain_text("past its")
        page.screenshot(path=str(screenshots / "agent-console-sla-breached.png"))
