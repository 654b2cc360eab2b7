"""The customer chat widget in Chromium, against the real stack.

The demo page (``/``) hosts the widget with one script tag; a test picks a demo customer
there and chats as they would. The widget keeps its markup in an open shadow root, which
Playwright's test-id and CSS selectors pierce. Every wait is for a condition in the page or on
a socket, never a fixed time: on two loaded cores a turn of the real assistant can take seconds.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from agent_desk import agent_socket
from customer_chat import TURN_SECONDS, Frame
from playwright.sync_api import Browser, Locator, Page, WebSocketRoute, expect
from running_stack import free_port

from demobank.db import create_bank_engine, session_factory
from demobank.queries import card_in_delivery

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TURN_MS = TURN_SECONDS * 1000
Transcript = list[tuple[str, int | None, str]]

# The messages the assistant answers with one reply each (tier-1 questions).
TOP_UP = "how much does it cost to top up with a credit card?"
EXCHANGE = "what is the exchange rate fee?"
CARD = "my card still hasn't arrived"
THANKS = "thanks"

AUTHORED = '[data-testid="message"][data-author="{}"]'


# --------------------------------------------------------------------------- the page


def open_demo(page: Page, stack, customer: str = "anonymous") -> Page:
    """The demo page with the widget started for ``customer`` (a demo id or "anonymous")."""
    page.goto(f"{stack.service_url}/")
    page.get_by_test_id("customer-picker").select_option(customer)
    page.get_by_test_id("start-chat").click()
    expect(page.get_by_test_id("panel")).to_be_visible()
    expect(page.get_by_test_id("message-input")).to_be_enabled()
    return page


def type_message(page: Page, text: str) -> Locator:
    """Type ``text`` and press Enter; the customer's newest message (sending or sent)."""
    box = page.get_by_test_id("message-input")
    box.fill(text)
    box.press("Enter")
    own = page.locator(AUTHORED.format("customer")).last
    expect(own.get_by_test_id("message-text")).to_have_text(text)
    return own


def say(page: Page, text: str) -> int:
    """Send ``text`` and wait until the service stored it; its seq."""
    own = type_message(page, text)
    expect(own.get_by_test_id("delivery-state")).to_have_attribute(
        "data-state", "sent", timeout=TURN_MS
    )
    return int(own.get_attribute("data-seq") or 0)


def wait_for_message(page: Page, author: str, after_seq: int) -> None:
    """Until a message of ``author`` with a seq above ``after_seq`` is shown."""
    page.wait_for_function(
        """([author, seq]) => [...document.querySelector('[data-testid="chat-widget"]')
              .shadowRoot.querySelectorAll(`[data-testid="message"][data-author="${author}"]`)]
              .some((node) => Number(node.dataset.seq) > seq)""",
        arg=[author, after_seq],
    )


def ask(page: Page, text: str) -> int:
    """One answered turn: send ``text``, wait for the assistant's reply; the message's seq."""
    seq = say(page, text)
    wait_for_message(page, "bot", seq)
    return seq


def transcript(page: Page) -> Transcript:
    """Every message shown: (author, seq or None while unsent, text), top to bottom."""
    rows = page.get_by_test_id("message").evaluate_all(
        """(nodes) => nodes.map((node) => [
             node.dataset.author,
             node.dataset.seq ? Number(node.dataset.seq) : null,
             node.querySelector('[data-testid="message-text"]').textContent,
           ])"""
    )
    return [(author, seq, text) for author, seq, text in rows]


def assert_once_in_order(shown: Transcript) -> None:
    """Every message has a seq, none twice, in increasing order."""
    seqs = [seq for _, seq, _ in shown]
    assert None not in seqs, shown
    assert seqs == sorted(set(seqs)), shown


def bot_replies_after(shown: Transcript, seq: int) -> list[str]:
    return [text for author, s, text in shown if author == "bot" and (s or 0) > seq]


# --------------------------------------------------------------------------- tests


