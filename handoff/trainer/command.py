"""``handoff trainer export|apply``: the inbox for trainers who work in git.

``export`` writes the open inbox as a YAML file (:mod:`handoff.trainer.review_file`); a
trainer fills in the decisions; ``apply`` writes the accepted examples into
``data/nlu/reviewed/`` (:mod:`handoff.trainer.nlu_data`) and records every decision in the
service database, with who made it and when. An example the training data has under another
intent is refused and its group stays open, so nothing is decided that was not written.
``make models`` then trains the assistant on the new examples.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import yaml

from handoff.settings import Settings, repo_root
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.review import ReviewGroup, ReviewStore
from handoff.store.states import ReviewStatus
from handoff.trainer.grouping import similar_groups
from handoff.trainer.nlu_data import (
    ReviewedExample,
    known_examples,
    plan_update,
    read_reviewed,
    training_examples,
    write_update,
)
from handoff.trainer.review_file import (
    Decision,
    DecisionKind,
    ReviewFileError,
    export_document,
    parse_decisions,
)
from handoff.trainer.sentence_vectors import SentenceEncoder

EXIT_OK = 0
EXIT_BAD_INPUT = 3
PAGE = 500
_STATUS = {
    DecisionKind.ACCEPT: ReviewStatus.ACCEPTED,
    DecisionKind.RELABEL: ReviewStatus.RELABELLED,
    DecisionKind.OUT_OF_SCOPE: ReviewStatus.OUT_OF_SCOPE,
    DecisionKind.IGNORE: ReviewStatus.IGNORED,
}


def add_trainer_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """``handoff trainer`` and its actions."""
    parser = commands.add_parser("trainer", help="the bot trainers' inbox, as a file to edit")
    actions = parser.add_subparsers(dest="trainer_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write the open inbox as YAML to decide in")
    export.add_argument("--out", type=Path, default=None, help="a file (default: stdout)")
    export.add_argument("--limit", type=int, default=None, help="the N most frequent groups")
    export.add_argument(
        "--nlu-dir", type=Path, default=repo_root() / "data" / "nlu", help=argparse.SUPPRESS
    )
    apply = actions.add_parser("apply", help="apply a decided inbox file")
    apply.add_argument("file", type=Path)
    apply.add_argument("--by", required=True, help="who decided (recorded with each decision)")
    apply.add_argument(
        "--nlu-dir", type=Path, default=repo_root() / "data" / "nlu", help=argparse.SUPPRESS
    )
    apply.add_argument(
        "--domain-dir", type=Path, default=repo_root() / "bot" / "domain", help=argparse.SUPPRESS
    )
    return parser


def run_trainer(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``handoff trainer export`` or ``apply`` on the migrated service database."""
    engine = create_database_engine(settings.database.url)
    try:
        upgrade_database(engine)
        store = ReviewStore(engine)
        if args.trainer_command == "export":
            encoder_dir = settings.paths.models_dir / "encoder"
            return _export(store, args.out, args.limit, encoder_dir, args.nlu_dir)
        return _apply(store, args.file, args.by, args.nlu_dir, args.domain_dir)
    finally:
        engine.dispose()


def open_groups(store: ReviewStore, limit: int | None) -> list[ReviewGroup]:
    """The open groups, most frequent first, ``limit`` of them (all by default)."""
    groups: list[ReviewGroup] = []
    while limit is None or len(groups) < limit:
        page = store.groups(limit=PAGE, offset=len(groups))
        groups.extend(page)
        if len(page) < PAGE:
            break
    return groups if limit is None else groups[:limit]


def domain_intents(domain_dir: Path) -> frozenset[str]:
    """The intents the assistant's domain lists (``bot/domain/*.yml``)."""
    intents: set[str] = set()
    for path in sorted(domain_dir.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for intent in document.get("intents") or []:
            intents.add(intent if isinstance(intent, str) else next(iter(intent)))
    return frozenset(intents)


def _export(
    store: ReviewStore, out: Path | None, limit: int | None, encoder_dir: Path, nlu_dir: Path
) -> int:
    groups = open_groups(store, limit)
    try:
        encoder = SentenceEncoder.load(encoder_dir, threads=2)
    except FileNotFoundError as exc:
        print(f"similar messages not grouped: {exc}", file=sys.stderr)
        document = export_document(groups)
    else:
        examples = training_examples(nlu_dir)
        similar = similar_groups(
            encoder.encode([group.text for group in groups]),
            encoder.encode([text for _, text in examples]),
            [intent for intent, _ in examples],
        )
        document = export_document(groups, similar)
    if out is None:
        sys.stdout.write(document)
    else:
        out.write_text(document, encoding="utf-8")
        print(f"written: {out}", file=sys.stderr)
    return EXIT_OK


def _apply(store: ReviewStore, file: Path, by: str, nlu_dir: Path, domain_dir: Path) -> int:
    try:
        decisions = parse_decisions(file.read_text(encoding="utf-8"), domain_intents(domain_dir))
    except (OSError, ReviewFileError) as exc:
        print(f"handoff trainer apply: {file}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    examples = [example_of(decision) for decision in decisions if decision.intent]
    update = plan_update(read_reviewed(nlu_dir), known_examples(nlu_dir), examples)
    written = write_update(update, nlu_dir)
    refused = {conflict.example.text for conflict in update.conflicts}
    now = datetime.now(UTC)
    decided = 0
    for decision in decisions:
        if decision.intent is not None and decision.text in refused:
            continue  # not written: the group stays open
        decided += store.decide(
            decision.key, status=_STATUS[decision.kind], label=decision.intent, decided_by=by,
            now=now,
        )  # fmt: skip
    for conflict in update.conflicts:
        print(
            f"refused: {conflict.example.text!r} as {conflict.example.intent}: the training data "
            f"has it as {conflict.existing.intent} ({conflict.existing.source}); left open",
            file=sys.stderr,
        )
    print(
        f"{len(decisions)} groups decided ({decided} messages), {len(update.added)} examples "
        f"added, {len(update.already_known)} already known, {len(update.conflicts)} refused; "
        f"files written: {', '.join(str(path) for path in written) or 'none'}"
    )
    return EXIT_OK if not update.conflicts else EXIT_BAD_INPUT


def example_of(decision: Decision) -> ReviewedExample:
    """The training example a decision makes (its text as an example of its intent)."""
    if decision.intent is None:
        raise ValueError(f"the group {decision.key!r} was ignored: it makes no example")
    return ReviewedExample(decision.intent, decision.text)


__all__: Sequence[str] = ["add_trainer_parser", "domain_intents", "open_groups", "run_trainer"]
