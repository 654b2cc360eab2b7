"""The one place for the handoff service's URLs, paths and thresholds.

Values come from the environment, prefixed ``HANDOFF_``; nested groups are reached with a double
underscore, e.g. ``HANDOFF_SERVER__PORT=8001`` or ``HANDOFF_RASA__URL=http://rasa:5005``. Nothing
is read at import time: call :func:`get_settings` (cached, for the running service) or build
:class:`Settings` directly (tests, or to pass explicit values as keyword arguments).

Obviously invalid values (a port out of range, a URL that is not http(s), a database URL that
SQLAlchemy cannot parse, a non-positive timeout) are refused with ``pydantic.ValidationError``.
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PositiveFloat,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from handoff.exceptions import ConfigurationError
from handoff.origins import normalise_origin

ENV_PREFIX = "HANDOFF_"
ENV_NESTED_DELIMITER = "__"

_HTTP_URL = TypeAdapter(HttpUrl)


def repo_root() -> Path:
    """The repository checkout: the folder that holds the ``handoff`` package."""
    return Path(__file__).resolve().parent.parent


def _http_base_url(value: str) -> str:
    # pydantic's HttpUrl does the checking (scheme http/https, a host); the value is kept as a
    # plain string without a trailing slash so callers can append "/status" and friends.
    try:
        url = _HTTP_URL.validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"not an http(s) URL: {exc.errors()[0]['msg']}") from None
    return str(url).rstrip("/")


def _database_url(value: str) -> str:
    # Parse and load the dialect now so a typo fails at start-up rather than on first query.
    # The DBAPI driver itself is only imported when an engine is built.
    try:
        make_url(value).get_dialect()
    except NoSuchModuleError as exc:  # a subclass of ArgumentError, so it goes first
        raise ValueError(f"unknown database dialect: {exc}") from None
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {exc}") from None
    return value


def _required(secret: SecretStr | None, variable: str) -> SecretStr:
    if secret is None:
        raise ConfigurationError(f"{variable} is not set")
    return secret


def _origin(value: str) -> str:
    origin = normalise_origin(value)
    if origin is None:
        raise ValueError(f"not an http(s) origin (scheme://host[:port], no path): {value!r}")
    return origin


def _user_cache_dir() -> Path:
    # The XDG base-directory convention: $XDG_CACHE_HOME when set, else ~/.cache.
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def _expand_user(value: Path) -> Path:
    return value.expanduser()


HttpBaseUrl = Annotated[str, AfterValidator(_http_base_url)]
"""An http(s) URL, stored without a trailing slash."""

DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
"""A SQLAlchemy database URL, e.g. ``sqlite:////abs/path.sqlite``."""

Origin = Annotated[str, AfterValidator(_origin)]
"""A web origin, stored normalised: ``http://localhost:8000``, ``https://bank.example``."""

LocalPath = Annotated[Path, AfterValidator(_expand_user)]
"""A filesystem path; a leading ``~`` is expanded."""


class _Group(BaseModel):
    # A misspelt key in a group (HANDOFF_SERVER__PROT) is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Group):
    """Where the handoff service listens."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8000, ge=1, le=65535)
    public_origins: tuple[Origin, ...] = Field(
        default=(),
        description=(
            "Origins (scheme://host[:port]) at which browsers load the service's own pages, "
            "e.g. https://chat.bank.example behind a proxy. Empty: http://localhost:<port>, "
            "http://127.0.0.1:<port> and http://<host>:<port> when host is a name or address "
            "other than a wildcard (0.0.0.0, ::)."
        ),
    )

    @property
    def origins(self) -> tuple[str, ...]:
        """The service's own origins: ``public_origins``, or the ones derived from host and port."""
        if self.public_origins:
            return self.public_origins
        hosts = ["localhost", "127.0.0.1"]
        if self.host not in ("0.0.0.0", "::", "", *hosts):
            hosts.append(f"[{self.host}]" if ":" in self.host else self.host)
        derived = (normalise_origin(f"http://{host}:{self.port}") for host in hosts)
        return tuple(origin for origin in derived if origin is not None)


