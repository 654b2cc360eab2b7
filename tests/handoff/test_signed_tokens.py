"""The HS256 mechanics shared by customer identity tokens and agent tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff.signed_tokens import TokenRejected, check_lifetime, decode_signed, sign

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SECRET = "s" * 32


class WidgetTokenRejected(TokenRejected):
    """A token kind of the test's own, to show errors come out as the caller's class."""


def claims(**extra: object) -> dict[str, object]:
    return {"sub": "x", "iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 60, **extra}


def test_a_signed_token_round_trips() -> None:
    token = sign(claims(), SECRET, "widget token")

    decoded = decode_signed(token, SECRET, what="widget token", reject=WidgetTokenRejected)

    assert decoded["sub"] == "x"
    issued, expires = check_lifetime(
        decoded, now=NOW, leeway=timedelta(0), what="widget token", reject=WidgetTokenRejected
    )
    assert (issued, expires) == (NOW, NOW + timedelta(seconds=60))


@pytest.mark.parametrize(
    ("token", "secret", "reason"),
    [
        ("", SECRET, "malformed"),
        ("not-a-jwt", SECRET, "malformed"),
        (None, SECRET, "malformed"),
    ],
    ids=["empty", "garbage", "none"],
)
def test_unreadable_tokens_are_malformed(token: object, secret: str, reason: str) -> None:
    with pytest.raises(WidgetTokenRejected) as caught:
        decode_signed(token, secret, what="widget token", reject=WidgetTokenRejected)  # type: ignore[arg-type]
    assert caught.value.reason_code == reason
    assert "widget token" in str(caught.value)


def test_another_secret_is_a_bad_signature() -> None:
    token = sign(claims(), SECRET, "widget token")
    with pytest.raises(WidgetTokenRejected) as caught:
        decode_signed(token, "t" * 32, what="widget token", reject=WidgetTokenRejected)
    assert caught.value.reason_code == "bad_signature"


@pytest.mark.parametrize(
    ("overrides", "leeway", "reason"),
    [
        ({"exp": int(NOW.timestamp())}, timedelta(0), "expired"),
        ({"exp": True}, timedelta(0), "malformed"),
        ({"iat": float("inf")}, timedelta(0), "malformed"),
        ({"exp": 10**18}, timedelta(0), "malformed"),
    ],
    ids=["expired-now", "bool-exp", "infinite-iat", "out-of-range"],
)
def test_lifetime_checks(overrides: dict[str, object], leeway: timedelta, reason: str) -> None:
    with pytest.raises(WidgetTokenRejected) as caught:
        check_lifetime(
            claims(**overrides), now=NOW, leeway=leeway, what="widget token",
            reject=WidgetTokenRejected,
        )  # fmt: skip
    assert caught.value.reason_code == reason


def test_leeway_keeps_a_just_expired_token() -> None:
    issued, expires = check_lifetime(
        claims(exp=int(NOW.timestamp()) - 10), now=NOW, leeway=timedelta(seconds=30),
        what="widget token", reject=WidgetTokenRejected,
    )  # fmt: skip
    assert expires == NOW - timedelta(seconds=10)
