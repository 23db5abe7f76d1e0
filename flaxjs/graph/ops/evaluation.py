"""Top-k, sorted search and unique values (TF.js ``evaluation``)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, normalize_axis, result, static_ints, xp
from .registry import Feed, OpSample, op

_X = Feed((2, 3, 9), low=-3, high=3)
_TIES = Feed((3, 8), "int32", 0, 4)


def _order(row: np.ndarray) -> np.ndarray:
    """Indices of ``row`` from largest to smallest, equal values by index (TF.js's
    ``comparePair``: ``-0`` equals ``0``)."""
    return np.lexsort((np.arange(row.size), -row.astype(np.float64)))


def _select(ranks: list[int], k: int, left: int, right: int) -> None:
    """TF.js's Floyd-Rivest ``select`` (``TopK_impl``), on ranks (lower = larger value):
    afterwards ``ranks[:k]`` hold the ``k`` largest, in the order this partitioning leaves
    them, which is the order TF.js returns when ``sorted`` is false."""
    a = ranks
    while right > left:
        if right - left > 600:
            n, i = right - left + 1, k - left + 1
            z = math.log(n)
            s = 0.5 * math.exp(2 * z / 3)
            sd = 0.5 * math.sqrt(z * s * (n - s) / n) * ((i > n / 2) - (i < n / 2))
            _select(a, k, max(left, math.floor(k - i * s / n + sd)),
                    min(right, math.floor(k + (n - i) * s / n + sd)))
        t = a[k]
        i, j = left, right
        a[left], a[k] = a[k], a[left]
        if a[right] > t:
            a[left], a[right] = a[right], a[left]
        while i < j:
            a[i], a[j] = a[j], a[i]
            i, j = i + 1, j - 1
            while a[i] < t:
                i += 1
            while a[j] > t:
                j -= 1
        if a[left] == t:
            a[left], a[j] = a[j], a[left]
        else:
            j += 1
            a[j], a[right] = a[right], a[j]
        if j <= k:
            left = j + 1
        if k <= j:
            right = j - 1


def _topk_indices(x: np.ndarray, k: int, sorted_: bool) -> np.ndarray:
    """TF.js's ``topKImpl`` on the host: the indices it returns, row by row."""
    x = np.asarray(x)
    n = x.shape[-1]
    rows = x.reshape(-1, n)
    out = np.zeros((rows.shape[0], k), np.int32)
    for r, row in enumerate(rows):
        order = _order(row)
        if sorted_:
            out[r] = order[:k]
            continue
        if k >= n:  # TF.js selects nothing: the row's own order
            out[r] = np.arange(n)[:k]
            continue
        ranks = np.empty(n, np.int64)
        ranks[order] = np.arange(n)
        kept = ranks.tolist()
        _select(kept, k, 0, n - 1)
        out[r] = order[np.asarray(kept[:k])]
    return out.reshape(*x.shape[:-1], k)


@op("TopKV2", samples=[
    OpSample([_X, np.array(4, np.int32)], {"sorted": True}, outputs=2),
    OpSample([_TIES, np.array(5, np.int32)], {"sorted": True}, outputs=2, name="ties"),
    OpSample([_X, np.array(4, np.int32)], {"sorted": False}, outputs=2, name="unsorted"),
    OpSample([_TIES, np.array(3, np.int32)], {"sorted": False}, outputs=2,
             name="unsorted-ties"),
    OpSample([Feed((2, 700), low=-3, high=3), np.array(40, np.int32)], {"sorted": False},
             outputs=2, name="unsorted-long"),
    OpSample([_X, np.array(9, np.int32)], {"sorted": False}, outputs=2, name="unsorted-all"),
    OpSample([Feed((6,)), np.array(0, np.int32)], {"sorted": True}, outputs=2, name="k0"),
])
def top_k(node: NodeDef, x, k):
    """The ``k`` largest along the last axis and their int32 indices; equal values keep the
    lower index first. With ``sorted=False`` TF.js returns them in the order its selection
    leaves them: flaxjs runs the same selection on the host (``pure_callback``)."""
    (k,) = static_ints(node, k, "k")[:1]
    if np.ndim(x) == 0:
        raise GraphOpError(node, "expects a tensor of rank 1 or more, got a scalar")
    n = np.shape(x)[-1]
    if not 0 <= k <= n:
        raise GraphOpError(node, f"k={k} is out of range for a last axis of size {n}")
    sorted_ = bool(node.attr("sorted", True))
    lib = xp(x)
    indices: Any
    if lib is np:
        indices = _topk_indices(x, k, sorted_)
    elif sorted_:
        _, indices = jax.lax.top_k(x + jnp.zeros((), x.dtype), k)  # + 0: -0 ties with 0
    else:
        shape = jax.ShapeDtypeStruct((*np.shape(x)[:-1], k), np.int32)
        indices = jax.pure_callback(lambda v: _topk_indices(v, k, False), shape,
                                    jax.lax.stop_gradient(x), vmap_method="sequential")
    indices = lib.asarray(indices).astype(np.int32)
    values = lib.take_along_axis(lib.asarray(x), indices, axis=-1)
    return result(values), result(indices)


