"""Convolutions and pooling (TF.js ``convolution``), as TF.js's executor and CPU kernels
compute them.

TF.js's quirks that flaxjs keeps: 2-D ops read strides and dilations at indices 1 and 2
of the attribute whatever the data format; only ``Conv2D`` and ``_FusedConv2D`` compute
NCHW (the depthwise and pooling kernels would read NCHW as NHWC, so flaxjs refuses it);
3-D ``SAME`` padding is not clamped at 0 (a kernel smaller than the stride shifts the
windows by a cell); pooling and ``Conv3D`` take only ``SAME``/``VALID``; max pooling
skips NaN; ``Conv2DBackpropInput`` ignores ``dilations``; the fused depthwise conv
passes no LeakyRelu alpha (negative values become NaN).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from ...layers.conv import conv_nd, conv_padding, depthwise_nd
from ..graphdef import DType, NodeDef
from . import fused
from .common import GraphOpError, nhwc, static_ints, string_attr
from .registry import Feed, OpSample, op

_RNG = np.random.default_rng(0)

Pads = tuple[tuple[int, int], ...]


def _w(*shape: int) -> np.ndarray:
    return _RNG.uniform(-1, 1, shape).astype(np.float32)


def _ints(node: NodeDef, key: str, default: list[int]) -> list[int]:
    value = node.attr(key)
    return list(default) if not value else [int(v) for v in value]


def _mode(node: NodeDef, *, explicit: bool) -> str:
    mode = string_attr(node, "padding", "valid")
    allowed = ("same", "valid", "explicit") if explicit else ("same", "valid")
    if mode not in allowed:
        raise GraphOpError(node, f"padding {mode.upper()} is not supported (TF.js takes "
                                 f"{', '.join(m.upper() for m in allowed)} here)")
    return mode


def _pads(node: NodeDef, spatial: list[int], kernel: list[int], strides: list[int],
          dilations: list[int], *, explicit: bool = True, clamp: bool = True,
          channels_first: bool = False) -> Pads:
    """Per spatial axis ``(before, after)``. ``explicit_paddings`` holds 4 pairs in the
    data format's order (TF.js reads the H and W pairs at 1, 2 for NHWC, 2, 3 for NCHW)."""
    mode = _mode(node, explicit=explicit)
    if mode == "explicit":
        flat = _ints(node, "explicit_paddings", [])
        if len(flat) != 2 * (len(spatial) + 2):
            raise GraphOpError(node, f"explicit_paddings needs {2 * (len(spatial) + 2)} values, "
                                     f"got {len(flat)}")
        first = 2 if channels_first else 1
        return tuple((flat[2 * i], flat[2 * i + 1]) for i in range(first, first + len(spatial)))
    return conv_padding(spatial, kernel, strides, dilations, mode, clamp)


def _crop(x: Any, pads: Pads) -> tuple[Any, Pads]:
    """Negative padding (TF.js's unclamped 3-D ``SAME``) as a crop, then plain padding."""
    if all(lo >= 0 and hi >= 0 for lo, hi in pads):
        return x, pads
    index = [slice(None)] + [slice(max(0, -lo), n - max(0, -hi))
                             for (lo, hi), n in zip(pads, x.shape[1:-1], strict=True)]
    return x[tuple(index)], tuple((max(0, lo), max(0, hi)) for lo, hi in pads)


def _data_format(node: NodeDef) -> bool:
    """Whether a 2-D conv is NCHW (TF.js's Conv2D kernels compute both layouts)."""
    fmt = string_attr(node, "data_format", "nhwc")
    if fmt not in ("nhwc", "nchw"):
        raise GraphOpError(node, f"unknown data_format {fmt.upper()}")
    return fmt == "nchw"


