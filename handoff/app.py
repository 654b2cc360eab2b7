"""The handoff service's HTTP application.

:func:`create_app` builds it; the lifespan opens the shared HTTP client and database engines and
loads the sentiment classifier (running its micro-batcher) on start-up, and releases them on
shutdown. A missing sentiment model does not stop the service: ``/healthz`` answers and
``/readyz`` reports the failing check with the command that builds the model. Routes so far:

* ``GET /healthz``: liveness. The process answers; no dependency is checked, so a slow Rasa
  never gets the service restarted.
* ``GET /readyz``: readiness. 200 when every dependency check passes, else 503; both list the
  checks by name with pass or fail. Their details (URLs, database paths, model files, error
  text) only for a supervisor's ``Authorization: Bearer <agent token>``: they map the
  deployment, and load balancers need only the status code.
* ``/api/agents/login`` and ``/api/agents/me``: agents' log-in (see :mod:`handoff.agents.routes`).
* ``/ws/customer`` and ``/ws/agent``: the customers' chat and the agents' desk
  (:mod:`handoff.gateway.customer_socket`, :mod:`handoff.agents.socket`).
* ``/``, ``/widget.js``, ``/agent``, ``/supervisor``: the browser pages (:mod:`handoff.web`).

OpenAPI stays on: the interactive docs are at ``/docs`` and ``/redoc``
(:mod:`handoff.web.api_docs`). Every HTTP response carries the security headers of
:mod:`handoff.web.headers` (Content-Security-Policy, frame-ancestors, nosniff, Referrer-Policy).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Request, Response, status
from pydantic import BaseModel, Field

from handoff import __version__
from handoff.agents import routes as agent_routes
from handoff.agents import socket as agent_socket
from handoff.agents.accounts import AgentRecord, AgentStore, policy_teams
from handoff.agents.canned import load_canned_responses
from handoff.agents.desk import AgentDesk
from handoff.agents.monitor import SlaMonitor, monitor_policy
from handoff.escalation.policy import load_escalation_policy
from handoff.gateway import customer_socket, routes
from handoff.gateway.conversations import ConversationService, HandoffObserver
from handoff.gateway.customer_socket import Gateway
from handoff.gateway.hub import ConversationHub
from handoff.gateway.presence import PresenceRegistry
from handoff.gateway.rasa_client import RasaTurnClient
from handoff.gateway.sentiment_reader import BatcherSentimentReader
from handoff.limits import ServiceLimits
from handoff.readiness import CheckResult, Probe, all_ok, check_all, default_probes
from handoff.request_bodies import StrictJsonRoute
from handoff.resources import Resources, open_resources
from handoff.settings import DEMO_MODE_WARNING, Settings, get_settings, require_safe_start
from handoff.store.agent_work import AgentWorkStore
from handoff.store.database import upgrade_database
from handoff.store.repository import ConversationStore, HandoffRecord
from handoff.trainer.inbox import InboxIntake, InboxRules
from handoff.web import pages
from handoff.web.api_docs import add_api_docs
from handoff.web.headers import SecurityHeaders

logger = logging.getLogger(__name__)


class Liveness(BaseModel):
    """The answer of ``/healthz``."""

    status: Literal["alive"] = "alive"


class CheckView(BaseModel):
    """One check of ``/readyz``; ``detail`` and ``latency_ms`` only for a supervisor."""

    name: str
    ok: bool
    detail: str | None = Field(default=None, description="Supervisors only.")
    latency_ms: float | None = Field(default=None, description="Supervisors only.")

    @classmethod
    def of(cls, result: CheckResult, *, details: bool) -> CheckView:
        """The view of ``result``, with or without what it found."""
        if not details:
            return cls(name=result.name, ok=result.ok)
        return cls(
            name=result.name, ok=result.ok, detail=result.detail, latency_ms=result.latency_ms
        )


class Readiness(BaseModel):
    """The answer of ``/readyz``: the verdict and every check behind it."""

    status: Literal["ready", "not_ready"]
    checks: list[CheckView]


def create_app(settings: Settings | None = None, probes: Sequence[Probe] | None = None) -> FastAPI:
    """Build the service.

    ``settings`` defaults to :func:`~handoff.settings.get_settings`. ``probes`` replaces the
    readiness probes built on the shared clients (tests pass fakes); the clients are opened
    either way, since the service's other routes will use them.
    """
    settings = settings if settings is not None else get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        require_safe_start(settings)  # fail closed: no placeholder or missing secret
        if settings.demo_mode:
            logger.warning(DEMO_MODE_WARNING)
        async with open_resources(settings) as resources:
            # Migrations run before the first socket is accepted: the schema is always current.
            await asyncio.to_thread(upgrade_database, resources.service_engine)
            app.state.settings = settings
            # One set of limiters for the sockets and the login (in memory, this process).
            app.state.limits = ServiceLimits.from_settings(settings.limits)
            presence = PresenceRegistry()  # the desk updates it, wait estimates read it
            app.state.gateway = build_gateway(
                settings, resources, presence=presence, on_queued=_push_to_desk(app)
            )
            app.state.desk = build_desk(settings, resources, app.state.gateway, presence)
            # Started after the desk it alerts through; stopped before the engines close.
            monitor = build_monitor(settings, resources, app.state.gateway, app.state.desk)
            app.state.monitor = monitor
            monitor.start()
            app.state.agent_store = AgentStore(resources.service_engine)
            app.state.work_store = AgentWorkStore(resources.service_engine)
            # Loaded once here; routes score through its batcher, never loading a model.
            app.state.sentiment = resources.sentiment
            app.state.probes = (
                list(probes) if probes is not None else default_probes(settings, resources)
            )
            logger.info(
                "handoff service %s started (Rasa %s, action server %s)",
                __version__,
                settings.rasa.url,
                settings.actions.url,
            )
            yield
            await monitor.stop()
            await app.state.desk.close()  # stops agents' grace countdowns
            await app.state.gateway.service.drain()
        logger.info("handoff service stopped")

    app = FastAPI(
        title="Handoff desk",
        summary="Takes customer conversations over from the Rasa assistant.",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served by add_api_docs, with a Content-Security-Policy that fits them
        redoc_url=None,
    )
    app.router.route_class = StrictJsonRoute  # as every router's: no body is read laxly
    app.add_middleware(SecurityHeaders, settings=settings)
    add_api_docs(app)
    _add_health_routes(app)
    app.include_router(customer_socket.router)
    app.include_router(agent_socket.router)
    app.include_router(routes.router)
    app.include_router(agent_routes.router)
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")
    return app


def build_gateway(
    settings: Settings,
    resources: Resources,
    *,
    presence: PresenceRegistry | None = None,
    on_queued: HandoffObserver | None = None,
) -> Gateway:
    """The conversation service and the customer socket's collaborators.

    ``presence`` is the registry of online agents (the agent desk's); ``on_queued`` is told of
    every handoff the moment it is queued.
    """
    channel_token = settings.rasa.channel_token
    api_token = settings.rasa.auth_token  # the HTTP API's (setting the hand-back summary)
    policy = load_escalation_policy(settings)
    service = ConversationService(
        store=ConversationStore(resources.service_engine),
        hub=(hub := ConversationHub()),
        assistant=RasaTurnClient(
            resources.http_client,
            settings.rasa.url,
            token=None if channel_token is None else channel_token.get_secret_value(),
            timeout=settings.rasa.request_timeout_seconds,
            api_token=None if api_token is None else api_token.get_secret_value(),
        ),
        sentiment=BatcherSentimentReader(resources.sentiment),
        policy=policy,
        presence=presence if presence is not None else PresenceRegistry(),
        average_handle=timedelta(minutes=settings.gateway.average_handle_minutes),
        on_queued=on_queued,
        inbox_intake=InboxIntake(
            InboxRules.from_policy(policy, settings.trainer.ambiguous_margin),
            phone_region=settings.trainer.phone_region,
        ),
    )
    return Gateway(settings=settings, service=service, hub=hub, bank_engine=resources.bank_engine)


def build_desk(
    settings: Settings, resources: Resources, gateway: Gateway, presence: PresenceRegistry
) -> AgentDesk:
    """The agents' desk, on the gateway's service and hub.

    The canned responses are read here: a bad file stops the start-up with a
    :class:`~handoff.exceptions.ConfigurationError` naming it.
    """
    policy = load_escalation_policy(settings)
    teams = policy_teams(policy)
    return AgentDesk(
        service=gateway.service,
        work=AgentWorkStore(resources.service_engine),
        hub=gateway.hub,
        presence=presence,
        teams=teams,
        team_rules=policy.teams,
        grace=timedelta(seconds=settings.agents.grace_seconds),
        canned=load_canned_responses(settings.agents.canned_responses_file, known_teams=teams),
        warning_fraction=settings.monitor.warning_fraction,
    )


def build_monitor(
    settings: Settings, resources: Resources, gateway: Gateway, desk: AgentDesk
) -> SlaMonitor:
    """The SLA monitor over the desk's store, hub and supervisors (not started)."""
    policy = load_escalation_policy(settings)
    return SlaMonitor(
        work=AgentWorkStore(resources.service_engine),
        store=gateway.service.store,
        hub=gateway.hub,
        desk=desk,
        policy=monitor_policy(policy, warning_fraction=settings.monitor.warning_fraction),
        interval_seconds=settings.monitor.interval_seconds,
        clock=gateway.service.clock,
        announce_queue=gateway.service.announce_queue,
    )


def _push_to_desk(app: FastAPI) -> HandoffObserver:
    # The service is built before the desk that observes it: look the desk up when called.
    async def push(handoff: HandoffRecord) -> None:
        desk: AgentDesk = app.state.desk
        await desk.on_handoff_queued(handoff)

    return push


def _probes(request: Request) -> list[Probe]:
    probes: list[Probe] = request.app.state.probes
    return probes


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _add_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> Liveness:
        """Liveness: the process is up and serving. Checks no dependency."""
        return Liveness()

    @app.get(
        "/readyz",
        tags=["health"],
        response_model_exclude_none=True,
        responses={
            status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness},
            status.HTTP_401_UNAUTHORIZED: {"description": "A token was sent but is not valid"},
            status.HTTP_403_FORBIDDEN: {"description": "The token is not a supervisor's"},
        },
    )
    async def readyz(
        response: Response,
        probes: Annotated[list[Probe], Depends(_probes)],
        settings: Annotated[Settings, Depends(_settings)],
        viewer: Annotated[AgentRecord | None, Depends(agent_routes.optional_agent)],
    ) -> Readiness:
        """Readiness: 200 when Rasa, the action server, the databases and the sentiment model
        all answer, else 503. Each check's detail and latency only with a supervisor's token.
        """
        if viewer is not None:
            agent_routes.require_supervisor(viewer, "readiness details are")
        results = await check_all(probes, settings.readiness.probe_timeout_seconds)
        checks = [CheckView.of(result, details=viewer is not None) for result in results]
        if all_ok(results):
            return Readiness(status="ready", checks=checks)
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(status="not_ready", checks=checks)
