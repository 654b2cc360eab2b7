"""Who the customer is: identity tokens signed by the bank's website, and the bank's record.

Identity verification as Intercom and Chatwoot do it: the website where the customer is signed
in signs a short-lived token naming the customer with a secret it shares with this service
(:class:`handoff.settings.IdentitySettings`); the chat widget hands the token over and the
service trusts the customer id only once the signature checks out. A token is a JWT signed with
HS256 and these claims::

    {"sub": "cus_1001", "iat": 1732700000, "exp": 1732703600, "name": "Alice Moreau"}

``sub``, ``iat`` and ``exp`` are required, ``name`` is optional (for display only: the bank's
record is authoritative). Verification takes the clock as an argument, so it is a pure function
and its tests need no time travel. :func:`resolve_customer` then looks the customer up in the
demo bank.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from demobank.exceptions import CustomerNotFound
from demobank.models import CustomerTier
from demobank.queries import get_customer
from handoff.exceptions import DependencyUnavailable, HandoffError

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "iat", "exp")
DEFAULT_LEEWAY = timedelta(seconds=30)
BANK_DEPENDENCY = "bank_database"  # the name the readiness check gives the demo bank
# The typ claim of agents' access tokens (handoff.agents.tokens): never a customer's identity,
# even should both kinds of token be signed with one secret.
AGENT_TOKEN_TYPE = "agent"

RejectionReason = Literal["expired", "bad_signature", "malformed", "missing_claim"]

# PyJWT would check exp, iat and nbf against the real clock; every claim is checked here
# instead, against the clock the caller passes. Only the signature is left to PyJWT.
_SIGNATURE_ONLY = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


class IdentityRejected(HandoffError):
    """An identity token that cannot be trusted.

    ``reason_code`` is one of ``"expired"``, ``"bad_signature"``, ``"malformed"``,
    ``"missing_claim"``; ``str(error)`` says what was wrong, for logs (never for the customer).
    """

    def __init__(self, reason_code: RejectionReason, message: str) -> None:
        super().__init__(message)
        self.reason_code: RejectionReason = reason_code
        self.message = message


class UnknownCustomer(HandoffError):
    """A verified token names a customer the bank does not know."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id!r} in the bank")
        self.customer_id = customer_id


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """The customer a valid token vouches for; ``name`` as the website sent it, if it did."""

    customer_id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """The bank's record of a verified customer: what the queue and the agents see."""

    customer_id: str
    name: str
    tier: CustomerTier


def sign_identity_token(
    customer_id: str,
    *,
    secret: str | SecretStr,
    now: datetime,
    ttl: timedelta,
    name: str | None = None,
) -> str:
    """An identity token for ``customer_id``, valid from ``now`` for ``ttl``.

    What the bank's website does server side; here for the demo page and tests.

    Raises:
        ValueError: ``customer_id`` is blank, ``now`` is naive or ``ttl`` is not positive.
    """
    if not customer_id.strip():
        raise ValueError("customer_id must not be blank")
    _require_aware(now)
    if ttl <= timedelta(0):
        raise ValueError(f"ttl must be positive, got {ttl}")
    claims: dict[str, Any] = {
        "sub": customer_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, _secret_value(secret), algorithm=ALGORITHM)