def _conv2d(node: NodeDef, x: Any, filt: Any) -> tuple[Any, bool]:
    """The ``Conv2D`` of TF.js (``strides``/``dilations`` at indices 1 and 2), and whether
    it was NCHW."""
    first = _data_format(node)
    if first:
        x = jnp.transpose(x, (0, 2, 3, 1))
    strides = _ints(node, "strides", [1, 1, 1, 1])[1:3]
    dilations = _ints(node, "dilations", [1, 1, 1, 1])[1:3]
    kernel = list(np.shape(filt)[:2])
    pads = _pads(node, list(np.shape(x)[1:3]), kernel, strides, dilations, channels_first=first)
    y = conv_nd(x, filt, strides, pads, dilations)
    return (jnp.transpose(y, (0, 3, 1, 2)) if first else y), first


def _depthwise(node: NodeDef, x: Any, filt: Any) -> Any:
    nhwc(node)
    strides = _ints(node, "strides", [1, 1, 1, 1])[1:3]
    dilations = _ints(node, "dilations", [1, 1, 1, 1])[1:3]
    pads = _pads(node, list(np.shape(x)[1:3]), list(np.shape(filt)[:2]), strides, dilations)
    return depthwise_nd(x, filt, strides, pads, dilations)


_IMG = Feed((2, 7, 7, 3))
_D1 = {"dilations": [1, 1, 1, 1]}  # TF always writes it, and TF.js needs it
_K = _w(3, 3, 3, 4)
_S1 = {"strides": [1, 1, 1, 1], **_D1}


@op("Conv2D", samples=[
    OpSample([_IMG, _K], {**_S1, "padding": "SAME"}, name="same"),
    OpSample([_IMG, _K], {"strides": [1, 2, 2, 1], "padding": "SAME", **_D1},
             name="same-stride2"),
    OpSample([_IMG, _K], {"strides": [1, 2, 2, 1], "padding": "VALID", **_D1}, name="valid"),
    OpSample([_IMG, _K], {"strides": [1, 1, 1, 1], "padding": "SAME",
                          "dilations": [1, 2, 2, 1]}, name="dilated"),
    OpSample([_IMG, _K], {**_S1, "padding": "EXPLICIT",
                          "explicit_paddings": [0, 0, 1, 2, 0, 1, 0, 0]}, name="explicit"),
    OpSample([Feed((2, 3, 7, 6)), _K], {"strides": [1, 1, 2, 2], "padding": "SAME",
                                        "data_format": "NCHW", **_D1}, name="nchw"),
    OpSample([Feed((2, 3, 7, 6)), _K], {**_S1, "padding": "EXPLICIT", "data_format": "NCHW",
                                        "explicit_paddings": [0, 0, 0, 0, 2, 1, 0, 1]},
             name="nchw-explicit"),
    OpSample([Feed((1, 8, 9, 3)), _w(1, 1, 3, 2)], {"strides": [1, 3, 2, 1], "padding": "SAME",
                                                    **_D1}, name="pointwise-stride"),
])
def conv2d(node: NodeDef, x, filt):
    """NCHW is computed (TF.js's kernel does), with TF.js's stride indices."""
    return _conv2d(node, x, filt)[0]


@op("Conv3D", samples=[
    OpSample([Feed((1, 4, 5, 5, 2)), _w(2, 3, 3, 2, 3)],
             {"strides": [1, 1, 2, 2, 1], "padding": "SAME", "dilations": [1, 1, 1, 1, 1],
              "data_format": "NDHWC"}),
    OpSample([Feed((1, 4, 5, 6, 2)), _w(2, 2, 3, 2, 3)],
             {"strides": [1, 2, 1, 2, 1], "padding": "VALID", "dilations": [1, 1, 1, 1, 1],
              "data_format": "NDHWC"}, name="valid"),
    OpSample([Feed((1, 4, 6, 5, 2)), _w(1, 1, 2, 2, 3)],
             {"strides": [1, 2, 3, 2, 1], "padding": "SAME", "dilations": [1, 1, 1, 1, 1],
              "data_format": "NDHWC"}, name="same-unclamped"),
])
def conv3d(node: NodeDef, x, filt):
    """NDHWC only, ``SAME``/``VALID`` only (TF.js passes ``padding`` as is), ``SAME`` not
    clamped at 0."""
    nhwc(node)
    strides = _ints(node, "strides", [1] * 5)[1:4]
    dilations = _ints(node, "dilations", [1] * 5)[1:4]
    pads = _pads(node, list(np.shape(x)[1:4]), list(np.shape(filt)[:3]), strides, dilations,
                 explicit=False, clamp=False)
    x, pads = _crop(x, pads)
    return conv_nd(x, filt, strides, pads, dilations)


