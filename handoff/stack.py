"""Run the whole product on one machine: Rasa, the action server and the handoff service.

`make run` calls this after the environments, models and demo bank exist. Each service runs in
its own process group, so a stop reaches every process it spawned; Ctrl-C or SIGTERM stops all
of them, and so does any one of them dying, so nothing is left running behind the user's back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
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
from pydantic import SecretStr

from handoff.agents.demo import DEMO_LOGIN, DEMO_PASSWORD, DEMO_SUPERVISOR
from handoff.settings import DEMO_MODE_WARNING, Settings, require_safe_start

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


def _random_secret() -> str:
    return secrets.token_urlsafe(32)  # 256 bits, 43 characters


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


def bind_host(url: str) -> str:
    """The interface a service of ``url`` listens on: its host, ``localhost`` as 127.0.0.1.

    Rasa and the action server are the service's alone: with the default URLs they listen on
    loopback only. A URL with another host (a container's name, say) binds there instead.
    """
    host = urlsplit(url).hostname or "127.0.0.1"
    return "127.0.0.1" if host == "localhost" else host


def with_internal_secrets(settings: Settings, make: Callable[[], str] = _random_secret) -> Settings:
    """``settings`` with the internal secrets that are unset made up for this start.

    Rasa's API token, the handoff channel's token and the action server's token are shared by
    the processes this launcher starts and nobody else, so a random value per start is the
    safest default; one that is set (to reach a Rasa started elsewhere, say) is kept.
    """
    rasa, actions = settings.rasa, settings.actions
    rasa = rasa.model_copy(
        update={
            "auth_token": rasa.auth_token or SecretStr(make()),
            "channel_token": rasa.channel_token or SecretStr(make()),
        }
    )
    actions = actions.model_copy(update={"token": actions.token or SecretStr(make())})
    return settings.model_copy(update={"rasa": rasa, "actions": actions})


def _secret_env(**secrets: SecretStr | None) -> dict[str, str]:
    # Secrets travel in the environment, which only the same user can read (/proc/PID/environ),
    # never on a command line, which `ps` shows to everyone.
    return {name: secret.get_secret_value() for name, secret in secrets.items() if secret}


def service_specs(settings: Settings, root: Path = PROJECT_ROOT) -> list[ServiceSpec]:
    """The three services, in start order (the action server first: Rasa calls it).

    ``settings`` carries the internal secrets (:func:`with_internal_secrets`); each process is
    given those it needs.
    """
    logs = settings.paths.run_dir / "log"
    endpoints = endpoints_for(
        settings.actions.url, root / "bot/endpoints.yml", settings.paths.run_dir / "endpoints.yml"
    )
    actions_token = settings.actions.token
    return [
        ServiceSpec(
            "actions",
            [
                str(root / ".venv/bin/python"),
                "-m",
                "actions.server",
                "--host",
                bind_host(settings.actions.url),
                "--port",
                _port(settings.actions.url),
            ],
            logs / "actions.log",
            {
                "BANK_DATABASE_URL": settings.bank.url,
                **_secret_env(HANDOFF_ACTIONS__TOKEN=actions_token),
            },
        ),
        ServiceSpec(
            "rasa",
            [
                str(root / ".venv-rasa/bin/python"),
                "-m",
                "bot.serve",
                "--interface",
                bind_host(settings.rasa.url),
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
            {
                "RASA_TELEMETRY_ENABLED": "false",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                **_secret_env(
                    HANDOFF_RASA__AUTH_TOKEN=settings.rasa.auth_token,
                    HANDOFF_RASA__CHANNEL_TOKEN=settings.rasa.channel_token,
                    HANDOFF_ACTIONS__TOKEN=actions_token,
                ),
            },
        ),
        ServiceSpec(
            "handoff",
            [str(root / ".venv/bin/python"), "-m", "handoff", "serve"],
            logs / "handoff.log",
            _secret_env(
                HANDOFF_RASA__AUTH_TOKEN=settings.rasa.auth_token,
                HANDOFF_RASA__CHANNEL_TOKEN=settings.rasa.channel_token,
            ),
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
    settings = with_internal_secrets(settings)
    require_safe_start(settings)  # before anything starts: a refusal leaves nothing running
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
    demo = settings.demo_mode
    signed_in_as = (
        (f"as {DEMO_LOGIN} / {DEMO_PASSWORD}", f"as {DEMO_SUPERVISOR} / {DEMO_PASSWORD}")
        if demo
        else ("(handoff agents create)", "(a supervisor's account)")
    )
    print(
        (f"\n*** {DEMO_MODE_WARNING} ***\n" if demo else "\n") + "Everything is up:\n"
        f"  demo chat         {service_url}/   ("
        + ("play a demo customer; " if demo else "anonymous only outside demo mode; ")
        + f'the widget: <script src="{service_url}/widget.js" defer></script>)\n'
        f"  agent console     {service_url}/agent   {signed_in_as[0]}\n"
        f"  supervisor view   {service_url}/supervisor   {signed_in_as[1]}\n"
        f"  handoff service   {service_url}   (readiness {service_url}/readyz, "
        f"API docs {service_url}/docs)\n"
        f"  customer socket   {service_url.replace('http', 'ws', 1)}/ws/customer   "
        "(docs/protocol.md; agents: /ws/agent, docs/agent-protocol.md)\n"
        f"  Rasa server       {settings.rasa.url}   (the service's alone: its API and channel "
        "need this run's tokens)\n"
        f"  action server     {settings.actions.url}   (for Rasa alone; health "
        f"{settings.actions.url}/health)\n"
        f"  logs              {', '.join(str(s.log) for s in specs)}\n"
        "Press Ctrl-C to stop all services.",
        flush=True,
    )
