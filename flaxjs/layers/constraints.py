"""Weight constraints that TF.js applies to weights when it loads them.

``LayerVariable.write`` runs the variable's constraint after assignment
(``tfjs-layers/src/variables.ts``, ``constraints.ts``), so a MaxNorm kernel
stored above its bound loads rescaled. Keras does not do this on load; flaxjs
follows TF.js.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..topology.config import is_int, is_number, snake

EPSILON = 1e-7  # TF.js backend epsilon on the CPU backend

#: config key of a constraint → the weight it constrains
CONSTRAINT_KEYS = {
    "kernel_constraint": "kernel",
    "bias_constraint": "bias",
    "recurrent_constraint": "recurrent_kernel",
    "depthwise_constraint": "depthwise_kernel",
    "pointwise_constraint": "pointwise_kernel",
    "embeddings_constraint": "embeddings",
    "gamma_constraint": "gamma",
    "beta_constraint": "beta",
    "alpha_constraint": "alpha",
}


_NAMES = ("non_neg", "max_norm", "unit_norm", "min_max_norm")
_NUMBERS = ("max_value", "min_value", "rate")


def problem(value: Any) -> str | None:
    """What is wrong with a constraint config value, or None (for
    :mod:`flaxjs.layers.fields`); the axis range is checked against the weight in
    :func:`apply`."""
    name = value if isinstance(value, str) else (
        value.get("class_name") if isinstance(value, Mapping) else None)
    if not isinstance(name, str) or snake(name) not in _NAMES:
        return ("must be a constraint {class_name, config} of class NonNeg, MaxNorm, UnitNorm "
                "or MinMaxNorm")
    cfg = value.get("config") or {} if isinstance(value, Mapping) else {}
    if not isinstance(cfg, Mapping):
        return "must be {class_name, config} with an object as config"
    axis = cfg.get("axis", 0)
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if not all(is_int(a) for a in axes):
        return "must have an integer or a list of integers as config 'axis'"
    for key in _NUMBERS:
        v = cfg.get(key)
        if v is not None and not is_number(v):
            return f"must have a finite number as config {key!r}"
    return None


def _norm(w: np.ndarray, axis: Any) -> np.ndarray:
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


def apply(config: Mapping[str, Any], w: np.ndarray) -> np.ndarray:
    """Apply one constraint config (``{"class_name", "config"}``) to a float32 weight."""
    name = snake(str(config.get("class_name", "")))
    cfg = config.get("config") or {}
    w = np.asarray(w, np.float32)
    if name == "non_neg":
        return np.maximum(w, 0).astype(np.float32)
    axis = cfg.get("axis", 0)
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if any(not -w.ndim <= int(a) < w.ndim for a in axes):
        raise ValueError(f"axis {axis} is out of range for a weight of rank {w.ndim}")
    n = _norm(w, axis)
    if name == "max_norm":
        desired = np.clip(n, 0, float(cfg.get("max_value", 2)))
        return (w * (desired / (EPSILON + n))).astype(np.float32)
    if name == "unit_norm":
        return (w / (EPSILON + n)).astype(np.float32)
    if name == "min_max_norm":
        rate = float(cfg.get("rate", 1.0))
        desired = (rate * np.clip(n, float(cfg.get("min_value", 0.0)),
                                  float(cfg.get("max_value", 1.0))) + (1 - rate) * n)
        return (w * (desired / (EPSILON + n))).astype(np.float32)
    raise ValueError(f"unknown constraint {config.get('class_name')!r}")


def constraints_of(config: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(weight name, constraint)`` pairs of a layer config, wrapped layers and cells included."""
    for key, weight in CONSTRAINT_KEYS.items():
        value = config.get(key)
        if isinstance(value, Mapping) and value.get("class_name"):
            yield weight, value
    for nested_key in ("layer", "cell", "forward_layer"):
        nested = config.get(nested_key)
        if isinstance(nested, Mapping) and isinstance(nested.get("config"), Mapping):
            yield from constraints_of(nested["config"])
    cells = config.get("cells")
    if isinstance(cells, list):
        for cell in cells:
            if isinstance(cell, Mapping) and isinstance(cell.get("config"), Mapping):
                yield from constraints_of(cell["config"])
