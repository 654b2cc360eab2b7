"""Benchmark of the gateway: per-turn latency through the service vs. straight to Rasa.

Run ``python -m benchmarks.gateway_bench`` (``make bench-gateway``). It starts its own stack
(``python -m handoff stack``: Rasa, the action server, the handoff service) on free ports with a
freshly seeded demo bank and a throwaway service database, then, for the same tier-1 messages
in the same run, interleaved so that both paths see the same machine load:

* straight: ``POST /webhooks/handoff/webhook`` on Rasa's handoff channel (with its token), the
  very request the service makes, timed until the answer;
* gateway: a ``message`` frame on the customer websocket, timed until the first bot reply
  frame arrives. That turn includes storing the message, scoring its sentiment (alongside the
  round trip to Rasa), the escalation engine and storing the replies.

Both paths speak as an anonymous customer (no metadata), and a conversation is replaced every
few turns so
that no turn escalates (the same question three times would be an intent loop). Medians, p90
and the ratio go to stdout and ``reports/bench-gateway/summary.json``; the target is a p50
ratio of at most 1.2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.sync.client import ClientConnection, connect

from benchmarks.stack_env import bench_environment

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.2
TURNS_PER_CONVERSATION = 3
STARTUP_SECONDS = 300

# Tier-1 questions with distinct intents, answered from policy or the demo bank.
MESSAGES = [
    "my card still hasn't arrived",
    "how long does a transfer take?",
    "what is the exchange rate you use?",
    "can I top up with a cheque?",
    "where can I use my card?",
    "how do I change my PIN?",
    "is there a fee for topping up by card?",
    "which currencies can I hold?",
    "how do I verify my identity?",
    "why was I charged a fee at the ATM?",
    "how old do I need to be to open an account?",
    "can I get a virtual card?",
]


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_stack(
    workdir: Path, environment: dict[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """Start the stack on free ports; yields its URLs (and ``channel_token``, the handoff
    channel's) and stops it (process group) on exit. ``environment`` replaces
    :func:`bench_environment` (a caller that needs the stack's other secrets makes them)."""
    bank_url = f"sqlite:///{workdir / 'demobank.sqlite'}"
    subprocess.run(
        [sys.executable, "-m", "demobank", "seed", "--url", bank_url], check=True, cwd=ROOT
    )
    ports = {name: free_port() for name in ("service", "rasa", "actions")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **os.environ,
        "HANDOFF_SERVER__PORT": str(ports["service"]),
        "HANDOFF_RASA__URL": urls["rasa"],
        "HANDOFF_ACTIONS__URL": urls["actions"],
        "HANDOFF_BANK__URL": bank_url,
        "BANK_DATABASE_URL": bank_url,
        "HANDOFF_DATABASE__URL": f"sqlite:///{workdir / 'handoff.sqlite'}",
        "HANDOFF_PATHS__RUN_DIR": str(workdir),
        **(bench_environment() if environment is None else environment),
    }
    log = (workdir / "stack.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "handoff", "stack"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _ready(urls["service"]):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "stack.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the stack did not become ready:\n{tail}")
            time.sleep(1)
        yield {**urls, "channel_token": env["HANDOFF_RASA__CHANNEL_TOKEN"]}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        log.close()


def _ready(service_url: str) -> bool:
    try:
        return httpx.get(f"{service_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class GatewayConversation:
    """One anonymous customer websocket conversation."""

    def __init__(self, service_url: str) -> None:
        ws_url = service_url.replace("http://", "ws://") + "/ws/customer"
        self.socket: ClientConnection = connect(ws_url, open_timeout=30)
        self.socket.send(json.dumps({"type": "start", "v": 1}))
        started = json.loads(self.socket.recv(timeout=30))
        if started.get("type") != "started":
            raise RuntimeError(f"could not start a conversation: {started}")

    def turn(self, text: str) -> float:
        """Seconds from sending ``text`` to the first bot reply of this turn."""
        client_id = uuid.uuid4().hex
        began = time.perf_counter()
        self.socket.send(json.dumps({"type": "message", "client_message_id": client_id,
                                     "text": text}))  # fmt: skip
        acked_seq: int | None = None
        while True:
            frame = json.loads(self.socket.recv(timeout=60))
            if frame["type"] == "ack" and frame["client_message_id"] == client_id:
                acked_seq = frame["seq"]
            elif frame["type"] == "message" and frame["seq"] > (acked_seq or 2**62):
                if frame["sender"] == "system":
                    raise RuntimeError(f"the turn escalated, not a tier-1 turn: {frame}")
                if frame["sender"] == "bot":
                    return time.perf_counter() - began

    def close(self) -> None:
        """Close the socket."""
        self.socket.close()


def channel_turn(client: httpx.Client, urls: dict[str, str], sender: str, text: str) -> float:
    """Seconds for one turn through Rasa's handoff channel, as the service sends it."""
    body = {"sender": sender, "message": text, "metadata": {}}
    headers = {"Authorization": f"Bearer {urls['channel_token']}"}
    began = time.perf_counter()
    answer = client.post(
        f"{urls['rasa']}/webhooks/handoff/webhook", json=body, headers=headers, timeout=60
    )
    elapsed = time.perf_counter() - began
    answer.raise_for_status()
    return elapsed


def measure(urls: dict[str, str], rounds: int, warmup: int) -> dict[str, list[float]]:
    """Latencies (ms) of both paths over ``rounds`` passes of :data:`MESSAGES`."""
    timings: dict[str, list[float]] = {"rasa_rest": [], "gateway": []}
    with httpx.Client() as client:
        turn = 0
        conversation: GatewayConversation | None = None
        sender = ""
        for _ in range(warmup + rounds):
            for text in MESSAGES:
                if turn % TURNS_PER_CONVERSATION == 0:
                    if conversation is not None:
                        conversation.close()
                    conversation = GatewayConversation(urls["service"])
                    sender = f"bench-{uuid.uuid4().hex}"
                # Alternate which path goes first, so neither always gets the warmer cache.
                if turn % 2 == 0:
                    rest = channel_turn(client, urls, sender, text)
                    gateway = conversation.turn(text)
                else:
                    gateway = conversation.turn(text)
                    rest = channel_turn(client, urls, sender, text)
                if turn >= warmup * len(MESSAGES):
                    timings["rasa_rest"].append(rest * 1000)
                    timings["gateway"].append(gateway * 1000)
                turn += 1
        if conversation is not None:
            conversation.close()
    return timings


def summarize(timings: dict[str, list[float]]) -> dict[str, Any]:
    """Medians, p90s and the p50 ratio."""
    figures = {
        path: {
            "p50_ms": round(statistics.median(values), 2),
            "p90_ms": round(float(np.percentile(values, 90)), 2),
            "turns": len(values),
        }
        for path, values in timings.items()
    }
    ratio = figures["gateway"]["p50_ms"] / figures["rasa_rest"]["p50_ms"]
    overhead = [g - r for g, r in zip(timings["gateway"], timings["rasa_rest"], strict=True)]
    return {
        "paths": figures,
        "median_overhead_ms": round(statistics.median(overhead), 2),
        "p50_ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
    }


def format_table(summary: dict[str, Any]) -> str:
    """The figures as a small aligned table."""
    rows = [("path", "p50 ms", "p90 ms", "turns")]
    names = {"rasa_rest": "straight to Rasa (handoff channel)", "gateway": "through the gateway"}
    for key, figures in summary["paths"].items():
        rows.append((names[key], f"{figures['p50_ms']:.1f}", f"{figures['p90_ms']:.1f}",
                     str(figures["turns"])))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(f"median overhead per turn: {summary['median_overhead_ms']:.1f} ms")
    verdict = "met" if summary["target_met"] else "NOT met"
    lines.append(f"p50 ratio {summary['p50_ratio']:.2f} (target <= {TARGET_RATIO}): {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 0 whatever the figures (they are reported, not asserted)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gateway_bench",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--rounds", type=int, default=4, help="passes over the messages")
    parser.add_argument("--warmup", type=int, default=1, help="passes not counted")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-gateway")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="bench-gateway-") as scratch,
        running_stack(Path(scratch)) as urls,
    ):
        timings = measure(urls, args.rounds, args.warmup)
    summary = summarize(timings)
    summary["messages"] = MESSAGES
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(format_table(summary))
    print(f"written: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
