"""The launcher behind `make run`: start order, endpoints, and stopping without orphans."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import yaml

from handoff.stack import ServiceSpec, Stack, endpoints_for, tail


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def spawning_service(name: str, tmp_path: Path, ignore_term: bool = False) -> ServiceSpec:
    """A service that starts a grandchild and records both pids, like Rasa's worker does."""
    pidfile = tmp_path / f"{name}.pids"
    trap = "trap '' TERM; " if ignore_term else ""
    script = f"{trap}sleep 300 & echo $$ $! > {pidfile}; wait"
    return ServiceSpec(name, ["/bin/sh", "-c", script], tmp_path / f"{name}.log")


def pids(tmp_path: Path, name: str) -> list[int]:
    path = tmp_path / f"{name}.pids"
    assert wait_for(lambda: path.exists() and path.read_text().strip())
    return [int(p) for p in path.read_text().split()]


def test_stop_leaves_no_process_behind_even_grandchildren(tmp_path: Path) -> None:
    stack = Stack([spawning_service("a", tmp_path), spawning_service("b", tmp_path)], root=tmp_path)
    stack.start()
    started = pids(tmp_path, "a") + pids(tmp_path, "b")
    assert all(alive(pid) for pid in started)
    stack.stop()
    assert wait_for(lambda: not any(alive(pid) for pid in started))


def test_a_service_that_ignores_sigterm_is_killed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("handoff.stack.STOP_GRACE_SECONDS", 0.5)
    stack = Stack([spawning_service("stubborn", tmp_path, ignore_term=True)], root=tmp_path)
    stack.start()
    started = pids(tmp_path, "stubborn")
    stack.stop()
    assert wait_for(lambda: not any(alive(pid) for pid in started))


def test_exited_names_the_service_that_died(tmp_path: Path) -> None:
    stack = Stack(
        [
            ServiceSpec("quick", [sys.executable, "-c", "print('bye')"], tmp_path / "quick.log"),
            spawning_service("steady", tmp_path),
        ],
        root=tmp_path,
    )
    stack.start()
    assert wait_for(lambda: stack.exited() == ["quick"])
    stack.stop()
    assert "bye" in tail(tmp_path / "quick.log")


def test_ready_wait_gives_up_when_a_service_dies(tmp_path: Path) -> None:
    stack = Stack(
        [ServiceSpec("dies", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "dies.log")],
        root=tmp_path,
    )
    stack.start()
    assert (
        stack.wait_ready("http://127.0.0.1:9/readyz", timeout=20, stopping=lambda: False) is False
    )
    stack.stop()


def test_endpoints_point_rasa_at_the_configured_action_server(tmp_path: Path) -> None:
    template = tmp_path / "endpoints.yml"
    template.write_text("action_endpoint:\n  url: http://localhost:5055/webhook\n")
    written = endpoints_for("http://127.0.0.1:6055/", template, tmp_path / "run/endpoints.yml")
    assert (
        yaml.safe_load(written.read_text())["action_endpoint"]["url"]
        == "http://127.0.0.1:6055/webhook"
    )
