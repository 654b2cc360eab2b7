"""The ``handoff`` command (also ``python -m handoff``).

``handoff serve``  runs the service with uvicorn on the configured host and port.
``handoff ready``  checks every dependency once, prints a table and exits 0 when all pass,
                   1 otherwise, so scripts can wait for the stack.
``handoff stack``  starts Rasa, the action server and the service together (``make run``);
                   see :mod:`handoff.stack`.
``handoff sentiment [FILE]``
                   scores one customer message per line of FILE (stdin without one) and
                   writes one JSON object per line, in order; a line it cannot score gets
                   ``{"error": ...}`` and the run goes on.
``handoff replay --input IN.jsonl --output OUT.jsonl``
                   runs recorded conversations through the running Rasa server, the classifier
                   and the escalation engine (see :mod:`handoff.replay`).
``handoff tune [--recording REC.jsonl] [--trials N] [--diff OUT.diff] ...``
                   records labelled conversations through the running Rasa server and the
                   classifier once (or reuses a recording), searches the escalation policy's
                   numbers offline and writes the proposal as a diff (see
                   :mod:`handoff.tuning.command`).
``handoff train-sentiment [ARGS...]``
                   trains the sentiment model (``training.sentiment.train``) with ARGS.
``handoff agents create --username U --name N --teams a,b [--role supervisor] [--capacity N]``
                   creates an agent's account; the password is prompted for twice, or read
                   from stdin with ``--password-stdin``, never taken from the command line.
``handoff agents list``
                   prints the accounts as a table.
``handoff agents seed-demo``
                   creates the demo agents that are missing (``make run`` does; see
                   :mod:`handoff.agents.demo`). Every ``agents`` command migrates the
                   database first.

Settings come from the environment (see :mod:`handoff.settings`); invalid settings exit with 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import itertools
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

import uvicorn
from pydantic import ValidationError

from handoff import __version__
from handoff.agents.accounts import AgentRecord, AgentStore, check_teams, policy_teams
from handoff.agents.demo import DEMO_LOGIN, DEMO_PASSWORD, seed_demo_agents
from handoff.agents.exceptions import AgentError, InvalidAgent
from handoff.app import create_app
from handoff.escalation.policy import load_escalation_policy
from handoff.exceptions import ConfigurationError
from handoff.gateway.protocol import MAX_FRAME_BYTES
from handoff.readiness import CheckResult, Probe, all_ok, check_all, default_probes
from handoff.resources import BUILD_SENTIMENT_MODEL, open_resources
from handoff.sentiment.batcher import BatchScorer
from handoff.sentiment.reading import SentimentInputError, validate_text
from handoff.settings import Settings, get_settings, require_safe_start
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.states import AgentRole
from handoff.trainer.command import add_trainer_parser, run_trainer
from handoff.tuning.options import add_tune_parser

if TYPE_CHECKING:
    from handoff.sentiment.classifier import SentimentClassifier

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NOT_READY = 1
EXIT_BAD_CONFIGURATION = 2  # the same code argparse uses for a bad command line
EXIT_BAD_INPUT = 2  # a missing input file is a bad command line too

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

SENTIMENT_CHUNK_LINES = 256
"""Lines scored together by ``handoff sentiment``: enough to batch well, small enough to stream."""

_T = TypeVar("_T")

TRAIN_SENTIMENT = "train-sentiment"
TRAIN_SENTIMENT_MODULE = "training.sentiment.train"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [TRAIN_SENTIMENT]:
        # Every argument after the command belongs to the trainer, options included, which an
        # argparse REMAINDER cannot take when the first one starts with "--".
        return run_train_sentiment(argv[1:])
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
        if args.command == "sentiment":
            return run_sentiment(settings, args.file, model_dir=args.model)
        if args.command == "replay":
            return run_replay(settings, args.input, args.output)
        if args.command == "tune":
            return run_tune_command(settings, args)
        if args.command == "agents":
            return run_agents(settings, args)
        if args.command == "trainer":
            return run_trainer(settings, args)
        return run_ready(settings)
    except ValidationError as exc:
        print(f"handoff: invalid settings:\n{exc}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    except ConfigurationError as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION


def serve(settings: Settings, log_level: str = "info") -> None:
    """Run the service in the foreground until interrupted."""
    require_safe_start(settings)  # said here in one line, before uvicorn logs a traceback
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        # The websockets library, through uvicorn's sans-I/O adapter: uvicorn deprecates its
        # older "websockets" adapter, and plain "websockets" will mean this one in a future release.
        ws="websockets-sansio",
        # A frame over the protocol's limit is refused by the server (close 1009) before it is
        # read whole; uvicorn's default would buffer up to 16 MiB first.
        ws_max_size=MAX_FRAME_BYTES,
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


def run_replay(settings: Settings, input_path: Path, output_path: Path) -> int:
    """Replay the conversations of ``input_path`` into ``output_path``; see :mod:`handoff.replay`.

    Returns ``EXIT_NOT_READY`` when the services it needs are not up, ``EXIT_OK`` otherwise.
    """
    from handoff import replay  # torch loads with the classifier: only for this command

    if not input_path.is_file():
        print(f"handoff: no replay input at {input_path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with input_path.open(encoding="utf-8") as source, output_path.open("w") as output:
            summary = asyncio.run(replay.replay(settings, source, output))
    except replay.ReplayNotReady as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return EXIT_NOT_READY
    print(summary.format(), file=sys.stderr)
    return EXIT_OK


def run_tune_command(settings: Settings, args: argparse.Namespace) -> int:
    """``handoff tune``; see :mod:`handoff.tuning.command`.

    Returns ``EXIT_NOT_READY`` when it must record and the services are not up,
    ``EXIT_BAD_INPUT`` for a conversation, label, split or recording file it cannot use.
    """
    from handoff import replay  # torch and Optuna: only for this command
    from handoff.tuning import command
    from handoff.tuning.labels import LabelError

    try:
        return command.run_tune(settings, args)
    except replay.ReplayNotReady as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return EXIT_NOT_READY
    except LabelError as exc:
        print(f"handoff tune: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def run_stack(settings: Settings) -> int:
    """Run the whole stack in the foreground until interrupted; returns its exit code."""
    # Imported here so that serve and ready do not depend on the launcher's module.
    from handoff import stack

    return stack.run_stack(settings)


def run_sentiment(
    settings: Settings,
    file: Path | None = None,
    *,
    model_dir: Path | None = None,
    output: IO[str] | None = None,
) -> int:
    """Score every line of ``file`` (stdin when ``None``) and write JSON lines to ``output``.

    ``model_dir`` replaces the configured model folder. Returns ``EXIT_OK``, or
    ``EXIT_NOT_READY`` when there is no model to load.
    """
    output = output if output is not None else sys.stdout
    model_dir = model_dir if model_dir is not None else settings.sentiment.model_dir
    if not model_dir.is_dir():
        print(
            f"handoff: no sentiment model at {model_dir}: build it with `{BUILD_SENTIMENT_MODEL}`",
            file=sys.stderr,
        )
        return EXIT_NOT_READY
    try:
        classifier = _load_classifier(settings, model_dir)
    except (OSError, ValueError) as exc:  # a folder without a (complete) model in it
        print(
            f"handoff: cannot load the sentiment model at {model_dir}: {exc}; "
            f"rebuild it with `{BUILD_SENTIMENT_MODEL}`",
            file=sys.stderr,
        )
        return EXIT_NOT_READY
    try:
        if file is None:
            write_sentiment_lines(classifier, sys.stdin.buffer, output)
        else:
            with file.open("rb") as source:
                write_sentiment_lines(classifier, source, output)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, like other Unix filters. Python
        # would otherwise fail again flushing stdout at exit.
        if output is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


def _load_classifier(settings: Settings, model_dir: Path) -> SentimentClassifier:
    # Imported here: torch and transformers take seconds to import, which the other commands
    # should not pay.
    from handoff.sentiment.classifier import SentimentClassifier

    return SentimentClassifier.load(
        model_dir,
        threads=settings.sentiment.threads,
        max_length=settings.sentiment.max_length,
        precision=settings.sentiment.precision,
        runtime=settings.sentiment.runtime,
    )


def write_sentiment_lines(
    scorer: BatchScorer,
    source: Iterable[bytes],
    output: IO[str],
    chunk_lines: int = SENTIMENT_CHUNK_LINES,
) -> None:
    """Write one JSON object per line of ``source``, in order, flushing after every chunk."""
    for answers in _chunks(sentiment_answers(scorer, source, chunk_lines), chunk_lines):
        output.write("".join(json.dumps(answer) + "\n" for answer in answers))
        output.flush()


def sentiment_answers(
    scorer: BatchScorer, source: Iterable[bytes], chunk_lines: int = SENTIMENT_CHUNK_LINES
) -> Iterator[dict[str, object]]:
    """One JSON-ready answer per line of ``source``, in order: a reading, or ``{"error": ...}``.

    Lines are read and scored ``chunk_lines`` at a time, so memory stays flat however long
    the input is.
    """
    numbered = enumerate(source, start=1)
    for chunk in _chunks(numbered, chunk_lines):
        answers: list[dict[str, object]] = []
        texts: list[str] = []
        slots: list[int] = []  # where each text's reading goes in ``answers``
        for number, raw in chunk:
            try:
                texts.append(_decode_line(raw, first=number == 1))
            except SentimentInputError as exc:
                answers.append({"error": f"line {number}: {exc}"})
                continue
            slots.append(len(answers))
            answers.append({})
        for slot, answer in zip(slots, _score_each(scorer, texts), strict=True):
            answers[slot] = answer
        yield from answers


def _decode_line(raw: bytes, *, first: bool) -> str:
    line = raw.removesuffix(b"\n").removesuffix(b"\r")
    if first:  # a byte-order mark some editors write at the start of a UTF-8 file
        line = line.removeprefix(b"\xef\xbb\xbf")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SentimentInputError(
            f"not valid UTF-8 (byte {exc.start}): send UTF-8 text, one message per line"
        ) from None
    return validate_text(text)


def _score_each(scorer: BatchScorer, texts: list[str]) -> list[dict[str, object]]:
    # One call for the whole chunk; if it fails, each text alone, so one bad text costs only
    # its own line.
    if not texts:
        return []
    try:
        return [reading.to_json_dict() for reading in scorer.score(texts)]
    except Exception as exc:
        logger.warning("scoring %d lines failed (%s); scoring them one by one", len(texts), exc)
    answers: list[dict[str, object]] = []
    for text in texts:
        try:
            answers.extend(reading.to_json_dict() for reading in scorer.score([text]))
        except Exception as exc:
            answers.append({"error": f"cannot score: {type(exc).__name__}: {exc}"})
    return answers


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def run_train_sentiment(args: Sequence[str]) -> int:
    """Train the sentiment model: ``training.sentiment.train.main(args)``, imported on demand."""
    try:
        train = importlib.import_module(TRAIN_SENTIMENT_MODULE)
    except ImportError as exc:
        print(
            f"handoff: cannot import {TRAIN_SENTIMENT_MODULE} ({exc}); run from the repository "
            "root with the training code present (training/sentiment/train.py)",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIGURATION
    result = train.main(list(args))
    return int(result) if result is not None else EXIT_OK


def run_agents(settings: Settings, args: argparse.Namespace) -> int:
    """``handoff agents create|list|seed-demo``, on the migrated service database."""
    engine = create_database_engine(settings.database.url)
    try:
        upgrade_database(engine)
        store = AgentStore(engine)
        if args.agents_command == "list":
            print(format_agents(store.list_agents()))
            return EXIT_OK
        known_teams = policy_teams(load_escalation_policy(settings))
        if args.agents_command == "seed-demo":
            if not settings.demo_mode:
                # Their password is public, and opens nothing outside demo mode anyway.
                print(
                    "handoff: the demo agents exist in demo mode only "
                    "(HANDOFF_DEMO_MODE=true, which `make run` sets)",
                    file=sys.stderr,
                )
                return EXIT_BAD_CONFIGURATION
            return _seed_demo(store, known_teams)
        return _create_agent(settings, store, known_teams, args)
    except AgentError as exc:  # a bad request: a taken username, an unknown team...
        print(f"handoff: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        engine.dispose()


def _create_agent(
    settings: Settings, store: AgentStore, known_teams: frozenset[str], args: argparse.Namespace
) -> int:
    teams = [team.strip() for team in args.teams.split(",") if team.strip()]
    check_teams(teams, known_teams)  # before asking for a password that would be wasted
    agent = store.create_agent(
        username=args.username,
        display_name=args.name,
        role=args.role,
        teams=teams,
        capacity=args.capacity if args.capacity is not None else settings.agents.default_capacity,
        password=_new_password(from_stdin=args.password_stdin),
        now=datetime.now(UTC),
    )
    print(
        f"created {agent.role} {agent.username} ({agent.display_name}; teams "
        f"{', '.join(agent.teams)}; capacity {agent.capacity}), id {agent.id}"
    )
    return EXIT_OK


def _new_password(*, from_stdin: bool) -> str:
    if from_stdin:  # one line; only its line break is removed
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise InvalidAgent("the two passwords differ")
    return password


def _seed_demo(store: AgentStore, known_teams: frozenset[str]) -> int:
    seeded = seed_demo_agents(store, known_teams=known_teams, now=datetime.now(UTC))
    for item in seeded:
        verb = "created" if item.created else "exists "
        print(
            f"{verb} {item.agent.role:<10} {item.agent.username:<20} {', '.join(item.agent.teams)}"
        )
    print(
        f"Demo agents' password: {DEMO_PASSWORD}. Log in with POST /api/agents/login "
        f'{{"username": "{DEMO_LOGIN}", "password": "{DEMO_PASSWORD}"}}.'
    )
    return EXIT_OK


def format_agents(agents: Sequence[AgentRecord]) -> str:
    """The accounts as an aligned text table, one row per agent."""
    if not agents:
        return "no agents yet: handoff agents create ... (or handoff agents seed-demo)"
    header = ("USERNAME", "NAME", "ROLE", "TEAMS", "CAPACITY", "ACTIVE")
    rows = [header] + [
        (
            agent.username,
            agent.display_name,
            agent.role.value,
            ",".join(agent.teams),
            str(agent.capacity),
            "yes" if agent.active else "no",
        )
        for agent in agents
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


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
    sentiment_parser = commands.add_parser(
        "sentiment",
        help="score one message per line (FILE or stdin); one JSON object per line out",
    )
    sentiment_parser.add_argument(
        "file", nargs="?", type=Path, metavar="FILE", help="UTF-8 text; default: stdin"
    )
    sentiment_parser.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="DIR",
        help="the model folder (default: HANDOFF_SENTIMENT__MODEL_DIR or models/sentiment)",
    )
    # Quiet by default: stdout is the answer, and transformers is chatty.
    _add_log_level(sentiment_parser, default="warning")
    replay_parser = commands.add_parser(
        "replay",
        help="run recorded conversations through Rasa, the classifier and the engine "
        "(needs `make run`'s services up)",
    )
    replay_parser.add_argument(
        "--input", type=Path, required=True, metavar="IN.jsonl",
        help='lines of {"conversation_id", "account_tier", "messages": [...]}',
    )  # fmt: skip
    replay_parser.add_argument(
        "--output", type=Path, required=True, metavar="OUT.jsonl", help="one line per turn"
    )
    _add_log_level(replay_parser, default="warning")
    _add_log_level(add_tune_parser(commands), default="warning")
    _add_agents_parser(commands)
    _add_log_level(add_trainer_parser(commands), default="warning")
    # Listed for --help only: main() hands everything after the command to the trainer.
    train_parser = commands.add_parser(
        TRAIN_SENTIMENT, help="train the sentiment model (arguments go to the trainer)"
    )
    train_parser.add_argument("args", nargs=argparse.REMAINDER, help="the trainer's arguments")
    return parser


class _RefusePassword(argparse.Action):
    """``--password``: refused without echoing its value."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            "a password on the command line would stay in the shell's history and the process "
            "list: use --password-stdin, or leave it out to be prompted"
        )