def verify_identity_token(
    token: str,
    *,
    secret: str | SecretStr,
    now: datetime,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> VerifiedIdentity:
    """The customer ``token`` vouches for, if it is signed with ``secret`` and valid at ``now``.

    ``leeway`` absorbs clock skew between the website and this service: a token is accepted
    until ``exp + leeway``.

    Raises:
        IdentityRejected: with reason ``bad_signature`` (wrong secret, altered token, or an
            algorithm other than HS256), ``malformed`` (not a JWT, or a claim of the wrong
            type), ``missing_claim`` (no ``sub``, ``iat`` or ``exp``) or ``expired``.
        ValueError: ``now`` is naive.
    """
    _require_aware(now)
    claims = _decode_signed(token, secret)
    if claims.get("typ") == AGENT_TOKEN_TYPE:
        raise IdentityRejected(
            "malformed", "an agent's access token, not a customer identity token"
        )

    missing = [claim for claim in REQUIRED_CLAIMS if claims.get(claim) is None]
    if missing:
        raise IdentityRejected("missing_claim", f"identity token lacks {', '.join(missing)}")

    subject = claims["sub"]
    if not isinstance(subject, str):
        raise IdentityRejected("malformed", "identity token 'sub' is not a string")
    if not subject.strip():
        raise IdentityRejected("missing_claim", "identity token 'sub' is blank")
    for claim in ("iat", "exp"):
        if not _is_timestamp(claims[claim]):
            raise IdentityRejected("malformed", f"identity token '{claim}' is not a timestamp")

    # The same rule as PyJWT's: expired once exp <= now - leeway.
    if claims["exp"] <= now.timestamp() - leeway.total_seconds():
        raise IdentityRejected(
            "expired", f"identity token of {subject!r} expired at {_utc_iso(claims['exp'])}"
        )

    name = claims.get("name")
    if name is not None and not isinstance(name, str):
        raise IdentityRejected("malformed", "identity token 'name' is not a string")
    return VerifiedIdentity(customer_id=subject.strip(), name=(name or "").strip() or None)


def resolve_customer(identity: VerifiedIdentity, bank_engine: Engine) -> CustomerProfile:
    """The bank's record of the verified customer (a blocking read: call it in a thread).

    Raises:
        UnknownCustomer: no customer has the token's id.
        DependencyUnavailable: the bank database cannot be read.
    """
    try:
        with Session(bank_engine) as session:
            customer = get_customer(session, identity.customer_id)
            return CustomerProfile(customer_id=customer.id, name=customer.name, tier=customer.tier)
    except CustomerNotFound:
        raise UnknownCustomer(identity.customer_id) from None
    except DBAPIError as exc:
        raise DependencyUnavailable(
            BANK_DEPENDENCY,
            f"cannot read customer {identity.customer_id!r} from the bank database: "
            f"{type(exc.orig).__name__}: {exc.orig}",
        ) from exc


def _decode_signed(token: str, secret: str | SecretStr) -> dict[str, Any]:
    """The token's claims once its HS256 signature is verified; no claim is checked."""
    if not isinstance(token, str) or not token.strip():
        raise IdentityRejected("malformed", "identity token is empty")
    try:
        return jwt.decode(
            token.strip(), _secret_value(secret), algorithms=[ALGORITHM], options=_SIGNATURE_ONLY
        )
    # InvalidSignatureError is a DecodeError, so it goes first.
    except jwt.InvalidSignatureError:
        raise IdentityRejected(
            "bad_signature", "identity token signature does not match the shared secret"
        ) from None
    except jwt.InvalidAlgorithmError:
        # "alg": "none" or another algorithm: never trusted, whatever the claims say.
        raise IdentityRejected(
            "bad_signature", f"identity token is not signed with {ALGORITHM}"
        ) from None
    except jwt.InvalidTokenError as exc:
        raise IdentityRejected("malformed", f"identity token is not a valid JWT: {exc}") from None


def _secret_value(secret: str | SecretStr) -> str:
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not value:
        raise ValueError("the identity secret must not be empty")
    return value


def _require_aware(now: datetime) -> None:
    # A naive datetime's timestamp() is read in the machine's local time zone, which would
    # shift every expiry by the UTC offset.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime, e.g. datetime.now(UTC)")


def _is_timestamp(value: object) -> bool:
    # bool is an int subclass; JSON's "Infinity" would make a token that never expires.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _utc_iso(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat()
    except (OverflowError, OSError, ValueError):  # far outside the years datetime can hold
        return f"timestamp {timestamp}"