class RasaSettings(_Group):
    """The Rasa server (started with ``--enable-api``)."""

    url: HttpBaseUrl = "http://localhost:5005"
    request_timeout_seconds: PositiveFloat = 10.0
    auth_token: SecretStr | None = Field(
        default=None,
        description=(
            "The token of Rasa's HTTP API (`--auth-token`), sent as ?token=. Required; "
            "`handoff stack` makes a random one per start when it is unset."
        ),
    )
    channel_token: SecretStr | None = Field(
        default=None,
        description=(
            "The handoff channel's bearer token (`token:` in bot/credentials.yml), sent as "
            "`Authorization: Bearer`. Required; `handoff stack` makes a random one per start "
            "when it is unset."
        ),
    )


class ActionsSettings(_Group):
    """The rasa-sdk action server."""

    url: HttpBaseUrl = "http://localhost:5055"
    token: SecretStr | None = Field(
        default=None,
        description=(
            "The secret Rasa sends the action server (`Authorization: Bearer`), which runs "
            "actions only for a caller that has it. `handoff stack` makes a random one per "
            "start when it is unset."
        ),
    )


class DatabaseSettings(_Group):
    """The handoff service's own database."""

    url: DatabaseUrl = Field(
        default_factory=lambda: f"sqlite:///{repo_root() / 'var' / 'handoff.sqlite'}"
    )


class BankSettings(_Group):
    """The demo bank's database, which the service only reads."""

    # The action server reads the same database from the BANK_DATABASE_URL environment
    # variable (see actions/bank_session.py); both default to var/demobank.sqlite, and when
    # one is overridden the other must be set to the same URL.
    url: DatabaseUrl = Field(
        default_factory=lambda: f"sqlite:///{repo_root() / 'var' / 'demobank.sqlite'}"
    )


class PathsSettings(_Group):
    """Folders for datasets, trained models and downloaded model files."""

    data_dir: LocalPath = Field(
        default_factory=lambda: repo_root().parent / "shared" / "data",
        description="Public datasets (Banking77 and others).",
    )
    models_dir: LocalPath = Field(default_factory=lambda: repo_root() / "models")
    model_cache_dir: LocalPath = Field(
        default_factory=lambda: _user_cache_dir() / "handoff-desk",
        description="Trained models cached by a hash of their inputs, shared by every checkout.",
    )
    run_dir: LocalPath = Field(
        default_factory=lambda: repo_root() / "var",
        description="Logs and generated runtime files of `make run`.",
    )


class SentimentSettings(_Group):
    """The customer-sentiment classifier the service loads at start-up."""

    model_dir: LocalPath = Field(
        default_factory=lambda: repo_root() / "models" / "sentiment",
        description="A save_pretrained folder of CustomerSentimentModel and its tokenizer.",
    )
    # One by default: the service shares its host with Rasa, which answers while the message
    # is scored. With two, ONNX Runtime's second thread spins between forward passes (15 ms of
    # CPU per message instead of 3) and the turn's Rasa call ran 25-30 ms slower on two cores.
    threads: int = Field(
        default=1,
        ge=1,
        description="Intra-op threads of the runtime (torch's: for the whole process); more "
        "only on a host with cores to spare beside Rasa.",
    )
    max_length: int = Field(
        default=128, ge=8, le=512, description="Tokens per message; longer ones are truncated."
    )
    max_batch: int = Field(
        default=64, ge=1, description="The most messages the batcher scores in one forward pass."
    )
    max_wait_ms: float = Field(
        default=1.0,
        ge=0,
        description="How long the batcher waits for company after the first message.",
    )
    precision: Literal["auto", "float32", "bfloat16", "int8"] = Field(
        default="auto",
        description=(
            "Number format of the network: auto = bfloat16 on CPUs with native bfloat16 "
            "(AMX, AVX512-BF16), else float32, and int8 in the ONNX runtime; int8 = dynamic "
            "quantisation (in torch: less accurate). The ONNX runtime runs int8 and float32."
        ),
    )
    runtime: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        description=(
            "What runs the network: onnx = ONNX Runtime on the folder's export (model.onnx, "
            "model.int8.onnx for int8; written by `make models`); torch = the weights in "
            "torch; auto = onnx when the folder holds an export of its current weights in the "
            "precision asked for, else torch."
        ),
    )