def test_demo_customer_asks_a_question_and_gets_the_bot_answer(stack, new_page) -> None:
    with session_factory(create_bank_engine(stack.bank_url))() as session:
        card = card_in_delivery(session, "cus_1001")
    assert card is not None
    page = open_demo(new_page(), stack, "cus_1001")
    expect(page.get_by_test_id("current-customer")).to_contain_text("Alice Moreau")

    seq = ask(page, CARD)

    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "connected")
    reply = page.locator(AUTHORED.format("bot")).last
    expect(reply.get_by_test_id("message-text")).to_contain_text(card.last4)
    expect(reply).to_contain_text("Assistant")
    assert transcript(page)[0] == ("customer", seq, CARD)
    assert_once_in_order(transcript(page))
    expect(page.get_by_test_id("panel")).to_have_attribute("data-owner", "bot")
    expect(page.get_by_test_id("queue-status")).to_be_hidden()
    expect(page.get_by_test_id("agent-banner")).to_be_hidden()


def test_widget_is_usable_by_keyboard_and_labelled(stack, new_page) -> None:
    page = open_demo(new_page(), stack)
    launcher = page.get_by_test_id("launcher")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("panel")).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()

    page.keyboard.press("Enter")
    expect(page.get_by_test_id("panel")).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_test_id("message-input")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("send-button")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("hello")
    page.keyboard.press("Enter")  # sends: the box empties and the message shows
    expect(page.get_by_test_id("message-input")).to_have_value("")
    expect(page.locator(AUTHORED.format("customer"))).to_have_count(1)

    page.keyboard.press("Enter")  # an empty box sends nothing
    expect(page.locator(AUTHORED.format("customer"))).to_have_count(1)
    launcher.press("Enter")
    expect(page.get_by_test_id("panel")).to_be_hidden()

    log = page.get_by_test_id("message-list")
    expect(log).to_have_attribute("role", "log")
    expect(log).to_have_attribute("aria-live", "polite")
    for hook in ("message-input", "send-button", "launcher", "close-button"):
        expect(page.get_by_test_id(hook)).to_have_attribute("aria-label", re.compile(r"\w"))


def test_reload_mid_chat_loses_and_duplicates_nothing(stack, new_page) -> None:
    page = open_demo(new_page(), stack, "cus_1003")
    ask(page, TOP_UP)
    ask(page, EXCHANGE)
    before = transcript(page)
    assert_once_in_order(before)

    # Reload while the next message may still be on its way: it waits in storage, unacknowledged.
    type_message(page, CARD)
    page.reload()

    card = page.locator(AUTHORED.format("customer")).filter(has_text=CARD)
    expect(card.get_by_test_id("delivery-state")).to_have_attribute(
        "data-state", "sent", timeout=TURN_MS
    )
    card_seq = int(card.get_attribute("data-seq") or 0)
    wait_for_message(page, "bot", card_seq)
    after = transcript(page)
    assert after[: len(before)] == before, "the reload changed what was already shown"
    assert [text for _, _, text in after].count(CARD) == 1
    assert_once_in_order(after)
    expect(page.get_by_test_id("current-customer")).to_contain_text("Chloé Martin")

    thanks = ask(page, THANKS)
    shown = transcript(page)
    assert shown[: len(after)] == after
    assert ("customer", thanks, THANKS) in shown
    assert len(bot_replies_after(shown, card_seq)) >= 1
    assert_once_in_order(shown)


