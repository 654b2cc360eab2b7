"""The options of ``handoff tune`` (apart from the command, which imports Optuna and torch)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_tune_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """The ``tune`` subcommand's options."""
    scenarios = Path("data") / "scenarios"
    reports = Path("reports") / "tune"
    tune = commands.add_parser(
        "tune",
        help="search the escalation policy's numbers on labelled conversations; prints figures "
        "and writes the proposal as a diff (records through `make run`'s services once)",
    )
    tune.add_argument(
        "--conversations",
        type=Path,
        default=scenarios / "conversations.jsonl",
        metavar="IN.jsonl",
        help="handoff replay's input; default: %(default)s",
    )
    tune.add_argument(
        "--labels",
        type=Path,
        default=scenarios / "labels.jsonl",
        metavar="LABELS.jsonl",
        help="one label per conversation_id; default: %(default)s",
    )
    tune.add_argument(
        "--split",
        type=Path,
        default=scenarios / "split.json",
        metavar="SPLIT.json",
        help="tuning/check halves by id, made (then kept) when missing; default: %(default)s",
    )
    tune.add_argument(
        "--recording",
        type=Path,
        default=None,
        metavar="REC.jsonl",
        help="reuse this recording instead of recording (no services needed)",
    )
    tune.add_argument(
        "--save-recording",
        type=Path,
        default=reports / "recording.jsonl",
        metavar="REC.jsonl",
        help="where a new recording goes; default: %(default)s",
    )
    tune.add_argument(
        "--policy",
        type=Path,
        default=None,
        metavar="POLICY.yml",
        help="default: HANDOFF_ESCALATION__POLICY_FILE or data/escalation.yml",
    )
    tune.add_argument("--trials", type=int, default=1000, help="default: %(default)s")
    tune.add_argument("--seed", type=int, default=0, help="the search's seed; default: %(default)s")
    tune.add_argument("--min-containment", type=float, default=0.97, help="default: %(default)s")
    tune.add_argument("--diff", type=Path, default=reports / "escalation.diff", metavar="OUT.diff",
                      help="default: %(default)s")  # fmt: skip
    return tune
