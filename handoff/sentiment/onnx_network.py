"""The sentiment network run by ONNX Runtime: the exported graph of ``model.onnx``.

The graph (written by ``training.sentiment.onnx_export``) maps token ids to the raw polarity
and auxiliary logits, exactly what the torch model's forward returns; everything around it
(tokenizer, chunking, calibrated postprocess) is the classifier's, shared by both runtimes.
Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnxruntime

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
"""The export's file name inside the model folder (float32)."""
ONNX_INT8_FILE = "model.int8.onnx"
"""Its dynamically quantised variant: int8 weights of every MatMul, activations quantised
per batch."""
EXPORT_FILES = {"float32": ONNX_FILE, "int8": ONNX_INT8_FILE}
"""The export of each precision ONNX Runtime runs."""

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAMES = ("polarity_logits", "auxiliary_logits")
WEIGHTS_DIGEST_KEY = "weights_sha256"
"""Metadata key of the export: the SHA-256 of the weights file it was exported from."""
WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")


def weights_digest(model_dir: Path) -> str:
    """SHA-256 of the folder's weights file, the fingerprint an export is checked against."""
    for name in WEIGHTS_FILES:
        path = model_dir / name
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as weights:
                for block in iter(lambda: weights.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
    raise FileNotFoundError(f"no weights file ({' or '.join(WEIGHTS_FILES)}) in {model_dir}")


def exported_weights_digest(path: Path) -> str | None:
    """The weights fingerprint recorded in the export at ``path``, ``None`` if it has none."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False)
    return next((p.value for p in graph.metadata_props if p.key == WEIGHTS_DIGEST_KEY), None)


class OnnxSentimentNetwork:
    """An ONNX Runtime session of the exported network; call it with a tokenized batch."""

    tensor_type = "np"
    """What the classifier's tokenizer must return for this network: numpy arrays."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        declared = {node.name for node in session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - declared
        if missing:
            raise ValueError(f"the ONNX graph lacks the inputs {sorted(missing)}")
        self.session = session
        self._inputs = [name for name in INPUT_NAMES if name in declared]

    @classmethod
    def load(cls, path: Path, *, threads: int) -> OnnxSentimentNetwork:
        """A CPU session of the graph at ``path`` with ``threads`` intra-op threads.

        Every graph optimisation ONNX Runtime has is applied at load (GELU and layer-norm
        fusions among them). onnxruntime's offline transformer optimizer fused nothing more in
        this graph (its attention fusion did not match the traced pattern) and measured no
        faster, so the export is kept as traced, one file fewer to keep in step.
        """
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        # Idle pool threads would spin between forward passes, burning a core that the turn's
        # concurrent Rasa call needs (15 ms of CPU per message instead of 4 with 2 threads).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # One forward pass at a time (the batcher serialises them): no inter-op parallelism.
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: ORT warns about unused initialisers
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        return cls(session)

    @property
    def weights_digest(self) -> str | None:
        """The fingerprint of the weights it was exported from, ``None`` if not recorded."""
        return self.session.get_modelmeta().custom_metadata_map.get(WEIGHTS_DIGEST_KEY)

    def __call__(self, batch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(polarity logits, auxiliary logits) of a tokenized, padded batch."""
        ids = np.asarray(batch["input_ids"], dtype=np.int64)
        feeds = {
            # A tokenizer that gives no segment ids means one segment: all zeros.
            name: np.asarray(batch[name], dtype=np.int64) if name in batch else np.zeros_like(ids)
            for name in self._inputs
        }
        polarity, auxiliary = self.session.run(list(OUTPUT_NAMES), feeds)
        return polarity, auxiliary
