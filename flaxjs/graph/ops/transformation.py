"""Shape changes, padding and space/batch/depth rearrangements (TF.js ``transformation``).

``Cast`` and ``EnsureShape`` live in ``graph``. Each converter follows TF.js 4.22's
converter executor, tfjs-core op and CPU kernel; shape-valued inputs must be static,
and static (NumPy) data stays NumPy so that shape arithmetic survives ``jax.jit``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, is_static, result, static_ints, string_attr, xp
from .registry import Feed, OpSample, op
from .slice_join import slice_params

_X = Feed((2, 3, 4))


def _i32(value: Any) -> np.ndarray:
    return np.array(value, np.int32)


def _shape(x) -> list[int]:
    return [int(d) for d in np.shape(x)]


@op("Reshape", samples=[OpSample([_X, _i32([2, -1, 2])]),
                        OpSample([_X, _i32([24])], name="flat"),
                        OpSample([Feed((1, 1)), _i32([])], name="scalar"),
                        OpSample([Feed((0, 3)), _i32([3, 0, 5])], name="empty"),
                        OpSample([_i32([[1, 2, 3], [4, 5, 6]]), _i32([-1])], name="static")])
def reshape(node: NodeDef, x, shape):
    """TF.js's ``inferFromImplicitShape``: at most one -1, never on an empty tensor."""
    target = static_ints(node, shape, "shape")
    size = math.prod(_shape(x))
    if target.count(-1) > 1 or any(d < -1 for d in target):
        raise GraphOpError(node, f"cannot reshape into {target}: one -1 at most, no other "
                                 "negative size")
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        if known == 0 or size % known:
            raise GraphOpError(node, f"cannot infer the -1 of {target} for "
                                     f"{_shape(x)} ({size} elements)")
        target[target.index(-1)] = size // known
    if math.prod(target) != size:
        raise GraphOpError(node, f"cannot reshape a tensor of shape {_shape(x)} into {target}")
    return result(xp(x).reshape(x, target))


def squeeze_shape(node: NodeDef, shape: Sequence[int], axis: Sequence[int] | None) -> list[int]:
    """TF.js's ``squeezeShape``, as written: the axes are sorted as JS sorts (as strings),
    and a repeated axis also squeezes the next size-1 axis."""
    rank = len(shape)
    if not axis:
        return [d for d in shape if d != 1]
    for a in axis:
        if not -rank <= a < rank:
            raise GraphOpError(node, f"axis {a} is out of range for a tensor of rank {rank}")
    axes = sorted((a + rank if a < 0 else a for a in axis), key=str)
    out = []
    j = 0
    for i, d in enumerate(shape):
        current = axes[j] if j < len(axes) else None
        if current == i and d != 1:
            raise GraphOpError(node, f"cannot squeeze axis {i} of size {d}")
        if (current is None or current > i) and d == 1:
            out.append(d)
        if current is not None and current <= i:
            j += 1
        if d != 1:
            out.append(d)
    return out


@op("Squeeze", samples=[OpSample([Feed((2, 1, 3, 1))], {"squeeze_dims": [1]}),
                        OpSample([Feed((2, 1, 3, 1))], name="all"),
                        OpSample([Feed((2, 1, 3, 1))], {"squeeze_dims": []}, name="empty-list"),
                        OpSample([Feed((1, 2, 1, 3, 1))], {"squeeze_dims": [-1, 0]},
                                 name="negative"),
                        OpSample([Feed((2, 1, 1, 3))], {"axis": [1, 1]}, name="axis-repeated"),
                        OpSample([_i32([[4, 5]])], {"squeeze_dims": [0]}, name="static")])
def squeeze(node: NodeDef, x):
    """TF.js reads ``axis`` first, then ``squeeze_dims``; none (or an empty list) squeezes
    every axis of size 1."""
    dims = node.attr("axis")
    if dims is None:
        dims = node.attr("squeeze_dims")
    dims = None if dims is None else [int(d) for d in dims]
    return result(xp(x).reshape(x, squeeze_shape(node, _shape(x), dims)))


@op("ExpandDims", samples=[OpSample([_X, _i32(1)]),
                           OpSample([_X, _i32(-1)], name="last"),
                           OpSample([_X, _i32(3)], name="rank"),
                           OpSample([_X, _i32(-4)], name="first-negative"),
                           OpSample([_i32(7), _i32(0)], name="static-scalar")])
def expand_dims(node: NodeDef, x, dim):
    values = static_ints(node, dim, "dim")
    if not values:
        raise GraphOpError(node, "its dim is an empty tensor")
    axis, rank = values[0], np.ndim(x)
    if not -(rank + 1) <= axis <= rank:
        raise GraphOpError(node, f"axis {axis} is out of range [{-(rank + 1)}, {rank}]")
    return result(xp(x).expand_dims(x, axis % (rank + 1)))


