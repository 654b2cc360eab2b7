"""Sentence vectors of messages, computed as the assistant's NLU computes its own.

The NLU's MiniLM featurizer (``bot/nlu/minilm_featurizer.py``, in the Rasa environment) gives a
message the mean of the encoder's token states over its word pieces; this does the same with
the same ONNX export (``models/encoder/``, built by ``make models``), so the trainers' inbox
compares messages and training examples in the space the assistant classifies them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAX_LENGTH = 128  # as the featurizer (config.yml)
BATCH_SIZE = 64


class SentenceEncoder:
    """The encoder export, loaded once; :meth:`encode` is thread-safe (one ONNX session)."""

    def __init__(self, session: Any, tokenizer: Any) -> None:
        self._session = session
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, model_dir: Path, *, threads: int = 1) -> SentenceEncoder:
        """Load ``model.onnx`` and ``tokenizer.json`` from ``model_dir``; ``FileNotFoundError``
        names the command that builds them."""
        missing = [n for n in ("model.onnx", "tokenizer.json") if not (model_dir / n).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{', '.join(missing)} not found in {model_dir}: run `make models`"
            )
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(
            str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_LENGTH)
        tokenizer.enable_padding()
        return cls(session, tokenizer)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 row per text: the mean of its word pieces' states."""
        rows = [
            self._batch(list(texts[i : i + BATCH_SIZE])) for i in range(0, len(texts), BATCH_SIZE)
        ]
        return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def _batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": mask,
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
