"""Reductions, scans and bin counts over axes given as an input tensor (TF.js ``reduction``).

Dtypes as TF.js's kernels give them: ``Sum``, ``Prod`` and the scans of bool count in
int32, int32 stays int32, ``Mean`` is float32 (TF.js divides every value by the count,
then sums), ``Max``/``Min`` keep the dtype and let NaN win, ``ArgMax``/``ArgMin`` skip
NaN (a NaN first value gives index 0).
"""

from __future__ import annotations

import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, normalize_axis, result, static_ints, xp
from .registry import Feed, OpSample, op

_X = Feed((2, 3, 4), low=-3, high=3)
_INT = np.array([[[3, -1, 7, 0], [2, 2, -5, 9], [1, 4, 4, -2]]], np.int32)
_BOOL = Feed((2, 3, 4), dtype="bool")
_NAN = np.array([[np.nan, 1.0, 5.0, 5.0], [1.0, np.nan, 5.0, 5.0], [2.0, 7.0, 7.0, -1.0]],
                np.float32)
_AXES = [(np.array([1, 2], np.int32), False, "two-axes"),
         (np.array(-1, np.int32), True, "keepdims"),
         (np.array([0], np.int32), False, "first")]


def _axes(node: NodeDef, x, axis) -> tuple[int, ...]:
    rank = np.ndim(x)
    return tuple(sorted({normalize_axis(node, a, rank)
                         for a in static_ints(node, axis, "axis")}))


def _counted(x):
    """bool counts as int32 (TF.js casts it before summing or multiplying)."""
    return x.astype(np.int32) if np.dtype(x.dtype).kind in "biu" else x


def _reduce(names: tuple[str, ...], method: str, x_feed=_X, extra: tuple = ()) -> None:
    def convert(node: NodeDef, x, axis):
        lib = xp(x)
        keep = bool(node.attr("keep_dims", False))
        axes = _axes(node, x, axis)
        x = lib.asarray(x)
        kind = np.dtype(x.dtype).kind
        if kind == "c":
            raise GraphOpError(node, "TF.js cannot reduce complex tensors")
        if method in ("all", "any") and kind != "b":
            raise GraphOpError(node, f"TF.js's {method} needs a bool input, got {x.dtype}")
        if method == "mean":
            count = int(np.prod([x.shape[a] for a in axes]))
            x = x.astype(np.float32) / np.float32(count)
            return result(lib.sum(x, axis=axes, keepdims=keep).astype(np.float32))
        if method in ("sum", "prod"):
            x = _counted(x)
        out = getattr(lib, method)(x, axis=axes, keepdims=keep)
        return result(out.astype(x.dtype))
    convert.__name__ = names[0].lower()
    convert.__qualname__ = convert.__name__
    convert.__module__ = __name__
    samples = [OpSample([x_feed, axis], {"keep_dims": keep}, name=tag)
               for axis, keep, tag in _AXES] + list(extra)
    op(*names, samples=samples)(convert)


def _int_cases(bools: bool = True) -> tuple[OpSample, ...]:
    out = [OpSample([_INT, np.array([2], np.int32)], {"keep_dims": False}, name="int32")]
    if bools:
        out.append(OpSample([_BOOL, np.array(1, np.int32)], {"keep_dims": False}, name="bool"))
    return tuple(out)


_NAN_CASE = (OpSample([_NAN, np.array(1, np.int32)], {"keep_dims": False}, name="nan"),)
_reduce(("Sum",), "sum", extra=_int_cases())
_reduce(("Mean",), "mean", extra=_int_cases(bools=False))
_reduce(("Max",), "max", extra=_int_cases() + _NAN_CASE)
_reduce(("Min",), "min", extra=_int_cases() + _NAN_CASE)
_reduce(("Prod",), "prod", Feed((2, 3, 4), low=0.5, high=1.5), extra=_int_cases())
_reduce(("All",), "all", _BOOL)
_reduce(("Any",), "any", _BOOL)


def _arg(names: tuple[str, ...], method: str) -> None:
    def convert(node: NodeDef, x, axis):
        """The first index of the extreme value; TF.js compares with ``>`` (``<``) from the
        first value, so NaN never wins unless it comes first (then index 0)."""
        lib = xp(x)
        x = lib.asarray(x)
        (a,) = static_ints(node, axis, "axis")[:1] or [0]
        a = normalize_axis(node, a, x.ndim)
        if np.dtype(x.dtype).kind == "f":
            first_nan = lib.isnan(lib.take(x, 0, axis=a))
            fill = -np.inf if method == "argmax" else np.inf
            x = lib.where(lib.isnan(x), lib.full_like(x, fill), x)
            index = getattr(lib, method)(x, axis=a)
            return result(lib.where(first_nan, 0, index).astype(np.int32))
        return result(getattr(lib, method)(x, axis=a).astype(np.int32))
    convert.__name__ = names[0].lower()
    convert.__qualname__ = convert.__name__
    convert.__module__ = __name__
    op(*names, samples=[OpSample([_X, np.array(1, np.int32)]),
                        OpSample([_X, np.array(-1, np.int32)], name="last"),
                        OpSample([_INT, np.array(2, np.int32)], name="int32"),
                        OpSample([_NAN, np.array(1, np.int32)], name="nan"),
                        OpSample([_NAN, np.array([0, 1], np.int32)], name="axis-list")])(convert)


