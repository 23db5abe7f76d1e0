"""Sparse tensors as (indices, values, dense shape) triples (TF.js ``sparse``).

TF.js runs these with ``execute``, but ``SparseFillEmptyRows`` and the segment
reductions give outputs whose sizes depend on the indices' values: flaxjs computes
them eagerly on NumPy (``dynamic``; under ``jax.jit``: ``DynamicOpError``), as TF.js's
CPU kernels do, float32 sums in order included. ``SparseReshape`` only needs the
shapes to be static, so it traces.
"""

from __future__ import annotations

import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, concrete, result, static_ints, xp
from .registry import Feed, OpSample, op

_IDX = np.array([[0, 1], [0, 3], [2, 0], [3, 1]], np.int32)


@op("SparseFillEmptyRows", dynamic=True, samples=[
    OpSample([_IDX, Feed((4,)), np.array([5, 4], np.int32), np.array(7.5, np.float32)],
             outputs=4),
    OpSample([np.array([[2, 0], [0, 1], [2, 1]], np.int32), np.array([1, 2, 3], np.int32),
              np.array([3, 2], np.int32), np.array(-1, np.int32)], outputs=4,
             name="unordered-int"),
    OpSample([np.array([[0, 0], [1, 1]], np.int32), Feed((2,)), np.array([2, 2], np.int32),
              np.array(0.0, np.float32)], outputs=4, name="full"),
])
def sparse_fill_empty_rows(node: NodeDef, indices, values, dense_shape, default_value):
    """Each empty row gets one entry ``[row, 0, ...]`` with the default value; entries
    are grouped by row (in their order within a row). Outputs: indices, values, which
    rows were empty, and where each input entry went."""
    idx = concrete(node, indices, "indices").astype(np.int64)
    vals = concrete(node, values, "values")
    shape = concrete(node, dense_shape, "dense_shape").reshape(-1)
    default = concrete(node, default_value, "default_value")
    if idx.ndim != 2 or vals.ndim != 1 or default.ndim != 0:
        raise GraphOpError(node, "indices must be a matrix, values a vector and the default "
                                 "value a scalar")
    count, rank = idx.shape
    rows = int(shape[0])
    if rows == 0:
        if count:
            raise GraphOpError(node, f"received SparseTensor with denseShape[0] = 0 but "
                                     f"indices.shape[0] = {count}")
        return (np.zeros((0, rank), np.int32), np.zeros((0,), vals.dtype),
                np.zeros((0,), bool), np.zeros((count,), np.int32))
    row_of = idx[:, 0] if count else np.zeros((0,), np.int64)
    if count and (row_of.min() < 0 or row_of.max() >= rows):
        bad = int(np.flatnonzero((row_of < 0) | (row_of >= rows))[0])
        raise GraphOpError(node, f"indices({bad}, 0) is invalid: {int(row_of[bad])} is not "
                                 f"in [0, {rows})")
    per_row = np.bincount(row_of, minlength=rows)
    empty = per_row == 0
    ordered = bool(np.all(np.diff(row_of) >= 0))
    if not empty.any() and ordered:
        return (idx.astype(np.int32), vals, empty, np.arange(count, dtype=np.int32))
    ends = np.cumsum(np.maximum(per_row, 1))
    starts = ends - np.maximum(per_row, 1)
    out_idx = np.zeros((int(ends[-1]), rank), np.int32)
    out_vals = np.zeros((int(ends[-1]),), vals.dtype)
    filled = np.zeros(rows, np.int64)
    reverse = np.zeros(count, np.int32)
    for i in range(count):
        row = int(row_of[i])
        at = int(starts[row] + filled[row])
        filled[row] += 1
        out_idx[at] = idx[i]
        out_vals[at] = vals[i]
        reverse[i] = at
    for empty_row in np.flatnonzero(empty).tolist():
        out_idx[starts[empty_row]] = 0
        out_idx[starts[empty_row], 0] = empty_row
        out_vals[starts[empty_row]] = default
    return out_idx, out_vals, empty, reverse


