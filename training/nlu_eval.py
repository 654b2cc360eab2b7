"""Score the shipped Rasa model on the held-out 20 % of Banking77 and write a report.

The held-out examples never reach training (see `banking77.stratified_split`), so the figures
are those of the model `make run` serves, not of a separate evaluation model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HELDOUT = PROJECT_ROOT / "var/eval/banking77_heldout.yml"
TARGET_ACCURACY = 0.92


@dataclass(frozen=True)
class NluScores:
    examples: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    below_fallback_threshold: float
    fallback_threshold: float
    train_seconds: float | None


def fallback_threshold(config_path: Path) -> float:
    """The FallbackClassifier threshold configured in `config.yml`."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for component in config.get("pipeline", []):
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    raise ValueError(f"{config_path}: no FallbackClassifier in the pipeline")


def scores_from_reports(out_dir: Path, threshold: float, train_seconds: float | None) -> NluScores:
    """Read Rasa's intent report and error list into the figures the README quotes."""
    report = json.loads((out_dir / "intent_report.json").read_text(encoding="utf-8"))
    histogram = _confidences(out_dir)
    examples = int(report["macro avg"]["support"])
    below = sum(1 for c in histogram if c < threshold) / examples if histogram else float("nan")
    return NluScores(
        examples=examples,
        accuracy=round(float(report["accuracy"]), 4),
        macro_f1=round(float(report["macro avg"]["f1-score"]), 4),
        weighted_f1=round(float(report["weighted avg"]["f1-score"]), 4),
        below_fallback_threshold=round(below, 4),
        fallback_threshold=threshold,
        train_seconds=train_seconds,
    )


def _confidences(out_dir: Path) -> list[float]:
    # `--successes` makes Rasa write the correct predictions too; together they are every example.
    rows: list[dict] = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out_dir / name
        if path.is_file():
            rows.extend(json.loads(path.read_text(encoding="utf-8")))
    return [float(row["intent_prediction"]["confidence"]) for row in rows]


def run_rasa_test(rasa: Path, model: Path, out_dir: Path) -> None:
    subprocess.run(
        [
            str(rasa),
            "test",
            "nlu",
            "--model",
            str(model),
            "--nlu",
            str(HELDOUT),
            "--out",
            str(out_dir),
            "--successes",
            "--no-plot",
        ],
        cwd=PROJECT_ROOT,
        check=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rasa", type=Path, default=PROJECT_ROOT / ".venv-rasa/bin/rasa")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "reports/nlu-eval")
    args = parser.parse_args(argv)
    models = sorted((PROJECT_ROOT / "models").glob("assistant-*.tar.gz"))
    if len(models) != 1 or not HELDOUT.is_file():
        print(
            "Run `make models` first: it builds the model and the held-out split.", file=sys.stderr
        )
        return 2
    run_rasa_test(args.rasa, models[0], args.out)
    train_info = PROJECT_ROOT / "models/assistant-train.json"
    seconds = json.loads(train_info.read_text())["train_seconds"] if train_info.is_file() else None
    scores = scores_from_reports(args.out, fallback_threshold(PROJECT_ROOT / "config.yml"), seconds)
    (args.out / "summary.json").write_text(json.dumps(asdict(scores), indent=2) + "\n")
    print(_table(scores, models[0].name))
    return 0


def _table(scores: NluScores, model_name: str) -> str:
    status = "meets" if scores.accuracy >= TARGET_ACCURACY else "BELOW"
    trained = f"{scores.train_seconds:.0f} s" if scores.train_seconds is not None else "unknown"
    rows = [
        ("examples", str(scores.examples)),
        ("intent accuracy", f"{scores.accuracy:.4f}  ({status} target {TARGET_ACCURACY})"),
        ("macro-F1", f"{scores.macro_f1:.4f}"),
        ("weighted F1", f"{scores.weighted_f1:.4f}"),
        (
            f"below fallback threshold {scores.fallback_threshold:.2f}",
            f"{scores.below_fallback_threshold:.2%}",
        ),
        ("last model build (cached parts reused)", trained),
    ]
    lines = [f"Banking77 held-out evaluation of {model_name}"]
    lines += [f"  {label:<32}{value}" for label, value in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
