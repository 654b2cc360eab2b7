"""``handoff tune``: record once through the live path, search the policy's numbers offline,
print the figures of the shipped and the proposed policy and write the proposal as a diff.

Nothing is changed: the proposal is a unified diff of the policy file, to be read and applied
by a person (``patch -p0 < reports/tune/escalation.diff``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import yaml

from handoff.escalation.policy import EscalationPolicy, load_policy
from handoff.settings import Settings
from handoff.tuning.labels import (
    CHECK,
    SPLIT_SEED,
    TUNE,
    Label,
    LabelError,
    load_labelled,
    load_or_extend_split,
)
from handoff.tuning.metrics import Figures, evaluate, figures, format_by_kind
from handoff.tuning.policy_diff import dotted, edit_numbers, format_number, unified_diff
from handoff.tuning.recording import RecordedConversation, read_recording, record
from handoff.tuning.search import build, find_knobs, scorer, search


def weak_sums(policy: EscalationPolicy) -> list[str]:
    """Pairs of soft triggers whose weights reach ``escalate_score`` together on one turn.

    The answer to "do weak signals add up?" for a policy, in its own numbers.
    """
    soft = {
        code: rule.weight
        for code in type(policy.triggers).model_fields
        if not (rule := policy.triggers.rule(code)).hard and 0 < rule.weight < policy.escalate_score
    }
    return [
        f"{a} {soft[a]:g} + {b} {soft[b]:g} >= {policy.escalate_score:g}"
        for a, b in itertools.combinations(sorted(soft), 2)
        if soft[a] + soft[b] >= policy.escalate_score - 1e-9
    ]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def figures_table(rows: Mapping[str, Figures]) -> str:
    """One line per policy and half: conversations, containment, right-turn recall."""
    lines = [f"{'policy / half':22s} {'n':>4s}  {'containment':>11s}  {'right-turn recall':>17s}"]
    for name, result in rows.items():
        lines.append(
            f"{name:22s} {sum(result.verdicts.values()):4d}  {_rate(result.containment):>11s}  "
            f"{_rate(result.recall):>17s}"
        )
    return "\n".join(lines)


def recordings_for(
    args: argparse.Namespace, settings: Settings, policy: EscalationPolicy, labelled: list[Any]
) -> dict[str, RecordedConversation]:
    """The reused recording, or a new one made through the live path and saved."""
    if args.recording is not None:
        recordings = read_recording(args.recording)
    else:
        args.save_recording.parent.mkdir(parents=True, exist_ok=True)
        with args.save_recording.open("w", encoding="utf-8") as output:
            conversations = [item.conversation for item in labelled]
            asyncio.run(record(settings, policy, conversations, output, progress=sys.stderr))
        print(
            f"recording saved: {args.save_recording} (reuse it with --recording)", file=sys.stderr
        )
        recordings = read_recording(args.save_recording)
    missing = [item.conversation_id for item in labelled if item.conversation_id not in recordings]
    if missing:
        raise LabelError(
            f"the recording lacks {len(missing)} labelled conversation(s), e.g. {missing[:3]}: "
            "record again without --recording"
        )
    return recordings


def _shown(path: Path) -> str:
    # Relative to the working directory when inside it, so the diff applies with patch -p0.
    relative = os.path.relpath(path.resolve())
    return str(path) if relative.startswith("..") else relative


def run_tune(settings: Settings, args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """The whole command, printing to ``out`` (default: stdout); returns the exit code (0)."""
    out = sys.stdout if out is None else out
    policy_file: Path = args.policy or Path(settings.escalation.policy_file)
    text = policy_file.read_text(encoding="utf-8")
    shipped = load_policy(policy_file)
    labelled = load_labelled(args.conversations, args.labels)
    halves = load_or_extend_split(args.split, labelled, SPLIT_SEED)
    recordings = recordings_for(args, settings, shipped, labelled)
    labels: dict[str, list[Label]] = {TUNE: [], CHECK: []}
    for item in labelled:
        labels[halves[item.conversation_id]].append(item.label)

    raw = yaml.safe_load(text)
    knobs = find_knobs(raw)
    score = scorer(recordings, labels[TUNE], args.min_containment)
    result = search(raw, knobs, score, trials=args.trials, seed=args.seed)
    proposed = build(raw, result.changes)
    assert proposed is not None  # search only keeps policies that validate

    rows = {
        f"{name} / {half}": figures(evaluate(recordings, labels[half], policy))
        for name, policy in (("shipped", shipped), ("proposed", proposed))
        for half in (TUNE, CHECK)
    }
    print(
        f"searched {len(knobs)} numbers of {policy_file} in {result.trials} trials "
        f"(seed {args.seed}) for the best right-turn recall at containment >= "
        f"{args.min_containment:.0%} on the tuning half ({len(labels[TUNE])} conversations)",
        file=out,
    )
    print(figures_table(rows), file=out)
    for name in ("shipped", "proposed"):
        print(f"\n{name} policy, check half, by kind:", file=out)
        print(format_by_kind(rows[f"{name} / {CHECK}"]), file=out)
    print("\nproposed changes:" if result.changes else "\nno change proposed", file=out)
    flat = {knob.path: knob.shipped for knob in knobs}
    for path, value in result.changes.items():
        print(f"  {dotted(path)}: {format_number(flat[path])} -> {format_number(value)}", file=out)
    for name, policy in (("shipped", shipped), ("proposed", proposed)):
        sums = weak_sums(policy)
        print(f"\nsoft triggers that hand over only together, in pairs ({name}):", file=out)
        print("\n".join(f"  {line}" for line in sums) or "  none", file=out)
    diff = unified_diff(text, edit_numbers(text, result.changes), _shown(policy_file))
    args.diff.parent.mkdir(parents=True, exist_ok=True)
    args.diff.write_text(diff, encoding="utf-8")
    print(
        f"\nproposed policy as a diff ({args.diff}; nothing changes until it is applied):", file=out
    )
    print(diff or "(empty: the shipped numbers are the best found)", file=out)
    return 0
