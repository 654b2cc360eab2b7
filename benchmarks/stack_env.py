"""The environment a benchmark starts the service with: the demo, as `make run` runs it.

Demo mode (the demo customers and agents), and internal secrets made up for the run, so that a
benchmark's own fake Rasa and the service agree on them.
"""

from __future__ import annotations

import secrets


def demo_secrets() -> dict[str, str]:
    """``HANDOFF_*`` variables: demo mode and a random token for each internal door."""
    return {
        "HANDOFF_DEMO_MODE": "true",
        "HANDOFF_RASA__AUTH_TOKEN": secrets.token_urlsafe(32),
        "HANDOFF_RASA__CHANNEL_TOKEN": secrets.token_urlsafe(32),
        "HANDOFF_ACTIONS__TOKEN": secrets.token_urlsafe(32),
    }
