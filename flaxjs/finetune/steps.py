"""Jitted ``train_step`` / ``eval_step`` / ``predict_step`` for a research loop.

A batch is ``(inputs, targets)`` or ``(inputs, targets, sample_weights)``;
``inputs`` is one array or a tuple/list with one array per model input. The loss
is the mean over the batch of the per-sample loss (weighted by
``sample_weights`` as TF.js's ``computeWeightedLoss``: ``mean(loss * w)``); the
training loss adds the layers' weight regularizers, as TF.js's does
(:mod:`flaxjs.finetune.regularizers`), the evaluation loss does not.

Only the trainable leaves are differentiated; the frozen ones enter the loss
as constants, so JAX builds no backward pass through a frozen backbone. The
same functions run on one device or data-parallel over a mesh: give them a
replicated state and a batch sharded along ``"data"``
(:mod:`flaxjs.parallel`); XLA inserts the gradient all-reduce.

Example:
  >>> for x, y in batches:                                          # doctest: +SKIP
  ...     state, logs = train_step(state, (x, y), loss="categorical_crossentropy",
  ...                              metrics=("accuracy",))
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import runtime
from ..errors import TrainingError
from .losses import BUILTIN_LOSSES, CrossEntropy, LossFn, get_loss, get_metric
from .regularizers import regularization_loss
from .state import TrainState

Array = jax.Array
Metrics = Sequence[str | LossFn]


def unpack(batch: Any) -> tuple[tuple[Any, ...], Any, Any]:
    """``(inputs tuple, targets, sample weights or None)`` of a batch."""
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise TypeError("a batch is (inputs, targets) or (inputs, targets, sample_weights), "
                        f"got {type(batch).__name__}")
    x, y = batch[0], batch[1]
    weights = batch[2] if len(batch) == 3 else None
    inputs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    return inputs, y, weights


def reduce_loss(per_sample: Array, weights: Any = None) -> Array:
    """TF.js's reduction: ``mean(loss)`` or ``mean(loss * weights)``."""
    per_sample = jnp.asarray(per_sample)
    if weights is not None:
        w = jnp.asarray(weights, per_sample.dtype)
        per_sample = per_sample * w.reshape(w.shape + (1,) * (per_sample.ndim - w.ndim))
    return jnp.mean(per_sample)


def _metrics(outputs: Any, targets: Any, metrics: Metrics) -> dict[str, Array]:
    out = {}
    for metric in metrics:
        name, fn = get_metric(metric)
        out[name] = jnp.mean(fn(outputs, targets))
    return out


def fit_targets(outputs: Any, targets: Any, loss: str | LossFn) -> Any:
    """The targets of a built-in loss, checked against the outputs while tracing.

    Targets the loss would broadcast against the outputs (one-hot labels of another
    width than the head's) are refused; ``(N,)`` targets of an ``(N, 1)`` output get
    their last axis, as Keras adds it. Class ids (integer targets) of the
    cross-entropies are fine at any shape.
    """
    fn = get_loss(loss)
    if not isinstance(fn, BUILTIN_LOSSES) or isinstance(outputs, (list, tuple, dict)):
        return targets
    y_shape, t_shape = tuple(np.shape(outputs)), tuple(np.shape(targets))
    sparse = isinstance(fn, CrossEntropy) and not jnp.issubdtype(
        jnp.result_type(targets), jnp.floating)
    if sparse or y_shape == t_shape:
        return targets
    if y_shape[-1:] == (1,) and t_shape == y_shape[:-1]:
        return jnp.asarray(targets)[..., None]
    ids = " (or class ids as integers)" if isinstance(fn, CrossEntropy) else ""
    if len(y_shape) == len(t_shape) and y_shape[:-1] == t_shape[:-1]:
        raise TrainingError(
            f"the targets have width {t_shape[-1]} (batch shape {t_shape}) but the model's "
            f"output has width {y_shape[-1]} (batch shape {y_shape}): build the head with "
            f"{t_shape[-1]} units, or give targets of width {y_shape[-1]}{ids}")
    raise TrainingError(f"the targets have shape {t_shape} but the model's output has shape "
                        f"{y_shape} for loss {loss!r}: give targets shaped like the output{ids}")


def _forward(state: TrainState, params: Any, inputs: tuple[Any, ...], *, train: bool,
             rng: Array | None) -> tuple[Any, Any]:
    variables = {"params": params}
    if state.batch_stats:
        variables["batch_stats"] = state.batch_stats
    if train and state.batch_stats:
        outputs, updates = state.apply_fn(variables, *inputs, train=True, rngs={"dropout": rng},
                                          mutable=["batch_stats"])
        return outputs, updates.get("batch_stats", state.batch_stats)
    rngs = {"dropout": rng} if train else None
    return state.apply_fn(variables, *inputs, train=train, rngs=rngs), state.batch_stats


def _train_step(state: TrainState, batch: Any, loss: str | LossFn, metrics: tuple
                ) -> tuple[TrainState, dict[str, Array]]:
    inputs, targets, weights = unpack(batch)
    loss_fn = get_loss(loss)
    rng = state.step_rng()
    trainable, _ = state.split()

    def objective(leaves: list[Array]) -> tuple[Array, tuple[Any, Any, Any]]:
        params = state.merge(leaves)
        outputs, batch_stats = _forward(state, params, inputs, train=True, rng=rng)
        goal = fit_targets(outputs, targets, loss)
        value = reduce_loss(loss_fn(outputs, goal), weights)
        if state.penalties:
            value = value + regularization_loss(params, state.penalties)
        return value, (outputs, batch_stats, goal)

    (value, (outputs, batch_stats, goal)), grads = jax.value_and_grad(
        objective, has_aux=True)(trainable)
    new_state = state.apply_gradients(grads, batch_stats=batch_stats)
    logs = {"loss": value, **_metrics(outputs, goal, metrics)}
    return new_state, logs


