"""Benchmark of the agent desk: brief delivery and agent<->customer relay latency under load.

Run ``python -m benchmarks.agents_bench`` (``make bench-agents``). It starts the handoff
service alone (``python -m handoff serve``, no Rasa) on a free port with a freshly seeded demo
bank and a throwaway service database. Rasa is replaced by a tiny fake in this process (a
thread with its own event loop) whose handoff channel answers every message with an
escalation: intent ``request_human`` (0.99) and a ``handoff`` signal with reason
``request_human``. The escalation matrix sends those (technical, sev3) to ``general``, so the
agents are created in ``general`` (plus a second team each, for realism) and every one of them
is eligible for every handoff. Then, on loopback:

* 50 agents log in (``POST /api/agents/login``) and connect ``/ws/agent``; 500 customers
  connect ``/ws/customer`` and ``start`` a conversation;
* brief: the customers ask for a person in waves of 50, so the queue grows to 500. Latency
  runs from the handoff being queued (the ``at`` of the customer's ``state_changed`` -> queued
  frame, the server's clock, the same machine's) to the arrival of ``handoff_queued`` (the
  brief) at each agent socket: p50 and p99 over every delivery (500 x 50);
* relay: each agent claims one handoff (and acknowledges it if it is warm), then agent and
  customer play ping-pong, 50 pairs at once: time from sending a message frame on one socket
  to its arrival on the other, both directions, p50 and p99;
* baseline: a bare ``websockets`` echo server in a subprocess on loopback, 500 clients
  connected and 50 of them at once echoing frames of the same size; time from sending a frame
  to its echo's arrival. Like a relayed message, an echo goes client -> server -> client
  through one server process, and is timed the same way (one clock, in this process).

Both the service (uvicorn) and the echo server run on uvloop when it is installed; the clients
run in this process, the same clients for both. The open-file limit of this process (and so
of the service and echo server it starts) is raised to its hard limit. Figures go to stdout
and ``reports/bench-agents/summary.json``; the targets are brief p99 <= 50 ms and relay
p99 <= 3x the echo's p99. Exit 0 whatever the figures (they are reported, not asserted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from benchmarks.gateway_bench import free_port
from benchmarks.stack_env import bench_environment

ROOT = Path(__file__).resolve().parent.parent
TARGET_BRIEF_P99_MS = 50.0
TARGET_RELAY_RATIO = 3.0
STARTUP_SECONDS = 180
PASSWORD = "bench-password-not-secret"
TEAM = "general"  # where request_human (technical, sev3) goes in data/escalation.yml's matrix
SECOND_TEAMS = ("disputes", "security", "relationship", "compliance")
ESCALATING_TEXT = "I want to talk to a person please"
TEXT_CHARS = 120  # a typical chat line; the echo baseline sends frames of the same size
CONNECT_CONCURRENCY = 25
TIMEOUT = 60.0

# --------------------------------------------------------------------------- helpers


def raise_open_file_limit() -> tuple[int, int]:
    """Soft open-file limit up to the hard one (550 sockets here, 1,100 in the service)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentiles(values: Sequence[float]) -> dict[str, float | int]:
    """p50, p90, p99, max (ms) and the count."""
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p90_ms": round(float(np.percentile(values, 90)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(max(values), 2),
        "count": len(values),
    }


def relay_text(token: str) -> str:
    """A message of exactly :data:`TEXT_CHARS` characters that starts with its token."""
    head = f"{token} "
    return head + "x" * (TEXT_CHARS - len(head))


