"""Graph plumbing ops: placeholders, constants, identities and shapes (TF.js ``graph``)."""

from __future__ import annotations

import numpy as np

from ...errors import WeightMatchError
from ..graphdef import DType, NodeDef
from .common import GraphOpError, cast, dtype_attr
from .registry import Feed, OpSample, op

_X = Feed((2, 3, 4))


@op("Placeholder")
def placeholder(node: NodeDef) -> None:
    """Reached only when nothing was fed for it."""
    raise GraphOpError(node, "this input of the model was not given a value; pass it as "
                             f"m(...) in input order or as m({{{node.name!r}: array}})")


@op("Const")
def const(node: NodeDef) -> None:
    """Reached only when the constant has no value (the loader refuses that earlier)."""
    raise WeightMatchError(f"constant node {node.name!r} has no weight in the manifest and no "
                           "value in the graph; re-download the model's weight files")


@op("PlaceholderWithDefault", samples=[OpSample([_X], {"dtype": DType.of("float32")})])
def placeholder_with_default(node: NodeDef, default):
    """Its input, unless it is fed (feeds replace any node)."""
    return default


@op("Identity", "Snapshot", "StopGradient", "Print", "EnsureShape",
    samples=[OpSample([_X]), OpSample([_X], op="Snapshot"), OpSample([_X], op="StopGradient")])
def identity(node: NodeDef, x, *rest):
    """TF.js passes the value through; ``StopGradient`` too (it has no gradients to stop)."""
    return x


@op("IdentityN", samples=[OpSample([_X, Feed((2, 5))], outputs=2)])
def identity_n(node: NodeDef, *xs):
    return tuple(xs)


@op("NoOp")
def no_op(node: NodeDef, *inputs):
    """Only a control dependency: its value is never read."""
    return ()


@op("Shape", samples=[OpSample([_X])])
def shape(node: NodeDef, x):
    """The static shape, always int32 (TF.js narrows ``out_type`` int64)."""
    return np.asarray(np.shape(x), np.int32)


@op("ShapeN", samples=[OpSample([_X, Feed((5, 1))], outputs=2)])
def shape_n(node: NodeDef, *xs):
    return tuple(np.asarray(np.shape(x), np.int32) for x in xs)


@op("Rank", samples=[OpSample([_X])])
def rank(node: NodeDef, x):
    return np.asarray(np.ndim(x), np.int32)


@op("Size", samples=[OpSample([_X])])
def size(node: NodeDef, x):
    return np.asarray(np.size(x), np.int32)


@op("Cast", samples=[
    OpSample([Feed((2, 5), low=-3, high=3)], {"DstT": DType.of("int32")}, name="float-int"),
    OpSample([Feed((2, 5), low=-3, high=3)], {"DstT": DType.of("bool")}, name="float-bool"),
    OpSample([np.array([[-3, 0, 2, 300]], np.int32)], {"DstT": DType.of("float32")}, name="int-float"),
    OpSample([np.array([[-3, 0, 2, 300]], np.int32)], {"DstT": DType.of("uint8")}, name="int-uint8"),
])
def cast_op(node: NodeDef, x):
    """TF.js narrows the target (uint8 and int64 are int32: nothing wraps)."""
    return cast(x, dtype_attr(node, "DstT"))
