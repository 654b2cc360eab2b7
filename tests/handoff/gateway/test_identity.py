"""Identity tokens: signing, verification against a passed clock, and the bank lookup."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine

from demobank.db import create_bank_engine
from demobank.models import CustomerTier
from demobank.seed import create_demo_bank
from handoff.exceptions import ConfigurationError, DependencyUnavailable, HandoffError
from handoff.gateway.identity import (
    IdentityRejected,
    UnknownCustomer,
    VerifiedIdentity,
    resolve_customer,
    sign_identity_token,
    verify_identity_token,
)
from handoff.resources import create_bank_engine as create_read_only_bank_engine
from handoff.settings import DEMO_IDENTITY_SECRET, IdentitySettings, Settings

SECRET = "test-secret-that-is-at-least-32-bytes-long"
NOW = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _sign(**claims: object) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _rejected(token: str, *, now: datetime = NOW, **kwargs: object) -> IdentityRejected:
    with pytest.raises(IdentityRejected) as caught:
        verify_identity_token(token, secret=SECRET, now=now, **kwargs)  # type: ignore[arg-type]
    return caught.value


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------


def test_a_signed_token_verifies_to_its_customer() -> None:
    token = sign_identity_token("cus_1001", secret=SECRET, now=NOW, ttl=HOUR, name="Alice Moreau")

    identity = verify_identity_token(token, secret=SECRET, now=NOW + timedelta(minutes=59))

    assert identity == VerifiedIdentity(customer_id="cus_1001", name="Alice Moreau")


def test_the_name_is_optional_and_a_secret_str_is_accepted() -> None:
    token = sign_identity_token("cus_1002", secret=SecretStr(SECRET), now=NOW, ttl=HOUR)

    identity = verify_identity_token(token, secret=SecretStr(SECRET), now=NOW)

    assert identity == VerifiedIdentity(customer_id="cus_1002", name=None)


def test_signed_claims_are_sub_iat_exp_and_name() -> None:
    token = sign_identity_token("cus_1001", secret=SECRET, now=NOW, ttl=HOUR, name="Alice")

    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})

    assert claims == {
        "sub": "cus_1001",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + HOUR).timestamp()),
        "name": "Alice",
    }


def test_expiry_is_checked_against_the_passed_clock_not_the_real_one() -> None:
    # Signed in 2024 for an hour: long expired by the real clock, valid by the passed one.
    token = sign_identity_token("cus_1001", secret=SECRET, now=NOW, ttl=HOUR)

    assert verify_identity_token(token, secret=SECRET, now=NOW).customer_id == "cus_1001"
    error = _rejected(token, now=NOW + 2 * HOUR)
    assert error.reason_code == "expired"
    assert "cus_1001" in str(error)


def test_a_token_from_the_future_is_checked_against_the_passed_clock_too() -> None:
    later = datetime(2999, 1, 1, tzinfo=UTC)
    token = sign_identity_token("cus_1001", secret=SECRET, now=later, ttl=HOUR)

    assert verify_identity_token(token, secret=SECRET, now=later).customer_id == "cus_1001"


def test_leeway_accepts_a_token_just_past_its_expiry() -> None:
    token = sign_identity_token("cus_1001", secret=SECRET, now=NOW, ttl=HOUR)
    expiry = NOW + HOUR

    assert verify_identity_token(token, secret=SECRET, now=expiry + timedelta(seconds=29))
    assert _rejected(token, now=expiry + timedelta(seconds=30)).reason_code == "expired"
    assert _rejected(token, now=expiry, leeway=timedelta(0)).reason_code == "expired"
    assert verify_identity_token(
        token, secret=SECRET, now=expiry + timedelta(minutes=4), leeway=timedelta(minutes=5)
    )


def test_a_token_signed_with_another_secret_has_a_bad_signature() -> None:
    token = sign_identity_token(
        "cus_1001", secret="another-secret-also-32-bytes-or-more!", now=NOW, ttl=HOUR
    )

    assert _rejected(token).reason_code == "bad_signature"


def test_a_tampered_payload_has_a_bad_signature() -> None:
    token = sign_identity_token("cus_1001", secret=SECRET, now=NOW, ttl=HOUR)
    header, _, signature = token.split(".")
    forged_claims = {"sub": "cus_1002", "iat": int(NOW.timestamp()), "exp": 2**40}
    forged = f"{header}.{_b64(forged_claims)}.{signature}"

    assert _rejected(forged).reason_code == "bad_signature"


def test_an_unsigned_token_is_refused() -> None:
    claims = {"sub": "cus_1001", "iat": int(NOW.timestamp()), "exp": int((NOW + HOUR).timestamp())}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."

    assert _rejected(unsigned).reason_code == "bad_signature"


def test_a_token_signed_with_another_algorithm_is_refused() -> None:
    claims = {"sub": "cus_1001", "iat": int(NOW.timestamp()), "exp": int((NOW + HOUR).timestamp())}
    token = jwt.encode(claims, SECRET + SECRET, algorithm="HS512")

    assert _rejected(token).reason_code == "bad_signature"


@pytest.mark.parametrize("missing", ["sub", "iat", "exp"])
def test_a_token_without_a_required_claim_is_refused(missing: str) -> None:
    claims = {"sub": "cus_1001", "iat": int(NOW.timestamp()), "exp": int((NOW + HOUR).timestamp())}
    del claims[missing]

    error = _rejected(_sign(**claims))

    assert error.reason_code == "missing_claim"
    assert missing in str(error)


def test_a_blank_subject_is_a_missing_claim() -> None:
    error = _rejected(_sign(sub="  ", iat=int(NOW.timestamp()), exp=int(NOW.timestamp()) + 60))

    assert error.reason_code == "missing_claim"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "   ",
        "not-a-jwt",
        "a.b.c",
        "only.two",
        f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64({'sub': 'x'})}.%%%",
    ],
)
def test_a_string_that_is_not_a_jwt_is_malformed(token: str) -> None:
    assert _rejected(token).reason_code == "malformed"


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": 1001, "iat": 1, "exp": 2**40},
        {"sub": "cus_1001", "iat": "yesterday", "exp": 2**40},
        {"sub": "cus_1001", "iat": 1, "exp": "tomorrow"},
        {"sub": "cus_1001", "iat": 1, "exp": True},
        {"sub": "cus_1001", "iat": 1, "exp": 2**40, "name": ["Alice"]},
    ],
)
def test_a_claim_of_the_wrong_type_is_malformed(claims: dict[str, object]) -> None:
    assert _rejected(_sign(**claims)).reason_code == "malformed"


def test_rejection_is_a_handoff_error_with_a_message() -> None:
    error = _rejected("not-a-jwt")

    assert isinstance(error, HandoffError)
    assert error.message == str(error)
    assert "not a valid JWT" in error.message


@pytest.mark.parametrize("verify", [True, False])
def test_a_naive_clock_is_a_programming_error(verify: bool) -> None:
    naive = datetime(2024, 11, 27, 10, 0)
    with pytest.raises(ValueError, match="aware"):
        if verify:
            verify_identity_token("x.y.z", secret=SECRET, now=naive)
        else:
            sign_identity_token("cus_1001", secret=SECRET, now=naive, ttl=HOUR)


def test_signing_refuses_a_blank_customer_or_a_non_positive_ttl() -> None:
    with pytest.raises(ValueError, match="blank"):
        sign_identity_token(" ", secret=SECRET, now=NOW, ttl=HOUR)
    with pytest.raises(ValueError, match="ttl"):
        sign_identity_token("cus_1001", secret=SECRET, now=NOW, ttl=timedelta(0))


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def test_the_secret_is_unset_by_default_and_the_public_demo_one_in_demo_mode() -> None:
    assert Settings().identity.secret is None
    assert Settings().identity.token_ttl_seconds == 3600

    demo = Settings(demo_mode=True).identity
    assert demo.require_secret().get_secret_value() == DEMO_IDENTITY_SECRET


def test_a_secret_of_its_own_is_kept_in_demo_mode_too() -> None:
    demo = Settings(demo_mode=True, identity=IdentitySettings(secret=SECRET))

    assert demo.identity.require_secret().get_secret_value() == SECRET


def test_an_unset_secret_cannot_be_used() -> None:
    with pytest.raises(ConfigurationError, match="HANDOFF_IDENTITY__SECRET"):
        IdentitySettings().require_secret()


def test_the_identity_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_IDENTITY__SECRET", SECRET)
    monkeypatch.setenv("HANDOFF_IDENTITY__TOKEN_TTL_SECONDS", "600")
    identity = Settings().identity
    assert identity.require_secret().get_secret_value() == SECRET
    assert identity.token_ttl_seconds == 600


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        IdentitySettings(secret="too-short")


# --------------------------------------------------------------------------------------------
# The bank's record
# --------------------------------------------------------------------------------------------


@pytest.fixture
def bank() -> Iterator[Engine]:
    engine = create_bank_engine("sqlite://")
    create_demo_bank(engine, NOW)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("customer_id", "name", "tier"),
    [
        ("cus_1001", "Alice Moreau", CustomerTier.STANDARD),
        ("cus_1002", "Ben Okafor", CustomerTier.PREMIUM),
        ("cus_1006", "Farid Haddad", CustomerTier.PLUS),
    ],
)
def test_a_verified_customer_resolves_to_the_banks_record(
    bank: Engine, customer_id: str, name: str, tier: CustomerTier
) -> None:
    # The token's name is for display only; the bank's record wins.
    profile = resolve_customer(VerifiedIdentity(customer_id, name="Someone Else"), bank)

    assert (profile.customer_id, profile.name, profile.tier) == (customer_id, name, tier)
    assert profile.tier == tier.value  # a StrEnum: compares and serialises as its value


def test_an_id_the_bank_does_not_know_is_an_unknown_customer(bank: Engine) -> None:
    with pytest.raises(UnknownCustomer) as caught:
        resolve_customer(VerifiedIdentity("cus_9999"), bank)

    assert caught.value.customer_id == "cus_9999"
    assert isinstance(caught.value, HandoffError)


def test_a_bank_that_cannot_be_read_is_a_dependency_unavailable(tmp_path: Path) -> None:
    engine = create_read_only_bank_engine(f"sqlite:///{tmp_path / 'missing.sqlite'}")
    try:
        with pytest.raises(DependencyUnavailable, match="cus_1001") as caught:
            resolve_customer(VerifiedIdentity("cus_1001"), engine)
    finally:
        engine.dispose()

    assert caught.value.dependency == "bank_database"
