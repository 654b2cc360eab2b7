"""HS256 signed tokens with the time passed in: what customer identity tokens and agent access
tokens have in common.

PyJWT checks the signature only; every claim, expiry included, is checked here against the
``now`` the caller passes, so verification is pure and testable. Each kind of token raises its
own :class:`TokenRejected` subclass, named in ``reject``, with a text that says which kind of
token was refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pydantic import SecretStr

from handoff.exceptions import HandoffError

ALGORITHM = "HS256"
DEFAULT_LEEWAY = timedelta(seconds=30)

# Only the signature: the time claims are checked against the caller's clock below.
_SIGNATURE_ONLY = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


class TokenRejected(HandoffError):
    """A token that cannot be trusted; ``reason_code`` is machine-readable, ``str()`` for logs."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def require_aware(now: datetime) -> None:
    """Refuse a naive ``now``: its timestamp() would be read in local time, shifting expiries."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime, e.g. datetime.now(UTC)")


def secret_value(secret: str | SecretStr, what: str) -> str:
    """The secret as a string; an empty one is a configuration bug."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not value:
        raise ValueError(f"the {what} secret must not be empty")
    return value


def sign(claims: Mapping[str, Any], secret: str | SecretStr, what: str) -> str:
    """``claims`` signed with HS256."""
    return jwt.encode(dict(claims), secret_value(secret, what), algorithm=ALGORITHM)


def decode_signed(
    token: str, secret: str | SecretStr, *, what: str, reject: type[TokenRejected]
) -> dict[str, Any]:
    """The token's claims once its HS256 signature is verified; no claim is checked."""
    if not isinstance(token, str) or not token.strip():
        raise reject("malformed", f"{what} is empty")
    try:
        return jwt.decode(
            token.strip(),
            secret_value(secret, what),
            algorithms=[ALGORITHM],
            options=_SIGNATURE_ONLY,
        )
    except jwt.InvalidSignatureError:  # a DecodeError, so it goes first
        raise reject("bad_signature", f"{what} signature does not match the secret") from None
    except jwt.InvalidAlgorithmError:  # "alg": "none" or another algorithm: never trusted
        raise reject("bad_signature", f"{what} is not signed with {ALGORITHM}") from None
    except jwt.InvalidTokenError as exc:
        raise reject("malformed", f"{what} is not a valid JWT: {exc}") from None


def check_lifetime(
    claims: Mapping[str, Any],
    *,
    now: datetime,
    leeway: timedelta,
    what: str,
    reject: type[TokenRejected],
) -> tuple[datetime, datetime]:
    """``(issued_at, expires_at)`` of claims whose ``iat``/``exp`` are present and valid now.

    The same rule as PyJWT's: expired once ``exp <= now - leeway``.
    """
    for claim in ("iat", "exp"):
        if not _is_timestamp(claims[claim]):
            raise reject("malformed", f"{what} '{claim}' is not a timestamp")
    issued_at = _moment(claims["iat"], what, reject)
    expires_at = _moment(claims["exp"], what, reject)
    if claims["exp"] <= now.timestamp() - leeway.total_seconds():
        raise reject(
            "expired", f"{what} of {claims.get('sub')!r} expired at {expires_at.isoformat()}"
        )
    return issued_at, expires_at


def _is_timestamp(value: object) -> bool:
    # bool is an int subclass; JSON's "Infinity" would make a token that never expires.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _moment(timestamp: float, what: str, reject: type[TokenRejected]) -> datetime:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):  # far outside the years datetime holds
        raise reject("malformed", f"{what} time {timestamp} is out of range") from None
