"""Shape changes and padding (TF.js ``transformation``)."""

from __future__ import annotations

import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, normalize_axis, result, static_ints, xp
from .registry import Feed, OpSample, op

_X = Feed((2, 3, 4))


@op("Reshape", samples=[OpSample([_X, np.array([2, -1, 2], np.int32)]),
                        OpSample([_X, np.array([24], np.int32)], name="flat")])
def reshape(node: NodeDef, x, shape):
    target = static_ints(node, shape, "shape")
    size = int(np.prod(np.shape(x)))
    if target.count(-1) > 1 or (-1 not in target and int(np.prod(target)) != size):
        raise GraphOpError(node, f"cannot reshape a tensor of shape {list(np.shape(x))} "
                                 f"into {target}")
    return result(xp(x).reshape(x, target))


@op("Squeeze", samples=[OpSample([Feed((2, 1, 3, 1))], {"squeeze_dims": [1]}),
                        OpSample([Feed((2, 1, 3, 1))], name="all")])
def squeeze(node: NodeDef, x):
    dims = [int(d) for d in node.attr("squeeze_dims", node.attr("axis", [])) or []]
    shape = np.shape(x)
    if not dims:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = tuple(sorted({normalize_axis(node, d, len(shape)) for d in dims}))
        bad = [a for a in axes if shape[a] != 1]
        if bad:
            raise GraphOpError(node, f"cannot squeeze axis {bad[0]} of size {shape[bad[0]]}")
    return result(xp(x).reshape(x, [d for i, d in enumerate(shape) if i not in axes]))


@op("ExpandDims", samples=[OpSample([_X, np.array(1, np.int32)]),
                           OpSample([_X, np.array(-1, np.int32)], name="last")])
def expand_dims(node: NodeDef, x, dim):
    (axis,) = static_ints(node, dim, "dim")[:1]
    rank = np.ndim(x) + 1
    return result(xp(x).expand_dims(x, normalize_axis(node, axis, rank)))


def _paddings(node: NodeDef, x, paddings) -> list[tuple[int, int]]:
    flat = static_ints(node, paddings, "paddings")
    if len(flat) != 2 * np.ndim(x):
        raise GraphOpError(node, f"paddings must be [{np.ndim(x)}, 2], got {len(flat)} values")
    return [(flat[2 * i], flat[2 * i + 1]) for i in range(np.ndim(x))]


_PADS = np.array([[0, 0], [1, 2], [2, 0]], np.int32)


@op("Pad", "PadV2", samples=[
    OpSample([_X, _PADS]),
    OpSample([_X, _PADS, np.array(1.5, np.float32)], op="PadV2")])
def pad(node: NodeDef, x, paddings, constant=None):
    lib = xp(x, constant) if constant is not None else xp(x)
    value = 0 if constant is None else constant
    if lib is np:
        return result(np.pad(x, _paddings(node, x, paddings), constant_values=value))
    return lib.pad(x, _paddings(node, x, paddings), constant_values=lib.asarray(value, x.dtype))


@op("MirrorPad", samples=[
    OpSample([_X, _PADS], {"mode": "REFLECT"}, name="reflect"),
    OpSample([_X, _PADS], {"mode": "SYMMETRIC"}, name="symmetric")])
def mirror_pad(node: NodeDef, x, paddings):
    mode = str(node.attr("mode", "reflect")).lower()
    if mode not in ("reflect", "symmetric"):
        raise GraphOpError(node, f"unknown mode {mode!r} (REFLECT or SYMMETRIC)")
    return result(xp(x).pad(x, _paddings(node, x, paddings), mode=mode))
