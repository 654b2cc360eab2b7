"""Run the whole product on one machine: Rasa, the action server and the handoff service.

`make run` calls this after the environments, models and demo bank exist. Each service runs in
its own process group, so a stop reaches every process it spawned; Ctrl-C or SIGTERM stops all
of them, and so does any one of them dying, so nothing is left running behind the user's back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import httpx
import yaml

from handoff.agents.demo import DEMO_LOGIN, DEMO_PASSWORD, DEMO_SUPERVISOR
from handoff.settings import Settings

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 15.0
READY_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class ServiceSpec:
    """How to start one service and where it writes its log."""

    name: str
    argv: Sequence[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)


def _port(url: str) -> str:
    parts = urlsplit(url)
    return str(parts.port or (443 if parts.scheme == "https" else 80))


def endpoints_for(actions_url: str, template: Path, target: Path) -> Path:
    """Rasa's endpoints file with the action server URL of these settings."""
    endpoints = yaml.safe_load(template.read_text(encoding="utf-8")) or {}
    endpoints.setdefault("action_endpoint", {})["url"] = f"{actions_url.rstrip('/')}/webhook"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
    return target


def service_specs(settings: Settings, root: Path = PROJECT_ROOT) -> list[ServiceSpec]:
    """The three services, in start order (the action server first: Rasa calls it)."""
    logs = settings.paths.run_dir / "log"
    endpoints = endpoints_for(
        settings.actions.url, root / "bot/endpoints.yml", settings.paths.run_dir / "endpoints.yml"
    )
    return [
        ServiceSpec(
            "actions",
            [
                str(root / ".venv/bin/python"),
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "--port",
                _port(settings.actions.url),
            ],
            logs / "actions.log",
            {"BANK_DATABASE_URL": settings.bank.url},
        ),
        ServiceSpec(
            "rasa",
            [
                str(root / ".venv-rasa/bin/rasa"),
                "run",
                "--enable-api",
                "--model",
                "models",
                "--credentials",
                "bot/credentials.yml",
                "--endpoints",
                str(endpoints),
                "--port",
                _port(settings.rasa.url),
            ],
            logs / "rasa.log",
            {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
        ),
        ServiceSpec(
            "handoff",
            [str(root / ".venv/bin/python"), "-m", "handoff", "serve"],
            logs / "handoff.log",
        ),
    ]


class Stack:
    """Starts the services, waits until the handoff service is ready, stops them together."""

    def __init__(self, specs: Sequence[ServiceSpec], root: Path = PROJECT_ROOT) -> None:
        self._specs = list(specs)
        self._root = root
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for spec in self._specs:
            spec.log.parent.mkdir(parents=True, exist_ok=True)
            with spec.log.open("ab") as log:
                self._processes[spec.name] = subprocess.Popen(
                    list(spec.argv),
                    cwd=self._root,
                    env={**os.environ, **spec.env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    # A process group of its own: the stop signal reaches its children too.
                    start_new_session=True,
                )
            logger.info(
                "started %s (pid %d), log %s", spec.name, self._processes[spec.name].pid, spec.log
            )

    def exited(self) -> list[str]:
        """Names of services that are no longer running."""
        return [name for name, process in self._processes.items() if process.poll() is not None]

    def wait_ready(self, ready_url: str, timeout: float, stopping: Callable[[], bool]) -> bool:
        """Poll `/readyz` until 200; False if a service died, a stop came, or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stopping():
            if self.exited():
                return False
            try:
                if httpx.get(ready_url, timeout=2.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        return False

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL whatever outlives the grace period."""
        for process in self._processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, process in self._processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time; killing it", name)
            # Children that ignored SIGTERM (or outlived their parent) go too.
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # The group may be gone already (the service exited on its own): nothing left to stop.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def tail(path: Path, lines: int = 30) -> str:
    """The end of a log file, for the message shown when a service fails."""
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def run_stack(settings: Settings) -> int:
    """Start everything, print the URLs, block until a signal or a failure; returns exit code."""
    # The readiness poll would log one line per second while Rasa loads its model.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    specs = service_specs(settings)
    stack = Stack(specs)
    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop_requested.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    service_url = f"http://{settings.server.host}:{settings.server.port}"
    print("Starting the action server, Rasa and the handoff service (Rasa takes about a minute)...")
    stack.start()
    code = 0
    try:
        if stack.wait_ready(
            f"{service_url}/readyz", READY_TIMEOUT_SECONDS, lambda: bool(stop_requested)
        ):
            _print_urls(settings, service_url, specs)
            while not stop_requested and not stack.exited():
                time.sleep(0.5)
        if not stop_requested:
            code = _report_failure(stack, specs)
    finally:
        print("Stopping all services...")
        stack.stop()
    return code


def _report_failure(stack: Stack, specs: Sequence[ServiceSpec]) -> int:
    dead = stack.exited() or ["(none: readiness timed out)"]
    print(f"A service stopped or never became ready: {', '.join(dead)}", file=sys.stderr)
    for spec in specs:
        if spec.name in dead:
            print(f"--- last lines of {spec.log} ---\n{tail(spec.log)}", file=sys.stderr)
    return 1


def _print_urls(settings: Settings, service_url: str, specs: Sequence[ServiceSpec]) -> None:
    print(
        "\nEverything is up:\n"
        f"  demo chat         {service_url}/   (play a demo customer; the widget: "
        f'<script src="{service_url}/widget.js" defer></script>)\n'
        f"  agent console     {service_url}/agent   as {DEMO_LOGIN} / {DEMO_PASSWORD}   "
        "(handoff agents list)\n"
        f"  supervisor view   {service_url}/supervisor   as {DEMO_SUPERVISOR} / {DEMO_PASSWORD}\n"
        f"  handoff service   {service_url}   (readiness {service_url}/readyz, "
        f"API docs {service_url}/docs)\n"
        f"  customer socket   {service_url.replace('http', 'ws', 1)}/ws/customer   "
        "(docs/protocol.md; agents: /ws/agent, docs/agent-protocol.md)\n"
        f"  Rasa server       {settings.rasa.url}   (handoff channel "
        f"{settings.rasa.url}/webhooks/handoff/webhook)\n"
        f"  action server     {settings.actions.url}   (health {settings.actions.url}/health)\n"
        f"  logs              {', '.join(str(s.log) for s in specs)}\n"
        "Press Ctrl-C to stop all services.",
        flush=True,
    )