class ReadinessSettings(_Group):
    """How ``/readyz`` and ``handoff ready`` probe the dependencies."""

    probe_timeout_seconds: PositiveFloat = 2.0


class EscalationSettings(_Group):
    """Where the escalation policy lives (thresholds, risk phrases, the routing matrix)."""

    policy_file: LocalPath = Field(
        default_factory=lambda: repo_root() / "data" / "escalation.yml",
        description="The YAML file read by handoff.escalation.policy.load_escalation_policy.",
    )


DEMO_IDENTITY_SECRET = "DEMO-ONLY identity secret: public, accepted in demo mode alone"
"""The demo mode's identity secret: public (it is in this file), so anyone can sign with it."""


class IdentitySettings(_Group):
    """How the identity tokens signed by the bank's website are checked (HS256, shared secret).

    Outside demo mode the service refuses to start without a secret of its own
    (``HANDOFF_IDENTITY__SECRET``); in demo mode an unset secret is the public
    :data:`DEMO_IDENTITY_SECRET`.
    """

    secret: SecretStr | None = Field(
        default=None,
        # RFC 7518 section 3.2: an HS256 key must be at least as long as the hash, 256 bits.
        min_length=32,
        description="Secret shared with the website that signs customers' identity tokens.",
    )
    token_ttl_seconds: int = Field(
        default=3600, ge=1, description="Lifetime of the tokens the demo page signs."
    )

    def require_secret(self) -> SecretStr:
        """The secret; :class:`ConfigurationError` if unset (the service refuses to start so)."""
        return _required(self.secret, "HANDOFF_IDENTITY__SECRET")


class GatewaySettings(_Group):
    """The customer websocket: who may open it and how the service paces a conversation."""

    allowed_origins: tuple[Origin, ...] = Field(
        default=(),
        description=(
            "Origins (scheme://host[:port]) of other sites whose pages may embed the widget: "
            "open the customer websocket and frame the demo page. The service's own pages "
            "(server.public_origins) are always allowed. A client that sends no Origin header "
            "(not a browser) is let through."
        ),
    )
    handshake_timeout_seconds: PositiveFloat = Field(
        default=10.0, description="How long a new socket may take to send `start` or `resume`."
    )
    average_handle_minutes: PositiveFloat = Field(
        default=8.0,
        description="Typical minutes an agent spends per conversation, for wait estimates.",
    )


class TrainerSettings(_Group):
    """The bot trainers' inbox: which turns go to it, and how their personal data is masked."""

    ambiguous_margin: float = Field(
        default=0.10,
        ge=0.0,
        le=1.0,
        description="A turn is ambiguous (and goes to the inbox) when the assistant's top two "
        "intents are closer than this.",
    )
    phone_region: str = Field(
        default="GB",
        description="Region (ISO 3166 code) a phone number without a country code is read in, "
        "when masking messages for the inbox.",
    )

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        import phonenumbers

        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phone numbers are known for (e.g. GB, US)")
        return value.upper()


DEMO_AGENT_TOKEN_SECRET = "DEMO-ONLY agent token secret: public, accepted in demo mode alone"
"""The demo mode's agent token secret: public (it is in this file), so anyone can sign with it."""


class AgentSettings(_Group):
    """Agents' accounts and the access tokens a login gives them (HS256, a secret of our own).

    Outside demo mode the service refuses to start without a secret of its own
    (``HANDOFF_AGENTS__TOKEN_SECRET``); in demo mode an unset secret is the public
    :data:`DEMO_AGENT_TOKEN_SECRET`.
    """

    token_secret: SecretStr | None = Field(
        default=None,
        min_length=32,  # RFC 7518 section 3.2, as for the identity secret
        description="Signs and checks agents' access tokens; known to this service only.",
    )
    token_ttl_seconds: int = Field(
        default=8 * 3600,
        ge=60,
        le=24 * 3600,
        description=(
            "Lifetime of an agent's access token (a shift). A token whose own lifetime is "
            "longer, or that expires further ahead than this, is refused."
        ),
    )

    def require_token_secret(self) -> SecretStr:
        """The secret; :class:`ConfigurationError` if unset (the service refuses to start so)."""
        return _required(self.token_secret, "HANDOFF_AGENTS__TOKEN_SECRET")

    @property
    def token_ttl(self) -> timedelta:
        """The lifetime of the tokens a login hands out, and the longest one accepted."""
        return timedelta(seconds=self.token_ttl_seconds)

    default_capacity: int = Field(
        default=3, ge=1, description="Conversations at once of an agent created without one."
    )
    grace_seconds: float = Field(
        default=120, gt=0,
        description="How long a disconnected agent keeps their conversations before they go "
        "back to the front of the queue.",
    )  # fmt: skip
    canned_responses_file: LocalPath = Field(
        default_factory=lambda: repo_root() / "data" / "canned_responses.yml",
        description="The agents' canned responses, read and checked at start-up.",
    )


