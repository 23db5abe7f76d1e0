"""Graph plumbing ops: placeholders, constants, identities and shapes (TF.js ``graph``)."""

from __future__ import annotations

import numpy as np
from jax import lax

from ...errors import WeightMatchError
from ..graphdef import DType, NodeDef
from .common import GraphOpError, dtype_attr, is_static, result, static_ints, to_int32, xp
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


@op("StopGradient", samples=[OpSample([_X])])
def stop_gradient(node: NodeDef, x):
    """The value (as TF.js gives it); when flaxjs trains the graph, no gradient flows back
    through it, as in the TensorFlow graph it came from."""
    return x if is_static(x) else lax.stop_gradient(x)


@op("Identity", "Snapshot", "FakeQuantWithMinMaxVars", samples=[
    OpSample([_X]), OpSample([_X], op="Snapshot"),
    OpSample([np.array([3, -1], np.int32)], name="int32"),
    OpSample([_X, np.array(-0.5, np.float32), np.array(0.5, np.float32)],
             {"num_bits": 8, "narrow_range": False}, op="FakeQuantWithMinMaxVars")])
def identity(node: NodeDef, x, *rest):
    """TF.js passes the value through, ``FakeQuantWithMinMaxVars`` too (TF.js ignores it:
    no quantization is applied)."""
    return x


@op("Print", samples=[OpSample([_X, Feed((2, 5))], {"message": "flaxjs", "summarize": 3,
                                                    "first_n": -1})])
def print_op(node: NodeDef, x, *data):
    """Its first input; TF.js logs the message and the data, flaxjs logs nothing."""
    return x


@op("EnsureShape", samples=[OpSample([_X, np.array([2, 3, 4], np.int32)])])
def ensure_shape(node: NodeDef, x, *shape):
    """``x`` after checking its shape. TF.js reads the expected shape from a second input
    (and compares every dim exactly); a TensorFlow graph has it as the ``shape``
    attribute (-1 for unknown dims), which TF.js does not read (it then throws on every
    input), so flaxjs checks that form as TensorFlow does."""
    got = list(np.shape(x))
    want: list[int | None]
    if shape:
        want = list(static_ints(node, shape[0], "shape"))
    else:
        attr = node.attr("shape")
        if attr is None:
            return x
        want = [None if d is None or int(d) < 0 else int(d) for d in attr]
    if len(want) != len(got) or any(w is not None and w != g
                                    for w, g in zip(want, got, strict=False)):
        raise GraphOpError(node, f"shape of tensor {got} is not compatible with the expected "
                                 f"shape {want}")
    return x


@op("IdentityN", samples=[OpSample([_X, Feed((2, 5))], outputs=2)])
def identity_n(node: NodeDef, *xs):
    return tuple(xs)


@op("NoOp")
def no_op(node: NodeDef, *inputs):
    """Only a control dependency: its value is never read."""
    return ()


@op("Shape", samples=[OpSample([_X]), OpSample([np.zeros((0, 3), np.float32)], name="empty")])
def shape(node: NodeDef, x):
    """The static shape, always int32 (TF.js narrows ``out_type`` int64)."""
    return np.asarray(np.shape(x), np.int32)


@op("ShapeN", samples=[OpSample([_X, Feed((5, 1))], {"N": 2}, outputs=2)])
def shape_n(node: NodeDef, *xs):
    """TF.js makes each shape with ``tensor1d(shape)`` and no dtype: float32."""
    return tuple(np.asarray(np.shape(x), np.float32) for x in xs)


@op("Rank", samples=[OpSample([_X])])
def rank(node: NodeDef, x):
    return np.asarray(np.ndim(x), np.int32)


@op("Size", samples=[OpSample([_X])])
def size(node: NodeDef, x):
    return np.asarray(np.size(x), np.int32)


_F = np.array([[-3.7, -0.5, 0.0, 2.5, 3e9, np.nan, np.inf, -2.2e9]], np.float32)


@op("Cast", samples=[
    OpSample([Feed((2, 5), low=-3, high=3)], {"DstT": DType.of("int32")}, name="float-int"),
    OpSample([_F], {"DstT": DType.of("int32")}, name="float-int-edges"),
    OpSample([Feed((2, 5), low=-3, high=3)], {"DstT": DType.of("bool")}, name="float-bool"),
    OpSample([_F], {"DstT": DType.of("bool")}, name="float-bool-edges"),
    OpSample([np.array([[-3, 0, 2, 300]], np.int32)], {"DstT": DType.of("float32")},
             name="int-float"),
    OpSample([np.array([[-3, 0, 2, 300]], np.int32)], {"DstT": DType.of("uint8")},
             name="int-uint8"),
    OpSample([np.array([[-3, 0, 2, 300]], np.int32)], {"DstT": DType.of("bool")},
             name="int-bool"),
    OpSample([np.array([[True, False]])], {"DstT": DType.of("float32")}, name="bool-float"),
    OpSample([np.array([[True, False]])], {"DstT": DType.of("int32")}, name="bool-int"),
    OpSample([Feed((2, 3))], {"DstT": DType.of("complex64")}, name="float-complex"),
    OpSample([Feed((2, 3), dtype="complex64")], {"DstT": DType.of("float32")},
             name="complex-float"),
    OpSample([Feed((2, 3))], {"SrcT": DType.of("float32"), "DstT": DType.of("float32"),
                              "Truncate": False}, name="float-float"),
    OpSample([Feed((2, 3))], {"DstT": DType.of("float64")}, name="float-float64"),
])
def cast_op(node: NodeDef, x):
    """TF.js narrows the target (uint8 and int64 are int32: nothing wraps at 8 bits);
    floats become int32 as an ``Int32Array`` stores them (truncated, NaN and ±Infinity
    are 0, out-of-range values wrap); complex numbers keep their real part."""
    dtype = dtype_attr(node, "DstT")
    lib = xp(x)
    x = lib.asarray(x)
    if dtype == np.complex64:
        return result(x.astype(np.complex64))
    if np.dtype(x.dtype).kind == "c":
        x = lib.real(x).astype(np.float32)
    if dtype == np.bool_:
        return result(x != 0)
    if dtype == np.int32:
        return to_int32(x)
    return result(x.astype(dtype))
