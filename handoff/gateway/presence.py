"""Which agents are online, per team: the in-process registry the wait estimates read.

The agent side registers an agent when their socket authenticates and removes them when it
closes; until then every team counts zero agents online, and customers are told honestly that
nobody is free and when to expect an answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping


class PresenceRegistry:
    """Online agents and their teams; one per service process."""

    def __init__(self) -> None:
        self._teams: dict[str, frozenset[str]] = {}

    def set_online(self, agent_id: str, teams: Iterable[str]) -> None:
        """Count ``agent_id`` as online for ``teams`` (replacing earlier teams)."""
        self._teams[agent_id] = frozenset(teams)

    def set_offline(self, agent_id: str) -> None:
        """Stop counting ``agent_id``; unknown ids are ignored."""
        self._teams.pop(agent_id, None)

    def online_by_team(self) -> Mapping[str, int]:
        """How many agents are online in each team that has any."""
        return Counter(team for teams in self._teams.values() for team in teams)
