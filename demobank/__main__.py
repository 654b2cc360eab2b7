"""Command line for the demo bank.

    python -m demobank seed --url sqlite:///var/demobank.sqlite
    python -m demobank customers --url sqlite:///var/demobank.sqlite

``--url`` defaults to ``$BANK_DATABASE_URL``, else ``var/demobank.sqlite`` in the repository,
which is also where the assistant's action server looks by default.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from demobank.db import create_bank_engine, session_factory, session_scope
from demobank.exceptions import BankError
from demobank.queries import list_customers
from demobank.seed import create_demo_bank

logger = logging.getLogger(__name__)

URL_ENV_VAR = "BANK_DATABASE_URL"
DEFAULT_DB_PATH = Path(__file__).resolve().parent.parent / "var" / "demobank.sqlite"


def default_url() -> str:
    """``$BANK_DATABASE_URL``, else the repository's ``var/demobank.sqlite``."""
    return os.environ.get(URL_ENV_VAR) or f"sqlite:///{DEFAULT_DB_PATH}"


def _ensure_sqlite_folder(url: str) -> None:
    # SQLite creates the file but not its folder; a fresh checkout may lack var/.
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _seed(url: str) -> str:
    _ensure_sqlite_folder(url)
    engine = create_bank_engine(url)
    try:
        summary = create_demo_bank(engine, datetime.now(UTC))
    finally:
        engine.dispose()
    return f"seeded {summary.describe()} into {make_url(url).render_as_string(hide_password=True)}"


def _customers(url: str) -> list[str]:
    engine = create_bank_engine(url)
    try:
        with session_scope(session_factory(engine)) as session:
            return [f"{c.id}\t{c.name}\t{c.tier.value}" for c in list_customers(session)]
    finally:
        engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = argparse.ArgumentParser(prog="python -m demobank", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("seed", "create the schema and (re)seed the demo customers"),
        ("customers", "list the customers: id, name, tier"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--url", default=None, help="SQLAlchemy database URL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    url = args.url or default_url()
    try:
        if args.command == "seed":
            sys.stdout.write(_seed(url) + "\n")
        else:
            for line in _customers(url):
                sys.stdout.write(line + "\n")
    except BankError as exc:
        sys.stderr.write(f"demobank: {exc} (run `python -m demobank seed` first?)\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
