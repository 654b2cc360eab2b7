"""The ``handoff`` command: ``ready`` exit codes and output, ``serve`` wiring, bad settings."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from handoff import __version__, cli
from handoff.gateway.protocol import MAX_FRAME_BYTES
from handoff.readiness import CheckResult
from handoff.settings import Settings, get_settings

REPO = Path(__file__).resolve().parents[2]


class FixedProbe:
    """A probe with a fixed answer."""

    def __init__(self, name: str, ok: bool) -> None:
        self.name = name
        self.ok = ok

    async def __call__(self) -> CheckResult:
        return CheckResult(self.name, self.ok, "fine" if self.ok else "broken", 2.0)


class FakeStackHandler(BaseHTTPRequestHandler):
    """Answers like a Rasa server with a model (``/status``) and an action server (``/health``)."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        bodies = {
            "/status": {"model_file": "models/banking.tar.gz", "model_id": "abc"},
            "/health": {"status": "ok"},
        }
        body = bodies.get(self.path.split("?")[0])
        payload = json.dumps(body if body is not None else {"error": "not found"}).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Only this test's HANDOFF_* variables; databases under ``tmp_path``; fresh settings."""
    for name in list(os.environ):
        if name.upper().startswith("HANDOFF_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HANDOFF_DATABASE__URL", f"sqlite:///{tmp_path}/handoff.sqlite")
    monkeypatch.setenv("HANDOFF_BANK__URL", f"sqlite:///{tmp_path}/demobank.sqlite")
    monkeypatch.setenv("HANDOFF_SENTIMENT__MODEL_DIR", str(tmp_path / "no-sentiment-model"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def fake_stack_url() -> Iterator[str]:
    """A local HTTP server answering for both Rasa and the action server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeStackHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_ready_exits_1_when_nothing_is_listening(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HANDOFF_RASA__URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("HANDOFF_ACTIONS__URL", f"http://127.0.0.1:{closed_port()}")

    assert cli.main(["ready"]) == 1

    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[1:-1]}
    assert rows == {
        "rasa": "FAIL",
        "action_server": "FAIL",
        "database": "ok",
        "bank_database": "FAIL",
        "sentiment": "FAIL",
    }


def test_ready_exits_0_when_the_whole_stack_answers(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_stack_url: str,
    tmp_path: Path,
    tiny_sentiment_model: Path,
) -> None:
    monkeypatch.setenv("HANDOFF_SENTIMENT__MODEL_DIR", str(tiny_sentiment_model))
    monkeypatch.setenv("HANDOFF_RASA__URL", fake_stack_url)
    monkeypatch.setenv("HANDOFF_ACTIONS__URL", fake_stack_url)
    sqlite3.connect(tmp_path / "demobank.sqlite").close()

    assert cli.main(["ready"]) == 0

    output = capsys.readouterr().out
    assert "model banking.tar.gz loaded" in output
    assert "FAIL" not in output
    assert output.splitlines()[-1] == "ready"


def test_run_ready_with_fake_probes(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings()

    assert cli.run_ready(settings, [FixedProbe("rasa", True), FixedProbe("bank", True)]) == 0
    assert cli.run_ready(settings, [FixedProbe("rasa", True), FixedProbe("bank", False)]) == 1

    output = capsys.readouterr().out
    assert "bank   FAIL    2 ms     broken" in output
    assert output.splitlines()[-1] == "not ready"


def test_format_table_aligns_columns() -> None:
    table = cli.format_table(
        [
            CheckResult("rasa", True, "model m.tar.gz loaded", 12.4),
            CheckResult("action_server", False, "cannot reach", 3.0),
        ]
    )

    assert table.splitlines() == [
        "CHECK          STATUS  LATENCY  DETAIL",
        "rasa           ok      12 ms    model m.tar.gz loaded",
        "action_server  FAIL    3 ms     cannot reach",
        "not ready",
    ]


def test_invalid_settings_exit_2_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HANDOFF_RASA__URL", "ftp://rasa")

    assert cli.main(["ready"]) == 2

    assert "rasa.url" in capsys.readouterr().err


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        cli.main([])

    assert excinfo.value.code == 2


SERVICE_SECRETS = {
    "HANDOFF_IDENTITY__SECRET": "identity-secret-of-this-test-0123456789",
    "HANDOFF_AGENTS__TOKEN_SECRET": "agent-token-secret-of-this-test-0123456789",
    "HANDOFF_RASA__AUTH_TOKEN": "rasa-api-token-of-this-test-0123456789",
    "HANDOFF_RASA__CHANNEL_TOKEN": "rasa-channel-token-of-this-test-0123456789",
}


def test_serve_refuses_to_start_without_its_secrets_naming_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **options: calls.append(options))

    assert cli.main(["serve"]) == 2

    assert calls == []
    err = capsys.readouterr().err
    assert "refusing to start outside demo mode" in err
    assert all(name in err for name in SERVICE_SECRETS)


def test_serve_runs_uvicorn_on_the_configured_address(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **options: calls.append(options))
    for name, value in SERVICE_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HANDOFF_SERVER__HOST", "0.0.0.0")
    monkeypatch.setenv("HANDOFF_SERVER__PORT", "8123")

    assert cli.main(["serve", "--log-level", "debug"]) == 0

    assert calls == [
        {
            "host": "0.0.0.0",
            "port": 8123,
            "ws": "websockets-sansio",
            "ws_max_size": MAX_FRAME_BYTES,
            "log_level": "debug",
        }
    ]
    assert MAX_FRAME_BYTES == 16_384  # the frame limit the server enforces (close 1009)


def test_stack_runs_the_launcher_and_returns_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[Settings] = []

    def fake_run_stack(settings: Settings) -> int:
        received.append(settings)
        return 3

    monkeypatch.setattr("handoff.stack.run_stack", fake_run_stack)
    monkeypatch.setenv("HANDOFF_SERVER__PORT", "8124")

    assert cli.main(["stack"]) == 3
    assert [settings.server.port for settings in received] == [8124]


def test_python_dash_m_handoff_works() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "handoff", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"handoff {__version__}"
