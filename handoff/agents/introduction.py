"""What the customer reads when an agent takes over: pure functions of the agent and the brief.

Warm handoff: once the agent has read the brief and acknowledged it, the customer gets an
introduction that names the agent and their team and shows what was already tried, in the
assistant's own step summaries, so the customer need not repeat anything. Cold handoff: one
short line says who joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from handoff.brief.builder import humanize

MAX_STEPS_MENTIONED = 3
"""The most recent distinct steps an introduction names; more would read like a log."""


def first_name(display_name: str) -> str:
    """What the agent is called in the chat: ``"Ana Souza"`` -> ``"Ana"``."""
    words = display_name.split()
    return words[0] if words else "A colleague"


def team_phrase(team: str) -> str:
    """``"technical_support"`` -> ``"technical support team"``; ``"security"`` -> ``"security
    team"``."""
    words = humanize(team) or "support"
    return words if words.endswith("team") else f"{words} team"


def agent_introduction(agent_name: str, team: str, brief: Mapping[str, Any]) -> str:
    """The warm introduction: who is here, from which team, and what was already tried.

    ``brief`` is the stored brief (its ``attempted_steps`` list of ``{"summary", ...}``).
    """
    opening = f"Hi, I'm {first_name(agent_name)} from our {team_phrase(team)}."
    steps = _recent_summaries(brief.get("attempted_steps") or ())
    if not steps:
        return (
            f"{opening} I've read your conversation so far, so there's no need to repeat "
            "anything. How can I help?"
        )
    return (
        f"{opening} I can see what's been done so far: {_join(steps)}. "
        "I'll take it from here, so there's no need to repeat anything."
    )


def agent_joined(agent_name: str, team: str) -> str:
    """The cold handoff's line: ``"Ana from our security team has joined."``."""
    return f"{first_name(agent_name)} from our {team_phrase(team)} has joined."


def _recent_summaries(steps: Sequence[Any]) -> list[str]:
    # The latest distinct summaries, oldest first, without trailing full stops.
    seen: list[str] = []
    for step in reversed(steps):
        summary = str(step.get("summary", "")).strip().rstrip(".") if isinstance(step, dict) else ""
        if summary and summary not in seen:
            seen.append(summary)
        if len(seen) == MAX_STEPS_MENTIONED:
            break
    return list(reversed(seen))


def _join(phrases: Sequence[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return f"{', '.join(phrases[:-1])} and {phrases[-1]}"