def test_reconnects_after_going_offline_and_delivers_once(stack, new_page) -> None:
    page = open_demo(new_page(), stack, "cus_1005")
    ask(page, TOP_UP)
    status = page.get_by_test_id("connection-status")

    page.context.set_offline(True)
    expect(status).to_have_attribute("data-status", "offline")
    waiting = type_message(page, EXCHANGE)
    expect(waiting.get_by_test_id("delivery-state")).to_have_attribute("data-state", "sending")
    expect(waiting).to_have_attribute("data-seq", "")

    page.context.set_offline(False)
    expect(status).to_have_attribute("data-status", "connected", timeout=TURN_MS)
    expect(waiting.get_by_test_id("delivery-state")).to_have_attribute(
        "data-state", "sent", timeout=TURN_MS
    )
    seq = int(waiting.get_attribute("data-seq") or 0)
    wait_for_message(page, "bot", seq)
    live = transcript(page)
    assert [text for _, _, text in live].count(EXCHANGE) == 1
    assert_once_in_order(live)

    # The server's own replay says what it stored: the message once, answered once.
    page.reload()
    expect(page.get_by_test_id("message")).to_have_count(len(live), timeout=TURN_MS)
    replayed = transcript(page)
    assert replayed == live
    assert len(bot_replies_after(replayed, seq)) == 1


class Relay:
    """The page's customer sockets, routed through Playwright like a flaky network: it can
    hold the server's frames back and then cut the connection (close 1012, a restart)."""

    def __init__(self, page: Page) -> None:
        self.sockets = 0
        self.from_server: list[Frame] = []
        self.cut_after_ack = False
        page.route_web_socket(re.compile(r"/ws/customer$"), self._route)

    def _route(self, socket: WebSocketRoute) -> None:
        self.sockets += 1
        server = socket.connect_to_server()
        server.on_message(lambda message: self._forward(socket, message))

    def _forward(self, socket: WebSocketRoute, message: str | bytes) -> None:
        frame = json.loads(message)
        self.from_server.append(frame)
        if not self.cut_after_ack:
            socket.send(message)
        elif frame["type"] == "ack":
            # Stored, but neither the echo nor the ack reached the page: it must resend.
            self.cut_after_ack = False
            socket.close(code=1012, reason="service restart")

    def acks(self, client_message_id: str) -> list[Frame]:
        return [
            frame
            for frame in self.from_server
            if frame["type"] == "ack" and frame["client_message_id"] == client_message_id
        ]


def test_unacknowledged_message_is_resent_after_a_drop_and_stored_once(stack, new_page) -> None:
    page = new_page()
    relay = Relay(page)
    open_demo(page, stack, "cus_1003")
    ask(page, TOP_UP)

    relay.cut_after_ack = True
    lost = type_message(page, EXCHANGE)
    expect(lost.get_by_test_id("delivery-state")).to_have_attribute(
        "data-state", "sent", timeout=TURN_MS
    )
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "connected")
    seq = int(lost.get_attribute("data-seq") or 0)
    wait_for_message(page, "bot", seq)

    message_id = lost.get_attribute("data-client-message-id") or ""
    assert relay.sockets == 2, "the widget did not reconnect by itself"
    assert [(a["seq"], a["duplicate"]) for a in relay.acks(message_id)] == [
        (seq, False),
        (seq, True),
    ], "the resend after the resume must be acknowledged as a duplicate"
    shown = transcript(page)
    assert [text for _, _, text in shown].count(EXCHANGE) == 1
    assert len(bot_replies_after(shown, seq)) == 1
    assert_once_in_order(shown)


def test_html_in_a_message_is_shown_as_inert_text(stack, new_page) -> None:
    page = open_demo(new_page(), stack)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    payload = '<b>x</b><script>alert(1)</script><img src="x" onerror="alert(2)">'

    say(page, payload)

    text = page.locator(AUTHORED.format("customer")).last.get_by_test_id("message-text")
    assert text.text_content() == payload
    assert text.evaluate("(node) => node.children.length") == 0
    expect(page.get_by_test_id("message-list").locator("b, script, img")).to_have_count(0)
    assert dialogs == []


def test_unknown_resume_token_starts_afresh_and_says_so(stack, new_page) -> None:
    page = open_demo(new_page(), stack, "cus_1004")
    ask(page, TOP_UP)
    # What the widget stored (its documented format), now naming no conversation.
    page.evaluate(
        """(key) => {
             const stored = JSON.parse(localStorage.getItem(key));
             stored.resumeToken = 'no-such-conversation';
             localStorage.setItem(key, JSON.stringify(stored));
           }""",
        f"handoff-chat:v1:{stack.service_url}",
    )
    page.reload()

    expect(page.get_by_test_id("conversation-note")).to_contain_text(
        "couldn't find your earlier conversation", timeout=TURN_MS
    )
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "idle")
    expect(page.get_by_test_id("message")).to_have_count(0)
    assert ask(page, EXCHANGE) == 1, "the next message did not start a new conversation"


