"""Convolutions and pooling (TF.js ``convolution``): NHWC, TF's ``SAME`` padding."""

from __future__ import annotations

from typing import Any

import numpy as np

import jax.numpy as jnp
from jax import lax

from ...layers.conv import conv_nd, conv_padding, depthwise_nd
from ...layers.pooling import pool_nd
from ..graphdef import NodeDef
from . import fused
from .common import GraphOpError, nhwc, static_ints, string_attr
from .registry import Feed, OpSample, op

_RNG = np.random.default_rng(0)


def _w(*shape: int) -> np.ndarray:
    return _RNG.uniform(-1, 1, shape).astype(np.float32)


def _ints(node: NodeDef, key: str, default: list[int]) -> list[int]:
    value = node.attr(key)
    return list(default) if not value else [int(v) for v in value]


def _pads(node: NodeDef, x: Any, kernel: list[int], strides: list[int], dilations: list[int]
          ) -> tuple[tuple[int, int], ...]:
    """Per spatial axis ``(before, after)`` for ``same``/``valid``/``explicit`` padding."""
    mode = string_attr(node, "padding", "valid")
    spatial = list(np.shape(x)[1:-1])
    if mode == "explicit":
        flat = _ints(node, "explicit_paddings", [])
        if len(flat) != 2 * (len(spatial) + 2):
            raise GraphOpError(node, f"explicit_paddings needs {2 * (len(spatial) + 2)} values, "
                                     f"got {len(flat)}")
        return tuple((flat[2 * i], flat[2 * i + 1]) for i in range(1, len(spatial) + 1))
    if mode not in ("same", "valid"):
        raise GraphOpError(node, f"unknown padding {mode!r}")
    return conv_padding(spatial, kernel, strides, dilations, mode)


def _window(node: NodeDef, x: Any, filt: Any) -> tuple[list[int], list[int], Any]:
    nhwc(node)
    rank = np.ndim(filt) - 2
    strides = _ints(node, "strides", [1] * (rank + 2))[1:-1]
    dilations = _ints(node, "dilations", [1] * (rank + 2))[1:-1]
    pads = _pads(node, x, list(np.shape(filt)[:rank]), strides, dilations)
    return strides, dilations, pads


_IMG = Feed((2, 7, 7, 3))
_D1 = {"dilations": [1, 1, 1, 1]}  # TF always writes it, and TF.js needs it
_K = _w(3, 3, 3, 4)


@op("Conv2D", "Conv3D", samples=[
    OpSample([_IMG, _K], {"strides": [1, 1, 1, 1], "padding": "SAME", **_D1}, name="same"),
    OpSample([_IMG, _K], {"strides": [1, 2, 2, 1], "padding": "SAME", **_D1},
             name="same-stride2"),
    OpSample([_IMG, _K], {"strides": [1, 2, 2, 1], "padding": "VALID", **_D1}, name="valid"),
    OpSample([_IMG, _K], {"strides": [1, 1, 1, 1], "padding": "SAME",
                          "dilations": [1, 2, 2, 1]}, name="dilated"),
    OpSample([_IMG, _K], {"strides": [1, 1, 1, 1], "padding": "EXPLICIT",
                          "explicit_paddings": [0, 0, 1, 2, 0, 1, 0, 0], **_D1}, name="explicit"),
    OpSample([Feed((1, 4, 5, 5, 2)), _w(2, 3, 3, 2, 3)],
             {"strides": [1, 1, 2, 2, 1], "padding": "SAME", "dilations": [1, 1, 1, 1, 1],
              "data_format": "NDHWC"}, op="Conv3D"),
])
def conv(node: NodeDef, x, filt):
    strides, dilations, pads = _window(node, x, filt)
    return conv_nd(x, filt, strides, pads, dilations)


_FUSED = [
    ({"fused_ops": ["BiasAdd"], "num_args": 1}, [_w(4)], "bias"),
    ({"fused_ops": ["BiasAdd", "Relu"], "num_args": 1}, [_w(4)], "relu"),
    ({"fused_ops": ["BiasAdd", "Relu6"], "num_args": 1}, [_w(4) * 8], "relu6"),
    ({"fused_ops": ["BiasAdd", "Elu"], "num_args": 1}, [_w(4)], "elu"),
    ({"fused_ops": ["BiasAdd", "Sigmoid"], "num_args": 1}, [_w(4)], "sigmoid"),
    ({"fused_ops": ["BiasAdd", "LeakyRelu"], "num_args": 1, "leakyrelu_alpha": 0.3},
     [_w(4)], "leakyrelu"),
    ({"fused_ops": ["BiasAdd", "Prelu"], "num_args": 2}, [_w(4), _w(4)], "prelu"),
    ({"fused_ops": ["Prelu"], "num_args": 1}, [_w(4)], "prelu-nobias"),
]


@op("_FusedConv2D", samples=[
    OpSample([_IMG, _K, *args], {"strides": [1, 1, 1, 1], "padding": "SAME", **attrs},
             name=name) for attrs, args, name in _FUSED])
def fused_conv2d(node: NodeDef, x, filt, *args):
    strides, dilations, pads = _window(node, x, filt)
    return fused.finish(node, conv_nd(x, filt, strides, pads, dilations), list(args), conv=True)