def _paddings(node: NodeDef, x, paddings, what: str = "paddings",
              rows: int | None = None) -> list[tuple[int, int]]:
    rank = np.ndim(x) if rows is None else rows
    flat = static_ints(node, paddings, what)
    if len(flat) != 2 * rank:
        raise GraphOpError(node, f"{what} must be [{rank}, 2], got {len(flat)} values")
    pairs = [(flat[2 * i], flat[2 * i + 1]) for i in range(rank)]
    if any(p < 0 for pair in pairs for p in pair):
        raise GraphOpError(node, f"{what} {pairs} are negative")
    return pairs


def _fill_value(value, dtype: np.dtype):
    """The pad value as TF.js stores it in the output's typed array: float32 rounds, int32
    and bool (a Uint8Array) truncate towards zero."""
    lib = xp(value)
    value = lib.reshape(value, (-1,))[0]
    if dtype.kind == "f":
        return value.astype(dtype)
    if np.dtype(value.dtype).kind == "f":
        value = lib.trunc(value)
    return (value != 0) if dtype == np.bool_ else value.astype(dtype)


def pad_constant(x, pads: Sequence[tuple[int, int]], value=None):
    """``x`` padded with ``value`` (0 when None); stays NumPy when everything is static."""
    dtype = np.dtype(x.dtype)
    value = np.zeros((), dtype) if value is None else _fill_value(value, dtype)
    if is_static(x) and is_static(value):
        return result(np.pad(x, pads, constant_values=value))
    return jax.lax.pad(jnp.asarray(x), jnp.asarray(value, dtype),
                       [(lo, hi, 0) for lo, hi in pads])


_PADS = _i32([[0, 0], [1, 2], [2, 0]])


@op("Pad", "PadV2", samples=[
    OpSample([_X, _PADS]),
    OpSample([Feed((2, 3), "int32", -9, 9), _i32([[1, 0], [0, 2]])], name="int32"),
    OpSample([_i32([2, 3]), _i32([[1, 1]])], name="static"),
    OpSample([_X, _PADS, np.array(1.5, np.float32)], op="PadV2"),
    OpSample([_X, _PADS, Feed(())], op="PadV2", name="fed-value"),
    OpSample([Feed((2, 3), "int32", -9, 9), _i32([[1, 0], [0, 2]]), _i32(-3)], op="PadV2",
             name="int32"),
    OpSample([Feed((2, 3), "bool"), _i32([[1, 0], [0, 2]]), np.array(True)], op="PadV2",
             name="bool")])
def pad(node: NodeDef, x, paddings, constant=None):
    """Pad reads a ``constant_value`` attribute (TF.js's, default 0), PadV2 its third
    input's first value."""
    if np.ndim(x) == 0:
        raise GraphOpError(node, "cannot pad a scalar")
    if constant is None:
        constant = np.asarray(node.attr("constant_value", 0), np.float32)
    return pad_constant(x, _paddings(node, x, paddings), constant)


@op("MirrorPad", samples=[
    OpSample([_X, _PADS], {"mode": "REFLECT"}, name="reflect"),
    OpSample([_X, _PADS], {"mode": "SYMMETRIC"}, name="symmetric"),
    OpSample([_X, _i32([[1, 1], [2, 2], [3, 3]])], {"mode": "REFLECT"}, name="reflect-max"),
    OpSample([_X, _i32([[2, 2], [3, 3], [4, 4]])], {"mode": "SYMMETRIC"},
             name="symmetric-max"),
    OpSample([Feed((3, 4), "int32", -9, 9), _i32([[2, 1], [0, 3]])], {"mode": "reflect"},
             name="int32")])
def mirror_pad(node: NodeDef, x, paddings):
    """TF.js lower-cases the mode and allows pads up to the size (SYMMETRIC) or the size
    less one (REFLECT)."""
    mode = string_attr(node, "mode", "")
    if mode not in ("reflect", "symmetric"):
        raise GraphOpError(node, f"unknown mode {mode!r} (REFLECT or SYMMETRIC)")
    if np.ndim(x) == 0:
        raise GraphOpError(node, "cannot pad a scalar")
    pads = _paddings(node, x, paddings)
    limit = 1 if mode == "reflect" else 0
    for i, (d, (lo, hi)) in enumerate(zip(_shape(x), pads, strict=True)):
        if lo > d - limit or hi > d - limit:
            raise GraphOpError(node, f"paddings {(lo, hi)} of axis {i} exceed {d - limit} "
                                     f"(mode {mode.upper()}, size {d})")
    return result(xp(x).pad(x, pads, mode=mode))


