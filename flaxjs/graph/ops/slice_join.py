"""Slicing, joining, gathering and scattering (TF.js ``slice_join``).

Each converter follows TF.js 4.22's converter executor, its tfjs-core op and the CPU
kernel, quirks included (``StridedSlice``'s read of shrunk axes, ``SplitV``'s
``-1``, ``Pack`` reshaping inputs of the same squeezed shape, scatter indices checked
only as a flat offset). Where TF.js throws on a value flaxjs knows (a constant index
out of range), flaxjs raises :class:`GraphOpError`; indices that are traced under
``jax.jit`` cannot be checked: out-of-range ones then read zeros (as TF.js's WebGL
backend does) and scatter nothing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, cast, is_static, result, static, static_ints, xp
from .registry import Feed, OpSample, op

_X = Feed((2, 3, 4))
_X3 = Feed((3, 4, 5))


def _i32(value: Any) -> np.ndarray:
    return np.array(value, np.int32)


def _axis(node: NodeDef, axis: int, rank: int) -> int:
    """TF.js's ``parseAxisParam``: ``axis`` in ``[-rank, rank)``."""
    if not -rank <= axis < rank:
        raise GraphOpError(node, f"axis {axis} is out of range [-{rank}, {rank}) for a tensor "
                                 f"of rank {rank}")
    return axis % rank


def _first(node: NodeDef, x: Any, what: str) -> int:
    """A ``number`` input: TF.js reads the first value of the tensor."""
    values = static_ints(node, x, what)
    if not values:
        raise GraphOpError(node, f"its {what} is an empty tensor")
    return values[0]


def _strides(shape: Sequence[int]) -> list[int]:
    """Row-major element strides of ``shape`` (every axis, the last one 1)."""
    out = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        out[i] = out[i + 1] * int(shape[i + 1])
    return out


def _reshape(x: Any, shape: Sequence[int]) -> Any:
    return result(xp(x).reshape(x, tuple(int(d) for d in shape)))


def slice_params(node: NodeDef, shape: Sequence[int], begin: Sequence[int],
                 size: Sequence[int]) -> tuple[list[int], list[int]]:
    """TF.js's ``parseSliceParams`` + ``assertParamsValid``: short ``begin``/``size`` are
    completed with 0/-1, a size of -1 runs to the end of the axis."""
    rank = len(shape)
    if rank == 0:
        raise GraphOpError(node, "slicing a scalar is not possible")
    b = list(begin) + [0] * (rank - len(begin))
    s = list(size) + [-1] * (rank - len(size))
    if len(b) != rank or len(s) != rank:
        raise GraphOpError(node, f"begin {list(begin)} and size {list(size)} must have one "
                                 f"value per axis of the input of shape {list(shape)}")
    if any(v < 0 for v in b):
        raise GraphOpError(node, f"negative begin {b} (TF.js cannot slice from a negative "
                                 "begin)")
    for i, d in enumerate(s):
        if d == -1:
            s[i] = int(shape[i]) - b[i]
        elif d < -1:
            raise GraphOpError(node, f"size {d} at axis {i}: negative sizes must be exactly -1")
    for i in range(rank):
        if s[i] < 0 or b[i] + s[i] > shape[i]:
            raise GraphOpError(node, f"slice of begin {b} and size {list(size)} overflows the "
                                     f"input of shape {list(shape)} at axis {i}")
    return b, s


def _slice(x: Any, begin: Sequence[int], size: Sequence[int]) -> Any:
    return x[tuple(slice(b, b + s) for b, s in zip(begin, size, strict=True))]


# ---------------------------------------------------------------------------------------
# ConcatV2, Pack, Unpack, Tile, Slice, Split, SplitV, Reverse


@op("ConcatV2", "Concat", samples=[
    OpSample([_X, Feed((2, 2, 4)), _i32(1)], {"N": 2}),
    OpSample([_X, Feed((2, 3, 1)), Feed((2, 3, 2)), _i32(-1)], {"N": 3}, name="three-negative"),
    OpSample([Feed((0, 3)), Feed((2, 3)), _i32(0)], {"N": 2}, name="empty"),
    OpSample([Feed((2, 3), "int32", -5, 5), _i32([[7, 8, 9]]), _i32(0)], {"N": 2},
             name="int32"),
    OpSample([_i32(-1), _X, Feed((2, 3, 1))], {"N": 2}, op="Concat"),
    OpSample([_i32([2, 3]), _i32([4]), _i32(0)], {"N": 2}, name="shapes")])
def concat(node: NodeDef, *args):
    """ConcatV2 takes the axis last, Concat (v1) first; TF.js joins only the first ``N``
    tensors, in the first one's dtype."""
    if node.op == "Concat":
        axis, values = args[0], args[1:]
    else:
        values, axis = args[:-1], args[-1]
    values = values[:int(node.attr("N", 2))]
    if not values:
        raise GraphOpError(node, "there is nothing to concatenate")
    if len(values) == 1:
        return values[0]
    a = _axis(node, _first(node, axis, "axis"), np.ndim(values[0]))
    dtype = np.dtype(values[0].dtype)
    same = [cast(v, dtype) for v in values]
    shapes = [tuple(np.shape(v)) for v in same]
    if any(len(s) != len(shapes[0]) or s[:a] + s[a + 1:] != shapes[0][:a] + shapes[0][a + 1:]
           for s in shapes):
        raise GraphOpError(node, f"shapes {[list(s) for s in shapes]} differ outside axis {a}")
    return result(xp(*same).concatenate(same, axis=a))


