"""Temperature scaling of the sentiment heads, and the calibration error it is judged by.

After training, each head's logits are divided by one temperature ``T`` (fitted by minimising
the negative log-likelihood on a held-out calibration part) before the softmax or sigmoid; the
runtime applies the temperatures stored in the model config. ``T`` changes no decision at 0.5
or argmax, only how far the probabilities are from 0.5: with ``T > 1`` they move towards it.

Pure numpy, so that it can be unit-tested without a model.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Literal, TypeVar

import numpy as np

Kind = Literal["softmax", "sigmoid"]
T = TypeVar("T")

# The search runs over the inverse temperature beta = 1 / T, in which the NLL is convex (it is
# the NLL of a logistic / softmax model with one weight), so a golden-section search finds the
# minimum; the range allows T from 0.05 to 20.
BETA_RANGE = (0.05, 20.0)
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, kind: Kind) -> float:
    """Mean NLL of ``labels`` under ``logits``: class ids (softmax) or 0/1 (sigmoid)."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if kind == "sigmoid":
        y = labels.astype(np.float64)
        # log(1 + exp(-|z|)) + max(z, 0) - y z, the stable form of binary cross-entropy
        return float(np.mean(np.logaddexp(0.0, logits) - y * logits))
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_norm - shifted[np.arange(len(labels)), labels.astype(int)]))


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, kind: Kind, iterations: int = 80
) -> float:
    """The temperature minimising the NLL of ``labels`` (1.0 when there is nothing to fit).

    Golden-section search over ``beta = 1 / T`` in :data:`BETA_RANGE`; deterministic.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return 1.0  # one class only: the NLL falls forever as T -> 0, no information

    def loss(beta: float) -> float:
        return negative_log_likelihood(logits * beta, labels, kind)

    low, high = BETA_RANGE
    a, b = high - GOLDEN * (high - low), low + GOLDEN * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(iterations):
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - GOLDEN * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + GOLDEN * (high - low)
            loss_b = loss(b)
    return round(1.0 / ((low + high) / 2.0), 4)


def binary_ece(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of a positive-class probability over equal-width bins.

    For each bin of predicted probability, the gap between the mean prediction and the share
    of positives in it, weighted by the bin's share of examples. (The probability of the
    positive class is what the escalation rules compare with a threshold, so it is the number
    that must be calibrated, not the confidence of the predicted class.)
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if len(probs) == 0:
        return 0.0
    # bin i holds (i / bins, (i + 1) / bins]; 0.0 goes to the first bin
    index = np.clip(np.ceil(probs * bins).astype(int) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = index == b
        if np.any(in_bin):
            ece += np.mean(in_bin) * abs(np.mean(labels[in_bin]) - np.mean(probs[in_bin]))
    return float(ece)


def calibration_halves(items: Sequence[T], seed: int) -> tuple[list[T], list[T]]:
    """A seeded split into (calibration part, report part), the first taking ``len // 2``.

    Temperatures are fitted on the first part and the calibration error is reported on the
    second: an error measured on the very examples the temperature was fitted to is optimistic.
    """
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    half = len(items) // 2
    return [items[i] for i in sorted(order[:half])], [items[i] for i in sorted(order[half:])]


SPLIT_SEED = 2017
"""Seed of :func:`calibration_halves` on the in-domain dev split, shared by the training (which
fits on the first part) and the evaluation (which reports on the second)."""
