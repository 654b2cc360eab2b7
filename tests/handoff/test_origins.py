"""The origin rule: scheme, host and port against the trusted origins, never the Host header."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from handoff.origins import normalise_origin, origin_allowed
from handoff.settings import GatewaySettings, ServerSettings, Settings

TRUSTED = frozenset({"http://localhost:8000", "http://127.0.0.1:8000", "https://bank.example"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://localhost:8000", "http://localhost:8000"),
        ("HTTP://LocalHost:8000/", "http://localhost:8000"),
        ("https://bank.example:443", "https://bank.example"),
        ("http://bank.example:80", "http://bank.example"),
        ("https://bank.example:80", "https://bank.example:80"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("null", None),
        ("", None),
        ("file://", None),
        ("ws://localhost:8000", None),
        ("chrome-extension://abcdef", None),
        ("http://localhost:8000/path", None),
        ("http://localhost:8000?q=1", None),
        ("http://user@localhost:8000", None),
        ("http://localhost:port", None),
        ("http://localhost:", None),
        ("http://localhost:0", None),
        ("http://localhost:70000", None),
        ("http://", None),
    ],
)
def test_normalise_origin(value: str, expected: str | None) -> None:
    assert normalise_origin(value) == expected


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # no Origin header: not a browser page
        ("http://localhost:8000", True),
        ("http://127.0.0.1:8000", True),
        ("https://bank.example", True),
        ("https://BANK.example:443", True),  # default port and case do not matter
        ("https://bank.example/", True),
        # DNS rebinding: evil.example resolves to 127.0.0.1; its page's Origin names its own host.
        ("http://evil.example:8000", False),
        ("http://bank.example", False),  # scheme mismatch
        ("https://localhost:8000", False),  # scheme mismatch
        ("http://localhost:8001", False),  # port mismatch
        ("https://bank.example:8443", False),  # port mismatch
        ("http://localhost", False),  # port 80, not 8000
        ("https://bank.example.evil.example", False),
        ("null", False),  # sandboxed frame, file: or data: page
        ("", False),
    ],
)
def test_origin_allowed(origin: str | None, allowed: bool) -> None:
    assert origin_allowed(origin, TRUSTED) is allowed


def test_the_services_own_origins_follow_its_port_and_host() -> None:
    assert ServerSettings(port=8123).origins == ("http://localhost:8123", "http://127.0.0.1:8123")
    assert ServerSettings(host="0.0.0.0").origins == (
        "http://localhost:8000",
        "http://127.0.0.1:8000",
    )
    assert ServerSettings(host="desk.lan", port=80).origins == (
        "http://localhost",
        "http://127.0.0.1",
        "http://desk.lan",
    )


def test_public_origins_replace_the_derived_ones() -> None:
    server = ServerSettings(public_origins=("HTTPS://Chat.Bank.Example/",))
    assert server.origins == ("https://chat.bank.example",)


def test_trusted_origins_are_the_services_own_and_the_allowed_embedders() -> None:
    settings = Settings(
        server=ServerSettings(port=9000),
        gateway=GatewaySettings(allowed_origins=("https://bank.example:443",)),
    )
    assert settings.trusted_origins == {
        "http://localhost:9000",
        "http://127.0.0.1:9000",
        "https://bank.example",
    }


@pytest.mark.parametrize("bad", ["null", "bank.example", "https://bank.example/chat", "*"])
def test_a_configured_origin_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="not an http"):
        GatewaySettings(allowed_origins=(bad,))
    with pytest.raises(ValidationError, match="not an http"):
        ServerSettings(public_origins=(bad,))
