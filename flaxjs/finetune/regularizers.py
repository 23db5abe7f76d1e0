"""Keras weight regularizers (``kernel_regularizer``...) as a term of the training loss.

TF.js's ``trainOnBatch``/``fit`` add every layer's penalty to the loss
(``LayersModel.makeTrainFunction`` → ``calculateLosses``): ``l1·Σ|w| + l2·Σw²`` per
regularized weight, once per call of the layer, frozen layers included (their
penalty changes the loss value, never a gradient). Evaluation losses leave them
out, as TF.js's test function does. An ``L1L2`` with a missing rate uses TF.js's
default 0.01; Keras's ``L1``/``L2`` classes (files TF.js cannot load) their own.

Example:
  >>> state = TrainState.create(model, optax.sgd(0.1))  # doctest: +SKIP
  >>> state.penalties                                   # doctest: +SKIP
  (Penalty(path=('dense_1', 'kernel'), l1=0.0, l2=0.0005, count=1),)
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from ..errors import LayerConfigError
from ..graph.model import GraphModel
from ..topology.spec import ModelGraph

if TYPE_CHECKING:
    from ..model import Model

#: config key → the variable names it regularizes (the first one the layer has).
WEIGHTS_OF = {
    "kernel_regularizer": ("kernel",),
    "bias_regularizer": ("bias",),
    "recurrent_regularizer": ("recurrent_kernel",),
    "depthwise_regularizer": ("depthwise_kernel", "kernel"),  # Keras 3 names it `kernel`
    "pointwise_regularizer": ("pointwise_kernel",),
    "embeddings_regularizer": ("embeddings",),
    "gamma_regularizer": ("gamma",),
    "beta_regularizer": ("beta",),
    "alpha_regularizer": ("alpha",),
}

#: Keras class name → (l1 default, l2 default, which rates it has).
_CLASSES = {"L1L2": (0.01, 0.01), "L1": (0.01, 0.0), "L2": (0.0, 0.01)}


@dataclasses.dataclass(frozen=True)
class Penalty:
    """``count · (l1·Σ|w| + l2·Σw²)`` for the ``params`` leaf at ``path``."""

    path: tuple[str, ...]
    l1: float
    l2: float
    count: int = 1


def penalties(model: Model | GraphModel) -> tuple[Penalty, ...]:
    """Every weight penalty of ``model``, in TF.js's layer order."""
    params = model.variables.get("params", {})
    if isinstance(model, GraphModel):  # only a Keras head has regularizers
        if model.head is None:
            return ()
        return tuple(_penalties(model.head.graph, params, (), 1))
    return tuple(_penalties(model.graph, params, (), 1))


def regularization_loss(params: Any, terms: tuple[Penalty, ...]) -> jax.Array:
    """The sum of the penalties on ``params`` (0 when there are none)."""
    total = jnp.zeros((), jnp.float32)
    for term in terms:
        w = params
        for key in term.path:
            w = w[key]
        w = jnp.asarray(w, jnp.float32)
        value = jnp.zeros((), jnp.float32)
        if term.l1:
            value = value + jnp.sum(term.l1 * _abs(w))
        if term.l2:
            value = value + jnp.sum(term.l2 * jnp.square(w))
        total = total + value * term.count
    return total


@jax.custom_jvp
def _abs(x: jax.Array) -> jax.Array:
    """``|x|`` with TF.js's gradient: ``x > 0 ? 1 : -1`` (``step(x, -1)``), so -1 at 0, where
    JAX's is +1. A zero-initialized ``beta`` or bias gets its first L1 step from it."""
    return jnp.abs(x)


@_abs.defjvp
def _abs_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return jnp.abs(x), jnp.where(x > 0, dx, -dx)


def _penalties(graph: ModelGraph, params: Mapping[str, Any], prefix: tuple[str, ...],
               count: int) -> Iterator[Penalty]:
    for spec in graph.layers:
        calls = len(spec.calls)
        if not calls:
            continue  # not a node of this model: TF.js adds nothing for it
        subtree = params.get(spec.name, {})
        if spec.graph is not None:  # a nested model
            yield from _penalties(spec.graph, subtree, (*prefix, spec.name), count * calls)
            continue
        for config in _configs(spec.config):
            if config.get("activity_regularizer"):
                warnings.warn(f"layer {spec.name!r}: activity_regularizer is not added to the "
                              "training loss (TF.js cannot run it either)", stacklevel=4)
            for key, names in WEIGHTS_OF.items():
                rates = _rates(config.get(key), spec.name, spec.class_name, key)
                if rates is None:
                    continue
                for path in _leaves_named(subtree, names):
                    yield Penalty((*prefix, spec.name, *path), *rates, count * calls)


def _configs(config: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """A layer's config and those of the layers/cells it wraps."""
    yield config
    for key in ("layer", "cell"):
        inner = config.get(key)
        if isinstance(inner, Mapping) and isinstance(inner.get("config"), Mapping):
            yield from _configs(inner["config"])


def _rates(value: Any, layer: str, class_name: str, key: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, str):  # TF.js's identifier: 'l1l2' (rates default to 0.01)
        value = {"class_name": "L1L2" if value.lower() in ("l1l2", "l1_l2") else value,
                 "config": {}}
    name = value.get("class_name") if isinstance(value, Mapping) else None
    if name not in _CLASSES:
        raise LayerConfigError(layer, class_name, f"{key}: regularizer {name or value!r} is not "
                               f"supported (known: {', '.join(_CLASSES)})")
    config = value.get("config") or {}
    l1_default, l2_default = _CLASSES[name]
    l1 = config.get("l1") if name != "L2" else 0.0
    l2 = config.get("l2") if name != "L1" else 0.0
    l1 = l1_default if l1 is None else float(l1)
    l2 = l2_default if l2 is None else float(l2)
    return (l1, l2) if (l1 or l2) else None


def _leaves_named(tree: Any, names: tuple[str, ...], path: tuple[str, ...] = ()
                  ) -> Iterator[tuple[str, ...]]:
    """Paths inside a layer's subtree of the variables called ``names[0]`` (else the next)."""
    found = list(_find(tree, names[0], path))
    if not found and len(names) > 1:
        yield from _leaves_named(tree, names[1:], path)
    yield from found


def _find(tree: Any, name: str, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if not isinstance(tree, Mapping):
        return
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _find(value, name, (*path, key))
        elif key == name:
            yield (*path, key)
