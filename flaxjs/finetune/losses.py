"""Losses and metrics with TF.js/Keras definitions, per sample.

Every loss maps ``(outputs, targets)`` to one value per sample; the training
step averages them, as TF.js's ``trainOnBatch`` does (``mean`` of the
per-sample loss, ``tfjs-layers/src/engine/training.ts``). Loss objects are
frozen dataclasses, so they are hashable and can be static arguments of a
jitted step; strings name the common ones (:func:`get_loss`).

TF.js models often end in a softmax: use ``from_logits=False`` (the Keras
``"categorical_crossentropy"``) for those, ``from_logits=True`` for raw scores.

Example:
  >>> loss = CrossEntropy(from_logits=False)
  >>> per_sample = loss(probabilities, labels)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

Array = jax.Array
LossFn = Callable[[Any, Any], Array]

#: TF.js's ``epsilon()`` on the CPU and WebGL-float32 backends (probability clipping).
EPSILON = 1e-7


def _single(outputs: Any, what: str) -> Array:
    if isinstance(outputs, (list, tuple, dict)):
        raise TypeError(f"{what} takes one output array; the model has several outputs: pass "
                        "a callable loss(outputs, targets) that combines them")
    return outputs


def _one_hot(labels: Array, num_classes: int) -> Array:
    """Integer class ids (any shape; a trailing axis of 1 is dropped) → one-hot floats."""
    labels = jnp.asarray(labels)
    if labels.ndim >= 1 and labels.shape[-1] == 1 and num_classes != 1:
        labels = labels[..., 0]
    return jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)


def _as_targets(labels: Any, outputs: Array) -> Array:
    """One-hot targets: integer labels are expanded, float ones used as given."""
    labels = jnp.asarray(labels)
    if jnp.issubdtype(labels.dtype, jnp.integer) or jnp.issubdtype(labels.dtype, jnp.bool_):
        return _one_hot(labels, outputs.shape[-1])
    return labels.astype(outputs.dtype)


def mean_squared_error(outputs: Any, targets: Any) -> Array:
    """``mean((outputs - targets)², axis=-1)`` per sample (TF.js ``meanSquaredError``)."""
    y = _single(outputs, "mean_squared_error")
    return jnp.mean(jnp.square(y - jnp.asarray(targets, y.dtype)), axis=-1)


def mean_absolute_error(outputs: Any, targets: Any) -> Array:
    """``mean(|outputs - targets|, axis=-1)`` per sample (TF.js ``meanAbsoluteError``)."""
    y = _single(outputs, "mean_absolute_error")
    return jnp.mean(jnp.abs(y - jnp.asarray(targets, y.dtype)), axis=-1)


def softmax_cross_entropy(outputs: Any, labels: Any, *, from_logits: bool = True) -> Array:
    """Categorical cross-entropy per sample, labels as class ids or one-hot/soft targets.

    Args:
      outputs: logits (``from_logits=True``) or probabilities, classes on the last axis.
      labels: integer class ids (sparse) or float targets shaped like ``outputs``.
      from_logits: with ``False`` the outputs are renormalised to sum to 1 and clipped
        to ``[1e-7, 1 - 1e-7]`` before the log, exactly as TF.js's
        ``categoricalCrossentropy``; with ``True`` a stable log-softmax is used.
    """
    y = _single(outputs, "softmax_cross_entropy")
    targets = _as_targets(labels, y)
    if from_logits:
        return optax.softmax_cross_entropy(y, targets)
    probs = y / jnp.sum(y, axis=-1, keepdims=True)
    probs = jnp.clip(probs, EPSILON, 1.0 - EPSILON)
    return -jnp.sum(targets * jnp.log(probs), axis=-1)


def binary_cross_entropy(outputs: Any, targets: Any, *, from_logits: bool = False) -> Array:
    """Per-sample mean of the element-wise binary cross-entropy (TF.js ``binaryCrossentropy``:
    probabilities clipped to ``[1e-7, 1 - 1e-7]``)."""
    y = _single(outputs, "binary_cross_entropy")
    t = jnp.asarray(targets, y.dtype)
    if from_logits:
        values = optax.sigmoid_binary_cross_entropy(y, t)
    else:
        p = jnp.clip(y, EPSILON, 1.0 - EPSILON)
        values = -(t * jnp.log(p) + (1.0 - t) * jnp.log1p(-p))
    return jnp.mean(values, axis=-1)


def accuracy(outputs: Any, labels: Any) -> Array:
    """Per-sample 1.0/0.0: ``argmax(outputs) == label`` (class ids or one-hot labels)."""
    y = _single(outputs, "accuracy")
    labels = jnp.asarray(labels)
    if jnp.issubdtype(labels.dtype, jnp.floating) and labels.shape == y.shape:
        labels = jnp.argmax(labels, axis=-1)
    elif labels.ndim == y.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    return (jnp.argmax(y, axis=-1) == labels.astype(jnp.int32)).astype(jnp.float32)


def binary_accuracy(outputs: Any, targets: Any, *, threshold: float = 0.5) -> Array:
    """Per-sample mean of ``(outputs > threshold) == targets`` (TF.js ``binaryAccuracy``)."""
    y = _single(outputs, "binary_accuracy")
    hit = (y > threshold) == (jnp.asarray(targets) > 0.5)
    return jnp.mean(hit.astype(jnp.float32), axis=-1)


# ---------------------------------------------------------------- hashable loss objects
@dataclasses.dataclass(frozen=True)
class MeanSquaredError:
    """:func:`mean_squared_error` as a hashable loss object."""

    def __call__(self, outputs: Any, targets: Any) -> Array:
        return mean_squared_error(outputs, targets)


@dataclasses.dataclass(frozen=True)
class MeanAbsoluteError:
    """:func:`mean_absolute_error` as a hashable loss object."""

    def __call__(self, outputs: Any, targets: Any) -> Array:
        return mean_absolute_error(outputs, targets)


@dataclasses.dataclass(frozen=True)
class CrossEntropy:
    """:func:`softmax_cross_entropy` as a hashable loss object.

    Attributes:
      from_logits: the outputs are logits (``True``) or probabilities (``False``, the
        Keras/TF.js default; right for models ending in a softmax).
    """

    from_logits: bool = False

    def __call__(self, outputs: Any, labels: Any) -> Array:
        return softmax_cross_entropy(outputs, labels, from_logits=self.from_logits)


@dataclasses.dataclass(frozen=True)
class BinaryCrossEntropy:
    """:func:`binary_cross_entropy` as a hashable loss object."""

    from_logits: bool = False

    def __call__(self, outputs: Any, targets: Any) -> Array:
        return binary_cross_entropy(outputs, targets, from_logits=self.from_logits)


#: the loss classes whose targets must be shaped like the outputs (class ids aside)
BUILTIN_LOSSES = (MeanSquaredError, MeanAbsoluteError, CrossEntropy, BinaryCrossEntropy)

LOSSES: dict[str, LossFn] = {
    "mean_squared_error": MeanSquaredError(),
    "mse": MeanSquaredError(),
    "meanSquaredError": MeanSquaredError(),
    "mean_absolute_error": MeanAbsoluteError(),
    "mae": MeanAbsoluteError(),
    "categorical_crossentropy": CrossEntropy(from_logits=False),
    "sparse_categorical_crossentropy": CrossEntropy(from_logits=False),
    "softmax_cross_entropy": CrossEntropy(from_logits=True),
    "binary_crossentropy": BinaryCrossEntropy(from_logits=False),
    "sigmoid_binary_cross_entropy": BinaryCrossEntropy(from_logits=True),
}

METRICS: dict[str, LossFn] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "categorical_accuracy": accuracy,
    "sparse_categorical_accuracy": accuracy,
    "binary_accuracy": binary_accuracy,
}


def get_loss(loss: str | LossFn) -> LossFn:
    """A loss by name (Keras names; ``"softmax_cross_entropy"`` = on logits) or as given.

    ``"categorical_crossentropy"`` and ``"sparse_categorical_crossentropy"`` take
    probabilities (Keras's default ``from_logits=False``); the labels may be class
    ids or one-hot for both.
    """
    if isinstance(loss, str):
        try:
            return LOSSES[loss]
        except KeyError:
            raise ValueError(f"unknown loss {loss!r}; known: {', '.join(sorted(LOSSES))}, "
                             "or pass a callable loss(outputs, targets)") from None
    if not callable(loss):
        raise TypeError(f"a loss is a name or a callable, got {type(loss).__name__}")
    return loss


def get_metric(metric: str | LossFn) -> tuple[str, LossFn]:
    """``(name, fn)`` for a metric name or a callable (named after its ``__name__``)."""
    if isinstance(metric, str):
        try:
            return metric, METRICS[metric]
        except KeyError:
            raise ValueError(f"unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}, "
                             "or pass a callable metric(outputs, targets)") from None
    name = getattr(metric, "__name__", None) or type(metric).__name__
    return name, metric
