"""The launcher behind `make run`: start order, endpoints, and stopping without orphans."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from handoff.exceptions import ConfigurationError
from handoff.settings import PathsSettings, RasaSettings, Settings
from handoff.stack import (
    ServiceSpec,
    Stack,
    bind_host,
    endpoints_for,
    run_stack,
    service_specs,
    tail,
    with_internal_secrets,
)

REPO = Path(__file__).resolve().parents[2]


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


def test_internal_secrets_are_made_up_per_start_unless_set() -> None:
    made = iter(f"made-up-secret-number-{i}-0123456789abcdef" for i in range(10))
    given = Settings(rasa=RasaSettings(auth_token="the-operator-chose-this-one-0123456789"))

    settings = with_internal_secrets(given, make=lambda: next(made))

    assert settings.rasa.auth_token is not None and settings.rasa.channel_token is not None
    assert settings.actions.token is not None
    assert settings.rasa.auth_token.get_secret_value() == "the-operator-chose-this-one-0123456789"
    assert settings.rasa.channel_token.get_secret_value().startswith("made-up-secret-number-")
    assert settings.actions.token.get_secret_value() != settings.rasa.channel_token


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://localhost:5005", "127.0.0.1"),
        ("http://127.0.0.1:5005", "127.0.0.1"),
        ("http://rasa.internal:5005", "rasa.internal"),
    ],
)
def test_internal_services_bind_to_the_host_of_their_url(url: str, host: str) -> None:
    assert bind_host(url) == host


def test_secrets_reach_each_service_in_its_environment_never_on_its_command_line(
    tmp_path: Path,
) -> None:
    settings = with_internal_secrets(Settings(paths=PathsSettings(run_dir=tmp_path)))
    specs = {spec.name: spec for spec in service_specs(settings, root=REPO)}
    rasa, actions = settings.rasa, settings.actions
    assert rasa.auth_token and rasa.channel_token and actions.token
    secrets = {
        "HANDOFF_RASA__AUTH_TOKEN": rasa.auth_token.get_secret_value(),
        "HANDOFF_RASA__CHANNEL_TOKEN": rasa.channel_token.get_secret_value(),
        "HANDOFF_ACTIONS__TOKEN": actions.token.get_secret_value(),
    }

    for spec in specs.values():
        assert not set(secrets.values()) & set(spec.argv)
    # Each gets what it needs and no more: the action server knows nothing of Rasa's API.
    assert set(secrets) <= set(specs["rasa"].env)
    assert set(specs["actions"].env) == {"BANK_DATABASE_URL", "HANDOFF_ACTIONS__TOKEN"}
    assert set(specs["handoff"].env) == {"HANDOFF_RASA__AUTH_TOKEN", "HANDOFF_RASA__CHANNEL_TOKEN"}
    assert specs["rasa"].env["HANDOFF_ACTIONS__TOKEN"] == secrets["HANDOFF_ACTIONS__TOKEN"]
    # Both internal services listen on loopback with the default URLs.
    assert specs["rasa"].argv[specs["rasa"].argv.index("--interface") + 1] == "127.0.0.1"
    assert specs["actions"].argv[specs["actions"].argv.index("--host") + 1] == "127.0.0.1"


def test_the_launcher_starts_nothing_outside_demo_mode_without_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(Stack, "start", lambda self: started.append("started"))

    with pytest.raises(ConfigurationError, match="HANDOFF_IDENTITY__SECRET"):
        run_stack(Settings(paths=PathsSettings(run_dir=tmp_path)))

    assert started == []
