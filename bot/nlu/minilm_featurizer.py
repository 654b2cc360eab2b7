"""Dense sentence and token features from the MiniLM encoder, run with onnxruntime.

Rasa 3.6's own transformer featurizer needs TensorFlow weights and a transformers release that
cannot read the bundled safetensors, so the encoder is exported to ONNX by the build
(`training/encoder_export.py`) and executed here. Features complement the sparse n-gram counts:
sentence features are the mean of the encoder's token states (as the encoder was trained to be
pooled), sequence features are the mean of the word pieces inside each Rasa token.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    """Featurizes messages with an ONNX export of all-MiniLM-L6-v2."""

    @classmethod
    def required_components(cls) -> List[Type]:
        """Rasa tokens are needed to align word pieces with sequence positions."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`model_dir` holds `model.onnx` and `tokenizer.json`; relative to the project root."""
        return {
            **DenseFeaturizer.get_default_config(),
            "model_dir": "models/encoder",
            "max_length": 128,
            "batch_size": 64,
            "intra_op_threads": 2,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        """Extra packages of the Rasa environment."""
        return ["onnxruntime", "tokenizers"]

    def __init__(self, config: Dict[Text, Any], execution_context: ExecutionContext) -> None:
        """Loads the encoder once; every message afterwards reuses the session."""
        super().__init__(execution_context.node_name, config)
        self._session, self._tokenizer = _load_encoder(
            Path(config["model_dir"]), int(config["max_length"]), int(config["intra_op_threads"])
        )
        self._batch_size = int(config["batch_size"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MiniLMFeaturizer":
        """Creates the featurizer (it has nothing to train)."""
        return cls(config, execution_context)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Fails early with the command that builds a missing encoder."""
        model_dir = Path(config.get("model_dir", "models/encoder"))
        missing = [n for n in ("model.onnx", "tokenizer.json") if not (model_dir / n).is_file()]
        if missing:
            raise InvalidConfigException(
                f"MiniLMFeaturizer: {', '.join(missing)} not found in '{model_dir}'. "
                f"Run `make models` to export the encoder."
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes all training examples in batches."""
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds sequence and sentence features to every dense-featurizable attribute."""
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            pending = [m for m in messages if m.get(TOKENS_NAMES[attribute])]
            for start in range(0, len(pending), self._batch_size):
                batch = pending[start : start + self._batch_size]
                texts = [m.get(attribute) or "" for m in batch]
                for message, (sequence, sentence) in zip(batch, self._featurize(texts, batch, attribute)):
                    self.add_features_to_message(sequence, sentence, attribute, message)
        return messages

    def _featurize(
        self, texts: List[Text], messages: List[Message], attribute: Text
    ) -> List[Tuple[np.ndarray, np.ndarray]]:
        encodings = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        results = []
        for row, (encoding, message) in enumerate(zip(encodings, messages)):
            states = hidden[row]
            mask = np.array(encoding.attention_mask, dtype=bool)
            sentence = states[mask].mean(axis=0, keepdims=True)
            tokens: List[Token] = message.get(TOKENS_NAMES[attribute])
            sequence = _align_to_tokens(states, encoding, tokens, fallback=sentence[0])
            results.append((sequence.astype(np.float32), sentence.astype(np.float32)))
        return results


def _load_encoder(model_dir: Path, max_length: int, threads: int) -> Tuple[Any, Any]:
    import onnxruntime
    from tokenizers import Tokenizer as WordPieceTokenizer

    options = onnxruntime.SessionOptions()
    # Rasa serves one message at a time; more threads than cores only adds contention.
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    tokenizer = WordPieceTokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding()
    return session, tokenizer


def _align_to_tokens(
    states: np.ndarray, encoding: Any, tokens: List[Token], fallback: np.ndarray
) -> np.ndarray:
    """Mean of the word pieces overlapping each Rasa token's character span.

    Tokens past the encoder's truncation point get the sentence vector, so a very long message
    still yields one row per token, which Rasa requires.
    """
    pieces = [
        (index, start, end)
        for index, ((start, end), special) in enumerate(
            zip(encoding.offsets, encoding.special_tokens_mask)
        )
        if not special and end > start
    ]
    rows = []
    for token in tokens:
        inside = [i for i, start, end in pieces if start < token.end and end > token.start]
        rows.append(states[inside].mean(axis=0) if inside else fallback)
    return np.stack(rows)