def test_forged_identity_token_stops_with_a_clear_message(stack, new_page) -> None:
    page = open_demo(new_page(), stack)
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXNfMTAwMiJ9.forged-signature"
    switch = "(token) => { HandoffChat.reset(); HandoffChat.start({identityToken: token}); }"
    page.evaluate(switch, forged)

    type_message(page, "hello")

    expect(page.get_by_test_id("notice")).to_contain_text("couldn't verify", timeout=TURN_MS)
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "stopped")
    expect(page.get_by_test_id("message-input")).to_be_disabled()
    assert len(sockets) == 1, "a refused identity must not be retried"


# --------------------------------------------------------------------------- another origin


class _OneEmbedPage(BaseHTTPRequestHandler):
    """A host site on its own port: one page embedding the widget with one script tag."""

    page = b""

    def do_GET(self) -> None:
        status, body = (200, self.page) if self.path == "/" else (404, b"")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reports what matters."""


def embedding_page(service_url: str) -> str:
    """A host site's page embedding the widget with one script tag pointing at the service."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Another site</title>'
        '<link rel="icon" href="data:,"></head><body><h1>Another site</h1>'
        f'<script src="{service_url}/widget.js" data-autostart defer></script>'
        "</body></html>"
    )


@contextmanager
def serving(html: str, site: str) -> Iterator[str]:
    """``html`` served at ``/`` of ``site`` (``http://host:port``) until the block ends."""
    port = int(site.rsplit(":", 1)[1])
    handler = type("EmbedPage", (_OneEmbedPage,), {"page": html.encode()})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def other_site(stack) -> Iterator[str]:
    """A site the stack does not allow to embed the widget."""
    with serving(embedding_page(stack.service_url), f"http://127.0.0.1:{free_port()}") as site:
        yield site


def test_embedded_on_another_origin_says_clearly_that_the_origin_is_refused(
    stack, browser: Browser, other_site: str
) -> None:
    """The stack allows only its default origins, so the other site's socket is refused (HTTP
    403, a bare 1006 in the browser): the widget must say so and stop, not retry forever."""
    socket_url = stack.service_url.replace("http://", "ws://", 1) + "/ws/customer"
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(TURN_MS)
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        sockets: list[str] = []
        page.on("websocket", lambda socket: sockets.append(socket.url))

        page.goto(other_site)
        page.get_by_test_id("launcher").click()
        type_message(page, "hello from another site")

        notice = page.get_by_test_id("notice")
        expect(notice).to_be_visible(timeout=TURN_MS)
        expect(notice).to_contain_text(other_site)
        expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "stopped")
        expect(page.get_by_test_id("message-input")).to_be_disabled()
        # The socket went to the script's service, not to the page's own host, and the
        # widget gave up after its second refusal.
        assert sockets == [socket_url, socket_url]
        refused = [p for p in problems if "Unexpected response code: 403" in p]
        assert problems == refused and len(refused) == len(sockets), problems
    finally:
        context.close()


def test_embedded_on_an_allowed_site_the_widget_chats_with_the_service(stack, new_page) -> None:
    """A host site of the allowed origins embeds the widget with one script tag pointing at
    the service; the socket goes to the service and the chat works as on the demo page."""
    page = new_page()
    html = embedding_page(stack.service_url)
    with serving(html, stack.embedding_site) as site:
        page.goto(f"{site}/")
        page.get_by_test_id("launcher").click()

        seq = ask(page, TOP_UP)

        shown = transcript(page)
        assert bot_replies_after(shown, seq), shown
        assert_once_in_order(shown)


