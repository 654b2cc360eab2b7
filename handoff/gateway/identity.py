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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from demobank.exceptions import CustomerNotFound
from demobank.models import CustomerTier
from demobank.queries import get_customer
from handoff.exceptions import DependencyUnavailable, HandoffError
from handoff.signed_tokens import (
    DEFAULT_LEEWAY,
    TokenRejected,
    check_lifetime,
    decode_signed,
    require_aware,
    sign,
)

logger = logging.getLogger(__name__)

WHAT = "identity token"  # how errors name this kind of token
REQUIRED_CLAIMS = ("sub", "iat", "exp")
BANK_DEPENDENCY = "bank_database"  # the name the readiness check gives the demo bank
# The typ claim of agents' access tokens (handoff.agents.tokens): never a customer's identity,
# even should both kinds of token be signed with one secret.
AGENT_TOKEN_TYPE = "agent"

RejectionReason = Literal["expired", "bad_signature", "malformed", "missing_claim"]

# PyJWT would check exp, iat and nbf against the real clock; every claim is checked here
# instead, against the clock the caller passes. Only the signature is left to PyJWT.


class IdentityRejected(TokenRejected):
    """An identity token that cannot be trusted.

    ``reason_code`` is one of ``"expired"``, ``"bad_signature"``, ``"malformed"``,
    ``"missing_claim"``; ``str(error)`` says what was wrong, for logs (never for the customer).
    """

    def __init__(self, reason_code: RejectionReason, message: str) -> None:
        super().__init__(reason_code, message)
        self.reason_code: RejectionReason = reason_code


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
    require_aware(now)
    if ttl <= timedelta(0):
        raise ValueError(f"ttl must be positive, got {ttl}")
    claims: dict[str, Any] = {
        "sub": customer_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if name is not None:
        claims["name"] = name
    return sign(claims, secret, WHAT)


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
    require_aware(now)
    claims = decode_signed(token, secret, what=WHAT, reject=IdentityRejected)
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
    check_lifetime(claims, now=now, leeway=leeway, what=WHAT, reject=IdentityRejected)

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