_DW = _w(3, 3, 3, 2)


@op("DepthwiseConv2dNative", "DepthwiseConv2d", samples=[
    OpSample([_IMG, _DW], {"strides": [1, 1, 1, 1], "padding": "SAME", **_D1}, name="same"),
    OpSample([_IMG, _DW], {"strides": [1, 2, 2, 1], "padding": "VALID", **_D1},
             name="valid-stride2"),
    OpSample([_IMG, _DW], {"strides": [1, 1, 1, 1], "padding": "SAME",
                           "dilations": [1, 2, 2, 1]}, name="dilated"),
])
def depthwise(node: NodeDef, x, filt):
    strides, dilations, pads = _window(node, x, filt)
    return depthwise_nd(x, filt, strides, pads, dilations)


@op("FusedDepthwiseConv2dNative", samples=[
    OpSample([_IMG, _DW, *[a[:1].repeat(6) if a.shape == (4,) else a for a in args]],
             {"strides": [1, 1, 1, 1], "padding": "SAME", **attrs}, name=name)
    for attrs, args, name in _FUSED])
def fused_depthwise(node: NodeDef, x, filt, *args):
    strides, dilations, pads = _window(node, x, filt)
    return fused.finish(node, depthwise_nd(x, filt, strides, pads, dilations), list(args),
                        conv=True)


@op("Conv2DBackpropInput", samples=[
    OpSample([np.array([2, 8, 8, 4], np.int32), _w(3, 3, 4, 3), Feed((2, 4, 4, 3))],
             {"strides": [1, 2, 2, 1], "padding": "SAME"}, name="same"),
    OpSample([np.array([2, 7, 7, 4], np.int32), _w(3, 3, 4, 3), Feed((2, 4, 4, 3))],
             {"strides": [1, 2, 2, 1], "padding": "SAME"}, name="same-odd"),
    OpSample([np.array([2, 9, 9, 4], np.int32), _w(3, 3, 4, 3), Feed((2, 4, 4, 3))],
             {"strides": [1, 2, 2, 1], "padding": "VALID"}, name="valid"),
])
def conv2d_backprop_input(node: NodeDef, input_sizes, filt, dy):
    """The gradient of a Conv2D with respect to an input of ``input_sizes`` (TF.js
    ``conv2dTranspose``): an input-dilated convolution with the flipped kernel, padded so
    that input cell ``i`` lands at ``i·s + t - pad_before`` of the forward convolution."""
    nhwc(node)
    sizes = static_ints(node, input_sizes, "input_sizes")
    strides = _ints(node, "strides", [1, 1, 1, 1])[1:3]
    dilations = _ints(node, "dilations", [1, 1, 1, 1])[1:3]
    kernel = list(np.shape(filt)[:2])
    if len(sizes) != 4 or sizes[3] != np.shape(filt)[2]:
        raise GraphOpError(node, f"input_sizes {sizes} do not fit the filter "
                                 f"{list(np.shape(filt))}")
    forward = _pads(node, np.zeros((1, *sizes[1:3], 1)), kernel, strides, dilations)
    pads = []
    for n, out, k, s, d, (before, _) in zip(np.shape(dy)[1:3], sizes[1:3], kernel, strides,
                                            dilations, forward, strict=True):
        keff = (k - 1) * d + 1
        pads.append((keff - 1 - before, out + before - (n - 1) * s - 1))
    w = jnp.swapaxes(jnp.flip(filt, axis=(0, 1)), -1, -2)
    return lax.conv_general_dilated(dy, w, (1, 1), tuple(pads), lhs_dilation=tuple(strides),
                                    rhs_dilation=tuple(dilations),
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _pool(node: NodeDef, x, kind: str):
    nhwc(node)
    rank = np.ndim(x) - 2
    window = _ints(node, "ksize", [1] * (rank + 2))[1:-1]
    strides = _ints(node, "strides", [1] * (rank + 2))[1:-1]
    mode = string_attr(node, "padding", "valid")
    if mode not in ("same", "valid"):
        raise GraphOpError(node, f"padding {mode!r} is not supported (TF.js: same or valid)")
    return pool_nd(x, kind, window, strides, mode)


_POOL = [({"ksize": [1, 3, 3, 1], "strides": [1, 2, 2, 1], "padding": "SAME"}, "same"),
         ({"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID"}, "valid")]


@op("MaxPool", "MaxPool3D", samples=[
    *(OpSample([_IMG], attrs, name=name) for attrs, name in _POOL),
    OpSample([Feed((1, 4, 5, 5, 2))], {"ksize": [1, 2, 3, 3, 1], "strides": [1, 1, 2, 2, 1],
                                       "padding": "SAME"}, op="MaxPool3D")])
def max_pool(node: NodeDef, x):
    return _pool(node, x, "max")


@op("AvgPool", "AvgPool3D", samples=[
    *(OpSample([_IMG], attrs, name=name) for attrs, name in _POOL),
    OpSample([Feed((1, 4, 5, 5, 2))], {"ksize": [1, 2, 3, 3, 1], "strides": [1, 1, 2, 2, 1],
                                       "padding": "VALID"}, op="AvgPool3D")])
def avg_pool(node: NodeDef, x):
    return _pool(node, x, "avg")