# --------------------------------------------------------------------------- a person joins


def handoff_of(customer: str, said: list[str]) -> Callable[[Frame], bool]:
    """The ``handoff_queued`` frame of ``customer``'s conversation that said exactly ``said``."""

    def check(frame: Frame) -> bool:
        if frame["type"] != "handoff_queued":
            return False
        brief = frame["handoff"]["brief"]
        texts = [m["text"] for m in brief["transcript"] if m["sender"] == "customer"]
        return brief["customer"]["id"] == customer and texts == said

    return check


def test_agent_takes_over_with_name_team_typing_and_read_receipt(
    stack, new_page, demo_agents, screenshots: Path
) -> None:
    page = open_demo(new_page(), stack, "cus_1006")
    with agent_socket(stack.service_url, "dev.support") as (desk, _):
        request = "I want to talk to a person"
        say(page, request)
        queue = page.get_by_test_id("queue-status")
        expect(queue).to_be_visible(timeout=TURN_MS)
        expect(queue).to_have_attribute("data-position", re.compile(r"^[1-9]\d*$"))
        expect(page.get_by_test_id("panel")).to_have_attribute("data-owner", "queued")

        handoff = desk.wait_for(handoff_of("cus_1006", [request]))["handoff"]
        mark = desk.mark()
        desk.send(type="claim", handoff_id=handoff["id"])
        claimed = desk.wait_for(lambda f: f["type"] == "claimed", since=mark)
        if claimed["handoff"]["mode"] == "warm":  # the introduction names agent and team
            desk.send(type="acknowledge", handoff_id=handoff["id"])
            desk.wait_for(lambda f: f["type"] == "done", since=mark)

        banner = page.get_by_test_id("agent-banner")
        expect(banner).to_be_visible(timeout=TURN_MS)
        expect(banner.get_by_test_id("agent-name")).to_have_text("Dev Patel")
        expect(banner.get_by_test_id("agent-team")).to_have_text("general team")
        expect(queue).to_be_hidden()

        desk.send(type="typing", handoff_id=handoff["id"])
        typing = page.get_by_test_id("typing-indicator")
        expect(typing).to_have_text("Dev Patel is typing…", timeout=TURN_MS)

        mark = desk.mark()
        hello = "Hi, I'm Dev. Let me look at your account."
        desk.send(type="message", handoff_id=handoff["id"], client_message_id="a-1", text=hello)
        ack = desk.wait_for(lambda f: f["type"] == "ack", since=mark)
        agent_message = page.locator(AUTHORED.format("agent")).last
        expect(agent_message).to_have_attribute("data-seq", str(ack["seq"]), timeout=TURN_MS)
        expect(agent_message).to_contain_text("Dev Patel · general team")
        expect(typing).to_be_hidden()
        # The panel is open, so the customer has read it: the agent is told.
        desk.wait_for(lambda f: f["type"] == "read" and f["seq"] >= ack["seq"], since=mark)

        mark = desk.mark()
        reply = say(page, "Thank you, I'll wait.")
        heard = desk.wait_for(lambda f: f["type"] == "message" and f["seq"] == reply, since=mark)
        assert heard["sender"] == "customer"
        # The agent's read receipt: the customer's message shows "Read".
        desk.send(type="read", handoff_id=handoff["id"], seq=reply)
        own = page.locator(AUTHORED.format("customer")).last
        expect(own.get_by_test_id("delivery-state")).to_have_attribute(
            "data-state", "read", timeout=TURN_MS
        )
        page.screenshot(path=str(screenshots / "customer-widget.png"))

        desk.send(type="resolve", handoff_id=handoff["id"], avoidable=False, root_cause="other")
        desk.wait_for(lambda f: f["type"] == "done" and f["action"] == "resolved", since=mark)
    expect(page.get_by_test_id("panel")).to_have_attribute("data-owner", "bot", timeout=TURN_MS)
    expect(page.get_by_test_id("agent-banner")).to_be_hidden()
    assert_once_in_order(transcript(page))