@op("Conv1D", samples=[
    OpSample([Feed((2, 9, 3)), _w(3, 3, 4)], {"stride": 1, "padding": "SAME"}, name="same"),
    OpSample([Feed((2, 9, 3)), _w(3, 3, 4)], {"stride": 2, "padding": "VALID",
                                              "data_format": "NWC"}, name="valid-stride2"),
    OpSample([Feed((2, 9, 3)), _w(3, 3, 4)], {"stride": 1, "padding": "SAME", "dilation": 2},
             name="dilated"),
    OpSample([Feed((9, 3)), _w(2, 3, 2)], {"stride": 1, "padding": "VALID"}, name="rank2"),
])
def conv1d(node: NodeDef, x, filt):
    """TF.js's own ``Conv1D`` node (``stride``, ``dilation`` ints; NWC only; a rank-2
    input is one batch)."""
    nhwc(node)
    stride, dilation = int(node.attr("stride", 1)), int(node.attr("dilation", 1))
    squeeze = np.ndim(x) == 2
    if squeeze:
        x = x[None]
    pads = _pads(node, [np.shape(x)[1]], [np.shape(filt)[0]], [stride], [dilation],
                 explicit=False)
    y = conv_nd(x, filt, [stride], pads, [dilation])
    return y[0] if squeeze else y


def _fused_conv_samples(depthwise: bool) -> list[OpSample]:
    out_channels = 6 if depthwise else 4
    filt = _w(3, 3, 3, 2) if depthwise else _K

    def b() -> np.ndarray:
        return _w(out_channels)

    base = {"strides": [1, 1, 1, 1], "padding": "SAME"}
    cases = [({"fused_ops": ["BiasAdd"], "num_args": 1}, [b()], "bias"),
             ({"fused_ops": ["BiasAdd", "Relu"], "num_args": 1}, [b()], "relu"),
             ({"fused_ops": ["BiasAdd", "Relu6"], "num_args": 1}, [b() * 8], "relu6"),
             ({"fused_ops": ["BiasAdd", "Elu"], "num_args": 1}, [b()], "elu"),
             ({"fused_ops": ["BiasAdd", "Sigmoid"], "num_args": 1}, [b()], "sigmoid"),
             ({"fused_ops": ["BiasAdd", "LeakyRelu"], "num_args": 1, "leakyrelu_alpha": 0.3},
              [b()], "leakyrelu"),
             ({"fused_ops": ["BiasAdd", "LeakyRelu"], "num_args": 1}, [b()],
              "leakyrelu-default"),
             ({"fused_ops": ["BiasAdd", "Prelu"], "num_args": 2}, [b(), b()], "prelu"),
             ({"fused_ops": ["Prelu"], "num_args": 1}, [b()], "prelu-nobias"),
             ({"fused_ops": ["BiasAdd", "Relu"], "num_args": 1, "padding": "VALID",
               "strides": [1, 2, 2, 1]}, [b()], "valid-stride2"),
             ({"fused_ops": ["BiasAdd"], "num_args": 1, "padding": "EXPLICIT",
               "explicit_paddings": [0, 0, 1, 0, 2, 1, 0, 0]}, [b()], "explicit")]
    out = [OpSample([_IMG, filt, *args], {**base, **_D1, **attrs}, name=name)
           for attrs, args, name in cases]
    if not depthwise:
        out.append(OpSample([Feed((2, 3, 6, 5)), _K, b(), b()],
                            {**base, **_D1, "fused_ops": ["BiasAdd", "Prelu"], "num_args": 2,
                             "data_format": "NCHW"}, name="nchw-prelu"))
    return out