def _eval_step(state: TrainState, batch: Any, loss: str | LossFn, metrics: tuple
               ) -> dict[str, Array]:
    inputs, targets, weights = unpack(batch)
    outputs, _ = _forward(state, state.params, inputs, train=False, rng=None)
    targets = fit_targets(outputs, targets, loss)
    logs = {"loss": reduce_loss(get_loss(loss)(outputs, targets), weights)}
    logs.update(_metrics(outputs, targets, metrics))
    return logs


def _predict_step(state: TrainState, inputs: Any) -> Any:
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    return _forward(state, state.params, inputs, train=False, rng=None)[0]


Options = tuple[tuple[str, Any], ...] | None


def _options_of(state: TrainState) -> Options:
    """The XLA options of the state's model (``Model.xla_options``) as a hashable key;
    None (flaxjs's defaults) for a state without a layers model."""
    options = getattr(state.template, "xla_options", None)
    return None if options is None else tuple(sorted(options.items()))


def _jit(fn: Any, options: Options, **jit_kwargs: Any) -> runtime.Jitted:
    return runtime.jit(fn, options=None if options is None else dict(options), **jit_kwargs)


# One jitted function per model options, built on first use: deciding flaxjs's XLA
# options asks JAX for its backend, which importing flaxjs.finetune must not start.
@functools.cache
def _train_jit(options: Options = None) -> runtime.Jitted:
    return _jit(_train_step, options, static_argnames=("loss", "metrics"))


@functools.cache
def _eval_jit(options: Options = None) -> runtime.Jitted:
    return _jit(_eval_step, options, static_argnames=("loss", "metrics"))


@functools.cache
def _predict_jit(options: Options = None) -> runtime.Jitted:
    return _jit(_predict_step, options)


def predict_step(state: TrainState, inputs: Any) -> Any:
    """Jitted inference (``train=False``) with the state's variables.

    Example:
      >>> probabilities = predict_step(state, x)  # doctest: +SKIP
    """
    return _predict_jit(_options_of(state))(state, inputs)


def make_train_step(loss: str | LossFn = "mean_squared_error", metrics: Metrics = (), *,
                    donate: bool = False, model: Any = None):
    """A jitted ``step(state, batch) -> (state, logs)`` with the loss and metrics bound.

    ``model`` (the one the states are created from) compiles the step with that model's
    XLA options (``Model.xla_options``, as :func:`train_step` does); without it,
    flaxjs's defaults.

    ``donate=True`` lets XLA reuse the old state's buffers for the new one (saves a
    copy of the parameters and optimizer state on GPU/TPU). The state passed in must
    not be used afterwards, nor the model it was created from, whose arrays it shares
    (``TrainState.create(model, tx, variables=jax.tree.map(jnp.copy, model.variables))``
    keeps the model usable).

    Example:
      >>> step = make_train_step("categorical_crossentropy", ["accuracy"],  # doctest: +SKIP
      ...                        donate=True, model=model)
      >>> state, logs = step(state, (x, y))  # doctest: +SKIP
    """
    metrics = tuple(metrics)

    def step(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, Array]]:
        return _train_step(state, batch, loss, metrics)

    return runtime.jit(step, donate_argnums=(0,) if donate else (),
                       options=getattr(model, "xla_options", None))


def train_step(state: TrainState, batch: Any, *, loss: str | LossFn = "mean_squared_error",
               metrics: Metrics = ()) -> tuple[TrainState, dict[str, Array]]:
    """One optimizer step (jitted).

    The forward pass runs with ``train=True``: Dropout draws from
    ``fold_in(state.rng, state.step)``; trainable BatchNormalization layers use
    batch statistics and their moving statistics are updated (frozen ones run in
    inference mode and keep theirs).

    Args:
      state: a :class:`TrainState`.
      batch: ``(inputs, targets)`` or ``(inputs, targets, sample_weights)``.
      loss: a name from :data:`flaxjs.finetune.losses.LOSSES` or a hashable callable
        ``loss(outputs, targets) -> per-sample losses`` (a module-level function or a
        loss object; a fresh ``lambda`` each call would recompile every time).
      metrics: names (``"accuracy"``) or callables, averaged over the batch.

    Returns:
      ``(new_state, {"loss": loss before the update, **metrics})`` as device scalars.

    Example:
      >>> state, logs = train_step(state, (x, y), loss="mse")  # doctest: +SKIP
      >>> float(logs["loss"])  # doctest: +SKIP
    """
    return _train_jit(_options_of(state))(state, batch, loss=loss, metrics=tuple(metrics))


def eval_step(state: TrainState, batch: Any, *, loss: str | LossFn = "mean_squared_error",
              metrics: Metrics = ()) -> dict[str, Array]:
    """Loss and metrics in inference mode (jitted); nothing is updated.

    Example:
      >>> logs = eval_step(state, (xv, yv), loss="mse", metrics=["accuracy"])  # doctest: +SKIP
    """
    return _eval_jit(_options_of(state))(state, batch, loss=loss, metrics=tuple(metrics))
