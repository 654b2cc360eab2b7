"""Evaluation of the shipped escalation policy on the check half of the labelled conversations.

Run ``python -m benchmarks.escalation_eval`` (``make escalation-eval``). It starts its own stack
(``python -m handoff stack``, as ``make bench-gateway`` does), records every labelled
conversation of ``data/scenarios/`` through the live path of ``handoff replay`` (the running
Rasa server, the real sentiment classifier; every turn, see :mod:`handoff.tuning.recording`),
then runs the engine with ``data/escalation.yml`` over the recorded turns of the check half.

Containment and right-turn recall, overall and by kind, go to stdout and
``reports/escalation-eval/summary.json``; each conversation's outcome, with the reasons of its
first handoff (value and threshold), to ``conversations.jsonl``; the recording itself to
``recording.jsonl``, which ``handoff tune --recording`` reuses. ``--recording FILE`` evaluates
an earlier recording without starting anything. Targets: containment >= 0.97, right-turn
recall >= 0.95; the figures are reported, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.gateway_bench import running_stack
from benchmarks.stack_env import bench_environment
from handoff.escalation.policy import load_policy
from handoff.replay import ReplayConversation
from handoff.settings import Settings
from handoff.tuning.labels import CHECK, SPLIT_SEED, load_labelled, load_or_extend_split
from handoff.tuning.metrics import evaluate, figures, format_by_kind
from handoff.tuning.recording import read_recording, record

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "data" / "scenarios"
TARGET_CONTAINMENT = 0.97
TARGET_RECALL = 0.95


def record_with_own_stack(
    conversations: list[ReplayConversation],
    policy_file: Path,
    out: Path,
) -> None:
    """Start the stack, record ``conversations`` into ``out``, stop the stack."""
    environment = bench_environment()
    with (
        tempfile.TemporaryDirectory(prefix="escalation-eval-") as scratch,
        running_stack(Path(scratch), environment) as urls,
    ):
        os.environ.update(
            {**environment, "HANDOFF_RASA__URL": urls["rasa"],
             "HANDOFF_ESCALATION__POLICY_FILE": str(policy_file)}
        )  # fmt: skip
        settings = Settings()
        policy = load_policy(policy_file)
        with out.open("w", encoding="utf-8") as output:
            asyncio.run(record(settings, policy, conversations, output, progress=sys.stderr))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; exit 0 whatever the figures (they are reported, not asserted)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.escalation_eval",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--conversations", type=Path, default=SCENARIOS / "conversations.jsonl")
    parser.add_argument("--labels", type=Path, default=SCENARIOS / "labels.jsonl")
    parser.add_argument("--split", type=Path, default=SCENARIOS / "split.json")
    parser.add_argument("--policy", type=Path, default=ROOT / "data" / "escalation.yml")
    parser.add_argument(
        "--recording", type=Path, default=None, help="evaluate this recording; start nothing"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "escalation-eval")
    args = parser.parse_args(argv)
    labelled = load_labelled(args.conversations, args.labels)
    halves = load_or_extend_split(args.split, labelled, SPLIT_SEED)
    args.out.mkdir(parents=True, exist_ok=True)
    recording = args.recording
    if recording is None:
        recording = args.out / "recording.jsonl"
        record_with_own_stack([item.conversation for item in labelled], args.policy, recording)
    recordings = read_recording(recording)
    check = [item.label for item in labelled if halves[item.conversation_id] == CHECK]
    outcomes = evaluate(recordings, check, load_policy(args.policy))
    result = figures(outcomes)
    summary = {
        "policy": str(args.policy),
        "half": CHECK,
        "recording": str(recording),
        "targets": {"containment": TARGET_CONTAINMENT, "right_turn_recall": TARGET_RECALL},
        **result.to_json(),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    with (args.out / "conversations.jsonl").open("w", encoding="utf-8") as lines:
        lines.writelines(json.dumps(o.to_json()) + "\n" for o in outcomes)
    print(f"shipped policy {args.policy.name} on the check half ({len(check)} conversations)")
    print(format_by_kind(result))
    print(
        f"targets: containment >= {TARGET_CONTAINMENT:.0%}, right-turn recall >= "
        f"{TARGET_RECALL:.0%}"
    )
    print(f"written: {args.out / 'summary.json'}, {args.out / 'conversations.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