@op("SparseReshape", samples=[
    OpSample([np.array([[0, 0, 1], [1, 2, 3], [0, 1, 0]], np.int32),
              np.array([2, 3, 4], np.int32), np.array([-1, 6], np.int32)], outputs=2),
    OpSample([np.array([[0, 5], [3, 1]], np.int32), np.array([4, 6], np.int32),
              np.array([2, 2, 3, 2], np.int32)], outputs=2, name="to-rank-4"),
    OpSample([Feed((4, 3), "int32", 0, 2), np.array([2, 3, 4], np.int32),
              np.array([4, -1], np.int32)], outputs=2, name="fed"),
])
def sparse_reshape(node: NodeDef, indices, input_shape, new_shape):
    """The entries' indices in the new shape (one -1 is inferred); the shapes must be
    static, the indices may be traced."""
    old = static_ints(node, input_shape, "input_shape")
    target = static_ints(node, new_shape, "new_shape")
    dense = int(np.prod(old))
    out = []
    unknown = -1
    product = 1
    for d, size in enumerate(target):
        if size == -1:
            if unknown != -1:
                raise GraphOpError(node, f"only one output dimension may be -1, not both "
                                         f"{unknown} and {d}")
            unknown = d
            out.append(1)
        elif size < 0:
            raise GraphOpError(node, f"size {d} must be non-negative, not {size}")
        else:
            product *= size
            out.append(size)
    if unknown != -1:
        if product <= 0:
            raise GraphOpError(node, "reshape cannot infer the missing input size for an "
                                     "empty tensor unless all specified input sizes are "
                                     "non-zero")
        out[unknown] = int(dense / product)
    if int(np.prod(out)) != dense:
        raise GraphOpError(node, f"input to reshape is a tensor with {dense} dense values, "
                                 f"but the requested shape has {int(np.prod(out))}")
    in_strides = [int(np.prod(old[d + 1:])) for d in range(len(old))]
    out_strides = [int(np.prod(out[d + 1:])) for d in range(len(out))]
    lib = xp(indices)
    ids = lib.asarray(indices).astype(np.int32)
    flat = sum((ids[:, j] * in_strides[j] for j in range(len(old))),
               lib.zeros(ids.shape[:1], np.int32))
    columns = []
    for stride in out_strides:
        columns.append(_trunc_div(lib, flat, stride))
        flat = flat - columns[-1] * stride  # JavaScript's %: the sign of the dividend
    new = lib.stack(columns, axis=1) if columns else lib.zeros((ids.shape[0], 0), np.int32)
    return result(new.astype(np.int32)), np.asarray(out, np.int32)


def _trunc_div(lib, x, d: int):
    q = lib.abs(x) // d
    return lib.where(x < 0, -q, q)


def _segment_samples(op_name: str) -> list[OpSample]:
    return [
        OpSample([Feed((5, 3)), np.array([0, 1, 3, 4, 2], np.int32),
                  np.array([0, 0, 2, 2, 3], np.int32)], op=op_name),
        OpSample([np.array([[1, 2], [3, 4], [5, 6]], np.int32), np.array([2, 0, 1], np.int32),
                  np.array([1, 1, 1], np.int32)], op=op_name, name="int"),
        OpSample([Feed((4, 2, 2)), np.array([3, 3, 1], np.int32),
                  np.array([0, 1, 1], np.int32)], op=op_name, name="3d"),
        OpSample([Feed((4, 2)), np.zeros((0,), np.int32), np.zeros((0,), np.int32)],
                 op=op_name, name="empty"),
    ]


@op("SparseSegmentSum", "SparseSegmentMean", dynamic=True,
    samples=_segment_samples("SparseSegmentSum") + _segment_samples("SparseSegmentMean"))
def sparse_segment_reduction(node: NodeDef, data, indices, segment_ids):
    """Rows ``data[indices]`` summed (or averaged) per sorted segment id; there are
    ``last id + 1`` output rows, those of absent ids zero. Sums run in order, in the
    data's dtype (float32 rounding after each add, int32 wrapping, integer means
    truncated), as TF.js's kernel does."""
    x = concrete(node, data, "data")
    idx = concrete(node, indices, "indices").reshape(-1)
    seg = concrete(node, segment_ids, "segment_ids").reshape(-1)
    if x.ndim < 1:
        raise GraphOpError(node, "Data should be at least 1 dimensional but received scalar")
    if idx.shape != seg.shape:
        raise GraphOpError(node, "segmentIds and indices should have same size.")
    mean = node.op == "SparseSegmentMean"
    rows = int(seg[-1]) + 1 if seg.size else 0
    if rows < 0:
        raise GraphOpError(node, "segment ids must be >= 0")
    is_int = x.dtype.kind in "iub"
    flat = x.reshape(x.shape[0], -1)
    out = np.zeros((rows, flat.shape[1]), np.int64 if is_int else np.float32)
    start = 0
    while start < len(seg):
        end = start + 1
        while end < len(seg) and seg[end] == seg[start]:
            end += 1
        row = int(seg[start])
        if end < len(seg) and seg[end] < row:
            raise GraphOpError(node, "segment ids are not increasing")
        if not 0 <= row < rows:
            raise GraphOpError(node, f"segment id {row} out of range [0, {rows})")
        acc = out[row]
        for i in range(start, end):
            j = int(idx[i])
            if not 0 <= j < flat.shape[0]:
                raise GraphOpError(node, f"index {i} ({j}) out of range [0, {flat.shape[0]})")
            acc = _wrap(acc + flat[j]) if is_int else (acc + flat[j]).astype(np.float32)
        if mean:
            count = end - start
            acc = (np.trunc(acc / count).astype(np.int64) if is_int
                   else (acc.astype(np.float64) / count).astype(np.float32))
        out[row] = acc
        start = end
    return out.astype(np.int32 if is_int else np.float32).reshape((rows, *x.shape[1:]))


def _wrap(x: np.ndarray) -> np.ndarray:
    """Int32Array storage: wraps modulo 2**32."""
    return ((x.astype(np.int64) + 2**31) % 2**32) - 2**31