def _block(node: NodeDef, x, block_shape) -> list[int]:
    block = static_ints(node, block_shape, "block_shape")
    if not block or any(b < 1 for b in block):
        raise GraphOpError(node, f"block_shape {block} must be positive sizes")
    if np.ndim(x) < 1 + len(block):
        raise GraphOpError(node, f"the input of rank {np.ndim(x)} needs more axes than "
                                 f"block_shape {block}")
    return block


def _permute(x, perm: Sequence[int]):
    return result(xp(x).transpose(x, tuple(perm)))


@op("SpaceToBatchND", samples=[
    OpSample([Feed((2, 4, 6, 3)), _i32([2, 3]), _i32([[0, 0], [0, 0]])]),
    OpSample([Feed((1, 3, 4, 2)), _i32([2, 3]), _i32([[1, 0], [0, 2]])], name="padded"),
    OpSample([Feed((2, 5, 3)), _i32([3]), _i32([[1, 0]])], name="1d"),
    OpSample([_i32([[[1], [2]], [[3], [4]]]).reshape(1, 4, 1), _i32([2]),
              _i32([[0, 0]])], name="static")])
def space_to_batch_nd(node: NodeDef, x, block_shape, paddings):
    """Pad, reshape, transpose, reshape: TF.js's CPU kernel step by step."""
    block = _block(node, x, block_shape)
    m = len(block)
    pads = _paddings(node, x, paddings, rows=m)
    shape = _shape(x)
    for i, b in enumerate(block):
        if (shape[i + 1] + pads[i][0] + pads[i][1]) % b:
            raise GraphOpError(node, f"axis {i + 1} of size {shape[i + 1]} padded by "
                                     f"{pads[i]} is not divisible by block size {b}")
    padded = pad_constant(x, [(0, 0), *pads] + [(0, 0)] * (len(shape) - 1 - m))
    p = _shape(padded)
    reshaped = [p[0]]
    for i, b in enumerate(block):
        reshaped += [p[i + 1] // b, b]
    reshaped += p[m + 1:]
    before = [i for i in range(1, len(reshaped)) if not (i >= 2 * m + 1 or i % 2 == 1)]
    after = [i for i in range(1, len(reshaped)) if i >= 2 * m + 1 or i % 2 == 1]
    out_shape = [p[0] * math.prod(block)] + [p[i + 1] // b for i, b in enumerate(block)]
    out_shape += p[m + 1:]
    y = _permute(xp(padded).reshape(padded, reshaped), [*before, 0, *after])
    return result(xp(y).reshape(y, out_shape))


@op("BatchToSpaceND", samples=[
    OpSample([Feed((12, 2, 3, 3)), _i32([2, 3]), _i32([[0, 1], [1, 1]])]),
    OpSample([Feed((6, 2, 2, 1)), _i32([2, 3]), _i32([[0, 0], [0, 0]])], name="uncropped"),
    OpSample([Feed((6, 2, 3)), _i32([3]), _i32([[1, 2]])], name="1d"),
    OpSample([_i32([[[1]], [[2]], [[3]], [[4]]]), _i32([2]), _i32([[0, 1]])],
             name="static")])
def batch_to_space_nd(node: NodeDef, x, block_shape, crops):
    """Reshape, transpose, reshape, slice: TF.js's CPU kernel step by step."""
    block = _block(node, x, block_shape)
    m = len(block)
    cut = _paddings(node, x, crops, "crops", rows=m)
    shape = _shape(x)
    prod = math.prod(block)
    if shape[0] % prod:
        raise GraphOpError(node, f"the batch {shape[0]} is not divisible by the product "
                                 f"{prod} of block_shape {block}")
    reshaped = [*block, shape[0] // prod, *shape[1:]]
    perm = [m]
    for i in range(m + 1, len(reshaped)):
        perm += [i, i - (m + 1)] if i <= 2 * m else [i]
    uncropped = [shape[0] // prod] + [b * shape[i + 1] for i, b in enumerate(block)]
    uncropped += shape[m + 1:]
    y = _permute(xp(x).reshape(x, reshaped), perm)
    y = xp(y).reshape(y, uncropped)
    begin = [0] + [c[0] for c in cut]
    size = uncropped[:1] + [uncropped[i + 1] - c[0] - c[1] for i, c in enumerate(cut)]
    b, s = slice_params(node, uncropped, begin, size)
    return result(y[tuple(slice(lo, lo + n) for lo, n in zip(b, s, strict=True))])


@op("DepthToSpace", samples=[
    OpSample([Feed((1, 2, 3, 8))], {"block_size": 2, "data_format": "NHWC"}),
    OpSample([Feed((2, 2, 1, 18))], {"block_size": 3, "data_format": "NHWC"}, name="block3")])
def depth_to_space(node: NodeDef, x):
    """NHWC only: TF.js's CPU kernel refuses NCHW, and float32 only, as TF.js requires."""
    block = int(node.attr("block_size", 0))
    fmt = string_attr(node, "data_format", "nhwc").upper()
    if fmt != "NHWC":
        raise GraphOpError(node, f"data_format {fmt} is not supported (TF.js computes "
                                 "DepthToSpace only channels-last); re-export the model NHWC")
    if np.dtype(x.dtype) != np.float32:
        raise GraphOpError(node, f"the input must be float32 (TF.js refuses {x.dtype})")
    if np.ndim(x) != 4:
        raise GraphOpError(node, f"the input must have rank 4, got shape {_shape(x)}")
    if block <= 1:
        raise GraphOpError(node, f"block_size should be > 1, got {block}")
    n, h, w, c = _shape(x)
    if c % (block * block):
        raise GraphOpError(node, f"depth {c} is not divisible by {block * block}")
    lib = xp(x)
    y = lib.reshape(x, (n, h, w, block, block, c // (block * block)))
    y = lib.transpose(y, (0, 1, 3, 2, 4, 5))
    return result(lib.reshape(y, (n, h * block, w * block, c // (block * block))))


@op("BroadcastTo", samples=[OpSample([Feed((3, 1)), _i32([2, 3, 4])]),
                            OpSample([_X, _i32([2, 3, 4])], name="same"),
                            OpSample([Feed((1, 3), "int32", -9, 9), _i32([0, 3])],
                                     name="to-empty-tfjs-quirk"),
                            OpSample([Feed((1, 1, 3)), _i32([2, 0, 3])], name="to-empty"),
                            OpSample([_i32([5]), _i32([2, 3])], name="static")])
def broadcast_to(node: NodeDef, x, shape):
    """TF.js tiles the size-1 axes, and only when some axis grows: broadcasting a size 1
    to 0 alone returns the input unchanged."""
    target = static_ints(node, shape, "shape")
    have = _shape(x)
    if any(d < 0 for d in target) or len(target) < len(have):
        raise GraphOpError(node, f"cannot broadcast {have} to {target}")
    padded = [1] * (len(target) - len(have)) + have
    if any(a != b and a != 1 for a, b in zip(padded, target, strict=True)):
        raise GraphOpError(node, f"cannot broadcast {have} to {target}")
    reps = [1 if a == b else b for a, b in zip(padded, target, strict=True)]
    lib = xp(x)
    y = lib.reshape(x, padded)
    if all(r <= 1 for r in reps):
        return result(y)
    return result(lib.broadcast_to(y, [a * r for a, r in zip(padded, reps, strict=True)]))


@op("BroadcastArgs", samples=[OpSample([_i32([2, 1, 3]), _i32([4, 1])]),
                              OpSample([_i32([]), _i32([5, 1])], name="empty"),
                              OpSample([Feed((3,), "int32", 1, 2), _i32([4, 5, 6])],
                                       name="fed")])
def broadcast_args(node: NodeDef, s0, s1):
    """The broadcast shape, int32; static when both shapes are."""
    for s in (s0, s1):
        if np.ndim(s) != 1:
            raise GraphOpError(node, f"the shapes must be vectors, got rank {np.ndim(s)}")
        if np.dtype(s.dtype).kind not in "iu":
            raise GraphOpError(node, f"the shapes must be int32, got {s.dtype}")
    n = max(np.size(s0), np.size(s1))
    if is_static(s0) and is_static(s1):
        a = [1] * (n - np.size(s0)) + [int(v) for v in np.asarray(s0)]
        b = [1] * (n - np.size(s1)) + [int(v) for v in np.asarray(s1)]
        out = []
        for u, v in zip(a, b, strict=True):
            if u != 1 and v != 1 and u != v:
                raise GraphOpError(node, f"shapes {a} and {b} cannot be broadcast together")
            out.append(v if u == 1 else u)
        return np.asarray(out, np.int32)
    p0 = jnp.concatenate([jnp.ones(n - np.size(s0), np.int32), jnp.asarray(s0, np.int32)])
    p1 = jnp.concatenate([jnp.ones(n - np.size(s1), np.int32), jnp.asarray(s1, np.int32)])
    return jnp.where(p0 == 1, p1, p0)
