"""A handoff service killed with SIGKILL loses nothing a customer sent, and answers it later.

A service process of its own (``python -m handoff serve``) runs against the session stack's
Rasa, action server and bank, with a database in the test's folder, and is killed twice:
once while a turn is at Rasa (stored and acknowledged, not yet answered), once right after
the acknowledgement of a message in a queued conversation. Each time it is started again on
the same port and database, and the customer resumes.

To act "during a turn" without racing the assistant, Rasa is reached through a pass-through
proxy that can hold back the request carrying a chosen text: the tests kill the service, or
drop and resume the socket, once that request has arrived, so the turn is provably in flight.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from customer_chat import (
    TURN_SECONDS,
    Chat,
    assert_answered_once,
    assert_gapless,
    identity_token,
    is_event,
    open_store,
)
from running_stack import free_port, port_open, wait_until_ready

from handoff.store.states import Sender

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 240
HELD_TEXT = "how much does it cost to top up with a credit card?"


class HoldingProxy:
    """Forwards every request to ``upstream``; after :meth:`hold`, the first request whose
    body contains the text waits until :meth:`release` (then goes on) or :meth:`close` (then
    is dropped: its client was killed meanwhile, and Rasa must not see it)."""

    def __init__(self, upstream: str) -> None:
        self.arrived = threading.Event()
        self._release = threading.Event()
        self._closed = False
        self._hold: bytes | None = None
        self._upstream = httpx.Client(base_url=upstream, timeout=60)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def hold(self, text: str) -> None:
        with self._lock:
            self._hold = json.dumps(text).encode()[1:-1]  # as it appears in the JSON body
            self.arrived.clear()
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        self._closed = True
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._upstream.close()

    def _should_hold(self, body: bytes) -> bool:
        with self._lock:
            if self._hold is None or self._hold not in body:
                return False
            self._hold = None
            return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy._should_hold(body):
                    proxy.arrived.set()
                    proxy._release.wait()
                    if proxy._closed:
                        return
                headers = {
                    k: v for k, v in self.headers.items()
                    if k.lower() in ("content-type", "authorization", "accept")
                }  # fmt: skip
                answer = proxy._upstream.request(
                    self.command, self.path, content=body, headers=headers
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", "text/plain"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        return Handler


class ServiceProcess:
    """``python -m handoff serve`` on a fixed port, started, killed and started again."""

    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self._env = env
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert not port_open(self.port), f"port {self.port} is still served"
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "handoff", "serve", "--log-level", "info"],
                cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until_ready(
            self._process, self.url, self._log, what="the service",
            timeout=STARTUP_SECONDS, interval=0.5,
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no drain, no flush."""
        assert self._process is not None and self._process.poll() is None
        os.kill(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=30)

    def stop(self) -> None:
        """Stop it if it runs (teardown): SIGTERM, then SIGKILL if it lingers."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=30)


def wait_all_processed(database_url: str, conversation_id: str) -> None:
    with open_store(database_url) as store:
        deadline = time.monotonic() + TURN_SECONDS
        while store.unprocessed_customer_messages(conversation_id):
            assert time.monotonic() < deadline, "turns left unprocessed after the resume"
            time.sleep(0.1)


@dataclass(frozen=True)
class Setup:
    service: ServiceProcess
    proxy: HoldingProxy
    database_url: str


@pytest.fixture(scope="module")
def setup(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """A service process of this module's own, reaching Rasa through a :class:`HoldingProxy`."""
    folder = tmp_path_factory.mktemp("crash")
    database_url = f"sqlite:///{folder / 'crash.sqlite'}"
    proxy = HoldingProxy(stack.rasa_url)
    port = free_port()
    env = {
        **os.environ,
        **stack.secrets,
        "HANDOFF_SERVER__PORT": str(port),
        "HANDOFF_RASA__URL": proxy.url,
        "HANDOFF_ACTIONS__URL": stack.actions_url,
        "HANDOFF_BANK__URL": stack.bank_url,
        "HANDOFF_DATABASE__URL": database_url,
    }
    service = ServiceProcess(port, env, folder / "service.log")
    try:
        service.start()
        yield Setup(service, proxy, database_url)
    finally:
        service.stop()
        proxy.close()
    assert not port_open(port), "the killed and restarted service left its port open"