class MonitorSettings(_Group):
    """The SLA monitor (:mod:`handoff.agents.monitor`)."""

    interval_seconds: PositiveFloat = Field(
        default=15.0, description="How often open handoffs are checked against their SLAs."
    )
    warning_fraction: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description="The share of an SLA interval after which supervisors are warned.",
    )


class LimitsSettings(_Group):
    """Rate limits of the sockets and the login throttle, in memory per service instance.

    Each rate is a token bucket: ``*_burst`` at once, then ``*_per_minute`` on average. A
    refused frame gets an ``error`` frame with code ``rate_limited`` and
    ``retry_after_seconds``, and the socket stays open; a refused login gets 429 with
    ``Retry-After``. Unknown usernames are counted like real ones, so a lockout says nothing
    about which exist.
    """

    customer_frames_burst: int = Field(
        default=60, ge=1, description="Frames of any kind after the opening, per customer socket."
    )
    customer_frames_per_minute: PositiveFloat = Field(
        default=120, description="The same, per minute once the burst is spent."
    )
    customer_messages_burst: int = Field(
        default=15,
        ge=1,
        description=(
            "`message` frames per customer over all their sockets (an anonymous customer: per "
            "conversation). A refused message is not stored and not acknowledged."
        ),
    )
    customer_messages_per_minute: PositiveFloat = Field(
        default=40, description="The same, per minute once the burst is spent."
    )
    agent_frames_burst: int = Field(
        default=60, ge=1, description="Frames of any kind after `auth`, per agent socket."
    )
    agent_frames_per_minute: PositiveFloat = Field(
        default=240, description="The same, per minute once the burst is spent."
    )
    new_conversations_burst: int = Field(
        default=30,
        ge=1,
        description=(
            "`start` frames that create a conversation, per client address (a `resume` is not "
            "counted)."
        ),
    )
    new_conversations_per_minute: PositiveFloat = Field(
        default=30, description="The same, per minute once the burst is spent."
    )
    login_max_failures_per_account: int = Field(
        default=10,
        ge=1,
        description="Failed logins to one username within the window that lock it.",
    )
    login_max_failures_per_address: int = Field(
        default=50,
        ge=1,
        description=(
            "Failed logins from one client address within the window that lock the address "
            "(an office behind one NAT address shares it). A success forgives the address's "
            "failures for that account only."
        ),
    )
    login_window_seconds: PositiveFloat = Field(
        default=900, description="How far back failed logins are counted."
    )
    login_lockout_seconds: PositiveFloat = Field(
        default=900,
        description=(
            "How long a locked account or address is refused with 429, the right password included."
        ),
    )
    max_tracked_keys: int = Field(
        default=100_000,
        ge=1,
        description=(
            "The most keys (sockets, customers, addresses, accounts) each limiter remembers; "
            "idle keys are forgotten sooner."
        ),
    )


