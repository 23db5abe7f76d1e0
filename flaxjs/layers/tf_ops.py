"""Raw TensorFlow ops that tf.keras captured as layers (Keras-only; TF.js cannot load them).

* ``TensorFlowOpLayer`` (tf.keras 2.2-2.3): ``config.node_def`` is the op's
  NodeDef (``op``, ``attr`` in protobuf JSON: ints as strings, strings base64)
  and ``config.constants`` maps input positions to constant values; the other
  inputs come from the inbound nodes, in order.
* ``TFOpLambda`` (tf.keras >= 2.4): ``config.function`` names the TF API
  (``"math.add"``, ``"nn.relu"``); the first argument comes from the inbound
  nodes, the remaining ones are constants in the node's kwargs.

Only a table of common ops is mapped to ``jax.numpy`` (TensorFlow semantics);
anything else raises :class:`~flaxjs.errors.LayerConfigError` naming the op.
Nothing from the file is ever executed. ``Lambda`` layers (marshalled Python
code) deliberately have no converter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ..topology.spec import LayerSpec
from . import activations
from .base import KerasLayer, as_list, fail
from .preprocessing import resize
from .registry import register_layer
from .traits import Sample

OpFn = Callable[[list[Any], Mapping[str, Any]], Any]


# ----------------------------------------------------------------- op implementations
def _unary(fn: Callable[[Any], Any]) -> OpFn:
    return lambda args, attrs: fn(args[0])


def _binary(fn: Callable[[Any, Any], Any]) -> OpFn:
    return lambda args, attrs: fn(args[0], args[1])


def _static(value: Any, what: str) -> np.ndarray:
    """An argument that must be known when tracing (an axis, a shape, a size)."""
    try:
        return np.asarray(value)
    except jax.errors.TracerArrayConversionError:
        raise ValueError(f"the {what} argument must be a constant") from None


def _axes(value: Any) -> tuple[int, ...]:
    return tuple(int(a) for a in np.ravel(_static(value, "axis")))


def _depth_to_space(args, attrs):
    x, bs = args[0], int(attrs.get("block_size", 2))
    _check_nhwc(attrs)
    b, h, w, c = x.shape
    y = x.reshape(b, h, w, bs, bs, c // (bs * bs)).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(b, h * bs, w * bs, c // (bs * bs))


def _space_to_depth(args, attrs):
    x, bs = args[0], int(attrs.get("block_size", 2))
    _check_nhwc(attrs)
    b, h, w, c = x.shape
    y = x.reshape(b, h // bs, bs, w // bs, bs, c).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(b, h // bs, w // bs, bs * bs * c)


def _check_nhwc(attrs):
    if attrs.get("data_format", "NHWC") != "NHWC":
        raise ValueError(f"data_format {attrs['data_format']!r} is not supported (NHWC only)")


def _reduce(fn) -> OpFn:
    def op(args, attrs):
        keep = bool(attrs.get("keep_dims", attrs.get("keepdims", False)))
        axis = None if len(args) < 2 or args[1] is None else _axes(args[1])
        return fn(args[0], axis=axis, keepdims=keep)
    return op


def _resize(method: str) -> OpFn:
    def op(args, attrs):
        height, width = (int(s) for s in _static(args[1], "size"))
        return resize(args[0], (height, width), method,
                      align_corners=bool(attrs.get("align_corners")),
                      half_pixel=bool(attrs.get("half_pixel_centers")))
    return op


def _cast(args, attrs):
    dtype = {"DT_FLOAT": jnp.float32, "DT_INT32": jnp.int32, "DT_BOOL": jnp.bool_}.get(
        attrs.get("DstT", "DT_FLOAT"))
    if dtype is None:
        raise ValueError(f"Cast to {attrs.get('DstT')} is not supported")
    return args[0].astype(dtype)


def _bias_add(args, attrs):
    if attrs.get("data_format", "NHWC") == "NCHW":
        return args[0] + args[1].reshape((1, -1) + (1,) * (args[0].ndim - 2))
    return args[0] + args[1]


_OPS: dict[str, OpFn] = {
    # elementwise, one input
    "Identity": _unary(lambda x: x),
    "Relu": _unary(jax.nn.relu),
    "Relu6": _unary(jax.nn.relu6),
    "Elu": _unary(activations.elu),
    "Selu": _unary(activations.selu),
    "Sigmoid": _unary(jax.nn.sigmoid),
    "Tanh": _unary(jnp.tanh),
    "Softplus": _unary(jax.nn.softplus),
    "Softsign": _unary(activations.softsign),
    "Softmax": _unary(lambda x: jax.nn.softmax(x, axis=-1)),
    "Exp": _unary(jnp.exp),
    "Log": _unary(jnp.log),
    "Sqrt": _unary(jnp.sqrt),
    "Rsqrt": _unary(jax.lax.rsqrt),
    "Square": _unary(jnp.square),
    "Reciprocal": _unary(jnp.reciprocal),
    "Neg": _unary(jnp.negative),
    "Abs": _unary(jnp.abs),
    "Sign": _unary(jnp.sign),
    "Floor": _unary(jnp.floor),
    "Ceil": _unary(jnp.ceil),
    "Erf": _unary(jax.scipy.special.erf),
    "Sin": _unary(jnp.sin),
    "Cos": _unary(jnp.cos),
    "LeakyRelu": lambda args, attrs: jax.nn.leaky_relu(args[0], float(attrs.get("alpha", 0.2))),
    "Cast": _cast,
    # elementwise, two inputs (numpy broadcasting, as TF)
    "Add": _binary(jnp.add),
    "AddV2": _binary(jnp.add),
    "Sub": _binary(jnp.subtract),
    "Mul": _binary(jnp.multiply),
    "RealDiv": _binary(jnp.divide),
    "Maximum": _binary(jnp.maximum),
    "Minimum": _binary(jnp.minimum),
    "Pow": _binary(jnp.power),
    "SquaredDifference": _binary(lambda a, b: jnp.square(a - b)),
    "BiasAdd": _bias_add,
    "AddN": lambda args, attrs: sum(args[1:], args[0]),
    # layout
    "DepthToSpace": _depth_to_space,
    "SpaceToDepth": _space_to_depth,
    "Reshape": lambda args, attrs: jnp.reshape(
        args[0], tuple(int(s) for s in _static(args[1], "shape"))),
    "Transpose": lambda args, attrs: jnp.transpose(args[0], _axes(args[1])),
    "ExpandDims": lambda args, attrs: jnp.expand_dims(args[0], _axes(args[1])),
    "Squeeze": lambda args, attrs: jnp.squeeze(
        args[0], tuple(int(a) for a in attrs.get("squeeze_dims", ())) or None),
    "ConcatV2": lambda args, attrs: jnp.concatenate(args[:-1], axis=_axes(args[-1])[0]),
    # reductions (axis is an input, keep_dims an attribute)
    "Mean": _reduce(jnp.mean),
    "Sum": _reduce(jnp.sum),
    "Max": _reduce(jnp.max),
    "Min": _reduce(jnp.min),
    "Prod": _reduce(jnp.prod),
    # resampling (TF kernels; same index rules as TF.js's)
    "ResizeBilinear": _resize("bilinear"),
    "ResizeNearestNeighbor": _resize("nearest"),
}

#: ops whose listed input positions must be constants (axes, shapes, sizes).
_STATIC_INPUTS = {"Reshape": (1,), "Transpose": (1,), "ExpandDims": (1,), "Mean": (1,),
                  "Sum": (1,), "Max": (1,), "Min": (1,), "Prod": (1,),
                  "ResizeBilinear": (1,), "ResizeNearestNeighbor": (1,)}


def _freeze(value: Any) -> Any:
    """Nested lists as tuples (module attributes must be hashable)."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return np.asarray([_thaw(v) for v in value]) if value else np.zeros((0,), np.float32)
    return value


