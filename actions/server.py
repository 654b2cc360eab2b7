"""The action server: rasa-sdk's, with its action routes behind a shared secret.

``python -m actions.server --port 5055`` (``handoff stack`` runs it). rasa-sdk's own server
runs any action for anyone who reaches its port, for any customer id in the tracker it is
sent; this one answers ``POST /webhook`` and ``GET /actions`` only for a caller that sends
``Authorization: Bearer <HANDOFF_ACTIONS__TOKEN>``, which only Rasa has (``bot/endpoints.yml``).
``GET /health`` stays open: it tells nothing. It listens on 127.0.0.1 unless told otherwise,
and sends no CORS headers: no browser page has any business calling it.

Imported by rasa-sdk with the rest of the package, so like every module here it does nothing
at import time.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from collections.abc import Sequence
from functools import partial

TOKEN_VARIABLE = "HANDOFF_ACTIONS__TOKEN"
MIN_TOKEN_CHARS = 32
PROTECTED_PATHS = frozenset({"/webhook", "/actions"})
EXIT_BAD_CONFIGURATION = 2

logger = logging.getLogger(__name__)


def is_authorized(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header is ``Bearer <token>`` (compared in constant time)."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode("utf-8"), token.encode("utf-8"))


def create_server_app(package: str, token: str):  # noqa: ANN201 (a Sanic app; sanic is lazy)
    """rasa-sdk's app for the actions of ``package``, its action routes requiring ``token``."""
    from rasa_sdk.endpoint import create_app_for_serve
    from rasa_sdk.executor import ActionExecutor
    from sanic import response

    executor = ActionExecutor()
    executor.register_package(package)
    app = create_app_for_serve(executor, cors_origins=None)

    async def require_token(request):  # noqa: ANN001, ANN202 (Sanic's request and response)
        if request.path in PROTECTED_PATHS and not is_authorized(
            request.headers.get("authorization"), token
        ):
            logger.warning("action server refused a %s %s without its token", request.method,
                           request.path)  # fmt: skip
            return response.json(
                {"error": "send the action server's secret as 'Authorization: Bearer <token>'"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="actions"'},
            )
        return None

    app.register_middleware(require_token, "request")
    return app


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions", help="the package of the actions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stopped; returns an exit code only when it cannot start."""
    args = _parser().parse_args(argv)
    token = os.environ.get(TOKEN_VARIABLE, "")
    if len(token) < MIN_TOKEN_CHARS:
        print(
            f"actions.server: set {TOKEN_VARIABLE} to a secret of {MIN_TOKEN_CHARS} characters "
            "or more: the action server never runs actions for callers without it",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIGURATION
    from rasa_sdk import utils
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    utils.configure_colored_logging(logging.INFO)
    utils.update_sanic_log_level()
    # Sanic serves an app built by a picklable factory in its worker process.
    loader = AppLoader(factory=partial(create_server_app, args.actions, token))
    app = loader.load()
    app.prepare(host=args.host, port=args.port, workers=1, access_log=False)
    logger.info("action server on http://%s:%d (actions need the token)", args.host, args.port)
    Sanic.serve(primary=app, app_loader=loader)
    return 0


if __name__ == "__main__":
    sys.exit(main())