_arg(("ArgMax",), "argmax")
_arg(("ArgMin",), "argmin")


def _scan(node: NodeDef, x, axis, method: str):
    """TF.js's scans. A negative axis, which TF.js's CPU kernel cannot handle, counts from
    the end as in TensorFlow."""
    lib = xp(x)
    (a,) = static_ints(node, axis, "axis")[:1]
    x = lib.asarray(x)
    a = normalize_axis(node, a, x.ndim)
    if np.dtype(x.dtype).kind == "c":
        raise GraphOpError(node, "TF.js cannot scan complex tensors")
    x = _counted(x)
    exclusive = bool(node.attr("exclusive", False))
    reverse = bool(node.attr("reverse", False))
    if reverse:
        x = lib.flip(x, a)
    out = getattr(lib, method)(x, axis=a).astype(x.dtype)
    if exclusive:
        first = lib.ones_like if method == "cumprod" else lib.zeros_like
        head = first(lib.take(x, lib.arange(1), axis=a))
        out = lib.concatenate([head, lib.take(out, lib.arange(x.shape[a] - 1), axis=a)], a)
    if reverse:
        out = lib.flip(out, a)
    return result(out)


_SCAN = [OpSample([_X, np.array(1, np.int32)]),
         OpSample([_X, np.array(2, np.int32)], {"exclusive": True, "reverse": True},
                  name="exclusive-reverse"),
         OpSample([_X, np.array(0, np.int32)], {"exclusive": True}, name="exclusive"),
         OpSample([_X, np.array(2, np.int32)], {"reverse": True}, name="reverse"),
         OpSample([_INT, np.array(2, np.int32)], name="int32"),
         OpSample([_BOOL, np.array(1, np.int32)], name="bool")]


@op("Cumsum", samples=_SCAN)
def cumsum(node: NodeDef, x, axis):
    return _scan(node, x, axis, "cumsum")


@op("Cumprod", samples=_SCAN)
def cumprod(node: NodeDef, x, axis):
    return _scan(node, x, axis, "cumprod")


def _bincount(node: NodeDef, x, size, weights, binary: bool):
    """Counts (or sums of ``weights``) of each value of ``x`` in ``[0, size)``; values out
    of range are dropped (TF.js throws on negative ones). The output has the weights'
    dtype, also when they are empty (plain counts)."""
    lib = xp(x, weights)
    x, weights = lib.asarray(x), lib.asarray(weights)
    if np.dtype(x.dtype).kind not in "iu":
        raise GraphOpError(node, f"the input must be int32, got {x.dtype} (TF.js)")
    (n,) = static_ints(node, size, "size")[:1]
    if n < 0:
        raise GraphOpError(node, f"size must be non-negative, got {n}")
    if weights.size not in (0, x.size):
        raise GraphOpError(node, f"weights must have the input's size {x.size} or be empty, "
                                 f"got {weights.shape}")
    dtype = weights.dtype
    if x.ndim > 2 or x.ndim == 0:
        raise GraphOpError(node, f"the input must be rank 1 or 2, got {x.shape} (TF.js)")
    rows = x.reshape(-1, x.shape[-1]) if x.ndim == 2 else x.reshape(1, -1)
    w = (lib.ones(rows.shape, dtype) if weights.size == 0 or binary
         else weights.reshape(rows.shape))
    valid = (rows >= 0) & (rows < n)
    index = lib.where(valid, rows, 0)
    one_hot = (index[..., None] == np.arange(n)) & valid[..., None]
    if binary:
        out = lib.any(one_hot, axis=1).astype(dtype)
    else:
        out = lib.sum(lib.where(one_hot, w[..., None], lib.zeros((), dtype)), axis=1)
    return result(out.astype(dtype) if x.ndim == 2 else out.reshape(n).astype(dtype))


_IDS = Feed((7,), dtype="int32", low=0, high=6)


@op("Bincount", samples=[
    OpSample([_IDS, np.array(5, np.int32), Feed((7,))], name="weights"),
    OpSample([_IDS, np.array(5, np.int32), np.zeros((0,), np.float32)], name="counts"),
    OpSample([_IDS, np.array(4, np.int32), np.zeros((0,), np.int32)], name="int-counts")])
def bincount(node: NodeDef, x, size, weights):
    return _bincount(node, x, size, weights, binary=False)


@op("DenseBincount", samples=[
    OpSample([_IDS, np.array(5, np.int32), Feed((7,))], {"binary_output": False},
             name="weights"),
    OpSample([_IDS, np.array(5, np.int32), np.zeros((0,), np.int32)],
             {"binary_output": True}, name="binary-ignored-rank1"),
    OpSample([Feed((3, 4), dtype="int32", low=0, high=5), np.array(4, np.int32),
              Feed((3, 4))], {"binary_output": False}, name="rank2"),
    OpSample([Feed((3, 4), dtype="int32", low=0, high=5), np.array(4, np.int32),
              np.zeros((0,), np.float32)], {"binary_output": True}, name="rank2-binary")])
def dense_bincount(node: NodeDef, x, size, weights):
    """``binary_output`` (1 where a value occurs) applies only to a rank-2 input: TF.js's
    kernel ignores it for rank 1."""
    binary = bool(node.attr("binary_output", False)) and np.ndim(x) == 2
    return _bincount(node, x, size, weights, binary=binary)