def _constant(value: Any) -> Any:
    """A constant argument: numbers stay Python numbers (weak types, as TF would cast)."""
    value = _thaw(value)
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    return value


# ----------------------------------------------------------------- TensorFlowOpLayer
class TensorFlowOp(KerasLayer):
    """One captured TF op: tensor inputs from the graph, constants at their positions."""

    op: str
    attrs: tuple[tuple[str, Any], ...] = ()
    constants: tuple[tuple[int, Any], ...] = ()

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        args: list[Any] = as_list(inputs)
        for index, value in sorted(self.constants):
            args.insert(index, _constant(value))
        return _OPS[self.op](args, dict(self.attrs))


def _attr_value(value: Any) -> Any:
    """A protobuf-JSON ``AttrValue`` as a Python value."""
    if not isinstance(value, Mapping):
        return value
    if "list" in value:
        items = value["list"] or {}
        for key in ("i", "f", "s", "b"):
            if key in items:
                return tuple(_attr_value({key: v}) for v in items[key])
        return ()
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "s" in value:
        try:
            return base64.b64decode(value["s"], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return str(value["s"])
    if "type" in value:
        return str(value["type"])
    return _freeze(value)


@register_layer("TensorFlowOpLayer", batch_coupled=True, samples=[
    Sample({"node_def": {"name": "Relu", "op": "Relu", "input": ["x"],
                         "attr": {"T": {"type": "DT_FLOAT"}}}, "constants": {}}, ((2, 3, 4),)),
    Sample({"node_def": {"name": "DepthToSpace", "op": "DepthToSpace", "input": ["x"],
                         "attr": {"block_size": {"i": "2"}, "data_format": {"s": "TkhXQw=="}}},
            "constants": {}}, ((2, 2, 3, 8),))], notes=(
    "tf.keras 2.2-2.3 captured TF ops (Keras-only): the NodeDef's op is mapped to jax.numpy "
    "with TF semantics; constants are inserted at their input positions. Supported ops: "
    + ", ".join(sorted(_OPS)) + ". Other ops raise LayerConfigError."))
def tensorflow_op_layer(spec: LayerSpec) -> nn.Module:
    node = spec.config.get("node_def")
    if not isinstance(node, Mapping) or "op" not in node:
        raise fail(spec, "the config has no node_def with an 'op'")
    op = str(node["op"])
    if op not in _OPS:
        raise fail(spec, f"TF op {op!r} is not supported; supported ops: {', '.join(sorted(_OPS))}")
    attrs = {str(k): _attr_value(v) for k, v in (node.get("attr") or {}).items()}
    try:
        constants = {int(k): v for k, v in (spec.config.get("constants") or {}).items()}
    except (TypeError, ValueError):
        raise fail(spec, "constants must map input positions to values") from None
    missing = [i for i in _STATIC_INPUTS.get(op, ()) if i not in constants]
    if op == "ConcatV2":
        n = len(node.get("input") or ())
        missing = [] if n - 1 in constants else [n - 1]
    if missing:
        raise fail(spec, f"op {op}: input(s) {missing} must be constants in the config")
    return TensorFlowOp(op=op, attrs=tuple(sorted((k, _freeze(v)) for k, v in attrs.items())),
                        constants=tuple(sorted((k, _freeze(v)) for k, v in constants.items())),
                        name=spec.name)


# ----------------------------------------------------------------- TFOpLambda
#: ``function`` → (TF op, how to build the remaining args and attrs from the kwargs).
_LAMBDAS: dict[str, tuple[str, Callable[[Mapping[str, Any]], tuple[list[Any], dict]]]] = {}


def _lambda(names: Sequence[str], op: str, extra: Sequence[str] = (),
            attrs: Callable[[Mapping[str, Any]], dict] = lambda kw: {}) -> None:
    def build(kw: Mapping[str, Any]) -> tuple[list[Any], dict]:
        return [kw[k] for k in extra], attrs(kw)

    for name in names:
        _LAMBDAS[name] = (op, build)


for _names, _op in ((("nn.relu", "math.relu"), "Relu"), (("nn.relu6",), "Relu6"),
                    (("nn.elu",), "Elu"), (("nn.selu",), "Selu"),
                    (("math.sigmoid", "nn.sigmoid", "sigmoid"), "Sigmoid"),
                    (("math.tanh", "nn.tanh", "tanh"), "Tanh"),
                    (("math.softplus", "nn.softplus"), "Softplus"),
                    (("math.exp", "exp"), "Exp"), (("math.log",), "Log"),
                    (("math.sqrt", "sqrt"), "Sqrt"), (("math.rsqrt",), "Rsqrt"),
                    (("math.square", "square"), "Square"), (("math.negative",), "Neg"),
                    (("math.abs", "abs"), "Abs"), (("math.erf",), "Erf"),
                    (("identity",), "Identity")):
    _lambda(_names, _op)
for _names, _op in ((("math.add", "__operators__.add", "add"), "AddV2"),
                    (("math.subtract", "__operators__.sub", "subtract"), "Sub"),
                    (("math.multiply", "__operators__.mul", "multiply"), "Mul"),
                    (("math.truediv", "math.divide", "__operators__.truediv"), "RealDiv"),
                    (("math.maximum", "maximum"), "Maximum"),
                    (("math.minimum", "minimum"), "Minimum"),
                    (("math.pow", "__operators__.pow", "pow"), "Pow"),
                    (("math.squared_difference",), "SquaredDifference")):
    _lambda(_names, _op, ("y",))
_lambda(("reshape",), "Reshape", ("shape",))
_lambda(("transpose", "compat.v1.transpose"), "Transpose", ("perm",))
_lambda(("expand_dims",), "ExpandDims", ("axis",))
_lambda(("nn.depth_to_space",), "DepthToSpace",
        attrs=lambda kw: {"block_size": kw["block_size"]})
_lambda(("nn.space_to_depth",), "SpaceToDepth",
        attrs=lambda kw: {"block_size": kw["block_size"]})
for _names, _op in ((("math.reduce_mean", "reduce_mean"), "Mean"),
                    (("math.reduce_sum", "reduce_sum"), "Sum"),
                    (("math.reduce_max", "reduce_max"), "Max"),
                    (("math.reduce_min", "reduce_min"), "Min")):
    _lambda(_names, _op, ("axis",), attrs=lambda kw: {"keep_dims": bool(kw.get("keepdims"))})
_lambda(("nn.leaky_relu",), "LeakyRelu", attrs=lambda kw: {"alpha": kw.get("alpha", 0.2)})
_lambda(("nn.softmax", "math.softmax"), "Softmax")


def _is_tensor_ref(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) >= 3 and isinstance(value[0], str)
            and isinstance(value[1], int) and isinstance(value[2], int))