@op("_FusedConv2D", samples=_fused_conv_samples(False))
def fused_conv2d(node: NodeDef, x, filt, *args):
    """``Conv2D`` + bias + activation; NCHW aligns a 1-D bias and Prelu alpha with axis 1."""
    y, first = _conv2d(node, x, filt)
    alpha = float(node.attr("leakyrelu_alpha", 0.2))
    return fused.finish(node, y, list(args), conv=True, alpha=alpha, channels_first=first)


_DW = _w(3, 3, 3, 2)


@op("DepthwiseConv2dNative", "DepthwiseConv2d", samples=[
    OpSample([_IMG, _DW], {**_S1, "padding": "SAME"}, name="same"),
    OpSample([_IMG, _DW], {"strides": [1, 2, 2, 1], "padding": "VALID", **_D1},
             name="valid-stride2"),
    OpSample([_IMG, _DW], {"strides": [1, 1, 1, 1], "padding": "SAME",
                           "dilations": [1, 2, 2, 1]}, name="dilated"),
    OpSample([_IMG, _DW], {**_S1, "padding": "EXPLICIT",
                           "explicit_paddings": [0, 0, 2, 0, 1, 1, 0, 0]}, name="explicit"),
    OpSample([_IMG, _DW], {**_S1, "padding": "SAME"}, op="DepthwiseConv2d"),
])
def depthwise(node: NodeDef, x, filt):
    """NHWC only: TF.js's kernel reads NCHW as NHWC."""
    return _depthwise(node, x, filt)


@op("FusedDepthwiseConv2dNative", samples=_fused_conv_samples(True))
def fused_depthwise(node: NodeDef, x, filt, *args):
    """TF.js's op list has no ``leakyrelu_alpha`` here: its LeakyRelu multiplies negative
    values by ``undefined``, so they come out NaN."""
    return fused.finish(node, _depthwise(node, x, filt), list(args), conv=True,
                        alpha=float("nan"))