def epoch(at: str) -> float:
    """Seconds since the epoch of a frame's ISO 8601 ``at`` (naive means UTC)."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _use_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# --------------------------------------------------------------------------- fake Rasa


def escalating_turn(sender: str) -> dict[str, Any]:
    """The handoff channel's answer to any message: the customer asked for a person.

    The shape :func:`handoff.gateway.rasa_client.parse_turn` reads.
    """
    return {
        "sender": sender,
        "messages": [{"custom": {"handoff": {"reason": "request_human"}}}],
        "intent": {"name": "request_human", "confidence": 0.99},
        "intent_ranking": [{"name": "request_human", "confidence": 0.99}],
        "entities": [],
        "slots": {},
        "attempted_steps": [],
        "truncated": False,
        "handoff": {
            "reason": "request_human",
            "intent": "request_human",
            "confidence": 0.99,
            "category": None,
            "severity": None,
            "team": None,
            "attempted_steps": [],
            "summary": "The customer asked for a person.",
        },
    }


class FakeRasa:
    """A minimal HTTP/1.1 server (keep-alive) in a thread: the handoff webhook and /status."""

    def __init__(self) -> None:
        self.port = free_port()
        self.turns = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-rasa", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeRasa:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Rasa did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in header_lines if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, answer = self._answer(method, path.split("?")[0], body)
                data = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        writer.close()

    def _answer(self, method: str, path: str, body: bytes) -> tuple[str, Any]:
        if method == "POST" and path == "/webhooks/handoff/webhook":
            self.turns += 1
            return "200 OK", escalating_turn(json.loads(body)["sender"])
        if method == "GET" and path == "/status":
            return "200 OK", {"model_file": "x"}
        return "404 Not Found", {"error": "not found"}


# --------------------------------------------------------------------------- the service


def create_agents(env: dict[str, str], count: int, workdir: Path) -> list[str]:
    """``handoff agents create --password-stdin`` ``count`` times; returns the usernames.

    The first runs alone (every agents command migrates the database), the rest a few at a time.
    """
    names = [f"bench.agent{i:03d}" for i in range(count)]

    def create(i: int) -> subprocess.Popen[bytes]:
        teams = f"{TEAM},{SECOND_TEAMS[i % len(SECOND_TEAMS)]}"
        process = subprocess.Popen(
            [sys.executable, "-m", "handoff", "agents", "create", "--username", names[i],
             "--name", f"Bench Agent {i}", "--teams", teams, "--capacity", "5",
             "--password-stdin"],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        assert process.stdin is not None
        process.stdin.write(f"{PASSWORD}\n".encode())
        process.stdin.close()
        return process

    def finish(i: int, process: subprocess.Popen[bytes], retry: bool) -> None:
        assert process.stderr is not None
        error = process.stderr.read().decode(errors="replace")
        if process.wait() != 0:
            if not retry:
                raise RuntimeError(f"could not create agent {names[i]}: {error}")
            finish(i, create(i), retry=False)  # sqlite's lock, most likely: once more

    finish(0, create(0), retry=False)
    pending: list[tuple[int, subprocess.Popen[bytes]]] = []
    for i in range(1, count):
        pending.append((i, create(i)))
        if len(pending) == 3:
            finish(*pending.pop(0), retry=True)
    for i, process in pending:
        finish(i, process, retry=True)
    return names


@contextlib.contextmanager
def running_service(workdir: Path, rasa_url: str, agents: int) -> Iterator[tuple[str, list[str]]]:
    """Seed the bank, create the agents, start ``handoff serve``; yields its URL and agents."""
    bank_url = f"sqlite:///{workdir / 'demobank.sqlite'}"
    subprocess.run(
        [sys.executable, "-m", "demobank", "seed", "--url", bank_url], check=True, cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    port = free_port()
    env = {
        **os.environ,
        "HANDOFF_SERVER__PORT": str(port),
        "HANDOFF_RASA__URL": rasa_url,
        "HANDOFF_ACTIONS__URL": f"http://127.0.0.1:{free_port()}",  # not used; nothing there
        "HANDOFF_BANK__URL": bank_url,
        "HANDOFF_DATABASE__URL": f"sqlite:///{workdir / 'handoff.sqlite'}",
        "HANDOFF_PATHS__RUN_DIR": str(workdir),
        **bench_environment(),
    }
    began = time.monotonic()
    usernames = create_agents(env, agents, workdir)
    print(f"  {agents} agents created in {time.monotonic() - began:.0f} s", flush=True)
    log_path = workdir / "service.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "handoff", "serve"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _alive(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the service did not start:\n{tail}")
            time.sleep(0.5)
        yield url, usernames
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _alive(url: str) -> bool:
    # /healthz answers once the lifespan (migrations, sentiment model) is done. /readyz would
    # stay 503: there is no action server, and the fake Rasa is no real one.
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --------------------------------------------------------------------------- clients


class Customer:
    """One customer socket; a reader task records what the benchmark needs as it arrives."""

    def __init__(self, ws: ClientConnection, conversation_id: str) -> None:
        self.ws = ws
        self.conversation_id = conversation_id
        self.queued_at: float | None = None  # epoch seconds, from the state_changed frame
        self.notified_at: float | None = None  # epoch seconds, when that frame arrived here
        self.queued = asyncio.Event()
        self.owned_by_agent = asyncio.Event()
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                if frame.get("type") != "message":
                    continue
                if frame["sender"] == "agent":
                    waiter = self.waiters.pop(frame["text"].split(" ", 1)[0], None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(now)
                elif frame["sender"] == "system" and frame["data"].get("event") == "state_changed":
                    if frame["data"].get("to") == "queued":
                        self.queued_at = epoch(frame["at"])
                        self.notified_at = time.time()
                        self.queued.set()
                    elif frame["data"].get("to") == "agent":
                        self.owned_by_agent.set()


class Agent:
    """One agent socket. ``handoff_queued`` frames are stored raw with their arrival time and
    parsed after the waves, so a burst of briefs costs this process as little as possible."""

    def __init__(self, ws: ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.briefs: list[tuple[float, str]] = []  # (arrival, epoch seconds; the raw frame)
        self.brief_count = 0
        self.briefs_changed = asyncio.Event()
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                if raw.startswith('{"type":"handoff_queued"'):
                    self.briefs.append((time.time(), raw))
                    self.brief_count += 1
                    self.briefs_changed.set()
                    continue
                now = time.perf_counter()
                if raw.startswith('{"type":"handoff_taken"'):
                    continue
                frame = json.loads(raw)
                if frame["type"] == "message":
                    if frame["sender"] == "customer":
                        waiter = self.waiters.pop(frame.get("client_message_id") or "", None)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(now)
                    continue
                self.frames.put_nowait(frame)

    async def expect(self, *types: str) -> dict[str, Any]:
        """The next control frame of one of ``types`` (others are dropped)."""
        while True:
            frame = await asyncio.wait_for(self.frames.get(), TIMEOUT)
            if frame["type"] in types:
                return frame
            if frame["type"] == "error":
                raise RuntimeError(f"the desk refused: {frame}")


async def _bounded(coroutines: list[Any], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(coroutine: Any) -> Any:
        async with gate:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


def _ws(url: str) -> Any:
    # The same client settings for the service and the echo: no compression, no keep-alive
    # pings during the run.
    return connect(url, compression=None, ping_interval=None, max_size=2**22, open_timeout=TIMEOUT)


async def connect_agent(service: str, client: httpx.AsyncClient, username: str) -> Agent:
    login = await client.post(
        f"{service}/api/agents/login", json={"username": username, "password": PASSWORD}
    )
    login.raise_for_status()
    ws = await _ws(service.replace("http://", "ws://") + "/ws/agent")
    await ws.send(json.dumps({"type": "auth", "token": login.json()["token"], "v": 1}))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"agent {username} was not welcomed: {welcome}")
    return Agent(ws, welcome)


async def connect_customer(service: str) -> Customer:
    ws = await _ws(service.replace("http://", "ws://") + "/ws/customer")
    await ws.send(json.dumps({"type": "start", "v": 1}))
    started = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    if started.get("type") != "started":
        raise RuntimeError(f"could not start a conversation: {started}")
    return Customer(ws, started["conversation_id"])


async def wait_until(predicate: Any, changed: list[asyncio.Event], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        for event in changed:
            event.clear()
        waits = [asyncio.create_task(e.wait()) for e in changed]
        await asyncio.wait(waits, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()


# --------------------------------------------------------------------------- measurement


async def measure_service(service: str, usernames: list[str], args: argparse.Namespace
                          ) -> dict[str, Any]:  # fmt: skip
    """Brief and relay latencies (ms) through the running service."""
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        agents = await _bounded([connect_agent(service, client, u) for u in usernames], 4)
    customers = await _bounded(
        [connect_customer(service) for _ in range(args.customers)], CONNECT_CONCURRENCY
    )
    print(f"  connected: {len(agents)} agents, {len(customers)} customers", flush=True)

    # --- brief: escalations in waves; every agent gets every brief
    began = time.monotonic()
    for start in range(0, len(customers), args.wave):
        wave = customers[start : start + args.wave]
        for customer in wave:
            await customer.ws.send(json.dumps({
                "type": "message", "client_message_id": uuid.uuid4().hex,
                "text": ESCALATING_TEXT,
            }))  # fmt: skip
        expected = start + len(wave)
        await asyncio.gather(*(asyncio.wait_for(c.queued.wait(), TIMEOUT) for c in wave))
        await wait_until(
            lambda n=expected: all(a.brief_count >= n for a in agents),
            [a.briefs_changed for a in agents], f"the briefs of wave {start // args.wave}",
        )  # fmt: skip
        if args.wave_pause:
            await asyncio.sleep(args.wave_pause)
    escalating_seconds = time.monotonic() - began

    queued_at = {c.conversation_id: c.queued_at for c in customers}
    notified_at = {c.conversation_id: c.notified_at for c in customers}
    brief_ms: list[float] = []
    after_notice_ms: list[float] = []
    handoffs: dict[str, dict[str, Any]] = {}  # conversation -> handoff view
    brief_bytes: list[int] = []
    for agent in agents:
        for arrived, raw in agent.briefs:
            handoff = json.loads(raw)["handoff"]
            handoffs[handoff["conversation_id"]] = handoff
            brief_bytes.append(len(raw))
            brief_ms.append((arrived - queued_at[handoff["conversation_id"]]) * 1000)
            after_notice_ms.append((arrived - notified_at[handoff["conversation_id"]]) * 1000)
    modes = sorted({h["mode"] for h in handoffs.values()})
    teams = sorted({h["team"] for h in handoffs.values()})
    print(f"  brief: {len(brief_ms)} deliveries of {len(handoffs)} handoffs in "
          f"{escalating_seconds:.1f} s", flush=True)  # fmt: skip

    # --- relay: each agent claims one handoff, then ping-pong with its customer
    pairs: list[tuple[Agent, Customer, int]] = []
    for agent, customer in zip(agents, customers, strict=False):
        handoff_id = handoffs[customer.conversation_id]["id"]
        pairs.append((agent, customer, handoff_id))

    async def take(agent: Agent, customer: Customer, handoff_id: int) -> None:
        await agent.ws.send(json.dumps({"type": "claim", "handoff_id": handoff_id}))
        claimed = await agent.expect("claimed", "claim_failed")
        if claimed["type"] != "claimed":
            raise RuntimeError(f"claim of handoff {handoff_id} failed: {claimed}")
        if not claimed["handoff"]["acknowledged"]:  # warm: the brief must be acknowledged
            await agent.ws.send(json.dumps({"type": "acknowledge", "handoff_id": handoff_id}))
            await agent.expect("done")
        await asyncio.wait_for(customer.owned_by_agent.wait(), TIMEOUT)

    await asyncio.gather(*(take(*pair) for pair in pairs))

    to_customer: list[float] = []
    to_agent: list[float] = []
    loop = asyncio.get_running_loop()

    async def ping_pong(index: int, agent: Agent, customer: Customer, handoff_id: int) -> None:
        for turn in range(args.warmup + args.rounds):
            token = f"a{index}-{turn}"
            arrival = customer.waiters[token] = loop.create_future()
            sent = time.perf_counter()
            await agent.ws.send(json.dumps({
                "type": "message", "handoff_id": handoff_id, "client_message_id": token,
                "text": relay_text(token),
            }))  # fmt: skip
            a_to_c = await asyncio.wait_for(arrival, TIMEOUT) - sent
            token = f"c{index}-{turn}"
            arrival = agent.waiters[token] = loop.create_future()
            sent = time.perf_counter()
            await customer.ws.send(json.dumps({
                "type": "message", "client_message_id": token, "text": relay_text(token),
            }))  # fmt: skip
            c_to_a = await asyncio.wait_for(arrival, TIMEOUT) - sent
            if turn >= args.warmup:
                to_customer.append(a_to_c * 1000)
                to_agent.append(c_to_a * 1000)

    await asyncio.gather(*(ping_pong(i, *pair) for i, pair in enumerate(pairs)))

    for agent in agents:
        await agent.ws.close()
    for customer in customers:
        await customer.ws.close()
    return {
        "brief_ms": brief_ms,
        "after_notice_ms": after_notice_ms,
        "to_customer_ms": to_customer,
        "to_agent_ms": to_agent,
        "handoffs": len(handoffs),
        "modes": modes,
        "teams": teams,
        "escalating_seconds": round(escalating_seconds, 2),
        "brief_frame_bytes_median": int(statistics.median(brief_bytes)),
        "pairs": len(pairs),
    }


async def measure_echo(url: str, args: argparse.Namespace, frame: str) -> list[float]:
    """Round trips (ms) of ``frame`` through the echo server: the same clients, sizes and
    concurrency as the relay (all connected, as many streams at once as relay pairs)."""
    sockets = await _bounded([_ws(url) for _ in range(args.customers)], CONNECT_CONCURRENCY)
    samples: list[float] = []

    async def stream(ws: ClientConnection) -> None:
        for turn in range(2 * (args.warmup + args.rounds)):  # as many as both relay directions
            sent = time.perf_counter()
            await ws.send(frame)
            await asyncio.wait_for(ws.recv(), TIMEOUT)
            if turn >= 2 * args.warmup:
                samples.append((time.perf_counter() - sent) * 1000)

    streams = sockets[:: max(1, len(sockets) // args.agents)][: args.agents]
    await asyncio.gather(*(stream(ws) for ws in streams))
    for ws in sockets:
        await ws.close()
    return samples


@contextlib.contextmanager
def running_echo(workdir: Path) -> Iterator[str]:
    port = free_port()
    log = (workdir / "echo.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.agents_bench", "--echo-server", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the echo server did not start")
            time.sleep(0.2)
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def serve_echo(port: int) -> None:
    """The bare baseline: a websockets echo server, nothing else (``--echo-server PORT``)."""
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", port, compression=None, ping_interval=None,
                         max_size=2**22):  # fmt: skip
            await asyncio.Future()

    _use_uvloop()
    asyncio.run(main())


# --------------------------------------------------------------------------- report


def summarize(service: dict[str, Any], echo: list[float], args: argparse.Namespace,
              nofile: tuple[int, int]) -> dict[str, Any]:  # fmt: skip
    """Percentiles, ratios and verdicts."""
    relay = service["to_customer_ms"] + service["to_agent_ms"]
    figures = {
        "brief": percentiles(service["brief_ms"]),
        "brief_after_customer_notice": percentiles(service["after_notice_ms"]),
        "relay": percentiles(relay),
        "relay_agent_to_customer": percentiles(service["to_customer_ms"]),
        "relay_customer_to_agent": percentiles(service["to_agent_ms"]),
        "echo": percentiles(echo),
    }
    ratio = figures["relay"]["p99_ms"] / figures["echo"]["p99_ms"]
    return {
        "setup": {
            "customers": args.customers,
            "agents": args.agents,
            "wave": args.wave,
            "handoffs": service["handoffs"],
            "teams": service["teams"],
            "modes": service["modes"],
            "relay_pairs": service["pairs"],
            "relay_rounds": args.rounds,
            "warmup_rounds": args.warmup,
            "text_chars": TEXT_CHARS,
            "brief_frame_bytes_median": service["brief_frame_bytes_median"],
            "escalating_seconds": service["escalating_seconds"],
            "open_file_limit": {"before": nofile[0], "after": nofile[1]},
            "cpus": os.cpu_count(),
        },  # fmt: skip
        "latency": figures,
        "targets": {
            "brief_p99_ms": {
                "target": TARGET_BRIEF_P99_MS,
                "measured": figures["brief"]["p99_ms"],
                "met": figures["brief"]["p99_ms"] <= TARGET_BRIEF_P99_MS,
            },
            "relay_p99_over_echo_p99": {
                "target": TARGET_RELAY_RATIO,
                "measured": round(ratio, 2),
                "met": ratio <= TARGET_RELAY_RATIO,
            },
        },  # fmt: skip
    }


def format_table(summary: dict[str, Any]) -> str:
    """The figures as a small aligned table, then the targets."""
    names = {
        "brief": "brief: queued -> handoff_queued at agent",
        "brief_after_customer_notice": "  (customer's queued frame arrived -> brief)",
        "relay": "relay, both directions",
        "relay_agent_to_customer": "  agent -> customer",
        "relay_customer_to_agent": "  customer -> agent",
        "echo": "bare websockets echo (round trip)",
    }
    rows = [("path", "p50 ms", "p90 ms", "p99 ms", "max ms", "n")]
    for key, f in summary["latency"].items():
        rows.append((names[key], f"{f['p50_ms']:.1f}", f"{f['p90_ms']:.1f}", f"{f['p99_ms']:.1f}",
                     f"{f['max_ms']:.1f}", str(f["count"])))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    targets = summary["targets"]
    brief, ratio = targets["brief_p99_ms"], targets["relay_p99_over_echo_p99"]
    lines.append(f"brief p99 {brief['measured']:.1f} ms (target <= {brief['target']:g} ms): "
                 f"{'met' if brief['met'] else 'NOT met'}")  # fmt: skip
    lines.append(f"relay p99 / echo p99 = {ratio['measured']:.2f} (target <= {ratio['target']:g}): "
                 f"{'met' if ratio['met'] else 'NOT met'}")  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 0 whatever the figures (they are reported, not asserted)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agents_bench",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--customers", type=int, default=500, help="customer sockets")
    parser.add_argument("--agents", type=int, default=50, help="agent sockets (one pair each)")
    parser.add_argument("--wave", type=int, default=50, help="escalations sent at once")
    parser.add_argument("--wave-pause", type=float, default=0.1, help="seconds between waves")
    parser.add_argument("--rounds", type=int, default=20, help="ping-pongs per pair, counted")
    parser.add_argument("--warmup", type=int, default=2, help="ping-pongs per pair, not counted")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-agents")
    parser.add_argument("--echo-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo_server:
        serve_echo(args.echo_server)
        return 0
    if args.agents > args.customers:
        parser.error("--agents must not exceed --customers (each agent takes one customer)")
    nofile = raise_open_file_limit()
    print(f"open-file limit raised from {nofile[0]} to {nofile[1]}" if nofile[1] > nofile[0]
          else f"open-file limit {nofile[1]}", flush=True)  # fmt: skip
    _use_uvloop()
    frame = json.dumps({"type": "message", "handoff_id": 1, "client_message_id": "a0-0",
                        "text": relay_text("a0-0")})  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as scratch, FakeRasa() as rasa:
        workdir = Path(scratch)
        with running_service(workdir, rasa.url, args.agents) as (url, usernames):
            service = asyncio.run(measure_service(url, usernames, args))
        with running_echo(workdir) as echo_url:
            echo = asyncio.run(measure_echo(echo_url, args, frame))
    summary = summarize(service, echo, args, nofile)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(format_table(summary))
    print(f"written: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