class Settings(BaseSettings):
    """Every setting of the handoff service, in groups.

    ``demo_mode`` (``HANDOFF_DEMO_MODE=true``, which `make run` sets and nothing else does)
    fills the identity and agent token secrets that are unset with the public demo secrets,
    serves the demo identities and lets the demo agents sign in. Outside it,
    :func:`startup_problems` names every secret that is missing or a public placeholder, and the
    service refuses to start.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
    )

    demo_mode: bool = Field(
        default=False,
        description=(
            "The demo: public demo secrets, the demo identities (/api/demo/*) and the demo "
            "agents' password. Never on outside a laptop."
        ),
    )
    server: ServerSettings = Field(default_factory=ServerSettings)
    rasa: RasaSettings = Field(default_factory=RasaSettings)
    actions: ActionsSettings = Field(default_factory=ActionsSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    bank: BankSettings = Field(default_factory=BankSettings)
    paths: PathsSettings = Field(default_factory=PathsSettings)
    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)
    readiness: ReadinessSettings = Field(default_factory=ReadinessSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    agents: AgentSettings = Field(default_factory=AgentSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    trainer: TrainerSettings = Field(default_factory=TrainerSettings)

    @property
    def trusted_origins(self) -> frozenset[str]:
        """Origins whose pages may open the websockets: the service's own, and the embedders'."""
        return frozenset((*self.server.origins, *self.gateway.allowed_origins))

    @model_validator(mode="before")
    @classmethod
    def _demo_secrets(cls, data: Any) -> Any:
        # Demo mode, and only demo mode, fills the unset secrets with the public demo ones.
        if not isinstance(data, dict) or not _FLAG.validate_python(data.get("demo_mode", False)):
            return data
        return {
            **data,
            "identity": _with_secret(data.get("identity"), "secret", DEMO_IDENTITY_SECRET),
            "agents": _with_secret(data.get("agents"), "token_secret", DEMO_AGENT_TOKEN_SECRET),
        }


_FLAG = TypeAdapter(bool)


def _with_secret(group: Any, key: str, demo_value: str) -> Any:
    """``group`` (a built group, its values as a dict, or nothing) with ``key`` set if unset."""
    if group is None:
        return {key: demo_value}
    if isinstance(group, BaseModel):
        if getattr(group, key) is not None:
            return group
        return group.model_copy(update={key: SecretStr(demo_value)})
    if isinstance(group, dict) and group.get(key) is None:
        return {**group, key: demo_value}
    return group


_PUBLIC_SECRETS = frozenset({DEMO_IDENTITY_SECRET, DEMO_AGENT_TOKEN_SECRET})


def _secret_problem(secret: SecretStr | None, variable: str, demo_mode: bool) -> str | None:
    if secret is None:
        return f"{variable} is not set: set it to a random value of 32 characters or more"
    if not demo_mode and secret.get_secret_value() in _PUBLIC_SECRETS:
        return f"{variable} is a public demo secret, accepted in demo mode alone"
    return None


def startup_problems(settings: Settings) -> list[str]:
    """What stops the service from starting safely with ``settings``, each naming its setting.

    Outside demo mode the identity and agent token secrets must be set and not the public demo
    ones; in every mode the service needs the secrets of Rasa's HTTP API and handoff channel,
    which Rasa always requires.
    """
    checks = [
        (settings.identity.secret, "HANDOFF_IDENTITY__SECRET"),
        (settings.agents.token_secret, "HANDOFF_AGENTS__TOKEN_SECRET"),
        (settings.rasa.auth_token, "HANDOFF_RASA__AUTH_TOKEN"),
        (settings.rasa.channel_token, "HANDOFF_RASA__CHANNEL_TOKEN"),
    ]
    found = (_secret_problem(secret, name, settings.demo_mode) for secret, name in checks)
    return [problem for problem in found if problem is not None]


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first call.

    Tests that change the environment call ``get_settings.cache_clear()`` afterwards.
    """
    return Settings()


def require_safe_start(settings: Settings) -> None:
    """Refuse to start (:class:`ConfigurationError`) while :func:`startup_problems` finds any."""
    problems = startup_problems(settings)
    if problems:
        mode = "in demo mode" if settings.demo_mode else "outside demo mode"
        raise ConfigurationError(
            f"refusing to start {mode}: " + "; ".join(problems)
            + ". (HANDOFF_DEMO_MODE=true, which `make run` sets, is for a laptop only.)"
        )  # fmt: skip


DEMO_MODE_WARNING = (
    "DEMO MODE: public demo secrets, demo identities for anyone and the demo agents' public "
    "password are accepted. Never expose this service beyond this machine."
)
"""Logged at every start in demo mode, and shown in `make run`'s banner."""
