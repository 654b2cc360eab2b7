"""Export a trained :class:`CustomerSentimentModel` to ONNX, for the service's ONNX Runtime path.

The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` (batch and token axes
dynamic) and returns the raw ``polarity_logits`` and ``auxiliary_logits``: tokenizing, chunking
and the calibrated softmax/sigmoid stay in :mod:`handoff.sentiment.classifier`, shared with the
torch path, and the calibration temperatures stay in ``config.json``, read at load time.

Beside it goes ``model.int8.onnx``, dynamically quantised (int8 weights). Both files carry the
SHA-256 of the ``model.safetensors`` they were exported from, so the service can tell a stale
export (weights retrained since) from a current one. Before it is kept, the float32 export is
checked against torch on messages of different lengths, padded together.

    python -m training.sentiment.onnx_export --model models/sentiment
    python -m training.sentiment.onnx_export --model models/sentiment --evaluate

``--evaluate`` then scores torch float32, ONNX float32 and ONNX int8 on the dev splits
(``training.sentiment.evaluate``) and prints each ONNX variant's drop in points.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn
from transformers import AutoTokenizer

from handoff.sentiment.model import CustomerSentimentModel
from handoff.sentiment.onnx_network import (
    INPUT_NAMES,
    ONNX_FILE,
    ONNX_INT8_FILE,
    OUTPUT_NAMES,
    WEIGHTS_DIGEST_KEY,
    OnnxSentimentNetwork,
    weights_digest,
)

logger = logging.getLogger(__name__)

OPSET = 17
PARITY_MESSAGES = (
    "hi",
    "Thanks, that fixed it!",
    "This is the third time I'm asking: my card was declined again and nobody answers.",
    "great, another hour on hold",
)
# Largest allowed gap between torch and ONNX Runtime logits, float32 both. Measured gaps are
# around 1e-6; a wrong mask or a dropped head would be off by whole units.
PARITY_TOLERANCE = 1e-4


class _Logits(nn.Module):
    """The model's forward pass with the padding mask built from tensors only.

    transformers' own mask helpers take Python-level shortcuts (no mask when nothing is padded)
    that tracing would freeze into the graph; the pooling and heads are the model's own.
    """

    def __init__(self, model: CustomerSentimentModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        bert = self.model.bert
        states = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        blocked = (1.0 - attention_mask[:, None, None, :].to(states.dtype)) * torch.finfo(
            states.dtype
        ).min
        states = bert.encoder(states, attention_mask=blocked).last_hidden_state
        # The model's masked mean pooling (dropout is the identity in evaluation mode).
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.model.polarity(pooled), self.model.auxiliary(pooled)


def export_sentiment_onnx(model_dir: Path, target: Path | None = None) -> Path:
    """Write ``model_dir``'s model as ONNX (default ``model_dir/model.onnx``), checked, and
    its int8 variant beside it (``model.int8.onnx``).

    Raises ``RuntimeError`` when ONNX Runtime's logits differ from torch's by more than
    :data:`PARITY_TOLERANCE`; nothing is kept then.
    """
    target = target or model_dir / ONNX_FILE
    # Eager attention traces to plain matmuls with the padding mask as a real input; the fused
    # SDPA path bakes shape-dependent branches into the graph.
    model = CustomerSentimentModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, config=model.config)
    sample = tokenizer(list(PARITY_MESSAGES[:2]), padding=True, return_tensors="pt")
    scratch = target.with_name(f".{target.name}.partial")
    with torch.inference_mode():
        torch.onnx.export(
            _Logits(model),
            tuple(sample[name] for name in INPUT_NAMES),
            str(scratch),
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={
                **{name: {0: "batch", 1: "tokens"} for name in INPUT_NAMES},
                **{name: {0: "batch"} for name in OUTPUT_NAMES},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    _stamp_weights_digest(scratch, weights_digest(model_dir))
    try:
        # A fresh copy is the reference: the exporter may leave the traced module altered.
        reference = CustomerSentimentModel.from_pretrained(model_dir).eval()
        gap = parity_gap(reference, tokenizer, scratch)
    except Exception:
        scratch.unlink(missing_ok=True)
        raise
    if gap > PARITY_TOLERANCE:
        scratch.unlink()
        raise RuntimeError(f"ONNX export differs from torch by {gap:.2e} (> {PARITY_TOLERANCE})")
    scratch.replace(target)
    logger.info("sentiment model exported to %s (max logit gap to torch %.2e)", target, gap)
    # Its accuracy against float32 is measured with --evaluate, not bounded here: int8
    # logits legitimately move by more than any tolerance a parity check could use.
    quantized = quantize_int8(target, target.with_name(ONNX_INT8_FILE))
    _stamp_weights_digest(quantized, weights_digest(model_dir))
    return target


def _stamp_weights_digest(path: Path, digest: str) -> None:
    import onnx

    graph = onnx.load(str(path))
    entry = graph.metadata_props.add()
    entry.key, entry.value = WEIGHTS_DIGEST_KEY, digest
    onnx.save(graph, str(path))


def parity_gap(model: CustomerSentimentModel, tokenizer, onnx_path: Path) -> float:
    """Largest absolute difference between torch's and ONNX Runtime's logits on a padded batch."""
    network = OnnxSentimentNetwork.load(onnx_path, threads=1)
    batch = tokenizer(list(PARITY_MESSAGES), padding=True, return_tensors="np")
    exported = network(batch)
    with torch.inference_mode():
        output = model(**{name: torch.from_numpy(batch[name]) for name in INPUT_NAMES})
    expected = (output.logits.numpy(), output.auxiliary_logits.numpy())
    return max(float(np.abs(a - b).max()) for a, b in zip(exported, expected, strict=True))


def quantize_int8(source: Path, target: Path) -> Path:
    """A dynamically quantised copy of ``source`` (int8 weights of every MatMul) at ``target``.

    Signed int8 weights, one scale per output channel: per-tensor scales lose more of the
    small heads' precision.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    scratch = target.with_name(f".{target.name}.partial")
    quantize_dynamic(str(source), str(scratch), weight_type=QuantType.QInt8, per_channel=True)
    scratch.replace(target)
    return target


