"""The ``handoff`` command (also ``python -m handoff``).

``handoff serve``  runs the service with uvicorn on the configured host and port.
``handoff ready``  checks every dependency once, prints a table and exits 0 when all pass,
                   1 otherwise, so scripts can wait for the stack.
``handoff stack``  starts Rasa, the action server and the service together (``make run``);
                   see :mod:`handoff.stack`.

Settings come from the environment (see :mod:`handoff.settings`); invalid settings exit with 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import uvicorn
from pydantic import ValidationError

from handoff import __version__
from handoff.app import create_app
from handoff.exceptions import ConfigurationError
from handoff.readiness import CheckResult, Probe, all_ok, check_all, default_probes
from handoff.resources import open_resources
from handoff.settings import Settings, get_settings

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NOT_READY = 1
EXIT_BAD_CONFIGURATION = 2  # the same code argparse uses for a bad command line

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = get_settings()
        if args.command == "serve":
            serve(settings, log_level=args.log_level)
            return EXIT_OK
        if args.command == "stack":
            return run_stack(settings)
        return run_ready(settings)
    except ValidationError as exc:
        print(f"handoff: invalid settings:\n{exc}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    except ConfigurationError as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION


def serve(settings: Settings, log_level: str = "info") -> None:
    """Run the service in the foreground until interrupted."""
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        # The websockets library, through uvicorn's sans-I/O adapter: uvicorn deprecates its
        # older "websockets" adapter, and plain "websockets" will mean this one in a future release.
        ws="websockets-sansio",
        log_level=log_level,
    )


def run_ready(settings: Settings, probes: Sequence[Probe] | None = None) -> int:
    """Check the dependencies once, print the table; ``EXIT_OK`` when every check passes.

    ``probes`` replaces the real probes built on fresh clients (tests pass fakes).
    """
    results = asyncio.run(_check(settings, probes))
    print(format_table(results))
    return EXIT_OK if all_ok(results) else EXIT_NOT_READY


async def _check(settings: Settings, probes: Sequence[Probe] | None) -> list[CheckResult]:
    timeout = settings.readiness.probe_timeout_seconds
    if probes is not None:
        return await check_all(probes, timeout)
    async with open_resources(settings) as resources:
        return await check_all(default_probes(settings, resources), timeout)


def run_stack(settings: Settings) -> int:
    """Run the whole stack in the foreground until interrupted; returns its exit code."""
    # Imported here so that serve and ready do not depend on the launcher's module.
    from handoff import stack

    return stack.run_stack(settings)


def format_table(results: Sequence[CheckResult]) -> str:
    """The checks as an aligned text table, one row per check, then the verdict."""
    header = ("CHECK", "STATUS", "LATENCY", "DETAIL")
    rows = [
        (result.name, "ok" if result.ok else "FAIL", f"{result.latency_ms:.0f} ms", result.detail)
        for result in results
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in [header, *rows]
    ]
    lines.append("ready" if all_ok(results) else "not ready")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handoff",
        description="The handoff service: takes conversations over from the Rasa assistant.",
        epilog="Settings are read from HANDOFF_* environment variables, "
        "e.g. HANDOFF_SERVER__PORT=8001.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser(
        "serve", help="run the service (uvicorn, on the configured host and port)"
    )
    _add_log_level(serve_parser, default="info")
    ready_parser = commands.add_parser(
        "ready", help="check the dependencies once; exit 0 if all pass, else 1"
    )
    # Quiet by default: the table on stdout is the answer.
    _add_log_level(ready_parser, default="warning")
    stack_parser = commands.add_parser(
        "stack", help="start Rasa, the action server and the service together; Ctrl-C stops all"
    )
    _add_log_level(stack_parser, default="info")
    return parser


def _add_log_level(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default=default, help="default: %(default)s"
    )