def _search(node: NodeDef, sorted_sequence, values, strict: bool):
    """TF.js's binary search, step for step (so unsorted input gives what TF.js gives):
    both inputs are read as ``[rows, n]``, and so is the result."""
    lib = xp(sorted_sequence, values)
    seq, vals = lib.asarray(sorted_sequence), lib.asarray(values)
    if np.ndim(seq) == 0 or np.ndim(vals) == 0:
        raise GraphOpError(node, "expects tensors of rank 1 or more")
    n, m = np.shape(seq)[-1], np.shape(vals)[-1]
    seq, vals = seq.reshape(-1, n), vals.reshape(-1, m)
    if seq.shape[0] != vals.shape[0]:
        raise GraphOpError(node, f"the leading dimensions of the sorted sequence "
                                 f"{list(np.shape(sorted_sequence))} and the values "
                                 f"{list(np.shape(values))} must match")
    left = lib.zeros(vals.shape, np.int32)
    right = lib.full(vals.shape, n, np.int32)
    for _ in range(n.bit_length()):
        active = left < right
        mid = (left + right) // 2
        at = lib.take_along_axis(seq, lib.minimum(mid, n - 1), axis=1)
        go_right = (at <= vals) if strict else (at < vals)
        left = lib.where(active & go_right, mid + 1, left)
        right = lib.where(active & ~go_right, mid, right)
    return result(right)


_SEQ = np.sort(np.random.default_rng(0).integers(-5, 6, (3, 10)), axis=1).astype(np.float32)
_BOUND = [OpSample([_SEQ, Feed((3, 7), low=-6, high=6)]),
          OpSample([_SEQ, np.array([[-9, -5, 0, 0.5, 5, 9], [1, 2, 3, 4, 5, 6],
                                    [-1, -2, -3, -4, -5, -6]], np.float32)], name="edges"),
          OpSample([np.array([[3, 1, 4, 1, 5, 9, 2, 6]], np.int32),
                    Feed((1, 5), "int32", 0, 10)], name="unsorted-int32"),
          OpSample([np.array([0.0, 1.0, 1.0, 2.0], np.float32), Feed((5,), low=-1, high=3)],
                   name="rank1")]


@op("LowerBound", samples=_BOUND)
def lower_bound(node: NodeDef, sorted_sequence, values):
    """For each value, the first index whose entry is not less than it (int32)."""
    return _search(node, sorted_sequence, values, strict=False)


@op("UpperBound", samples=_BOUND)
def upper_bound(node: NodeDef, sorted_sequence, values):
    """For each value, the first index whose entry is greater than it (int32)."""
    return _search(node, sorted_sequence, values, strict=True)


def _key(values: np.ndarray) -> tuple:
    """TF.js compares elements by their text: ``-0`` is ``0`` and every NaN is ``NaN``."""
    if values.dtype.kind == "f":
        return tuple("NaN" if v != v else v for v in values.tolist())
    return tuple(values.tolist())


def _unique(node: NodeDef, x, axis: int):
    x = np.asarray(x)
    if x.ndim == 0:
        raise GraphOpError(node, "expects a tensor of rank 1 or more, got a scalar")
    axis = normalize_axis(node, axis, x.ndim)
    moved = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    seen: dict[tuple, int] = {}
    first: list[int] = []
    indices = np.zeros(x.shape[axis], np.int32)
    for i, row in enumerate(moved):
        key = _key(row)
        if key not in seen:
            seen[key] = len(first)
            first.append(i)
        indices[i] = seen[key]
    return np.take(x, np.asarray(first, np.int64), axis=axis), indices


_REPEATS = np.array([3, -1, 3, 0, 7, -1, -0.0, 2, 7, np.nan, np.nan, 3], np.float32)


@op("Unique", dynamic=True, samples=[
    OpSample([_REPEATS], outputs=2),
    OpSample([Feed((12,), "int32", 0, 5)], outputs=2, name="int32"),
    OpSample([Feed((9,), "bool")], outputs=2, name="bool"),
])
def unique(node: NodeDef, x):
    """The distinct elements in order of first appearance, and each element's index among
    them. The size depends on the values, so it runs eagerly (TF.js: executeAsync)."""
    return _unique(node, x, 0)


_ROWS = np.array([[1, 2, 3], [4, 5, 6], [1, 2, 3], [1, 2, 4], [4, 5, 6]], np.int32)


@op("UniqueV2", dynamic=True, samples=[
    OpSample([_ROWS, np.array([0], np.int32)], outputs=2, name="rows"),
    OpSample([_ROWS.T.copy(), np.array([-1], np.int32)], outputs=2, name="columns"),
    OpSample([Feed((10,), "int32", 0, 4), np.array([0], np.int32)], outputs=2, name="flat"),
    OpSample([np.stack([_ROWS, _ROWS]).astype(np.float32), np.array([1], np.int32)],
             outputs=2, name="rank3"),
])
def unique_v2(node: NodeDef, x, axis):
    """``Unique`` along ``axis`` (whole slices compared), as ``Unique``."""
    values = static_ints(node, axis, "axis")
    return _unique(node, x, values[0] if values else 0)
