"""Keras initializer configs as JAX initializers.

A loaded model never runs them (its variables come from the shards); they make
``module.init`` work for new layers, e.g. a fresh classification head.
Defaults follow TF.js (``Dense``/conv kernels ``glorotNormal`` in TF.js are
``glorot_uniform`` in Keras; a head built with flaxjs's own builders gets
Keras's default unless its config says otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, cast

import jax
import jax.numpy as jnp
from jax.nn import initializers as jinit

from ..topology.config import is_int, is_number, snake


class Initializer(Protocol):
    """``init(key, shape, dtype)``: every :mod:`jax.nn.initializers` one, and this module's."""

    def __call__(self, key: jax.Array, shape: Sequence[int], dtype: Any = ...) -> jax.Array: ...


_Mode = Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
_Distribution = Literal["truncated_normal", "normal", "uniform"]


def _variance_scaling(cfg: Mapping[str, Any]) -> Initializer:
    distribution = snake(str(cfg.get("distribution", "truncated_normal")))
    # Keras 2 spelled the truncated normal "normal"; Keras 3's untruncated one is jax's "normal"
    distribution = _DISTRIBUTIONS.get(distribution, distribution)
    mode = snake(str(cfg.get("mode", "fan_in")))
    # the config's words, unchecked: jax checks them when the initializer runs
    return jinit.variance_scaling(float(cfg.get("scale", 1.0)), cast(_Mode, mode),
                                  cast(_Distribution, distribution))


def _identity(cfg: Mapping[str, Any]) -> Initializer:
    gain = float(cfg.get("gain", 1.0))

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        del key
        if len(shape) != 2:  # as Keras (``jnp.eye(*shape)`` misread a third size as an offset)
            raise ValueError(f"the Identity initializer needs a 2-D shape, got {tuple(shape)}")
        return gain * jnp.eye(shape[0], shape[1], dtype=dtype)

    return init


def _random_uniform(cfg: Mapping[str, Any]) -> Initializer:
    lo, hi = float(cfg.get("minval", -0.05)), float(cfg.get("maxval", 0.05))

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, lo, hi)

    return init


def _random_normal(cfg: Mapping[str, Any], truncated: bool) -> Initializer:
    mean, std = float(cfg.get("mean", 0.0)), float(cfg.get("stddev", 0.05))

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        if truncated:
            return mean + std * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
        return mean + std * jax.random.normal(key, shape, dtype)

    return init


_BY_NAME = {
    "zeros": lambda cfg: jinit.zeros,
    "ones": lambda cfg: jinit.ones,
    "constant": lambda cfg: jinit.constant(float(cfg.get("value", 0.0))),
    "random_uniform": _random_uniform,
    "random_normal": lambda cfg: _random_normal(cfg, False),
    "truncated_normal": lambda cfg: _random_normal(cfg, True),
    "identity": _identity,
    "variance_scaling": _variance_scaling,
    "glorot_uniform": lambda cfg: jinit.glorot_uniform(),
    "glorot_normal": lambda cfg: jinit.glorot_normal(),
    "he_normal": lambda cfg: jinit.he_normal(),
    "he_uniform": lambda cfg: jinit.he_uniform(),
    "le_cun_normal": lambda cfg: jinit.lecun_normal(),
    "lecun_normal": lambda cfg: jinit.lecun_normal(),
    "le_cun_uniform": lambda cfg: jinit.lecun_uniform(),
    "lecun_uniform": lambda cfg: jinit.lecun_uniform(),
    "orthogonal": lambda cfg: jinit.orthogonal(float(cfg.get("gain", 1.0))),
}


#: a variance-scaling ``distribution`` as Keras writes it -> jax's name
_DISTRIBUTIONS = {"normal": "truncated_normal", "truncated_normal": "truncated_normal",
                  "untruncated_normal": "normal", "uniform": "uniform"}
_MODES = ("fan_in", "fan_out", "fan_avg")
_NUMBERS = ("value", "minval", "maxval", "mean", "stddev", "scale", "gain")


def problem(value: Any) -> str | None:
    """What is wrong with an initializer config value, or None (for
    :mod:`flaxjs.layers.fields`). Unknown names are not wrong: they fall back to the
    layer's default, as a loaded model never runs its initializers."""
    if isinstance(value, str):
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("class_name", ""), str):
        return "must be an initializer name or {class_name, config}"
    cfg = value.get("config") or {}
    if not isinstance(cfg, Mapping):
        return "must be {class_name, config} with an object as config"
    for key in _NUMBERS:
        v = cfg.get(key)
        if v is not None and not is_number(v):
            return f"must have a finite number as config {key!r}"
    seed = cfg.get("seed")
    if seed is not None and not is_int(seed):
        return "must have an integer or null as config 'seed'"
    for key, allowed in (("mode", _MODES), ("distribution", tuple(_DISTRIBUTIONS))):
        v = cfg.get(key)
        if v is not None and (not isinstance(v, str) or snake(v) not in allowed):
            return f"must have one of {', '.join(allowed)} as config {key!r}"
    return None


def get(value: Any, default: str = "glorot_uniform") -> Initializer:
    """The initializer for a config value (``{"class_name", "config"}``, a name, or None)."""
    if value is None:
        value = default
    cfg: Mapping[str, Any]
    if isinstance(value, str):
        name, cfg = value, {}
    elif isinstance(value, Mapping):
        name, cfg = str(value.get("class_name", default)), value.get("config") or {}
        cfg = {k: v for k, v in cfg.items() if v is not None}  # null = the default
    else:
        raise ValueError(f"cannot read initializer {value!r}")
    key = snake(name)
    if key not in _BY_NAME:
        key = snake(default)
    return _BY_NAME[key](cfg)