@op("Pack", samples=[
    OpSample([_X, Feed((2, 3, 4))], {"N": 2, "axis": 1}),
    OpSample([_X, Feed((2, 3, 4)), Feed((2, 3, 4))], {"N": 3, "axis": -1}, name="last"),
    OpSample([Feed((2, 3))], {"N": 1}, name="one"),
    OpSample([Feed((2, 3)), Feed((2, 1, 3))], {"N": 2, "axis": 0}, name="squeezed-shapes"),
    OpSample([_i32(2), _i32(5)], {"N": 2}, name="scalars"),
    OpSample([Feed((), "int32", 1, 9), _i32(-1), _i32(4)], {"N": 3}, name="fed-scalars")])
def pack(node: NodeDef, *values):
    """TF.js reshapes an input to the first one's shape when their squeezed shapes agree."""
    axis = int(node.attr("axis", 0))
    first = tuple(np.shape(values[0]))
    squeezed = tuple(d for d in first if d != 1)
    fixed = []
    for v in values:
        shape = tuple(np.shape(v))
        if shape != first:
            if tuple(d for d in shape if d != 1) != squeezed:
                raise GraphOpError(node, f"the input shapes {list(first)} and {list(shape)} "
                                         "do not match")
            v = _reshape(v, first)
        if len(values) > 1 and np.dtype(v.dtype) != np.dtype(values[0].dtype):
            raise GraphOpError(node, "all the inputs must have the same dtype")
        fixed.append(v)
    rank = len(first)
    if not -(rank + 1) <= axis <= rank:
        raise GraphOpError(node, f"axis {axis} is out of range for inputs of rank {rank}")
    lib = xp(*fixed)
    return result(lib.stack([lib.asarray(v) for v in fixed], axis=axis % (rank + 1)))


@op("Unpack", samples=[OpSample([_X], {"num": 3, "axis": 1}, outputs=3),
                       OpSample([_X], {"num": 4, "axis": -1}, outputs=4, name="last"),
                       OpSample([_i32([[1, 2], [3, 4]])], {"num": 2}, outputs=2,
                                name="static")])
def unpack(node: NodeDef, x):
    """As many outputs as the axis is long (TF.js ignores ``num``)."""
    axis = _axis(node, int(node.attr("axis", 0)), np.ndim(x))
    lib = xp(x)
    return tuple(result(lib.take(x, i, axis=axis)) for i in range(np.shape(x)[axis]))


@op("Tile", samples=[OpSample([_X, _i32([1, 2, 3])]),
                     OpSample([Feed((2, 3), "int32", -5, 5), _i32([3, 1])], name="int32"),
                     OpSample([_i32([2, 3]), _i32([2])], name="static")])
def tile(node: NodeDef, x, multiples):
    reps = static_ints(node, multiples, "multiples")
    if len(reps) != np.ndim(x) or any(r < 0 for r in reps):
        raise GraphOpError(node, f"multiples {reps} must be one non-negative count per axis of "
                                 f"the input of shape {list(np.shape(x))}")
    return result(xp(x).tile(x, reps))


@op("Slice", samples=[
    OpSample([_X, _i32([0, 1, 1]), _i32([-1, 2, 2])]),
    OpSample([_X3, _i32([1, 0, 2]), _i32([2, -1, 0])], name="empty"),
    OpSample([_X3, _i32([1]), _i32([1])], name="short"),
    OpSample([_i32([5, 6, 7, 8]), _i32([1]), _i32([2])], name="static")])
def slice_op(node: NodeDef, x, begin, size):
    b, s = slice_params(node, np.shape(x), static_ints(node, begin, "begin"),
                        static_ints(node, size, "size"))
    return result(_slice(x, b, s))


def _split_at(node: NodeDef, x, axis: int, sizes: Sequence[int]) -> tuple[Any, ...]:
    cuts = list(np.cumsum(sizes)[:-1])
    return tuple(result(p) for p in xp(x).split(x, cuts, axis=axis))


@op("Split", samples=[
    OpSample([_i32(2), _X], {"num_split": 2}, outputs=2),
    OpSample([_i32(-2), _X], {"num_split": 3}, outputs=3, name="negative-axis"),
    OpSample([_i32(0), _i32([1, 2, 3, 4])], {"num_split": 4}, outputs=4, name="static")])