@op("Conv2DBackpropInput", samples=[
    OpSample([np.array([2, 8, 8, 4], np.int32), _w(3, 3, 4, 3), Feed((2, 4, 4, 3))],
             {"strides": [1, 2, 2, 1], "padding": "SAME"}, name="same"),
    OpSample([np.array([2, 7, 7, 4], np.int32), _w(3, 3, 4, 3), Feed((2, 4, 4, 3))],
             {"strides": [1, 2, 2, 1], "padding": "SAME"}, name="same-odd"),
    OpSample([np.array([2, 9, 9, 4], np.int32), _w(3, 3, 4, 3), Feed((2, 4, 4, 3))],
             {"strides": [1, 2, 2, 1], "padding": "VALID"}, name="valid"),
    OpSample([np.array([2, 8, 8, 4], np.int32), _w(3, 3, 4, 3), Feed((2, 4, 4, 3))],
             {"strides": [1, 2, 2, 1], "padding": "EXPLICIT",
              "explicit_paddings": [0, 0, 1, 0, 0, 1, 0, 0]}, name="explicit"),
    OpSample([np.array([2, 6, 6, 4], np.int32), _w(3, 3, 4, 3), Feed((2, 6, 6, 3))],
             {"strides": [1, 1, 1, 1], "padding": "SAME", "dilations": [1, 2, 2, 1]},
             name="dilations-ignored"),
])
def conv2d_backprop_input(node: NodeDef, input_sizes, filt, dy):
    """The gradient of a Conv2D with respect to an input of ``input_sizes`` (TF.js
    ``conv2dTranspose``, which ignores ``dilations``): an input-dilated convolution with
    the flipped kernel, padded so that input cell ``i`` lands at ``i·s + t - pad_before``
    of the forward convolution."""
    nhwc(node)
    sizes = static_ints(node, input_sizes, "input_sizes")
    strides = _ints(node, "strides", [1, 1, 1, 1])[1:3]
    kernel = list(np.shape(filt)[:2])
    if len(sizes) != 4 or sizes[3] != np.shape(filt)[2]:
        raise GraphOpError(node, f"input_sizes {sizes} do not fit the filter "
                                 f"{list(np.shape(filt))}")
    forward = _pads(node, sizes[1:3], kernel, strides, [1, 1])
    pads = []
    for n, out, k, s, (before, _) in zip(np.shape(dy)[1:3], sizes[1:3], kernel, strides,
                                         forward, strict=True):
        pads.append((k - 1 - before, out + before - (n - 1) * s - 1))
    w = jnp.swapaxes(jnp.flip(filt, axis=(0, 1)), -1, -2)
    return lax.conv_general_dilated(dy, w, (1, 1), tuple(pads), lhs_dilation=tuple(strides),
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _max_pool(x: Any, window: list[int], strides: list[int], pads: Pads) -> Any:
    """TF.js's max pool: only in-bounds cells, NaN skipped (``pixel > max``)."""
    x, pads = _crop(x, pads)
    if np.dtype(x.dtype).kind == "f":
        x = jnp.where(jnp.isnan(x), jnp.full_like(x, -np.inf), x)
        init = np.array(-np.inf, x.dtype)
    else:
        init = np.array(np.iinfo(np.dtype(x.dtype)).min, x.dtype)
    return lax.reduce_window(x, init, lax.max, (1, *window, 1), (1, *strides, 1),
                             ((0, 0), *pads, (0, 0)))


def _avg_pool(x: Any, window: list[int], strides: list[int], pads: Pads) -> Any:
    """The mean of the in-bounds cells of each window."""
    x, pads = _crop(x, pads)
    full = ((0, 0), *pads, (0, 0))
    dims, steps = (1, *window, 1), (1, *strides, 1)
    total = lax.reduce_window(x, np.array(0, x.dtype), lax.add, dims, steps, full)
    ones = np.ones((1, *x.shape[1:-1], 1), np.float32)
    count = lax.reduce_window(ones, np.array(0, np.float32), lax.add, dims, steps, full)
    return total / count


def _pool(node: NodeDef, x, kind: str):
    nhwc(node)
    rank = np.ndim(x) - 2
    window = _ints(node, "ksize", [1] * (rank + 2))[1:-1]
    strides = _ints(node, "strides", [1] * (rank + 2))[1:-1]
    if kind == "avg" and np.dtype(jnp.result_type(x)).kind != "f":
        raise GraphOpError(node, "TF.js average-pools float32 only; insert a Cast")
    pads = _pads(node, list(np.shape(x)[1:-1]), window, strides, [1] * rank, explicit=False,
                 clamp=rank == 2)
    if kind == "max":
        if rank == 2 and all(w == 1 for w in window) and all(s == 1 for s in strides):
            return x  # TF.js's kernel returns the input itself (NaN kept)
        return _max_pool(x, window, strides, pads)
    return _avg_pool(x, window, strides, pads)


_POOL = [({"ksize": [1, 3, 3, 1], "strides": [1, 2, 2, 1], "padding": "SAME"}, "same"),
         ({"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID"}, "valid"),
         ({"ksize": [1, 3, 2, 1], "strides": [1, 1, 1, 1], "padding": "SAME"}, "same-stride1"),
         ({"ksize": [1, 2, 2, 1], "strides": [1, 3, 3, 1], "padding": "SAME"}, "same-sparse")]
_NAN_IMG = np.array([[[[np.nan], [1.0], [2.0]], [[3.0], [np.nan], [np.nan]],
                      [[-1.0], [4.0], [np.nan]]]], np.float32)


@op("MaxPool", samples=[
    *(OpSample([_IMG], attrs, name=name) for attrs, name in _POOL),
    OpSample([_NAN_IMG], {"ksize": [1, 2, 2, 1], "strides": [1, 1, 1, 1], "padding": "SAME"},
             name="nan"),
    OpSample([np.arange(18, dtype=np.int32).reshape(1, 3, 3, 2)],
             {"ksize": [1, 2, 2, 1], "strides": [1, 1, 1, 1], "padding": "VALID"},
             name="int32")])
def max_pool(node: NodeDef, x):
    return _pool(node, x, "max")


@op("MaxPool3D", samples=[
    OpSample([Feed((1, 4, 5, 5, 2))], {"ksize": [1, 2, 3, 3, 1], "strides": [1, 1, 2, 2, 1],
                                       "padding": "SAME"}),
    OpSample([Feed((1, 4, 6, 5, 2))], {"ksize": [1, 1, 2, 1, 1], "strides": [1, 2, 3, 2, 1],
                                       "padding": "SAME"}, name="same-unclamped"),
    OpSample([Feed((1, 4, 5, 5, 2))], {"ksize": [1, 2, 2, 2, 1], "strides": [1, 2, 2, 2, 1],
                                       "padding": "VALID"}, name="valid")])
def max_pool3d(node: NodeDef, x):
    return _pool(node, x, "max")


@op("AvgPool", samples=[OpSample([_IMG], attrs, name=name) for attrs, name in _POOL])
def avg_pool(node: NodeDef, x):
    """Only in-bounds cells count (``SAME`` borders average fewer cells)."""
    return _pool(node, x, "avg")


@op("AvgPool3D", samples=[
    OpSample([Feed((1, 4, 5, 5, 2))], {"ksize": [1, 2, 3, 3, 1], "strides": [1, 1, 2, 2, 1],
                                       "padding": "VALID"}),
    OpSample([Feed((1, 4, 5, 5, 2))], {"ksize": [1, 2, 3, 3, 1], "strides": [1, 1, 2, 2, 1],
                                       "padding": "SAME"}, name="same"),
    OpSample([Feed((1, 4, 6, 5, 2))], {"ksize": [1, 1, 2, 1, 1], "strides": [1, 2, 3, 2, 1],
                                       "padding": "SAME"}, name="same-unclamped")])
def avg_pool3d(node: NodeDef, x):
    return _pool(node, x, "avg")


@op("MaxPoolWithArgmax", samples=[
    OpSample([_IMG], {"ksize": [1, 3, 3, 1], "strides": [1, 2, 2, 1], "padding": "SAME"},
             outputs=2, name="same"),
    OpSample([_IMG], {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID",
                      "include_batch_in_index": True}, outputs=2, name="valid-batch-index"),
    OpSample([_NAN_IMG], {"ksize": [1, 2, 2, 1], "strides": [1, 1, 1, 1], "padding": "SAME",
                          "Targmax": DType.of("int64")}, outputs=2, name="nan")])
def max_pool_with_argmax(node: NodeDef, x):
    """The max pool and, per output, the flat index ``(y·W + x)·C + c`` (plus ``b·H·W·C``
    with ``include_batch_in_index``) of the first maximum; NaN is skipped, and a window
    with no value above -Infinity gives index -1."""
    nhwc(node)
    window = _ints(node, "ksize", [1, 1, 1, 1])[1:3]
    strides = _ints(node, "strides", [1, 1, 1, 1])[1:3]
    batch_index = bool(node.attr("include_batch_in_index", False))
    n, h, w, c = np.shape(x)
    pads = _pads(node, [h, w], window, strides, [1, 1], explicit=False)
    values = _max_pool(x, window, strides, pads)
    oh, ow = np.shape(values)[1:3]
    rows = (np.arange(oh)[:, None] * strides[0] - pads[0][0] + np.arange(window[0])[None, :])
    cols = (np.arange(ow)[:, None] * strides[1] - pads[1][0] + np.arange(window[1])[None, :])
    in_rows, in_cols = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)  # [oh, kh], [ow, kw]
    inside = in_rows[:, None, :, None] & in_cols[None, :, None, :]  # [oh, ow, kh, kw]
    rr, cc = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
    # [n, oh, ow, kh, kw, c] windows, out-of-bounds and NaN cells at -inf
    patches = jnp.asarray(x)[:, rr[:, None, :, None], cc[None, :, None, :], :]
    patches = jnp.where(inside[None, ..., None] & ~jnp.isnan(patches), patches, -jnp.inf)
    flat = patches.reshape(n, oh, ow, -1, c)
    best = jnp.argmax(flat, axis=3)  # first maximum
    found = jnp.max(flat, axis=3) > -jnp.inf
    pos = ((rr[:, None, :, None] * w + cc[None, :, None, :]) * c).reshape(oh, ow, -1)
    pos = jnp.broadcast_to(pos[None, ..., None], flat.shape)
    index = jnp.take_along_axis(pos, best[:, :, :, None, :], axis=3)[:, :, :, 0, :]
    index = index + np.arange(c)
    if batch_index:
        index = index + (np.arange(n) * h * w * c)[:, None, None, None]
    return values, jnp.where(found, index, -1).astype(np.int32)


