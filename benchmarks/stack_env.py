"""The environment a benchmark starts the service with: the demo, as `make run` runs it,
without the rate limits.

Demo mode (the demo customers and agents); internal secrets made up for the run, so that a
benchmark's own fake Rasa and the service agree on them; and no rate limits. The benchmarks
are scripts flooding one service from one address, which is exactly what the limits stop: they
measure speed, not the limits.
"""

from __future__ import annotations

import secrets

NO_RATE_LIMITS = {
    f"HANDOFF_LIMITS__{name}": "1000000"
    for name in (
        "CUSTOMER_FRAMES_BURST",
        "CUSTOMER_MESSAGES_BURST",
        "AGENT_FRAMES_BURST",
        "NEW_CONVERSATIONS_BURST",
        "CUSTOMER_FRAMES_PER_MINUTE",
        "CUSTOMER_MESSAGES_PER_MINUTE",
        "AGENT_FRAMES_PER_MINUTE",
        "NEW_CONVERSATIONS_PER_MINUTE",
    )
}


def bench_environment() -> dict[str, str]:
    """``HANDOFF_*`` variables: demo mode, a random token for each internal door, no limits."""
    return {
        "HANDOFF_DEMO_MODE": "true",
        "HANDOFF_RASA__AUTH_TOKEN": secrets.token_urlsafe(32),
        "HANDOFF_RASA__CHANNEL_TOKEN": secrets.token_urlsafe(32),
        "HANDOFF_ACTIONS__TOKEN": secrets.token_urlsafe(32),
        **NO_RATE_LIMITS,
    }
