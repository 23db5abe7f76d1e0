"""Helpers the op converters share: which array library, static values, attributes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ...errors import FlaxjsError
from ..graphdef import DType, NodeDef


class GraphOpError(FlaxjsError):
    """A graph node cannot be computed: bad attributes, or inputs that do not fit."""

    def __init__(self, node: NodeDef, message: str):
        super().__init__(f"node {node.name!r} ({node.op}): {message}")
        self.node = node.name
        self.op = node.op


def is_static(x: Any) -> bool:
    """A value known on the host (a NumPy array or scalar), not a JAX array or tracer."""
    return isinstance(x, (np.ndarray, np.generic, int, float, bool))


def xp(*arrays: Any) -> Any:
    """``numpy`` when every input is static (so the result stays static), else ``jax.numpy``."""
    return np if all(is_static(a) for a in arrays) else jnp


def result(value: Any) -> Any:
    """NumPy scalars become 0-d arrays, so that every static value is an ``ndarray``."""
    return np.asarray(value) if isinstance(value, (np.generic, int, float, bool)) else value


def static(node: NodeDef, x: Any, what: str) -> np.ndarray:
    """``x`` as a NumPy array; it must not depend on the model's inputs or weights."""
    import jax.extend.core as jax_core

    if is_static(x):
        return np.asarray(x)
    try:  # a concrete value: an array, or a tracer of eager grad around one
        return np.asarray(jax_core.concrete_or_error(None, x))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        raise GraphOpError(node, f"its {what} must be a constant (or computed from shapes "
                                 "and constants); here it depends on the input or weight values, "
                                 "which flaxjs cannot trace into a static shape") from None


def static_ints(node: NodeDef, x: Any, what: str) -> list[int]:
    return [int(v) for v in static(node, x, what).reshape(-1)]


def string_attr(node: NodeDef, key: str, default: str) -> str:
    """A string attribute, lower-cased as TF.js reads most of them."""
    value = node.attr(key, default)
    return str(value).lower()


def dtype_attr(node: NodeDef, key: str, default: str = "float32") -> np.dtype:
    value = node.attr(key)
    if value is None:
        return np.dtype(default)
    if not isinstance(value, DType):
        raise GraphOpError(node, f"attribute {key!r} should be a dtype, got {value!r}")
    if value.name == "string":
        raise GraphOpError(node, "string tensors have no JAX counterpart")
    try:
        return value.numpy
    except FlaxjsError as err:
        raise GraphOpError(node, str(err)) from None


def cast(x: Any, dtype: Any) -> Any:
    """``x`` as ``dtype`` (floats to ints truncate towards zero, as TF.js does)."""
    dtype = np.dtype(dtype)
    if getattr(x, "dtype", None) == dtype:
        return x
    lib = xp(x)
    if dtype == np.bool_:
        return lib.not_equal(x, 0)
    if dtype.kind == "i" and np.dtype(x.dtype).kind in "fc":
        return result(lib.trunc(lib.real(x) if np.dtype(x.dtype).kind == "c" else x)
                      .astype(dtype))
    return result(lib.asarray(x).astype(dtype))


def normalize_axis(node: NodeDef, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise GraphOpError(node, f"axis {axis} is out of range for a tensor of rank {rank}")
    return axis % max(rank, 1)


def nhwc(node: NodeDef, key: str = "data_format") -> None:
    """TF.js computes only channels-last; NCHW graphs are refused as TF.js refuses them."""
    fmt = string_attr(node, key, "nhwc")
    if fmt not in ("nhwc", "ndhwc", "nwc"):
        raise GraphOpError(node, f"data_format {fmt.upper()} is not supported (TF.js computes "
                                 "only channels-last); re-export the model channels-last")


def four(node: NodeDef, key: str, default: Sequence[int]) -> list[int]:
    value = node.attr(key)
    values = list(default) if value in (None, []) else [int(v) for v in value]
    return values


def to_int32(x: Any) -> Any:
    """``x`` stored in an ``Int32Array``, as TF.js's CPU kernels store int32 results that
    they compute in JavaScript numbers (JS ``ToInt32``): floats truncate towards zero,
    NaN and ±Infinity become 0, values out of range wrap modulo 2**32."""
    lib = xp(x)
    x = lib.asarray(x)
    kind = np.dtype(x.dtype).kind
    if kind in "iub":
        return result(x.astype(np.int32))
    if kind == "c":
        x = lib.real(x)
    t = lib.trunc(lib.where(lib.isfinite(x), x, lib.zeros_like(x)))
    t = lib.fmod(t, np.asarray(2.0 ** 32, t.dtype))  # exact: wraps without rounding
    t = lib.where(t >= 2.0 ** 31, t - np.asarray(2.0 ** 32, t.dtype),
                  lib.where(t < -(2.0 ** 31), t + np.asarray(2.0 ** 32, t.dtype), t))
    return result(t.astype(np.int32))


def upcast(*arrays: Any) -> tuple[Any, ...]:
    """The inputs in their common TF.js dtype (``makeTypesMatch``: bool < int32 <
    float32 < complex64), as TF.js's binary ops see them."""
    lib = xp(*arrays)
    arrays = tuple(lib.asarray(a) for a in arrays)
    order = "biufc"
    kinds = [np.dtype(a.dtype).kind for a in arrays]
    top = max(kinds, key=order.index)
    dtype = {"b": np.bool_, "i": np.int32, "u": np.int32, "f": np.float32,
             "c": np.complex64}[top]
    return tuple(a if a.dtype == dtype else a.astype(dtype) for a in arrays)


def concrete(node: NodeDef, x: Any, what: str = "input") -> np.ndarray:
    """``x``'s value as a NumPy array, for an op whose output shape (or control flow)
    depends on it; under ``jax.jit`` there is none: a ``DynamicOpError`` naming the op."""
    import jax.extend.core as jax_core

    from ...errors import DynamicOpError

    if is_static(x):
        return np.asarray(x)
    try:  # a concrete value: an array, or a tracer of eager grad around one
        return np.asarray(jax_core.concrete_or_error(None, x))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        raise DynamicOpError(
            f"node {node.name!r} ({node.op}) needs the values of its {what} (its output "
            "shape, or which branch or how many loop iterations run, depends on them), so it "
            "cannot run under jax.jit (TF.js too runs it only with executeAsync): call the "
            "model without jit, or jit the parts before and after it (m.execute with those "
            "node names as outputs/feeds)") from None
