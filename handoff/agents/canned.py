"""Canned responses: ready-made replies agents insert and edit before sending.

They live in ``data/canned_responses.yml`` (a list of ``{id, title, text, teams}``; ``teams``
left out means every team), read and validated once at start-up by
:func:`load_canned_responses`. A bad file raises
:class:`~handoff.exceptions.ConfigurationError` naming the file and every bad entry, so the
service refuses to start rather than show agents half a list. The agent desk sends each agent
the ones of their teams in ``welcome``; ``GET /api/agents/canned-responses`` answers the same.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from handoff.exceptions import ConfigurationError

__all__ = ["CannedResponse", "CannedResponses", "load_canned_responses"]

logger = logging.getLogger(__name__)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class CannedResponse(BaseModel):
    """One ready-made reply. ``teams``: who may use it (``None``: every team)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    teams: tuple[str, ...] | None = Field(default=None, min_length=1)

    def for_teams(self, teams: Collection[str], *, every_team: bool = False) -> bool:
        """Whether an agent of ``teams`` (a supervisor: ``every_team``) may use it."""
        return every_team or self.teams is None or any(team in teams for team in self.teams)


_LIST: TypeAdapter[list[CannedResponse]] = TypeAdapter(list[CannedResponse])


class CannedResponses:
    """The loaded responses, in file order; ids are unique."""

    def __init__(self, responses: Collection[CannedResponse] = ()) -> None:
        self._responses = tuple(responses)

    def __iter__(self) -> Iterator[CannedResponse]:
        return iter(self._responses)

    def __len__(self) -> int:
        return len(self._responses)

    def for_agent(
        self, teams: Collection[str], *, every_team: bool = False
    ) -> list[CannedResponse]:
        """The responses an agent of ``teams`` sees (a supervisor sees them all)."""
        return [r for r in self._responses if r.for_teams(teams, every_team=every_team)]


def load_canned_responses(
    path: str | os.PathLike[str], *, known_teams: Collection[str] | None = None
) -> CannedResponses:
    """Read and validate the canned responses at ``path``.

    Raises :class:`ConfigurationError` when the file cannot be read, is not a YAML list of
    responses, repeats an id, or names a team not in ``known_teams`` (when given).
    """
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the canned responses {file}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"the canned responses {file} are not valid YAML: {exc}") from exc
    try:
        responses = _LIST.validate_python(raw)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(p) for p in item['loc']) or '(top level)'}: {item['msg']}"
            for item in exc.errors(include_url=False)
        )
        raise ConfigurationError(
            f"the canned responses {file} are invalid (a list of {{id, title, text, teams}} "
            f"is expected):\n{problems}"
        ) from exc
    seen: set[str] = set()
    for response in responses:
        if response.id in seen:
            raise ConfigurationError(f"the canned responses {file}: id {response.id!r} is repeated")
        seen.add(response.id)
        unknown = set(response.teams or ()) - set(known_teams or ())
        if known_teams is not None and unknown:
            raise ConfigurationError(
                f"the canned responses {file}: {response.id!r} names unknown team(s) "
                f"{', '.join(sorted(unknown))}"
            )
    logger.info("loaded %d canned responses from %s", len(responses), file)
    return CannedResponses(responses)