class _OnnxAsModule:
    """Enough of a torch module for ``training.sentiment.evaluate.predict``."""

    def __init__(self, network: OnnxSentimentNetwork, config: object) -> None:
        self.network = network
        self.config = config  # the torch model's: predict reads its calibration temperatures

    def eval(self) -> _OnnxAsModule:
        return self

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        ids = input_ids.numpy()
        batch = {
            "input_ids": ids,
            "attention_mask": attention_mask.numpy(),
            "token_type_ids": np.zeros_like(ids),
        }
        polarity, auxiliary = self.network(batch)
        return SimpleNamespace(
            logits=torch.from_numpy(polarity), auxiliary_logits=torch.from_numpy(auxiliary)
        )


def evaluate_variants(model_dir: Path, data_dir: Path, threads: int) -> dict[str, object]:
    """Dev metrics of torch float32, ONNX float32 and ONNX int8, and each ONNX drop in points."""
    from training.sentiment import evaluate

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    config = CustomerSentimentModel.config_class.from_pretrained(model_dir)
    root = evaluate.repo_root()
    for name in (ONNX_FILE, ONNX_INT8_FILE):
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"no {model_dir / name}: export it first")
    metrics: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    variants = {
        "torch-float32": lambda: CustomerSentimentModel.from_pretrained(model_dir).eval(),
        "onnx-float32": lambda: _OnnxAsModule(
            OnnxSentimentNetwork.load(model_dir / ONNX_FILE, threads=threads), config
        ),
        "onnx-int8": lambda: _OnnxAsModule(
            OnnxSentimentNetwork.load(model_dir / ONNX_INT8_FILE, threads=threads), config
        ),
    }
    for name, build in variants.items():
        started = time.monotonic()
        metrics[name] = evaluate.flat(evaluate.evaluate_model(build(), tokenizer, data_dir, root))
        seconds[name] = round(time.monotonic() - started, 1)
    reference = metrics["torch-float32"]
    drops = {
        name: evaluate.drops_in_points(reference, values)
        for name, values in metrics.items()
        if name != "torch-float32"
    }
    return {"metrics": metrics, "eval_seconds": seconds, "drop_points_vs_torch_float32": drops}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a save_pretrained folder")
    parser.add_argument("--evaluate", action="store_true", help="compare on the dev splits")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = export_sentiment_onnx(args.model)
    print(f"sentiment model exported to {path}")
    if args.evaluate:
        from handoff.settings import get_settings

        data_dir = args.data_dir or get_settings().paths.data_dir
        print(json.dumps(evaluate_variants(args.model, data_dir, args.threads), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
