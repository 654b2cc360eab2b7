"""Scores customer messages with the trained :class:`CustomerSentimentModel`.

The work is split the way transformers' text-classification pipeline splits it:

* :meth:`SentimentClassifier.preprocess` tokenizes (padding, truncation) and refuses bad input;
* :meth:`SentimentClassifier.forward` runs the network: the torch model under
  ``torch.inference_mode()``, or its ONNX export in ONNX Runtime (:class:`Runtime`);
* :func:`postprocess` turns logits into :class:`SentimentReading` objects, in pure numpy, with
  the label names taken from the model's own config.

:meth:`SentimentClassifier.score` chains the three over length-sorted chunks, so short messages
are not padded to the length of a long one, and returns the readings in input order.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from transformers import AutoTokenizer, BatchEncoding, PretrainedConfig, PreTrainedTokenizerBase

from handoff.sentiment.model import CustomerSentimentModel, SentimentConfig
from handoff.sentiment.reading import SentimentInputError, SentimentReading, validate_text

logger = logging.getLogger(__name__)

FRUSTRATION = "frustration"
IRONY = "irony"
DEFAULT_BATCH_SIZE = 32
# Padded tokens per forward pass. Measured with MiniLM-L6 on this project's 2-core CPU box
# (benchmarks/sentiment_bench.py): in float32, chunks of ~512 tokens of similar length scored
# the most messages per second (4096 was 35 % slower, from padding); in bfloat16 the AMX
# units want bigger matrices, and 2048 scored 1.6 times as many messages as 512.
DEFAULT_TOKEN_BUDGET = 512
BFLOAT16_TOKEN_BUDGET = 2048


class Precision(StrEnum):
    """The number format the network runs in.

    ``auto`` picks ``bfloat16`` on a CPU with native bfloat16 matrix units (Intel AMX or
    AVX512-BF16), where it is measured faster at every batch size and scores the dev sets
    within a tenth of a point of ``float32`` (``make sentiment-eval``), and ``float32``
    elsewhere, where bfloat16 is emulated and slow; in ONNX Runtime, ``auto`` is ``int8`` (see
    :class:`Runtime`). ``int8`` is dynamic int8 quantisation of the linear layers: faster for
    one message; in torch it loses more than a point of accuracy, in ONNX Runtime less than
    half a point.
    """

    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    INT8 = "int8"


class Runtime(StrEnum):
    """What runs the network.

    ``onnx`` is ONNX Runtime on the exports written next to the weights by ``make models``
    (or ``python -m training.sentiment.onnx_export``): ``model.onnx`` in float32 and
    ``model.int8.onnx``, dynamically quantised, which ``auto`` precision means there.
    ``torch`` runs the weights themselves in any :class:`Precision`. ``auto`` is ``onnx``
    when the folder holds an export of its current weights in the precision asked for, else
    ``torch``.

    Measured on this project's 2-core CPU (``make bench-sentiment``, same run): ONNX Runtime
    float32 scores one message in 0.3 to 0.5 of torch float32's time, with the same readings
    (logits within 1e-5); its int8 export in 0.15 to 0.3, faster than every torch precision
    including bfloat16, and it loses under half a point on the main dev metrics (``python -m
    training.sentiment.onnx_export --evaluate``; torch's int8 loses 8.5 on frustration F1).
    """

    AUTO = "auto"
    TORCH = "torch"
    ONNX = "onnx"


class SentimentNetwork(Protocol):
    """The network as the classifier calls it: a tokenized batch in, logits out."""

    tensor_type: str
    """What the tokenizer returns for it: ``"pt"`` (torch tensors) or ``"np"`` (numpy)."""

    def __call__(self, batch: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(polarity logits, auxiliary logits) of one padded batch."""
        ...


class TorchSentimentNetwork:
    """The torch model itself, run under ``torch.inference_mode()``."""

    tensor_type = "pt"

    def __init__(self, model: CustomerSentimentModel) -> None:
        self.model = model.eval()

    def __call__(self, batch: Mapping[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            output = self.model(**batch)
        return output.logits.float().numpy(), output.auxiliary_logits.float().numpy()


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX tiles or AVX512-BF16)."""
    # torch.cpu's probes are underscored but stable since torch 2.3; a torch without them
    # simply gets float32, the safe choice.
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def resolve_precision(precision: Precision | str) -> Precision:
    """The concrete precision for ``precision`` on this machine (``auto`` decided here)."""
    precision = Precision(precision)
    if precision is Precision.AUTO:
        return Precision.BFLOAT16 if cpu_has_native_bfloat16() else Precision.FLOAT32
    return precision


def convert_model(
    model: CustomerSentimentModel, precision: Precision | str
) -> CustomerSentimentModel:
    """``model`` in ``precision`` (``auto`` resolved first), in evaluation mode."""
    precision = resolve_precision(precision)
    if precision is Precision.BFLOAT16:
        return model.to(torch.bfloat16).eval()
    if precision is Precision.INT8:
        return quantize_linear_layers(model)
    return model.eval()


ONNX_EXPORT_COMMAND = "python -m training.sentiment.onnx_export --model {model_dir}"
"""How to write a folder's ONNX export by hand (``make models`` does it after training)."""


class StaleExportError(OSError):
    """The folder's ONNX export was made from other weights than the ones beside it."""


def resolve_runtime(
    runtime: Runtime | str, precision: Precision | str, model_dir: Path
) -> tuple[Runtime, Precision]:
    """The concrete runtime and precision for ``model_dir`` on this machine.

    ONNX Runtime runs int8 and float32; ``auto`` precision there is the int8 export, or the
    float32 one when there is no int8 export. Raises ``ValueError`` for ``onnx`` with
    bfloat16, ``FileNotFoundError`` for ``onnx`` without an export of that precision and
    :class:`StaleExportError` for ``onnx`` with an outdated one.
    """
    runtime, precision = Runtime(runtime), Precision(precision)
    if runtime is Runtime.TORCH:
        return runtime, resolve_precision(precision)
    choices = ONNX_PRECISIONS.get(precision)
    if choices is None:
        if runtime is Runtime.ONNX:
            raise ValueError(
                f"the ONNX runtime runs int8 and float32, not {precision.value}: set the "
                "precision to auto, int8 or float32, or the runtime to torch"
            )
        return Runtime.TORCH, resolve_precision(precision)
    problems: list[OSError] = []
    for choice in choices:
        try:
            check_onnx_export(model_dir, choice)
        except OSError as exc:  # missing or stale
            problems.append(exc)
        else:
            return Runtime.ONNX, choice
    stale = [problem for problem in problems if isinstance(problem, StaleExportError)]
    if runtime is Runtime.ONNX:
        raise stale[0] if stale else problems[-1]
    for problem in stale:
        logger.warning("%s; running the weights with torch", problem)
    return Runtime.TORCH, resolve_precision(precision)


ONNX_PRECISIONS = {
    Precision.AUTO: (Precision.INT8, Precision.FLOAT32),
    Precision.FLOAT32: (Precision.FLOAT32,),
    Precision.INT8: (Precision.INT8,),
}
"""The exports each precision setting may run in ONNX Runtime, first found first; bfloat16
has none."""


def check_onnx_export(model_dir: Path, precision: Precision = Precision.FLOAT32) -> None:
    """Raise unless ``model_dir`` holds an ONNX export in ``precision`` of the weights beside it.

    A folder with an export and no weights (a deployment that ships only the export) passes.
    """
    from handoff.sentiment import onnx_network

    path = model_dir / onnx_network.EXPORT_FILES[precision.value]
    remedy = (
        f"export it with `{ONNX_EXPORT_COMMAND.format(model_dir=model_dir)}` (`make models` "
        "does), or set HANDOFF_SENTIMENT__RUNTIME=torch"
    )
    if not path.is_file():
        raise FileNotFoundError(f"no ONNX export of the sentiment model at {path}: {remedy}")
    try:
        current = onnx_network.weights_digest(model_dir)
    except FileNotFoundError:
        return
    if onnx_network.exported_weights_digest(path) != current:
        raise StaleExportError(
            f"the ONNX export {path} is not of the weights beside it (retrained since?): {remedy}"
        )


def load_onnx_network(model_dir: Path, precision: Precision, *, threads: int) -> SentimentNetwork:
    """The ONNX Runtime session of ``model_dir``'s export in ``precision`` (float32 or int8)."""
    # Imported here: a torch-only deployment need not have onnxruntime.
    from handoff.sentiment.onnx_network import EXPORT_FILES, OnnxSentimentNetwork

    return OnnxSentimentNetwork.load(model_dir / EXPORT_FILES[precision.value], threads=threads)


class SentimentClassifier:
    """A loaded sentiment network and its tokenizer; build it once with :meth:`load`.

    Not safe to call from several threads at once (the runtime already uses every thread it
    was given for one forward pass); the :class:`~handoff.sentiment.batcher.MicroBatcher`
    serialises the service's calls.
    """

    def __init__(
        self,
        network: SentimentNetwork,
        tokenizer: PreTrainedTokenizerBase,
        config: PretrainedConfig,
        *,
        max_length: int = 128,
        batch_size: int = DEFAULT_BATCH_SIZE,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        runtime: Runtime = Runtime.TORCH,
        precision: Precision = Precision.FLOAT32,
    ) -> None:
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2 (CLS and SEP), got {max_length}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        heads = list(config.auxiliary_heads)
        if FRUSTRATION not in heads:
            raise ValueError(f"the model has no {FRUSTRATION!r} head (heads: {heads})")
        self.network = network
        self.runtime = runtime
        self.precision = precision
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.token_budget = token_budget
        # Plain dict copies: postprocess must not depend on the transformers config object.
        self.id2label: dict[int, str] = {int(i): str(n) for i, n in config.id2label.items()}
        self.auxiliary_heads: list[str] = heads
        self.temperatures: dict[str, float] = dict(getattr(config, "temperatures", {}))

    @property
    def model(self) -> CustomerSentimentModel | None:
        """The torch model, or ``None`` when ONNX Runtime runs the network."""
        return getattr(self.network, "model", None)

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        *,
        threads: int,
        max_length: int = 128,
        precision: Precision | str = Precision.FLOAT32,
        runtime: Runtime | str = Runtime.AUTO,
        batch_size: int = DEFAULT_BATCH_SIZE,
        token_budget: int | None = None,
    ) -> SentimentClassifier:
        """Load the tokenizer and network saved in ``model_dir`` (a ``save_pretrained`` folder).

        ``runtime`` says what runs the network (see :class:`Runtime`; ``auto`` decided here).
        ``threads`` is the intra-op thread count: ONNX Runtime's, or torch's for the whole
        process, on purpose: the service runs one forward pass at a time, and more threads
        than cores only adds contention. ``precision`` is the number format (see
        :class:`Precision`; ``auto`` is resolved for this CPU and runtime); ``token_budget``
        defaults to the measured best for that precision. Raises ``OSError`` when the folder
        does not hold a model, or ONNX Runtime is asked for and there is no current export,
        and ``ValueError`` for ONNX Runtime in bfloat16.
        """
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise FileNotFoundError(f"no sentiment model folder at {model_dir}")
        runtime, resolved = resolve_runtime(runtime, precision, model_dir)
        config = SentimentConfig.from_pretrained(model_dir)
        # Given the model's config, AutoTokenizer does not look the unregistered model type up
        # in AutoConfig (which fails and warns); the tokenizer class is in tokenizer_config.json.
        tokenizer = AutoTokenizer.from_pretrained(model_dir, config=config)
        network: SentimentNetwork
        if runtime is Runtime.ONNX:
            network = load_onnx_network(model_dir, resolved, threads=threads)
        else:
            torch.set_num_threads(threads)
            model = CustomerSentimentModel.from_pretrained(model_dir).eval()
            network = TorchSentimentNetwork(convert_model(model, resolved))
        logger.info(
            "sentiment model loaded from %s (%s, %s, %d threads, max_length %d)",
            model_dir,
            runtime.value,
            resolved.value,
            threads,
            max_length,
        )
        if token_budget is None:
            bfloat16 = resolved is Precision.BFLOAT16
            token_budget = BFLOAT16_TOKEN_BUDGET if bfloat16 else DEFAULT_TOKEN_BUDGET
        return cls(
            network,
            tokenizer,
            config,
            max_length=max_length,
            batch_size=batch_size,
            token_budget=token_budget,
            runtime=runtime,
            precision=resolved,
        )

    def preprocess(self, texts: Sequence[str]) -> BatchEncoding:
        """Tokenize ``texts`` into one padded, truncated batch, in the network's tensor type.

        Raises :class:`SentimentInputError` for an empty list or an empty/whitespace message.
        """
        if isinstance(texts, str):
            raise SentimentInputError("expected a list of messages, got one str: send [text]")
        if len(texts) == 0:
            raise SentimentInputError("no messages: send at least one non-empty message")
        for text in texts:
            validate_text(text)
        return self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors=self.network.tensor_type,
        )

    def forward(self, batch: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Run the network on a preprocessed batch: (polarity logits, auxiliary logits)."""
        return self.network(batch)

    def postprocess(
        self, polarity_logits: np.ndarray, auxiliary_logits: np.ndarray
    ) -> list[SentimentReading]:
        """Readings from logits, with this model's label and head names."""
        return postprocess(
            polarity_logits,
            auxiliary_logits,
            self.id2label,
            self.auxiliary_heads,
            self.temperatures,
        )

    def score(self, texts: Sequence[str]) -> list[SentimentReading]:
        """Score ``texts``, one reading per text, in input order.

        Texts are sorted by token count and scored in chunks of at most ``batch_size`` texts
        and ``token_budget`` padded tokens, so each chunk is padded only to the longest text in
        it and a few long texts do not inflate a chunk of short ones. Every text is validated
        before any is scored.
        """
        if isinstance(texts, str):
            raise SentimentInputError("expected a list of messages, got one str: send [text]")
        for text in texts:
            validate_text(text)
        if not texts:
            return []
        readings: list[SentimentReading | None] = [None] * len(texts)
        for chunk in plan_chunks(self.token_lengths(texts), self.batch_size, self.token_budget):
            batch = self.preprocess([texts[i] for i in chunk])
            for index, reading in zip(chunk, self.postprocess(*self.forward(batch)), strict=True):
                readings[index] = reading
        return [reading for reading in readings if reading is not None]

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """How many tokens each text becomes, special tokens included, after truncation."""
        # Tokenizing twice (here, then in preprocess) costs tens of microseconds a text with a
        # fast tokenizer; the padding it saves costs milliseconds of forward pass.
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return [len(ids) for ids in encoded["input_ids"]]


def plan_chunks(lengths: Sequence[int], batch_size: int, token_budget: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped into chunks to score together, shortest texts first.

    A chunk holds at most ``batch_size`` texts, and its padded size (texts x longest length)
    stays within ``token_budget`` unless a single text is longer than that on its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    chunks: list[list[int]] = []
    chunk: list[int] = []
    for index in order:
        # Sorted ascending, so the text being added is the chunk's longest.
        too_many = len(chunk) >= batch_size
        too_big = (len(chunk) + 1) * lengths[index] > token_budget
        if chunk and (too_many or too_big):
            chunks.append(chunk)
            chunk = []
        chunk.append(index)
    if chunk:
        chunks.append(chunk)
    return chunks


def quantize_linear_layers(model: CustomerSentimentModel) -> CustomerSentimentModel:
    """The model with every ``nn.Linear`` converted to dynamic int8 (weights int8, CPU only)."""
    with warnings.catch_warnings():
        # torch.ao's dynamic quantisation still works in torch 2.x but warns that it moves to
        # torchao; the warning says nothing an operator can act on here.
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    return quantized.eval()


def postprocess(
    polarity_logits: np.ndarray,
    auxiliary_logits: np.ndarray,
    id2label: Mapping[int, str],
    auxiliary_heads: Sequence[str],
    temperatures: Mapping[str, float] | None = None,
) -> list[SentimentReading]:
    """Readings from the network's logits, pure numpy.

    ``polarity_logits`` is (batch, labels), turned into probabilities by a softmax;
    ``auxiliary_logits`` is (batch, heads), each head a sigmoid. Label names come from
    ``id2label`` (the model's own config), head names from ``auxiliary_heads``. Each head's
    logits are first divided by its calibration temperature (``temperatures``, keyed by
    ``"polarity"`` or the head name; 1 when absent).
    """
    polarity_logits = np.asarray(polarity_logits, dtype=np.float64)
    auxiliary_logits = np.asarray(auxiliary_logits, dtype=np.float64)
    if polarity_logits.ndim != 2 or polarity_logits.shape[1] != len(id2label):
        raise ValueError(
            f"polarity logits of shape {polarity_logits.shape} do not match {len(id2label)} labels"
        )
    if auxiliary_logits.shape != (polarity_logits.shape[0], len(auxiliary_heads)):
        raise ValueError(
            f"auxiliary logits of shape {auxiliary_logits.shape} do not match "
            f"{polarity_logits.shape[0]} texts x {len(auxiliary_heads)} heads"
        )
    labels = [id2label[i] for i in range(len(id2label))]
    probabilities, head_probabilities = calibrated_probabilities(
        polarity_logits, auxiliary_logits, auxiliary_heads, temperatures or {}
    )
    frustration_column = list(auxiliary_heads).index(FRUSTRATION)
    irony_column = list(auxiliary_heads).index(IRONY) if IRONY in auxiliary_heads else None
    return [
        SentimentReading(
            label=labels[int(np.argmax(row))],
            scores={label: float(p) for label, p in zip(labels, row, strict=True)},
            frustration=float(heads[frustration_column]),
            irony=None if irony_column is None else float(heads[irony_column]),
        )
        for row, heads in zip(probabilities, head_probabilities, strict=True)
    ]


def calibrated_probabilities(
    polarity_logits: np.ndarray,
    auxiliary_logits: np.ndarray,
    auxiliary_heads: Sequence[str],
    temperatures: Mapping[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Polarity and head probabilities, each head's logits divided by its temperature first.

    ``temperatures`` is keyed by ``"polarity"`` or the head name; a head left out keeps 1. The
    evaluation scores these same probabilities, so its figures are the runtime's.
    """
    head_temperatures = np.array([temperatures.get(name, 1.0) for name in auxiliary_heads])
    return (
        softmax(polarity_logits / temperatures.get("polarity", 1.0)),
        sigmoid(auxiliary_logits / head_temperatures),
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax; subtracting the row maximum keeps ``exp`` from overflowing."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function, stable for large positive and negative logits."""
    # exp of a non-positive number never overflows: use exp(-|x|) on both sides.
    decay = np.exp(-np.abs(logits))
    return np.where(logits >= 0, 1.0 / (1.0 + decay), decay / (1.0 + decay))
