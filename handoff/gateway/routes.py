"""REST routes of the gateway: the brief's JSON Schema and the demo identities.

``/api/demo/*`` plays the bank's website for the demo page: it lists the demo customers and
signs identity tokens for them on the server side, as a real host site signs tokens for its
logged-in users. It exists only in demo mode (``HANDOFF_DEMO_MODE=true``, which ``make run``
sets); a deployment lets its own site sign.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from demobank import queries
from demobank.exceptions import CustomerNotFound
from handoff.brief.json_schema import brief_json_schema
from handoff.gateway.customer_socket import Gateway
from handoff.gateway.identity import sign_identity_token
from handoff.request_bodies import StrictJsonRoute

router = APIRouter(prefix="/api", route_class=StrictJsonRoute)


class DemoCustomer(BaseModel):
    """A demo customer the demo page can play."""

    id: str
    name: str
    tier: str


class IdentityRequest(BaseModel):
    """Which demo customer to sign a token for."""

    customer_id: str = Field(min_length=1, max_length=20)


class IdentityToken(BaseModel):
    """A signed identity token to put in the ``start`` frame."""

    customer_id: str
    token: str
    expires_at: datetime


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _demo_gateway(gateway: Annotated[Gateway, Depends(_gateway)]) -> Gateway:
    if not gateway.settings.demo_mode:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "demo identities exist in demo mode only")
    return gateway


@router.get("/schema/handoff-brief", tags=["schema"])
async def handoff_brief_schema() -> dict[str, Any]:
    """The JSON Schema of the handoff brief an agent receives (also in ``docs/``)."""
    return brief_json_schema()


@router.get("/demo/customers", tags=["demo"])
async def demo_customers(gateway: Annotated[Gateway, Depends(_demo_gateway)]) -> list[DemoCustomer]:
    """The demo bank's customers, with their account tiers."""

    def read() -> list[DemoCustomer]:
        with Session(gateway.bank_engine) as session:
            return [
                DemoCustomer(id=c.id, name=c.name, tier=c.tier.value)
                for c in queries.list_customers(session)
            ]

    return await asyncio.to_thread(read)


@router.post("/demo/identity-token", tags=["demo"])
async def demo_identity_token(
    body: IdentityRequest, gateway: Annotated[Gateway, Depends(_demo_gateway)]
) -> IdentityToken:
    """An identity token for a demo customer, signed here as the bank's website would."""

    def exists() -> bool:
        with Session(gateway.bank_engine) as session:
            try:
                queries.get_customer(session, body.customer_id)
            except CustomerNotFound:
                return False
            return True

    if not await asyncio.to_thread(exists):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no demo customer {body.customer_id!r}; GET /api/demo/customers lists them",
        )
    now = gateway.service.clock()
    ttl = timedelta(seconds=gateway.settings.identity.token_ttl_seconds)
    token = sign_identity_token(
        body.customer_id, secret=gateway.settings.identity.require_secret(), now=now, ttl=ttl
    )
    return IdentityToken(customer_id=body.customer_id, token=token, expires_at=now + ttl)