class TFOpLambda(KerasLayer):
    """A tf.keras ``TFOpLambda``: the first argument from the graph, the rest constants."""

    op: str
    extra: tuple[Any, ...] = ()
    attrs: tuple[tuple[str, Any], ...] = ()
    concat_axis: int | None = None

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        if self.concat_axis is not None:
            return jnp.concatenate(as_list(inputs), axis=self.concat_axis)
        args = [inputs if not isinstance(inputs, (list, tuple)) else inputs[0]]
        args += [_constant(v) for v in self.extra]
        return _OPS[self.op](args, dict(self.attrs))


@register_layer("TFOpLambda", batch_coupled=True, samples=[
    Sample({"function": "math.sigmoid"}, ((2, 3, 4),)),
    Sample({"function": "nn.softmax"}, ((2, 5),))], notes=(
    "tf.keras >= 2.4 wrapped TF API calls (Keras-only): supported `function`s: "
    "concat, " + ", ".join(sorted(_LAMBDAS)) + "; extra arguments must be constants (tensor "
    "arguments in the node kwargs are refused). Other functions raise LayerConfigError."))
def tf_op_lambda(spec: LayerSpec) -> nn.Module:
    function = str(spec.config.get("function", ""))
    kwargs_list = [dict(call.kwargs) for call in spec.calls] or [{}]
    kwargs = kwargs_list[0]
    if any(k != kwargs for k in kwargs_list[1:]):
        raise fail(spec, "a TFOpLambda called with different arguments per call is not supported")
    kwargs = {k: v for k, v in kwargs.items() if k not in ("name", "_constants")}
    tensors = [k for k, v in kwargs.items()
               if _is_tensor_ref(v) or (isinstance(v, list) and any(map(_is_tensor_ref, v)))]
    if tensors:
        raise fail(spec, f"{function}: tensor arguments {tensors} in the call kwargs are not "
                         "supported")
    if function in ("concat", "concat_v2"):
        return TFOpLambda(op="ConcatV2", concat_axis=int(kwargs.get("axis", 0)), name=spec.name)
    if function not in _LAMBDAS:
        raise fail(spec, f"TF function {function!r} is not supported; supported: concat, "
                         f"{', '.join(sorted(_LAMBDAS))}")
    op, build = _LAMBDAS[function]
    try:
        extra, attrs = build(kwargs)
    except KeyError as err:
        raise fail(spec, f"{function}: argument {err} is missing from the call kwargs") from None
    return TFOpLambda(op=op, extra=tuple(_freeze(v) for v in extra),
                      attrs=tuple(sorted((k, _freeze(v)) for k, v in attrs.items())),
                      name=spec.name)


__all__ = ["TFOpLambda", "TensorFlowOp"]
