"""Start the Rasa server with its HTTP API locked: ``python -m bot.serve [rasa run options]``.

Rasa's HTTP API (trackers, events, model replacement) is on, for the handoff service, and
requires the token in ``HANDOFF_RASA__AUTH_TOKEN``. The token is handed to ``rasa run`` inside
this process, so it never appears on a command line that any local user can read with ``ps``.
Every other option is ``rasa run``'s own (``--interface``, ``--port``, ``--model``...).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

TOKEN_VARIABLE = "HANDOFF_RASA__AUTH_TOKEN"
MIN_TOKEN_CHARS = 32
EXIT_BAD_CONFIGURATION = 2


def rasa_argv(options: Sequence[str], token: str) -> list[str]:
    """The ``rasa run`` command line: the API enabled behind ``token``, then ``options``.

    The token is joined to its option with ``=``: a random token may begin with ``-``, which
    argparse would otherwise take for the next option and refuse to start.
    """
    return ["rasa", "run", "--enable-api", f"--auth-token={token}", *options]


def main(argv: Sequence[str] | None = None) -> int:
    """Run Rasa in the foreground; returns an exit code only when it cannot start."""
    token = os.environ.get(TOKEN_VARIABLE, "")
    if len(token) < MIN_TOKEN_CHARS:
        print(
            f"bot.serve: set {TOKEN_VARIABLE} to a secret of {MIN_TOKEN_CHARS} characters or "
            "more: Rasa's HTTP API never runs without one",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIGURATION
    from rasa.__main__ import main as rasa_main  # heavy: only once the token is known good

    sys.argv = rasa_argv(list(sys.argv[1:] if argv is None else argv), token)
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