def test_resume_during_a_turn_answers_it_once(setup: Setup) -> None:
    service, proxy = setup.service, setup.proxy
    with Chat.open(service.url) as first:
        started = first.start(identity_token(service.url, "cus_1003"))
        proxy.hold(HELD_TEXT)
        ack = first.say(HELD_TEXT)
        assert proxy.arrived.wait(TURN_SECONDS), "the turn never reached Rasa"
    # The customer's network dropped while the assistant works on the answer; they are back.
    with Chat.open(service.url) as second:
        second.resume(started["resume_token"], ack["seq"])
        proxy.release()
        second.bot_reply(ack)
        second.ask("thanks")
        print("DEBUG", *second.frames, sep="\n")
        assert_answered_once(second.messages(), ack["seq"])
        assert_gapless(second.messages(), first=ack["seq"] + 1)


def test_killed_service_loses_nothing_and_answers_the_interrupted_turn(setup: Setup) -> None:
    service, proxy, database_url = setup.service, setup.proxy, setup.database_url
    token = identity_token(service.url, "cus_1001")

    # 1. An answered turn, then one killed while the assistant works on it.
    with Chat.open(service.url) as chat:
        started = chat.start(token)
        answered, _ = chat.ask("my card still hasn't arrived")
        proxy.hold(HELD_TEXT)
        interrupted = chat.say(HELD_TEXT)
        assert proxy.arrived.wait(TURN_SECONDS), "the turn never reached Rasa"
        service.kill()
    conversation_id = started["conversation_id"]
    with open_store(database_url) as store:
        stored = store.transcript(conversation_id)
        assert stored[-1].seq == interrupted["seq"] and stored[-1].sender is Sender.CUSTOMER
        assert [m.seq for m in store.unprocessed_customer_messages(conversation_id)] == [
            interrupted["seq"]
        ]

    # 2. Restarted: the resume reruns the interrupted turn; then escalate, and kill again
    #    right after the next message's ack.
    service.start()
    with Chat.open(service.url) as chat:
        resumed = chat.resume(started["resume_token"], interrupted["seq"])
        assert resumed["state"] == "bot" and resumed["last_seq"] == interrupted["seq"]
        chat.bot_reply(interrupted)
        escalating = chat.say("I want to talk to a human")
        chat.queued(escalating)
        waiting = chat.say("ok, I'll wait here")
        service.kill()

    # 3. Restarted again: the whole transcript, still queued.
    service.start()
    with Chat.open(service.url) as chat:
        resumed = chat.resume(started["resume_token"], 0)
        chat.wait_for(lambda f: f["type"] == "queue", timeout=10)
        transcript = chat.messages()
        # A client unsure whether its last message survived sends it again: stored once.
        again = chat.say("ok, I'll wait here", client_message_id=waiting["client_message_id"])
        assert (again["duplicate"], again["seq"]) == (True, waiting["seq"])
    wait_all_processed(database_url, conversation_id)

    assert resumed["state"] == "queued"
    assert_gapless(transcript)
    assert resumed["last_seq"] == transcript[-1]["seq"]
    customer_ids = [f["client_message_id"] for f in transcript if f["sender"] == "customer"]
    sent = [answered, interrupted, escalating, waiting]
    assert customer_ids == [ack["client_message_id"] for ack in sent]
    assert [f["seq"] for f in transcript if f["sender"] == "customer"] == [a["seq"] for a in sent]

    assert_answered_once(transcript, interrupted["seq"])
    assert [f for f in transcript if is_event("state_changed", to="queued")(f)]
    after_queue = [f for f in transcript if f["seq"] > escalating["seq"]]
    assert not [f for f in after_queue if f["sender"] == "bot"], "the bot answered while queued"