@op("Dilation2D", samples=[
    OpSample([_IMG, _w(2, 2, 3)], {"strides": [1, 1, 1, 1], "rates": [1, 1, 1, 1],
                                   "padding": "SAME"}, name="same"),
    OpSample([_IMG, _w(3, 2, 3)], {"strides": [1, 2, 1, 1], "rates": [1, 1, 1, 1],
                                   "padding": "VALID"}, name="valid-stride"),
    OpSample([_IMG, _w(2, 2, 3)], {"strides": [1, 1, 1, 1], "rates": [1, 2, 2, 1],
                                   "padding": "SAME"}, name="dilated")])
def dilation2d(node: NodeDef, x, filt):
    """Grayscale dilation: ``max over (h, w) of x[y·s + h·r, x·s + w·r] + filter[h, w]`` over
    in-bounds cells, NaN skipped."""
    strides = _ints(node, "strides", [1, 1, 1, 1])[1:3]
    rates = _ints(node, "rates", [1, 1, 1, 1])[1:3]
    kh, kw = np.shape(filt)[:2]
    squeeze = np.ndim(x) == 3
    if squeeze:
        x = x[None]
    h, w = np.shape(x)[1:3]
    pads = _pads(node, [h, w], [kh, kw], strides, rates, explicit=False)
    xp_ = jnp.pad(jnp.asarray(x), ((0, 0), *pads, (0, 0)), constant_values=-np.inf)
    outs = [(n + lo + hi - (k - 1) * r - 1) // s + 1
            for n, (lo, hi), k, r, s in zip((h, w), pads, (kh, kw), rates, strides, strict=True)]
    # TF.js starts each maximum at Number.MIN_SAFE_INTEGER
    best = jnp.full((np.shape(x)[0], *outs, np.shape(x)[3]), -9007199254740991.0, xp_.dtype)
    for i in range(kh):
        for j in range(kw):
            window = xp_[:, i * rates[0]:i * rates[0] + (outs[0] - 1) * strides[0] + 1:strides[0],
                         j * rates[1]:j * rates[1] + (outs[1] - 1) * strides[1] + 1:strides[1], :]
            value = window + filt[i, j]
            best = jnp.maximum(best, jnp.where(jnp.isnan(value), -jnp.inf, value))
    out = best
    return out[0] if squeeze else out
