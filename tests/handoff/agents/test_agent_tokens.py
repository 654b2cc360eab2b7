"""Agents' access tokens (pure, clock passed in), and their settings."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from pydantic import SecretStr, ValidationError

from handoff.agents.accounts import AgentRecord
from handoff.agents.tokens import (
    AgentClaims,
    AgentTokenRejected,
    issue_agent_token,
    verify_agent_token,
)
from handoff.gateway.identity import IdentityRejected, sign_identity_token, verify_identity_token
from handoff.settings import (
    DEMO_AGENT_TOKEN_SECRET,
    Settings,
    get_settings,
)
from handoff.store.states import AgentRole

SECRET = "agent-token-test-secret-of-32-characters-or-more"
NOW = datetime(2026, 5, 27, 9, 30, tzinfo=UTC)
TTL = timedelta(hours=8)
AGENT = AgentRecord(
    id="a1b2" * 8,
    username="sam.supervisor",
    display_name="Sam Lee",
    role=AgentRole.SUPERVISOR,
    teams=("security", "general"),
    capacity=2,
    active=True,
    created_at=NOW - timedelta(days=30),
)


def issue(**overrides: Any) -> str:
    return issue_agent_token(
        AGENT, secret=overrides.get("secret", SECRET), now=overrides.get("now", NOW), ttl=TTL
    )


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def valid_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "typ": "agent",
        "sub": AGENT.id,
        "role": "agent",
        "teams": ["security"],
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + TTL).timestamp()),
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def rejection(token: str, *, now: datetime = NOW, secret: str = SECRET) -> AgentTokenRejected:
    with pytest.raises(AgentTokenRejected) as excinfo:
        verify_agent_token(token, secret=secret, now=now)
    return excinfo.value


def test_an_issued_token_verifies_to_the_agents_claims() -> None:
    token = issue()

    assert verify_agent_token(token, secret=SECRET, now=NOW) == AgentClaims(
        agent_id=AGENT.id,
        role=AgentRole.SUPERVISOR,
        teams=("security", "general"),
        issued_at=NOW,
        expires_at=NOW + TTL,
    )
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {
        "typ": "agent",
        "sub": AGENT.id,
        "role": "supervisor",
        "teams": ["security", "general"],
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + TTL).timestamp()),
    }


def test_a_secretstr_secret_works() -> None:
    token = issue(secret=SecretStr(SECRET))

    assert verify_agent_token(token, secret=SecretStr(SECRET), now=NOW).agent_id == AGENT.id


def test_a_token_is_good_until_its_expiry_and_the_leeway() -> None:
    token = issue()

    assert verify_agent_token(token, secret=SECRET, now=NOW + TTL + timedelta(seconds=29))
    error = rejection(token, now=NOW + TTL + timedelta(seconds=30))
    assert error.reason_code == "expired"
    assert "expired at 2026-05-27T17:30:00+00:00" in str(error)
    assert verify_agent_token(
        token, secret=SECRET, now=NOW + TTL + timedelta(minutes=5), leeway=timedelta(minutes=6)
    )


def test_a_customer_identity_token_is_not_an_agent_token() -> None:
    # Signed with the very same secret, valid as an identity token: still refused here.
    customer_token = sign_identity_token("cus_1001", secret=SECRET, now=NOW, ttl=TTL)
    assert verify_identity_token(customer_token, secret=SECRET, now=NOW).customer_id == "cus_1001"

    error = rejection(customer_token)

    assert error.reason_code == "wrong_type"


def test_an_agent_token_is_not_a_customer_identity_token() -> None:
    agent_token = issue()

    with pytest.raises(IdentityRejected, match="agent's access token") as excinfo:
        verify_identity_token(agent_token, secret=SECRET, now=NOW)

    assert excinfo.value.reason_code == "malformed"


@pytest.mark.parametrize("typ", ["customer", "AGENT", 1])
def test_any_other_type_is_refused(typ: object) -> None:
    assert rejection(signed(valid_claims(typ=typ))).reason_code == "wrong_type"


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue(secret="another-secret-of-32-characters-or-more-too")

    assert rejection(token).reason_code == "bad_signature"


def test_an_altered_token_is_refused() -> None:
    header, payload, signature = issue().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "supervisor"
    claims["teams"] = ["security", "disputes", "compliance"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    assert rejection(f"{header}.{forged}.{signature}").reason_code == "bad_signature"


def test_an_unsigned_token_is_refused() -> None:
    unsigned = jwt.encode(valid_claims(), key=None, algorithm="none")

    assert rejection(unsigned).reason_code == "bad_signature"


@pytest.mark.parametrize("token", ["", "   ", "not-a-jwt", "a.b.c"])
def test_garbage_is_malformed(token: str) -> None:
    assert rejection(token).reason_code == "malformed"


@pytest.mark.parametrize("claim", ["sub", "role", "teams", "iat", "exp"])
def test_a_missing_claim_is_refused(claim: str) -> None:
    error = rejection(signed(valid_claims(**{claim: None})))

    assert error.reason_code == "missing_claim"
    assert claim in str(error)


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": 42},
        {"sub": "  "},
        {"role": "boss"},
        {"teams": "security"},
        {"teams": ["security", 7]},
        {"exp": "tomorrow"},
        {"iat": True},
        {"exp": 10**20},
    ],
)
def test_a_claim_of_the_wrong_kind_is_malformed(changes: dict[str, Any]) -> None:
    assert rejection(signed(valid_claims(**changes))).reason_code == "malformed"


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())},  # a forged "forever"
        {"exp": int((NOW + timedelta(hours=9)).timestamp())},  # longer than the shift
        # A lifetime of eight hours that only starts tomorrow: still too far ahead of now.
        {
            "iat": int((NOW + timedelta(days=1)).timestamp()),
            "exp": int((NOW + timedelta(days=1) + TTL).timestamp()),
        },
    ],
)
def test_a_token_that_lasts_longer_than_a_shift_is_refused(changes: dict[str, Any]) -> None:
    token = signed(valid_claims(**changes))

    with pytest.raises(AgentTokenRejected) as excinfo:
        verify_agent_token(token, secret=SECRET, now=NOW, max_lifetime=TTL)

    assert excinfo.value.reason_code == "too_long"


def test_a_token_of_exactly_a_shift_is_accepted() -> None:
    assert verify_agent_token(issue(), secret=SECRET, now=NOW, max_lifetime=TTL)


def test_naive_times_bad_ttls_and_empty_secrets_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="aware"):
        issue_agent_token(AGENT, secret=SECRET, now=NOW.replace(tzinfo=None), ttl=TTL)
    with pytest.raises(ValueError, match="ttl"):
        issue_agent_token(AGENT, secret=SECRET, now=NOW, ttl=timedelta(0))
    with pytest.raises(ValueError, match="empty"):
        issue_agent_token(AGENT, secret="", now=NOW, ttl=TTL)
    with pytest.raises(ValueError, match="aware"):
        verify_agent_token(issue(), secret=SECRET, now=NOW.replace(tzinfo=None))


# --- settings -----------------------------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("HANDOFF_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("clean_environment")
def test_agent_settings_defaults() -> None:
    agents = Settings().agents

    assert agents.token_secret is None  # outside demo mode the service then refuses to start
    assert agents.token_ttl_seconds == 8 * 3600
    assert agents.default_capacity == 3


@pytest.mark.usefixtures("clean_environment")
def test_demo_mode_signs_with_the_public_demo_secret() -> None:
    demo = Settings(demo_mode=True)

    assert demo.agents.require_token_secret().get_secret_value() == DEMO_AGENT_TOKEN_SECRET
    # Not the customers' identity secret: the two kinds of token are signed apart.
    assert demo.agents.token_secret != demo.identity.secret


@pytest.mark.usefixtures("clean_environment")
def test_agent_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_AGENTS__TOKEN_SECRET", SECRET)
    monkeypatch.setenv("HANDOFF_AGENTS__TOKEN_TTL_SECONDS", "3600")
    monkeypatch.setenv("HANDOFF_AGENTS__DEFAULT_CAPACITY", "5")

    agents = get_settings().agents

    assert agents.token_secret.get_secret_value() == SECRET
    assert agents.token_ttl_seconds == 3600
    assert agents.default_capacity == 5


@pytest.mark.parametrize(
    "values",
    [
        {"token_secret": "too short"},
        {"token_ttl_seconds": 0},
        {"token_ttl_seconds": 24 * 3600 + 1},  # longer than any shift
        {"default_capacity": 0},
        {"token_lifetime": 60},  # a misspelt key
    ],
)
def test_invalid_agent_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Settings.model_validate({"agents": values})

    assert excinfo.value.errors()[0]["loc"][0] == "agents"