def split(node: NodeDef, axis, x):
    n = int(node.attr("num_split", 1))
    a = _axis(node, _first(node, axis, "axis"), np.ndim(x))
    dim = np.shape(x)[a]
    if n <= 0 or dim % n:
        raise GraphOpError(node, f"axis {a} of size {dim} does not split in {n}")
    return _split_at(node, x, a, [dim // n] * n)


@op("SplitV", samples=[
    OpSample([_X, _i32([1, -1]), _i32(2)], {"num_split": 2}, outputs=2),
    OpSample([_X3, _i32([2, 0, -1]), _i32(-1)], {"num_split": 3}, outputs=3, name="zero"),
    OpSample([_X3, _i32([1, 2]), _i32(0)], {"num_split": 2}, outputs=2, name="sizes"),
    OpSample([_i32([2, 3, 4]), _i32([2, 1]), _i32(0)], {"num_split": 2}, outputs=2,
             name="static")])
def split_v(node: NodeDef, x, size_splits, axis):
    """TF.js fills the ``-1`` size with a JS ``reduce`` that starts from the first size, so a
    leading ``-1`` miscounts and TF.js refuses the split."""
    a = _axis(node, _first(node, axis, "axis"), np.ndim(x))
    dim = np.shape(x)[a]
    sizes = static_ints(node, size_splits, "size_splits")
    if not sizes:
        raise GraphOpError(node, "size_splits is empty")
    if sizes.count(-1) > 1:
        raise GraphOpError(node, "only one size may be -1")
    if -1 in sizes:
        total = sizes[0]
        for s in sizes[1:]:
            total += s if s > 0 else 0
        sizes[sizes.index(-1)] = dim - total
    if sum(sizes) != dim or any(s < 0 for s in sizes):
        raise GraphOpError(node, f"sizes {static_ints(node, size_splits, 'size_splits')} do "
                                 f"not split axis {a} of size {dim} (TF.js fills a -1 only when "
                                 "it is not the first size)")
    return _split_at(node, x, a, sizes)


def _reverse(node: NodeDef, x, axes: Sequence[int]):
    """TF.js flips once per listed axis: an axis listed twice is not flipped."""
    rank = np.ndim(x)
    parsed = [_axis(node, a, rank) for a in axes]
    odd = tuple(a for a in sorted(set(parsed)) if parsed.count(a) % 2)
    return result(xp(x).flip(x, odd)) if odd else x


@op("Reverse", samples=[OpSample([_X, np.array([True, False, True])])])
def reverse(node: NodeDef, x, dims):
    flags = static(node, dims, "dims").reshape(-1)
    return _reverse(node, x, [i for i, f in enumerate(flags) if f])


@op("ReverseV2", samples=[OpSample([_X, _i32([1, -1])]),
                          OpSample([_X, _i32([0, 2, 0])], name="repeated"),
                          OpSample([_i32([1, 2, 3]), _i32([0])], name="static")])
def reverse_v2(node: NodeDef, x, axis):
    return _reverse(node, x, static_ints(node, axis, "axis"))


# ---------------------------------------------------------------------------------------
# StridedSlice: TF.js's slice_util.sliceInfo (a port of TensorFlow's ValidatedStridedSlice)
# and the three ways its CPU kernel computes the result.

_NEW_AXIS, _SHRINK_AXIS = -2, -1
_MAX = 2 ** 53 - 1  # JS Number.MAX_SAFE_INTEGER


@dataclasses.dataclass
class StridedPlan:
    """How TF.js computes a strided slice (``slice_util.sliceInfo``).

    Attributes:
      final_shape: the output shape (new axes included, shrunk axes left out).
      final_shape_sparse: ``final_shape`` without the new axes.
      is_identity: the whole input, reshaped.
      slice_dim0, is_simple: a plain (unit-stride) ``slice`` + reshape.
      begin, end, strides: the dense (one per input axis), canonical spec.
      shrink: the dense shrink mask.
    """

    final_shape: list[int]
    final_shape_sparse: list[int]
    is_identity: bool
    slice_dim0: bool
    is_simple: bool
    begin: list[int]
    end: list[int]
    strides: list[int]
    shrink: int


def _canonical(x: int, c: int, stride: int, dim: int, masks: Sequence[int],
               valid: Sequence[int]) -> int:
    if masks[c]:
        return valid[c] if stride > 0 else valid[(c + 1) & 1]
    fwd = dim + x if x < 0 else x
    return valid[0] if fwd < valid[0] else valid[1] if fwd > valid[1] else fwd


def strided_index(node: NodeDef, shape: Sequence[int], begin: Sequence[int],
                  end: Sequence[int], strides: Sequence[int]) -> StridedPlan:
    """TF's sparse slice spec (begin/end/strides + the five masks) made dense, exactly as
    TF.js's ``sliceInfo`` does it (masks from the node's attributes)."""
    mask = {k: int(node.attr(k, 0)) for k in
            ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
    ellipsis_mask, new_axis_mask = mask["ellipsis_mask"], mask["new_axis_mask"]
    if ellipsis_mask & (ellipsis_mask - 1):
        raise GraphOpError(node, "multiple ellipses in a slice are not allowed")
    if not len(begin) == len(end) == len(strides):
        raise GraphOpError(node, f"begin {list(begin)}, end {list(end)} and strides "
                                 f"{list(strides)} must have the same length")
    # Step 1: the sparse spec, with an ellipsis at the end when there is none.
    sparse_dims = len(strides)
    add_after_ellipsis = 0
    seen = False
    for i in range(sparse_dims):
        if seen and (1 << i) & new_axis_mask:
            add_after_ellipsis += 1
        if (1 << i) & ellipsis_mask:
            seen = True
    if not seen:
        ellipsis_mask |= 1 << sparse_dims
        sparse_dims += 1
    # Step 2: the dense spec (buildDenseSpec).
    rank = len(shape)
    d_begin, d_end, d_strides = [0] * rank, [0] * rank, [1] * rank
    d_begin_mask = d_end_mask = d_shrink = 0
    gather: list[int] = []
    full = 0
    for i in range(sparse_dims):
        bit = 1 << i
        if bit & ellipsis_mask:
            stop = min(rank - (sparse_dims - i) + 1 + add_after_ellipsis, rank)
            while full < stop:
                d_begin[full], d_end[full], d_strides[full] = 0, 0, 1
                d_begin_mask |= 1 << full
                d_end_mask |= 1 << full
                gather.append(full)
                full += 1
        elif bit & new_axis_mask:
            gather.append(_NEW_AXIS)
        else:
            if full == rank:
                raise GraphOpError(node, f"the slice indexes more axes than the input of "
                                         f"shape {list(shape)} has")
            d_begin[full], d_end[full], d_strides[full] = begin[i], end[i], strides[i]
            if mask["begin_mask"] & bit:
                d_begin_mask |= 1 << full
            if mask["end_mask"] & bit:
                d_end_mask |= 1 << full
            if mask["shrink_axis_mask"] & bit:
                gather.append(_SHRINK_AXIS)
                d_shrink |= 1 << full
            else:
                gather.append(full)
            full += 1
    # Step 3: canonical begin/end and the processing shape.
    is_identity = slice_dim0 = is_simple = True
    processing = []
    for i in range(rank):
        stride, dim = d_strides[i], int(shape[i])
        if stride == 0:
            raise GraphOpError(node, f"strides[{i}] is 0")
        shrink = bool(d_shrink & (1 << i))
        masks = (d_begin_mask & (1 << i), d_end_mask & (1 << i))
        valid = (0, dim) if stride > 0 else (-1, dim - 1)
        if shrink and stride <= 0:
            raise GraphOpError(node, "a shrunk axis (a plain index) needs a positive stride")
        is_simple = is_simple and stride == 1
        if shrink:
            fwd = dim + d_begin[i] if d_begin[i] < 0 else d_begin[i]
            d_begin[i], d_end[i] = fwd, fwd + 1
            if fwd < 0 or fwd >= dim:
                raise GraphOpError(node, f"index {fwd} is out of range for axis {i} of size "
                                         f"{dim}")
        else:
            d_begin[i] = _canonical(d_begin[i], 0, stride, dim, masks, valid)
            d_end[i] = _canonical(d_end[i], 1, stride, dim, masks, valid)
        take_all = stride == 1 and d_begin[i] == 0 and d_end[i] == dim
        is_identity = is_identity and take_all
        slice_dim0 = slice_dim0 and ((i == 0 and stride == 1) or take_all)
        interval = d_end[i] - d_begin[i]
        if interval == 0 or (interval < 0) != (stride < 0):
            processing.append(0)
        else:
            q, r = divmod(abs(interval), abs(stride))
            processing.append(q + (1 if r else 0))
    # Step 4: the final shape.
    final = [processing[g] if g >= 0 else 1 for g in gather if g >= 0 or g == _NEW_AXIS]
    # TF.js filters the new axes out by position in the gather list, shrunk axes included
    # (so the two lists are misaligned when a slice both shrinks and adds axes).
    final_sparse = [d for i, d in enumerate(final) if gather[i] != _NEW_AXIS]
    return StridedPlan(final, final_sparse, is_identity, slice_dim0, is_simple,
                       d_begin, d_end, d_strides, d_shrink)


def _strided_read(node: NodeDef, x, plan: StridedPlan):
    """TF.js's general path (``stridedSliceImpl``): output position ``loc`` (over
    ``final_shape_sparse``) reads ``x`` at ``loc[j] * strides[j] + begin[j]`` for the
    first ``len(loc)`` input axes, through ``TensorBuffer.get`` (which takes the last
    coordinate given as a flat offset). Without shrunk axes that is the true strided
    slice; with shrunk axes TF.js reads misaligned elements, and flaxjs reads the same."""
    shape = [int(d) for d in np.shape(x)]
    sizes = plan.final_shape_sparse
    k = len(sizes)
    flat_x = xp(x).reshape(x, (-1,))
    if math.prod(plan.final_shape) == 0:
        return _reshape(flat_x[:0], plan.final_shape)
    if k == 0 or math.prod(sizes) != math.prod(plan.final_shape):
        raise GraphOpError(node, "TF.js cannot run this slice (it shrinks every axis, or "
                                 "both shrinks and adds axes, with a non-unit stride)")
    coords = [np.arange(sizes[j], dtype=np.int64) * plan.strides[j] + plan.begin[j]
              for j in range(k)]
    if any(c.min() < 0 or c.max() >= shape[j] for j, c in enumerate(coords)):
        raise GraphOpError(node, "TF.js reads out of range for this slice (a shrunk axis with "
                                 "a non-unit stride elsewhere) and cannot run it")
    if k == len(shape):  # TensorBuffer.get with every coordinate: a real strided slice
        index = []
        for b, n, st in zip(plan.begin, sizes, plan.strides, strict=True):
            stop = b + st * (n - 1) + (1 if st > 0 else -1)
            index.append(slice(b, stop if stop >= 0 else None, st))
        return _reshape(x[tuple(index)], plan.final_shape)
    xs = _strides(shape)
    grids = np.ix_(*coords)
    flat = grids[-1] + sum((xs[j] * grids[j] for j in range(k - 1)), np.zeros((), np.int64))
    return _reshape(flat_x[flat.astype(np.int32)], plan.final_shape)


def strided_slice_value(node: NodeDef, x, begin: Sequence[int], end: Sequence[int],
                        strides: Sequence[int]):
    """``x`` sliced as TF.js's CPU ``StridedSlice`` kernel computes it."""
    shape = [int(d) for d in np.shape(x)]
    plan = strided_index(node, shape, begin, end, strides)
    if plan.is_identity:
        return _reshape(x, plan.final_shape)
    if plan.slice_dim0 or plan.is_simple:
        size = [-((b - e) // s)  # Math.ceil((end - begin) / stride)
                for b, e, s in zip(plan.begin, plan.end, plan.strides, strict=True)]
        refusal = GraphOpError(node, f"TF.js cannot run this slice: its slice of begin "
                                     f"{plan.begin} and size {size} (begin past end with a "
                                     "unit stride) does not give the output shape "
                                     f"{plan.final_shape}")
        try:
            b, s = slice_params(node, shape, plan.begin, size)
        except GraphOpError:
            raise refusal from None
        if math.prod(s) != math.prod(plan.final_shape):
            raise refusal
        return _reshape(_slice(x, b, s), plan.final_shape)
    return _strided_read(node, x, plan)


_SS = [  # begin, end, strides, masks, name
    ([0, 1, 0], [2, 3, 4], [1, 1, 2], {}, "plain"),
    ([1, -2, 3], [0, 0, 0], [1, -1, -1], {"begin_mask": 1, "end_mask": 7}, "negative"),
    ([-2, -3, -1], [-1, -1, -6], [1, 1, -2], {}, "negative-indices"),
    ([0, 1], [0, 2], [1, 1], {"shrink_axis_mask": 2, "begin_mask": 1, "end_mask": 1},
     "shrink"),
    ([-1], [0], [1], {"shrink_axis_mask": 1}, "shrink-negative"),
    ([1, 2, 3], [2, 3, 4], [1, 1, 1], {"shrink_axis_mask": 7}, "shrink-all"),
    ([0, 0, 1], [0, 0, 3], [1, 1, 1], {"ellipsis_mask": 1, "new_axis_mask": 2},
     "ellipsis-newaxis"),
    ([1], [2], [1], {"shrink_axis_mask": 1}, "shape-element"),
    ([0, 0], [0, 2], [1, 1], {"ellipsis_mask": 1}, "ellipsis-last"),
    ([0], [0], [1], {"ellipsis_mask": 1}, "identity"),
    ([-10, 1, -100], [10, 100, 100], [1, 2, 1], {}, "clamped"),
    ([5, -9], [-9, 9], [-1, 3], {}, "clamped-negative-stride"),
    ([0, 0], [0, 0], [-1, -1], {"begin_mask": 3, "end_mask": 3}, "reversed"),
    ([0], [2], [-1], {}, "empty"),
    ([0], [5], [10], {}, "stride-past-end"),
    ([0, 1, 0], [2, 0, 4], [1, 1, 1], {"begin_mask": 1, "end_mask": 2}, "begin-end-masks"),
    ([1, 0, 0, 3, 0], [2, 0, 0, 0, 0], [1, 1, 1, -1, 1],
     {"ellipsis_mask": 2, "new_axis_mask": 20, "end_mask": 8}, "ellipsis-middle-newaxes-after"),
    ([1, 0, 0, 2], [2, 0, 0, 3], [1, 1, 1, 1],
     {"shrink_axis_mask": 9, "ellipsis_mask": 2, "new_axis_mask": 4},
     "shrink-ellipsis-middle-newaxis-after"),
    ([0, 0, 0], [0, 0, 0], [1, 1, 1], {"ellipsis_mask": 1, "new_axis_mask": 6},
     "ellipsis-two-newaxes"),
    ([0, 0, 2], [0, 0, 3], [1, 1, 1],
     {"new_axis_mask": 1, "begin_mask": 2, "end_mask": 2, "shrink_axis_mask": 4},
     "newaxis-first-shrink-last"),
    ([0, 0], [0, 0], [1, 1], {"ellipsis_mask": 1, "new_axis_mask": 1}, "ellipsis-and-newaxis-bit"),
    ([0, 1, 0], [0, 2, 0], [1, 1, 2], {"begin_mask": 5, "end_mask": 5, "shrink_axis_mask": 2},
     "shrink-strided-tfjs-quirk"),
    ([0, 0, 1], [0, 0, 2], [1, 2, 1], {"ellipsis_mask": 1, "shrink_axis_mask": 4},
     "shrink-last-strided-tfjs-quirk"),
]


@op("StridedSlice", samples=[
    *[OpSample([_X3, _i32(b), _i32(e), _i32(s)], masks, name=name)
      for b, e, s, masks, name in _SS],
    OpSample([Feed((4, 3), "int32", -9, 9), _i32([3, 0]), _i32([0, 3]), _i32([-2, 2])],
             {"end_mask": 1}, name="int32"),
    OpSample([_i32([2, 3, 4, 5]), _i32([1]), _i32([-1]), _i32([1])], name="static-shape"),
    OpSample([_i32([2, 3, 4, 5]), _i32([-1]), _i32([0]), _i32([1])], {"shrink_axis_mask": 1},
             name="static-shape-element")])
def strided_slice(node: NodeDef, x, begin, end, strides):
    return strided_slice_value(node, x, static_ints(node, begin, "begin"),
                               static_ints(node, end, "end"),
                               static_ints(node, strides, "strides"))


# ---------------------------------------------------------------------------------------
# Gathers


def _indices(x) -> Any:
    """Indices as int32, as TF.js casts them (int64 is already narrowed)."""
    return cast(x, np.int32) if np.dtype(x.dtype) != np.int32 else x


def _check_static(node: NodeDef, values: Any, limit: int, what: str) -> None:
    """TF.js's CPU kernels throw on an index outside ``[0, limit)``; flaxjs does when the
    indices are known."""
    if is_static(values):
        bad = np.asarray(values)[(np.asarray(values) < 0) | (np.asarray(values) >= limit)]
        if bad.size:
            raise GraphOpError(node, f"{what} {int(bad.reshape(-1)[0])} is not in "
                                     f"[0, {limit - 1}] (TF.js refuses it)")


def _take_rows(x2, flat, valid_limit: int):
    """``x2[flat]`` along axis 0; traced indices out of range give zeros."""
    if is_static(flat):
        return x2[np.asarray(flat)]
    ok = (flat >= 0) & (flat < valid_limit)
    rows = jnp.asarray(x2)[jnp.where(ok, flat, 0)]
    ok = ok.reshape(ok.shape + (1,) * (rows.ndim - ok.ndim))
    return jnp.where(ok, rows, jnp.zeros_like(rows))


def gather(node: NodeDef, x, indices, axis: int, batch_dims: int):
    """TF.js's ``gather`` (``collectGatherOpShapeInfo``): x seen as
    ``[batch, outer, dim, slice]``, indices as ``[batch, n]``."""
    shape = [int(d) for d in np.shape(x)]
    rank = len(shape)
    if rank == 0:
        raise GraphOpError(node, "cannot gather from a scalar")
    axis = _axis(node, axis, rank)
    idx_shape = [int(d) for d in np.shape(indices)]
    idx_rank = len(idx_shape)
    bd = batch_dims
    if bd != 0 and not -idx_rank <= bd <= idx_rank:
        raise GraphOpError(node, f"batch_dims {bd} is out of range [-{idx_rank}, {idx_rank}]")
    if bd < 0:
        bd += idx_rank
    if bd > rank or axis < bd:
        raise GraphOpError(node, f"batch_dims {bd} must be at most the axis {axis} and the "
                                 f"rank {rank}")
    if shape[:bd] != idx_shape[:bd]:
        raise GraphOpError(node, f"the first {bd} axes of the input {shape} and the indices "
                                 f"{idx_shape} must agree")
    dim = shape[axis]
    _check_static(node, indices, dim, "index")
    indices = _indices(indices)
    batch = math.prod(shape[:bd])
    outer = math.prod(shape[bd:axis])
    inner = math.prod(shape[axis + 1:])
    out_shape = shape[:axis] + idx_shape[bd:] + shape[axis + 1:]
    lib = xp(x, indices)
    n = math.prod(idx_shape) // max(batch, 1) if batch else 0
    if math.prod(out_shape) == 0:
        return _reshape(xp(x).reshape(x, (-1,))[:0], out_shape)
    if dim == 0:  # every index is out of range (only traced indices get here)
        return result(jnp.zeros(out_shape, np.dtype(x.dtype)))
    ind = lib.reshape(indices, (batch, n))
    # rows of the [batch * outer * dim, inner] matrix
    rows = ((np.arange(batch)[:, None, None] * outer + np.arange(outer)[None, :, None]) * dim
            + ind[:, None, :])
    if not is_static(indices):
        rows = jnp.where((ind[:, None, :] >= 0) & (ind[:, None, :] < dim), rows, -1)
    got = _take_rows(lib.reshape(x, (-1, inner)), rows, batch * outer * dim)
    return _reshape(got, out_shape)


_G = Feed((3, 4, 5))


@op("GatherV2", samples=[
    OpSample([_G, _i32([[0, 2], [3, 3]]), _i32(1)]),
    OpSample([_G, _i32([4, 0, 1]), _i32(-1)], name="negative-axis"),
    OpSample([_G, _i32(2), _i32(0)], name="scalar-index"),
    OpSample([_G, Feed((2, 6), "int32", 0, 4), _i32(1)], name="fed-indices"),
    OpSample([_G, _i32([[1, 0], [3, 3], [2, 0]]), _i32(1)], {"batch_dims": 1},
             name="batch-dims"),
    OpSample([_G, Feed((3, 4, 2), "int32", 0, 5), _i32(2)], {"batch_dims": -1},
             name="batch-dims-negative"),
    OpSample([_G, _i32([[1], [0], [2]]), _i32(2)], {"batch_dims": 1},
             name="batch-dims-outer"),
    OpSample([Feed((4, 3), "int32", -9, 9), _i32([3, 1]), _i32(0)], name="int32"),
    OpSample([_i32([2, 3, 4]), _i32([2, 0]), _i32(0)], name="static-shape")])
def gather_v2(node: NodeDef, x, indices, axis=None):
    a = 0 if axis is None else _first(node, axis, "axis")
    return gather(node, x, indices, a, int(node.attr("batch_dims", 0)))


@op("Gather", samples=[OpSample([_G, _i32([[2, 0], [1, 1]])], {"validate_indices": True}),
                       OpSample([_G, Feed((4,), "int32", 0, 3)], name="fed-indices")])
def gather_v1(node: NodeDef, x, indices):
    """Axis 0; ``validate_indices`` is ignored, as TF.js ignores it."""
    return gather(node, x, indices, 0, 0)


@op("GatherNd", samples=[
    OpSample([_G, _i32([[0, 1], [2, 3]])]),
    OpSample([_G, _i32([[[0, 1, 4]], [[2, 3, 0]]])], name="elements"),
    OpSample([_G, _i32([1, 2])], name="one-index"),
    OpSample([_G, Feed((2, 3, 1), "int32", 0, 3)], name="fed-indices"),
    OpSample([_G, _i32([[0, 5], [1, -1]])], name="flat-offset-tfjs-quirk"),
    OpSample([_i32([[1, 2], [3, 4]]), _i32([[1, 0]])], name="static")])
def gather_nd(node: NodeDef, x, indices):
    """TF.js checks only the flat offset of each index (so ``[0, 5]`` in a ``[3, 4]``
    input reads ``[1, 1]``)."""
    shape = [int(d) for d in np.shape(x)]
    idx_shape = [int(d) for d in np.shape(indices)]
    if not idx_shape:
        raise GraphOpError(node, "the indices must have rank 1 or more")
    depth = idx_shape[-1]
    if depth > len(shape):
        raise GraphOpError(node, f"indices of depth {depth} for an input of rank {len(shape)}")
    if math.prod(shape) == 0:
        raise GraphOpError(node, f"the input of shape {shape} is empty")
    inner = math.prod(shape[depth:])
    rows_total = math.prod(shape) // inner
    out_shape = idx_shape[:-1] + shape[depth:]
    n = math.prod(idx_shape[:-1])
    if n == 0:
        return _reshape(xp(x).reshape(x, (-1,))[:0], out_shape)
    indices = _indices(indices)
    lib = xp(indices)
    ind = lib.reshape(indices, (n, depth))
    strides = _strides(shape[:depth])
    flat = sum((ind[:, j] * strides[j] for j in range(depth)),
               np.zeros((n,), np.int32) if depth == 0 else 0)
    _check_static(node, flat, rows_total, "flat index")
    got = _take_rows(xp(x, flat).reshape(x, (rows_total, inner)), flat, rows_total)
    return _reshape(got, out_shape)


# ---------------------------------------------------------------------------------------
# Scatters: TF.js's scatterImpl (flat offsets, sums for ScatterNd, the last write wins for
# SparseToDense and TensorScatterUpdate).


def _scatter_shapes(node: NodeDef, updates_shape: Sequence[int], idx_shape: Sequence[int],
                    shape: Sequence[int]) -> tuple[int, int, int]:
    """TF.js's ``validateUpdateShape`` + ``calculateShapes``: ``(depth, num updates, slice
    size)``. Indices of rank 1 are one-number indices (TensorFlow reads them as one
    index; TF.js does not)."""
    if len(idx_shape) < 1 or len(updates_shape) < 1 or len(shape) < 1:
        raise GraphOpError(node, "indices, updates and the output must have rank 1 or more")
    depth = idx_shape[-1] if len(idx_shape) > 1 else 1
    batch = len(idx_shape) - 1 if len(idx_shape) > 1 else 1
    if not 1 <= depth <= len(shape):
        raise GraphOpError(node, f"indices of depth {depth} for an output of rank {len(shape)}")
    want = list(idx_shape[:batch]) + list(shape[depth:])
    if list(updates_shape) != want:
        raise GraphOpError(node, f"updates of shape {list(updates_shape)} must have shape "
                                 f"{want} (indices {list(idx_shape)}, output {list(shape)})")
    n = math.prod(idx_shape) // max(depth, 1)
    return depth, n, math.prod(shape[depth:])


def _flat_rows(node: NodeDef, indices, depth: int, n: int, shape: Sequence[int]):
    """Each index's row in the output seen as ``[rows, slice]`` (TF.js checks only that)."""
    indices = _indices(indices)
    lib = xp(indices)
    ind = lib.reshape(indices, (n, depth))
    strides = _strides(shape[:depth])
    flat = sum((ind[:, j] * strides[j] for j in range(depth)), 0)
    rows = math.prod(shape[:depth])
    _check_static(node, flat, rows, "flat index")
    return flat, rows


def _last_wins(flat, rows: int):
    """Indices whose row is written again later point past the end (dropped), so that the
    last write wins whatever order the scatter runs in (TF.js writes in order)."""
    order = np.arange(int(np.shape(flat)[0]), dtype=np.int32)
    if is_static(flat):
        known = np.asarray(flat)
        inside = (known >= 0) & (known < rows)
        first = np.full(rows, -1, np.int32)
        np.maximum.at(first, known[inside], order[inside])
        return np.where(inside & (first[np.clip(known, 0, rows - 1)] == order), known, rows)
    winner = jnp.full(rows, -1, jnp.int32).at[flat].max(order, mode="drop")
    return jnp.where(winner[jnp.clip(flat, 0, rows - 1)] == order, flat, rows)


def _scatter(base, flat, values, add: bool):
    """``base[flat] (+)= values`` along axis 0; rows out of range are dropped."""
    if is_static(base) and is_static(flat) and is_static(values):
        out = np.array(base)
        keep = (flat >= 0) & (flat < out.shape[0])
        if add:
            np.add.at(out, flat[keep], values[keep])
        else:
            out[flat[keep]] = values[keep]
        return out
    ref = jnp.asarray(base).at[flat]
    return ref.add(values, mode="drop") if add else ref.set(values, mode="drop")


@op("ScatterNd", samples=[
    OpSample([_i32([[0], [2], [0]]), Feed((3, 4)), _i32([3, 4])], name="rows-summed"),
    OpSample([_i32([[[0, 1], [2, 3]], [[1, 1], [0, 1]]]), Feed((2, 2)), _i32([3, 4])],
             name="elements"),
    OpSample([Feed((5, 2), "int32", 0, 3), Feed((5, 4)), _i32([3, 3, 4])],
             name="fed-indices"),
    OpSample([_i32([[0, 5], [2, -1]]), Feed((2,)), _i32([3, 4])],
             name="flat-offset-tfjs-quirk"),
    OpSample([_i32([1, 3]), Feed((2, 3)), _i32([4, 3])], name="rank1-indices"),
    OpSample([_i32([[1], [1]]), _i32([3, 4]), _i32([3])], name="static")])
def scatter_nd(node: NodeDef, indices, updates, shape):
    out_shape = static_ints(node, shape, "shape")
    if any(d < 0 for d in out_shape):
        raise GraphOpError(node, f"the output shape {out_shape} has a negative size")
    depth, n, inner = _scatter_shapes(node, np.shape(updates), np.shape(indices), out_shape)
    dtype = np.dtype(updates.dtype)
    if math.prod(out_shape) == 0:
        return np.zeros(out_shape, dtype)
    flat, rows = _flat_rows(node, indices, depth, n, out_shape)
    lib = xp(indices, updates)
    values = lib.reshape(updates, (n, inner))
    if dtype == np.bool_:
        out = _scatter(np.zeros((rows, inner), np.int32), flat, cast(values, np.int32), True)
        return _reshape(cast(out, np.bool_), out_shape)
    return _reshape(_scatter(np.zeros((rows, inner), dtype), flat, values, True), out_shape)


@op("TensorScatterUpdate", samples=[
    OpSample([Feed((4, 3)), _i32([[1], [3], [1]]), Feed((3, 3))], name="last-wins"),
    OpSample([Feed((3, 4)), _i32([[0, 1], [2, 3]]), Feed((2,))], name="elements"),
    OpSample([Feed((4, 3)), Feed((6, 1), "int32", 0, 4), Feed((6, 3))], name="fed-indices"),
    OpSample([_i32([5, 6, 7]), _i32([[2]]), _i32([9])], name="static")])
def tensor_scatter_update(node: NodeDef, tensor, indices, updates):
    shape = [int(d) for d in np.shape(tensor)]
    depth, n, inner = _scatter_shapes(node, np.shape(updates), np.shape(indices), shape)
    if np.dtype(tensor.dtype) != np.dtype(updates.dtype):
        raise GraphOpError(node, "the tensor and the updates must have the same dtype")
    if math.prod(shape) == 0:
        return tensor
    flat, rows = _flat_rows(node, indices, depth, n, shape)
    lib = xp(tensor, indices, updates)
    base = lib.reshape(tensor, (rows, inner))
    out = _scatter(base, _last_wins(flat, rows), lib.reshape(updates, (n, inner)), False)
    return _reshape(out, shape)


@op("SparseToDense", samples=[
    OpSample([_i32([[0, 1], [2, 3]]), _i32([3, 4]), Feed((2,)), np.array(-1.5, np.float32)],
             {"validate_indices": True}),
    OpSample([_i32([3, 1, 3]), _i32([5]), Feed((3,)), Feed(())],
             {"validate_indices": False}, name="last-wins"),
    OpSample([_i32([[1, 0], [0, 2]]), _i32([2, 3]), np.array(True), np.array(False)],
             {"validate_indices": True}, name="scalar-bool"),
    OpSample([Feed((4, 1), "int32", 0, 6), _i32([6]), Feed((4,), "int32", -9, 9), _i32(7)],
             {"validate_indices": False}, name="fed-indices"),
    OpSample([_i32([2]), _i32([4]), _i32(-1), _i32(1)], {"validate_indices": True},
             name="static")])
def sparse_to_dense(node: NodeDef, indices, output_shape, values, default):
    """``validate_indices`` is ignored (TF.js ignores it): repeated indices keep the last
    value. The default is cast to the values' dtype, as the TF.js converter does."""
    shape = static_ints(node, output_shape, "output_shape")
    if any(d < 0 for d in shape):
        raise GraphOpError(node, f"the output shape {shape} has a negative size")
    idx_shape = [int(d) for d in np.shape(indices)]
    if len(idx_shape) > 2:
        raise GraphOpError(node, f"indices of shape {idx_shape}: a scalar, vector or matrix")
    count = idx_shape[0] if idx_shape else 1
    depth = idx_shape[1] if len(idx_shape) > 1 else 1
    if len(shape) != depth:
        raise GraphOpError(node, f"the output shape {shape} should have {depth} values")
    if not (np.ndim(values) == 0 or (np.ndim(values) == 1 and np.size(values) == count)):
        raise GraphOpError(node, f"values of shape {list(np.shape(values))} should be [] or "
                                 f"[{count}]")
    dtype = np.dtype(values.dtype)
    lib = xp(values, default)
    fill = cast(lib.reshape(default, (-1,))[0], dtype)
    if math.prod(shape) == 0:
        return np.zeros(shape, dtype)
    flat, rows = _flat_rows(node, indices, depth, count, shape)
    base = lib.full((rows, 1), fill, dtype)
    vals = lib.broadcast_to(lib.reshape(values, (-1, 1)), (count, 1))
    out = _scatter(base, _last_wins(flat, rows), vals, False)
    return _reshape(out, shape)
