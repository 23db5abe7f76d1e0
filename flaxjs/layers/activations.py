"""Keras activation functions with TF.js's exact formulas (``tfjs-layers/src/activations.ts``).

Names are looked up as TF.js does after camel-casing, so ``"hard_sigmoid"`` and
``"hardSigmoid"`` are the same. ``hard_sigmoid`` is TF.js's ``clip(0.2x + 0.5)``
unless the file comes from Keras 3 (``keras3=True``), whose ``hard_sigmoid`` is
``relu6(x + 3) / 6``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from ..topology.config import snake

Activation = Callable[[jax.Array], jax.Array]

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def linear(x):
    return x


# The functions below use lax directly: jax.nn's versions are jitted custom_jvp
# functions whose tracing costs ~20x more, which adds up over hundreds of layers.
# lax.clamp's gradient is 0 at the bounds, like TF.js's relu (step(0) = 0).

def relu(x):
    return lax.clamp(jnp.zeros((), x.dtype), x, jnp.full((), jnp.inf, x.dtype))


def relu6(x):
    return lax.clamp(jnp.zeros((), x.dtype), x, jnp.full((), 6.0, x.dtype))


def sigmoid(x):
    return lax.logistic(x)


def tanh(x):
    return lax.tanh(x)


def hard_sigmoid_tfjs(x):
    return lax.clamp(jnp.zeros((), x.dtype), 0.2 * x + 0.5, jnp.ones((), x.dtype))


def hard_sigmoid_keras3(x):
    return lax.clamp(jnp.zeros((), x.dtype), x / 6.0 + 0.5, jnp.ones((), x.dtype))


def elu(x):
    return jnp.where(x >= 0, x, jnp.expm1(jnp.minimum(x, 0.0)))


def selu(x):
    return jnp.where(x >= 0, _SELU_SCALE * x,
                     _SELU_SCALE * _SELU_ALPHA * jnp.expm1(jnp.minimum(x, 0.0)))


def gelu(x):
    return 0.5 * x * (1.0 + jax.lax.erf(x / jnp.sqrt(2.0).astype(x.dtype)))


def gelu_new(x):
    return 0.5 * x * (1.0 + jnp.tanh(jnp.sqrt(2.0 / jnp.pi).astype(x.dtype)
                                     * (x + 0.044715 * x ** 3)))


def softsign(x):
    return x / (1.0 + jnp.abs(x))


def swish(x):
    return x * jax.nn.sigmoid(x)


def mish(x):
    return x * jnp.tanh(jax.nn.softplus(x))


def softmax(x, axis: int = -1):
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x, axis: int = -1):
    return jax.nn.log_softmax(x, axis=axis)


def sparse_plus(x):
    return jnp.where(x <= -1.0, jnp.zeros_like(x), jnp.where(x < 1.0, 0.25 * (x + 1.0) ** 2, x))


def sparse_sigmoid(x):
    return jnp.where(x <= -1.0, jnp.zeros_like(x),
                     jnp.where(x >= 1.0, jnp.ones_like(x), 0.5 * (x + 1.0)))


def squareplus(x, b: float = 4.0):
    return 0.5 * (x + jnp.sqrt(x * x + b))


def soft_shrink(x, threshold: float = 0.5):
    return jnp.where(x > threshold, x - threshold,
                     jnp.where(x < -threshold, x + threshold, jnp.zeros_like(x)))


def hard_shrink(x, threshold: float = 0.5):
    return jnp.where(jnp.abs(x) > threshold, x, jnp.zeros_like(x))


def tanh_shrink(x):
    return x - jnp.tanh(x)


def glu(x, axis: int = -1):
    """Keras's GLU: the axis split in halves ``a, b``, ``a * sigmoid(b)`` (half the size)."""
    a, b = jnp.split(x, 2, axis=axis)
    return a * jax.nn.sigmoid(b)


def sparsemax(x, axis: int = -1):
    """Keras's sparsemax: the Euclidean projection onto the simplex along ``axis``."""
    z = jnp.moveaxis(x, axis, -1)
    ordered = -jnp.sort(-z, axis=-1)
    cumsum = jnp.cumsum(ordered, axis=-1)
    r = jnp.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    support = ordered - (cumsum - 1.0) / r > 0
    k = jnp.sum(support, axis=-1, keepdims=True).astype(z.dtype)
    tau = (jnp.sum(jnp.where(support, cumsum, 0.0), axis=-1, keepdims=True) - 1.0) / k
    return jnp.moveaxis(jnp.maximum(z - tau, 0.0), -1, axis)


_TFJS: dict[str, Activation] = {
    "linear": linear,
    "relu": relu,
    "relu6": relu6,
    "elu": elu,
    "selu": selu,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid_tfjs,
    "softplus": jax.nn.softplus,
    "softsign": softsign,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "gelu": gelu,
    "gelu_new": gelu_new,
    "mish": mish,
    "swish": swish,
}

#: names only Keras (2.x/3) writes; TF.js cannot load them, their Keras meaning is used.
_KERAS_ONLY: dict[str, Activation] = {
    "silu": swish,
    "leaky_relu": lambda x: jax.nn.leaky_relu(x, 0.2),
    "exponential": jnp.exp,
    "log_sigmoid": jax.nn.log_sigmoid,
    "hard_silu": lambda x: x * hard_sigmoid_keras3(x),
    "hard_swish": lambda x: x * hard_sigmoid_keras3(x),
    "hard_tanh": lambda x: jnp.clip(x, -1.0, 1.0),
    "celu": jax.nn.celu,
    "relu_max_6": relu6,
    "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid,
    "squareplus": squareplus,
    "soft_shrink": soft_shrink,
    "hard_shrink": hard_shrink,
    "tanh_shrink": tanh_shrink,
    "glu": glu,
    "sparsemax": sparsemax,
}


def names() -> list[str]:
    """Every activation name flaxjs understands."""
    return sorted({**_TFJS, **_KERAS_ONLY})


def is_known(name: str | None) -> bool:
    return name is None or snake(name) in _TFJS or snake(name) in _KERAS_ONLY


def name_of(value: Any) -> Any:
    """The activation name a config value gives: a name, or Keras 3's
    ``{"class_name", "config": {"name"}}`` (anything else is returned as is)."""
    if isinstance(value, Mapping):
        config = value.get("config")
        return (config.get("name") if isinstance(config, Mapping) else None) \
            or value.get("class_name")
    return value


def problem(value: Any) -> str | None:
    """What is wrong with an ``activation`` config value, or None (for
    :mod:`flaxjs.layers.fields`)."""
    if isinstance(value, Mapping) and not isinstance(value.get("config") or {}, Mapping):
        return "must be an activation name or {class_name, config: {name}}"
    name = name_of(value)
    if name is not None and (not isinstance(name, str) or not is_known(name)):
        return f"must be an activation name flaxjs knows ({', '.join(names())})"
    return None


def get(name: str | dict | None, *, keras3: bool = False) -> Activation:
    """The activation function for a config value (``None`` = linear).

    Raises:
      KeyError: for a name neither TF.js nor Keras defines.
    """
    name = name_of(name)  # Keras 3 may serialize {"class_name": ..., "config": ...}
    if name is None:
        return linear
    key = snake(str(name))
    if keras3 and key == "hard_sigmoid":
        return hard_sigmoid_keras3
    if key in _TFJS:
        return _TFJS[key]
    if key in _KERAS_ONLY:
        return _KERAS_ONLY[key]
    raise KeyError(name)
