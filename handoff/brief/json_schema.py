"""The JSON Schema of the handoff brief, for the agent console and the docs.

Regenerate the committed copy after changing :mod:`handoff.brief.schema`::

    .venv/bin/python -m handoff.brief.json_schema docs/handoff-brief.schema.json

Keys are sorted and the text ends with a newline, so the file changes only when the schema does.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from handoff.brief.schema import HandoffBrief

logger = logging.getLogger(__name__)

DEFAULT_PATH = Path("docs") / "handoff-brief.schema.json"
REGENERATE_COMMAND = f".venv/bin/python -m handoff.brief.json_schema {DEFAULT_PATH.as_posix()}"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def brief_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that every serialised :class:`HandoffBrief` satisfies."""
    return {"$schema": _DIALECT, **HandoffBrief.model_json_schema()}


def render_brief_json_schema() -> str:
    """The schema as the committed file holds it: sorted keys, indent 2, trailing newline."""
    return json.dumps(brief_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_brief_json_schema(path: Path) -> None:
    """Write :func:`render_brief_json_schema` to ``path``, creating its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_brief_json_schema(), encoding="utf-8")
    logger.info("wrote the handoff brief schema to %s", path)


def main(argv: list[str] | None = None) -> int:
    """``python -m handoff.brief.json_schema [PATH]``; PATH defaults to the committed file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        sys.stderr.write("usage: python -m handoff.brief.json_schema [PATH]\n")
        return 2
    write_brief_json_schema(Path(args[0]) if args else DEFAULT_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