def _add_agents_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agents_parser = commands.add_parser("agents", help="create and list agents' accounts")
    # Quiet by default: the output is the answer.
    _add_log_level(agents_parser, default="warning")
    actions = agents_parser.add_subparsers(dest="agents_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="create an account (the password is prompted for, or read from stdin)"
    )
    create.add_argument("--username", required=True, help="lowercased, e.g. ana.security")
    create.add_argument("--name", required=True, help="the display name, e.g. 'Ana Souza'")
    create.add_argument(
        "--teams", required=True, metavar="A,B", help="teams of data/escalation.yml's matrix"
    )
    create.add_argument(
        "--role", choices=[role.value for role in AgentRole], default=AgentRole.AGENT.value
    )
    create.add_argument(
        "--capacity", type=int, default=None, metavar="N",
        help="conversations at once (default: HANDOFF_AGENTS__DEFAULT_CAPACITY, 3)",
    )  # fmt: skip
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    # Without it, "--password X" would pass as --password-stdin (an abbreviation), then argparse
    # would print X back as an unrecognised argument.
    create.add_argument("--password", action=_RefusePassword, help=argparse.SUPPRESS)
    actions.add_parser("list", help="print every account as a table")
    actions.add_parser(
        "seed-demo", help=f"create the demo agents that are missing (password {DEMO_PASSWORD})"
    )


def _add_log_level(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default=default, help="default: %(default)s"
    )
