"""Settings: defaults, environment overrides (nested groups), invalid values refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from handoff.settings import ServerSettings, Settings, get_settings, repo_root

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No HANDOFF_* variable of the developer's shell leaks into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("HANDOFF_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_repo_root_is_the_checkout() -> None:
    assert repo_root() == REPO
    assert (repo_root() / "handoff" / "settings.py").is_file()


def test_defaults() -> None:
    settings = Settings()

    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8000
    assert settings.rasa.url == "http://localhost:5005"
    assert settings.rasa.request_timeout_seconds == 10.0
    assert settings.rasa.auth_token is None
    assert settings.actions.url == "http://localhost:5055"
    assert settings.database.url == f"sqlite:///{REPO}/var/handoff.sqlite"
    assert settings.bank.url == f"sqlite:///{REPO}/var/demobank.sqlite"
    assert settings.paths.data_dir == REPO.parent / "shared" / "data"
    assert settings.paths.models_dir == REPO / "models"
    assert settings.paths.model_cache_dir == Path.home() / ".cache" / "handoff-desk"
    assert settings.readiness.probe_timeout_seconds == 2.0
    assert settings.sentiment.model_dir == REPO / "models" / "sentiment"
    assert settings.sentiment.threads == 1
    assert settings.sentiment.max_length == 128
    assert settings.sentiment.max_batch == 64
    assert settings.sentiment.max_wait_ms == 1.0
    assert settings.sentiment.precision == "auto"
    assert settings.sentiment.runtime == "auto"


def test_environment_overrides_nested_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HANDOFF_SERVER__HOST", "0.0.0.0")
    monkeypatch.setenv("HANDOFF_SERVER__PORT", "8123")
    monkeypatch.setenv("HANDOFF_RASA__URL", "https://rasa.internal:5005/")
    monkeypatch.setenv("HANDOFF_RASA__REQUEST_TIMEOUT_SECONDS", "3.5")
    monkeypatch.setenv("HANDOFF_RASA__AUTH_TOKEN", "s3cret")
    monkeypatch.setenv("HANDOFF_ACTIONS__URL", "http://actions:5055")
    monkeypatch.setenv("HANDOFF_DATABASE__URL", f"sqlite:///{tmp_path}/service.sqlite")
    monkeypatch.setenv("HANDOFF_BANK__URL", f"sqlite:///{tmp_path}/bank.sqlite")
    monkeypatch.setenv("HANDOFF_PATHS__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HANDOFF_PATHS__MODEL_CACHE_DIR", "~/elsewhere")
    monkeypatch.setenv("HANDOFF_READINESS__PROBE_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("HANDOFF_SENTIMENT__MODEL_DIR", "~/models/sentiment-v2")
    monkeypatch.setenv("HANDOFF_SENTIMENT__THREADS", "4")
    monkeypatch.setenv("HANDOFF_SENTIMENT__MAX_WAIT_MS", "2.5")
    monkeypatch.setenv("HANDOFF_SENTIMENT__PRECISION", "int8")
    monkeypatch.setenv("HANDOFF_SENTIMENT__RUNTIME", "torch")

    settings = Settings()

    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 8123
    # Stored without the trailing slash, so "/status" can be appended.
    assert settings.rasa.url == "https://rasa.internal:5005"
    assert settings.rasa.request_timeout_seconds == 3.5
    assert settings.rasa.auth_token is not None
    assert settings.rasa.auth_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.actions.url == "http://actions:5055"
    assert settings.database.url == f"sqlite:///{tmp_path}/service.sqlite"
    assert settings.bank.url == f"sqlite:///{tmp_path}/bank.sqlite"
    assert settings.paths.data_dir == tmp_path / "data"
    assert settings.paths.model_cache_dir == Path.home() / "elsewhere"
    assert settings.readiness.probe_timeout_seconds == 0.5
    assert settings.sentiment.model_dir == Path.home() / "models" / "sentiment-v2"
    assert settings.sentiment.threads == 4
    assert settings.sentiment.max_wait_ms == 2.5
    assert settings.sentiment.precision == "int8"
    assert settings.sentiment.runtime == "torch"
    # Values not overridden keep their defaults.
    assert settings.sentiment.max_batch == 64
    assert settings.paths.models_dir == REPO / "models"


def test_model_cache_follows_xdg_cache_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    assert Settings().paths.model_cache_dir == tmp_path / "handoff-desk"


def test_keyword_arguments_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_SERVER__PORT", "8123")

    assert Settings(server=ServerSettings(port=9000)).server.port == 9000


def test_get_settings_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_SERVER__PORT", "8124")
    first = get_settings()
    monkeypatch.setenv("HANDOFF_SERVER__PORT", "8125")

    assert get_settings() is first
    assert first.server.port == 8124
    get_settings.cache_clear()
    assert get_settings().server.port == 8125


@pytest.mark.parametrize(
    ("group", "values"),
    [
        ("server", {"port": 0}),
        ("server", {"port": 65536}),
        ("server", {"port": "eighty"}),
        ("server", {"host": ""}),
        ("rasa", {"url": "ftp://localhost:5005"}),
        ("rasa", {"url": "localhost:5005"}),
        ("rasa", {"request_timeout_seconds": 0}),
        ("actions", {"url": "not a url"}),
        ("database", {"url": "handoff.sqlite"}),
        ("bank", {"url": "nosuchdialect://host/db"}),
        ("readiness", {"probe_timeout_seconds": -1}),
        ("sentiment", {"threads": 0}),
        ("sentiment", {"max_batch": 0}),
        ("sentiment", {"max_wait_ms": -1}),
        ("sentiment", {"max_length": 4}),
        ("sentiment", {"precision": "float16"}),
        ("sentiment", {"runtime": "tensorrt"}),
        ("server", {"prot": 8001}),  # a misspelt key is refused, not ignored
        ("limits", {"customer_messages_burst": 0}),
        ("limits", {"new_conversations_per_minute": 0}),
        ("limits", {"login_lockout_seconds": 0}),
        ("limits", {"max_tracked_keys": 0}),
    ],
)
def test_invalid_values_are_refused(group: str, values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as excinfo:
        # model_validate: the same validation as Settings(...), with the values as plain data.
        Settings.model_validate({group: values})

    assert excinfo.value.errors()[0]["loc"][0] == group


def test_rate_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_LIMITS__CUSTOMER_MESSAGES_BURST", "5")
    monkeypatch.setenv("HANDOFF_LIMITS__LOGIN_LOCKOUT_SECONDS", "60")

    limits = Settings().limits

    assert (limits.customer_messages_burst, limits.login_lockout_seconds) == (5, 60)
    assert limits.customer_messages_per_minute == 40  # the others keep their defaults


def test_invalid_environment_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_SERVER__PORT", "70000")

    with pytest.raises(ValidationError, match="server.port"):
        Settings()


def test_settings_are_immutable() -> None:
    settings = Settings()

    with pytest.raises(ValidationError):
        settings.server.port = 1  # type: ignore[misc]
