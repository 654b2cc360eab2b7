"""Settings of a deployment for the service's in-process tests: every secret set, none public.

Outside demo mode the service refuses to start without its secrets (``startup_problems``);
:func:`secured` gives a test's settings the four it needs, so a test of something else starts
the app as a deployment would.
"""

from __future__ import annotations

from pydantic import SecretStr

from handoff.settings import Settings

IDENTITY_SECRET = "identity-secret-of-the-tests-0123456789"
AGENT_TOKEN_SECRET = "agent-token-secret-of-the-tests-0123456789"
RASA_AUTH_TOKEN = "rasa-api-token-of-the-tests-0123456789"
RASA_CHANNEL_TOKEN = "rasa-channel-token-of-the-tests-0123456789"


def secured(settings: Settings) -> Settings:
    """``settings`` with the identity, agent token, Rasa API and channel secrets set."""
    return settings.model_copy(
        update={
            "identity": settings.identity.model_copy(update={"secret": SecretStr(IDENTITY_SECRET)}),
            "agents": settings.agents.model_copy(
                update={"token_secret": SecretStr(AGENT_TOKEN_SECRET)}
            ),
            "rasa": settings.rasa.model_copy(
                update={
                    "auth_token": SecretStr(RASA_AUTH_TOKEN),
                    "channel_token": SecretStr(RASA_CHANNEL_TOKEN),
                }
            ),
        }
    )
