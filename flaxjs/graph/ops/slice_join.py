"""Slicing, joining and splitting (TF.js ``slice_join``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, normalize_axis, result, static_ints, xp
from .registry import Feed, OpSample, op

_X = Feed((2, 3, 4))


@op("ConcatV2", "Concat", samples=[
    OpSample([_X, Feed((2, 2, 4)), np.array(1, np.int32)], {"N": 2}),
    OpSample([np.array(-1, np.int32), _X, Feed((2, 3, 1))], {"N": 2}, op="Concat"),
    OpSample([np.array([2, 3], np.int32), np.array([4], np.int32), np.array(0, np.int32)],
             {"N": 2}, name="shapes")])
def concat(node: NodeDef, *args):
    """ConcatV2 takes the axis last, Concat (v1) first."""
    if node.op == "Concat":
        axis, values = args[0], args[1:]
    else:
        values, axis = args[:-1], args[-1]
    (a,) = static_ints(node, axis, "axis")[:1]
    return result(xp(*values).concatenate(values, axis=normalize_axis(node, a, np.ndim(values[0]))))


@op("Pack", samples=[OpSample([_X, Feed((2, 3, 4))], {"N": 2, "axis": 1}),
                     OpSample([np.array(2, np.int32), np.array(5, np.int32)], {"N": 2},
                              name="scalars")])
def pack(node: NodeDef, *values):
    axis = int(node.attr("axis", 0))
    lib = xp(*values)
    return result(lib.stack([lib.asarray(v) for v in values],
                            axis=normalize_axis(node, axis, np.ndim(values[0]) + 1)))


@op("Unpack", samples=[OpSample([_X], {"num": 3, "axis": 1}, outputs=3)])
def unpack(node: NodeDef, x):
    axis = normalize_axis(node, int(node.attr("axis", 0)), np.ndim(x))
    lib = xp(x)
    return tuple(result(lib.take(x, i, axis=axis)) for i in range(np.shape(x)[axis]))


@op("Tile", samples=[OpSample([_X, np.array([1, 2, 3], np.int32)])])
def tile(node: NodeDef, x, multiples):
    return result(xp(x).tile(x, static_ints(node, multiples, "multiples")))


@op("Slice", samples=[OpSample([_X, np.array([0, 1, 1], np.int32),
                                np.array([-1, 2, 2], np.int32)])])
def slice_op(node: NodeDef, x, begin, size):
    b = static_ints(node, begin, "begin")
    s = static_ints(node, size, "size")
    index = tuple(slice(lo, None if n == -1 else lo + n) for lo, n in zip(b, s, strict=True))
    return result(x[index])


@op("Split", samples=[OpSample([np.array(2, np.int32), _X], {"num_split": 2}, outputs=2)])
def split(node: NodeDef, axis, x):
    n = int(node.attr("num_split", 1))
    (a,) = static_ints(node, axis, "axis")[:1]
    a = normalize_axis(node, a, np.ndim(x))
    if np.shape(x)[a] % n:
        raise GraphOpError(node, f"axis {a} of size {np.shape(x)[a]} does not split in {n}")
    return tuple(result(p) for p in xp(x).split(x, n, axis=a))


@op("SplitV", samples=[
    OpSample([_X, np.array([1, -1], np.int32), np.array(2, np.int32)], {"num_split": 2},
             outputs=2)])
def split_v(node: NodeDef, x, size_splits, axis):
    (a,) = static_ints(node, axis, "axis")[:1]
    a = normalize_axis(node, a, np.ndim(x))
    sizes = static_ints(node, size_splits, "size_splits")
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = np.shape(x)[a] - (sum(sizes) + 1)
    if sum(sizes) != np.shape(x)[a]:
        raise GraphOpError(node, f"sizes {sizes} do not add up to axis {a} of size "
                                 f"{np.shape(x)[a]}")
    cuts = list(np.cumsum(sizes)[:-1])
    return tuple(result(p) for p in xp(x).split(x, cuts, axis=a))


def strided_index(node: NodeDef, rank: int, begin: list[int], end: list[int],
                  strides: list[int]) -> tuple[Any, ...]:
    """TF's sparse slice spec (begin/end/strides + the five masks) as a NumPy index."""
    masks = {k: int(node.attr(k, 0)) for k in
             ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
    if not len(begin) == len(end) == len(strides):
        raise GraphOpError(node, "begin, end and strides must have the same length")
    if any(s == 0 for s in strides):
        raise GraphOpError(node, "a stride is 0")
    index: list[Any] = []
    seen_ellipsis = False
    for i, (b, e, s) in enumerate(zip(begin, end, strides, strict=True)):
        bit = 1 << i
        if masks["ellipsis_mask"] & bit:
            if not seen_ellipsis:
                index.append(Ellipsis)
            seen_ellipsis = True
        elif masks["new_axis_mask"] & bit:
            index.append(None)
        elif masks["shrink_axis_mask"] & bit:
            index.append(b)
        else:
            index.append(slice(None if masks["begin_mask"] & bit else b,
                               None if masks["end_mask"] & bit else e, s))
    if not seen_ellipsis:
        index.append(Ellipsis)
    return tuple(index)


_SS = [
    ([0, 1, 0], [2, 3, 4], [1, 1, 2], {}, "plain"),
    ([1, -2, 3], [0, 0, 0], [1, -1, -1], {"begin_mask": 1, "end_mask": 7}, "negative"),
    ([0, 1], [0, 2], [1, 1], {"shrink_axis_mask": 2, "begin_mask": 1, "end_mask": 1},
     "shrink"),
    ([0, 0, 1], [0, 0, 3], [1, 1, 1], {"ellipsis_mask": 1, "new_axis_mask": 2},
     "ellipsis-newaxis"),
    ([1], [2], [1], {"shrink_axis_mask": 1}, "shape-element"),
    ([0, 0], [0, 2], [1, 1], {"ellipsis_mask": 1}, "ellipsis-last"),
]


@op("StridedSlice", samples=[
    OpSample([_X, np.array(b, np.int32), np.array(e, np.int32), np.array(s, np.int32)],
             masks, name=name) for b, e, s, masks, name in _SS])
def strided_slice(node: NodeDef, x, begin, end, strides):
    index = strided_index(node, np.ndim(x), static_ints(node, begin, "begin"),
                          static_ints(node, end, "end"), static_ints(node, strides, "strides"))
    try:
        return result(xp(x).asarray(x)[index])
    except IndexError as err:
        raise GraphOpError(node, f"slice {index} does not fit shape {list(np.shape(x))}: "
                                 f"{err}") from None
