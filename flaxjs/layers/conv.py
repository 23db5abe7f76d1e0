"""Convolutions: Conv1D/2D/3D, transposed, depthwise and separable (TF.js semantics).

Everything runs channels-last (``NWC``/``NHWC``/``NDHWC`` with ``…IO`` kernels, the
layout of the stored Keras weights); ``channels_first`` inputs are transposed in
and out exactly where TF.js does it, which reproduces its two layout bugs
(``Conv1D`` keeps ``[B,T,f]``, ``SeparableConv2D`` adds the bias along H).
Files written by Keras 3 (which TF.js cannot load) get the Keras semantics instead.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from ..errors import LayerFitError
from ..topology.spec import LayerSpec
from . import activations, channel_sums, initializers
from .base import (
    KerasLayer,
    Shape,
    Variable,
    activation,
    channels_first,
    fail,
    ints,
    padding,
    single,
)
from .core import DENSE_DEFAULTS
from .fields import POSITIVE_INTS, Int, Ints, Str
from .registry import register_layer
from .sizes import check_count, check_windows
from .traits import Export, ExportContext, Foldable, Sample, is_default, refuse

Pads = tuple[tuple[int, int], ...]

#: depthwise lowering: "auto" (shifted slices on CPU, grouped conv elsewhere),
#: "slices", "grouped" or "slices-autodiff" (slices differentiated by JAX instead of
#: by :func:`_depthwise_bwd`). Module-level so tests and benchmarks can force one.
DEPTHWISE_IMPL = "auto"


def _spec(rank: int) -> tuple[str, str, str]:
    sp = "DHW"[3 - rank:]
    return f"N{sp}C", f"{sp}IO", f"N{sp}C"


def conv_padding(sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                 dilation: Sequence[int], mode: str, clamp: bool = True, *,
                 what: str = "window") -> Pads:
    """Per-axis ``(before, after)`` zero padding of TF.js/TF (``same`` puts the extra cell after).

    A window that does not fit, or padding beyond any real input, raises
    :class:`~flaxjs.errors.LayerFitError` naming ``what`` (the config field).

    ``clamp=False`` is TF.js's 3-D ``same`` (``get3DPadAndOutInfo``): a total that
    comes out negative (kernel smaller than stride) is not clamped to 0, so
    ``before = floor(total/2)`` crops a leading cell and every window shifts by one.
    """
    pads = []
    for n, k, s, d in zip(sizes, kernel, strides, dilation, strict=True):
        keff = (k - 1) * d + 1
        if mode == "same":
            total = (-(-n // s) - 1) * s + keff - n
            total = max(0, total) if clamp else total
            pads.append((total // 2, total - total // 2))
        elif mode == "causal":
            pads.append((keff - 1, 0))
        else:
            pads.append((0, 0))
    check_windows(what, sizes, kernel, dilation, pads)
    return tuple(pads)


def window_outputs(sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                   dilation: Sequence[int], mode: str, clamp: bool = True, *,
                   what: str = "window") -> tuple[int, ...]:
    """Output sizes of a sliding window over ``sizes`` padded as :func:`conv_padding` says."""
    pads = conv_padding(sizes, kernel, strides, dilation, mode, clamp, what=what)
    return tuple((n + lo + hi - (k - 1) * d - 1) // s + 1
                 for n, (lo, hi), k, s, d in zip(sizes, pads, kernel, strides, dilation,
                                                 strict=True))


def _float(x, like):
    return x if x.dtype == like.dtype else x.astype(like.dtype)


def conv_nd(x, kernel, strides, pads: Pads, dilation, groups: int = 1):
    """Channels-last N-d cross-correlation with a ``[*k, in/groups, out]`` kernel
    (1×1 kernels, stride 1: :func:`_pointwise`, the same forward pass)."""
    x = _float(x, kernel)
    rank = kernel.ndim - 2
    if (groups == 1 and all(k == 1 for k in kernel.shape[:rank]) and set(strides) <= {1}
            and all(tuple(p) == (0, 0) for p in pads)):
        return _pointwise(x, kernel)
    return lax.conv_general_dilated(x, kernel, tuple(strides), pads,
                                    rhs_dilation=tuple(dilation),
                                    dimension_numbers=_spec(rank),
                                    feature_group_count=groups)


def _conv1x1(x, kernel):
    rank = kernel.ndim - 2
    return lax.conv_general_dilated(x, kernel, (1,) * rank, ((0, 0),) * rank,
                                    dimension_numbers=_spec(rank))


@jax.custom_vjp
def _pointwise(x, kernel):
    """A 1×1 convolution whose kernel gradient ``Σ_p x[p]ᵀ·dy[p]`` is a batched dot over
    ``FOLD_TERMS`` position chunks, summed: XLA:CPU lowers JAX's own (a convolution
    with batch and channels swapped) to transposed copies of both operands and one
    dot whose huge contraction it cannot split over the cores (2-20× slower)."""
    return _conv1x1(x, kernel)


def _pointwise_fwd(x, kernel):
    return _conv1x1(x, kernel), (x, kernel)


def _pointwise_bwd(residuals, dy):
    x, kernel = residuals
    (dx,) = jax.vjp(lambda a: _conv1x1(a, kernel), x)[1](dy)
    c_in, c_out = kernel.shape[-2:]
    positions = x.size // c_in
    terms = channel_sums.terms(positions)
    xs = x.reshape(terms, positions // terms, c_in)
    dys = dy.reshape(terms, positions // terms, c_out)
    dw = lax.dot_general(xs, dys, (((1,), (1,)), ((0,), (0,))))
    return dx, jnp.sum(dw, axis=0).reshape(kernel.shape)


_pointwise.defvjp(_pointwise_fwd, _pointwise_bwd)


def depthwise_nd(x, kernel, strides, pads: Pads, dilation, impl: str | None = None):
    """Channels-last depthwise conv, kernel ``[*k, C, dm]``; output channel ``c·dm + m``.

    On CPU XLA's grouped convolution is far slower than a sum of ``prod(k)``
    strided, shifted slices times per-channel weights, so that form is used there,
    with its own backward pass (:func:`_depthwise_slices`).
    """
    x = _float(x, kernel)
    *ks, c, dm = kernel.shape
    impl = impl or DEPTHWISE_IMPL
    if impl == "auto":
        impl = "slices" if jax.default_backend() == "cpu" else "grouped"
    if impl == "grouped":
        return lax.conv_general_dilated(x, kernel.reshape(*ks, 1, c * dm), tuple(strides), pads,
                                        rhs_dilation=tuple(dilation),
                                        dimension_numbers=_spec(len(ks)),
                                        feature_group_count=c)
    static = (tuple(map(int, strides)), tuple((int(lo), int(hi)) for lo, hi in pads),
              tuple(map(int, dilation)))
    if impl == "slices-autodiff":  # the same forward, differentiated by JAX (for tests)
        return _slices_forward(x, kernel, *static)
    return _depthwise_slices(x, kernel, *static)


def _pad(x, lo_hi: Sequence[tuple[int, int]], interior: Sequence[int] | None = None):
    """Zero-pad (negative = crop) the spatial axes of a channels-last array."""
    interior = interior or (0,) * len(lo_hi)
    return lax.pad(x, jnp.zeros((), x.dtype),
                   ((0, 0, 0), *((lo, hi, i) for (lo, hi), i in zip(lo_hi, interior,
                                                                   strict=True)), (0, 0, 0)))


def _windows(xp, ks, strides, dilation, outs):
    """``(tap index, window)`` for every kernel tap: the strided slice of ``xp`` that tap
    multiplies."""
    for i, tap in enumerate(itertools.product(*(range(k) for k in ks))):
        start = [t * d for t, d in zip(tap, dilation, strict=True)]
        yield i, lax.slice(xp, (0, *start, 0),
                           (xp.shape[0], *(b + (o - 1) * s + 1 for b, o, s in
                                    zip(start, outs, strides, strict=True)), xp.shape[-1]),
                           (1, *strides, 1))


def _tap_sum(xp, taps, ks, strides, dilation, outs):
    """``Σ_t window_t · taps[t]``: taps ``[prod(k), C']`` per channel of ``xp`` (lax only:
    this runs for every depthwise layer at trace time)."""
    out_shape = (xp.shape[0], *outs, xp.shape[-1])
    total = None
    for i, window in _windows(xp, ks, strides, dilation, outs):
        weight = lax.broadcast_in_dim(lax.index_in_dim(taps, i, keepdims=False), out_shape,
                                      (len(out_shape) - 1,))
        term = lax.mul(window, weight)
        total = term if total is None else lax.add(total, term)
    return total


def _outs(sizes, ks, strides, dilation) -> list[int]:
    return [(n - (k - 1) * d - 1) // s + 1
            for n, k, s, d in zip(sizes, ks, strides, dilation, strict=True)]


def _slices_forward(x, kernel, strides, pads, dilation):
    """The depthwise forward pass as shifted slices times per-channel weights."""
    *ks, c, dm = kernel.shape
    xp = _pad(x, pads)
    if dm > 1:
        xp = jnp.repeat(xp, dm, axis=-1)
    return _tap_sum(xp, kernel.reshape(-1, c * dm), ks, strides, dilation,
                    _outs(xp.shape[1:-1], ks, strides, dilation))


def _kernel_grad(xp, dy, ks, strides, dilation):
    """``dW[t, c'] = Σ_{n,o} window_t[n,o,c'] · dy[n,o,c']`` over channels ``c'`` of ``xp``,
    each tap's sum folded as :mod:`.channel_sums` does (JAX's own gradient is nine
    plain reductions, which XLA:CPU runs several times slower). Batch chunks are cut
    before the windows, so that XLA fuses each window into its fold."""
    outs = dy.shape[1:-1]

    def products(xs, dys):
        return [lax.mul(window, dys) for _, window in _windows(xs, ks, strides, dilation, outs)]

    if channel_sums.batch_foldable(dy):
        partials = channel_sums.fold_batch(products, xp, dy)
    else:
        partials = [channel_sums.fold_rows(lax.mul, window, dy)
                    for _, window in _windows(xp, ks, strides, dilation, outs)]
    return channel_sums.finish(jnp.stack(partials), lead=1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _depthwise_slices(x, kernel, strides, pads, dilation):
    """:func:`_slices_forward` with a backward pass XLA:CPU runs fast (same values up to
    float summation order; tests compare it with JAX's own gradient)."""
    return _slices_forward(x, kernel, strides, pads, dilation)


def _depthwise_fwd(x, kernel, strides, pads, dilation):
    return _slices_forward(x, kernel, strides, pads, dilation), (x, kernel)


def _depthwise_bwd(strides, pads, dilation, residuals, dy):
    """Input gradient: the correlation of ``dy`` (dilated by the strides, re-padded) with
    the flipped kernel, one tap sum like the forward pass; kernel gradient: see
    :func:`_kernel_grad`."""
    x, kernel = residuals
    *ks, c, dm = kernel.shape
    outs = dy.shape[1:-1]
    # dx[i] = Σ_t dy_dilated[i + lo - t·d] · w[t]: pad dy so that tap t' = k-1-t reads it
    lo_hi = [((k - 1) * d - lo, n + lo - (o - 1) * s - 1)
             for (lo, _), k, s, d, n, o in zip(pads, ks, strides, dilation, x.shape[1:-1], outs,
                                               strict=True)]
    dyp = _pad(dy, lo_hi, [s - 1 for s in strides])
    flipped = jnp.flip(kernel, axis=tuple(range(len(ks))))
    ones = (1,) * len(ks)
    if dm == 1:
        dx = _tap_sum(dyp, flipped.reshape(-1, c), ks, ones, dilation, x.shape[1:-1])
    else:  # Σ over m of the channels c·dm + m
        dx = None
        for m in range(dm):
            part = lax.slice_in_dim(dyp, m, c * dm, stride=dm, axis=dyp.ndim - 1)
            term = _tap_sum(part, flipped[..., m].reshape(-1, c), ks, ones, dilation,
                            x.shape[1:-1])
            dx = term if dx is None else lax.add(dx, term)
    # the forward pass's padded input, behind a barrier: XLA would otherwise share each
    # tap's window between both passes and materialize it instead of fusing it
    xp = lax.optimization_barrier(_pad(x, pads))
    if dm > 1:
        xp = jnp.repeat(xp, dm, axis=-1)
    dw = _kernel_grad(xp, dy, ks, strides, dilation).reshape(kernel.shape)
    return dx, dw


_depthwise_slices.defvjp(_depthwise_fwd, _depthwise_bwd)


def bias_add(y, bias):
    """``y + bias`` along the last axis, as one lax op (cheaper to trace than ``+``)."""
    return lax.add(y, lax.broadcast_in_dim(bias.astype(y.dtype), y.shape, (y.ndim - 1,)))


def conv_transpose_nd(x, kernel, strides, mode: str, dilation, output_padding=None,
                      clamp: bool = True):
    """Channels-last transposed conv, kernel ``[*k, out, in]``: the gradient of a conv.

    Output size ``in·s`` (same) or ``in·s + max(k'-s, 0)`` (valid), or Keras's
    ``(in-1)·s + k' - 2·pad + output_padding``; input ``i`` adds ``x[i]·W[t]`` at
    ``i·s + t·d - pad_before`` with ``pad_before`` the forward-conv ``same``
    padding of an input of the output size. Written as an input-dilated conv
    with the flipped, in/out-swapped kernel.
    """
    rank = kernel.ndim - 2
    pads, outs = [], []
    for n, k, s, d, op in zip(x.shape[1:-1], kernel.shape[:rank], strides, dilation,
                              output_padding or (None,) * rank, strict=True):
        keff = (k - 1) * d + 1
        if op is None:
            out = n * s + (max(keff - s, 0) if mode == "valid" else 0)
        else:
            out = (n - 1) * s + keff - 2 * (keff // 2 if mode == "same" else 0) + op
        if out < 1:
            raise LayerFitError(f"output_padding {list(output_padding)} leaves an empty output")
        outs.append(out)
        before = conv_padding([out], [keff], [s], [1], mode, clamp)[0][0]
        pads.append((keff - 1 - before, out + before - (n - 1) * s - 1))
    check_count("the output", (x.shape[0], *outs, kernel.shape[-2]))
    w = jnp.swapaxes(jnp.flip(kernel, axis=tuple(range(rank))), -1, -2)
    return lax.conv_general_dilated(_float(x, w), w, (1,) * rank, tuple(pads),
                                    lhs_dilation=tuple(strides), rhs_dilation=tuple(dilation),
                                    dimension_numbers=_spec(rank))


def _last(x, cf: bool):
    return jnp.moveaxis(x, 1, -1) if cf else x


def _first(y, cf: bool):
    return jnp.moveaxis(y, -1, 1) if cf else y


class _ConvBase(KerasLayer):
    """Fields shared by every convolution module (channels-last weights)."""

    kernel_size: tuple[int, ...] = (1,)
    strides: tuple[int, ...] = (1,)
    padding: str = "valid"
    dilation: tuple[int, ...] = (1,)
    channels_first: bool = False
    activation: str = "linear"
    use_bias: bool = True
    keras3: bool = False
    clamp_same: bool = True  # False: TF.js 3-D ops (see conv_padding)
    kernel_init: initializers.Initializer = initializers.get(None)
    bias_init: initializers.Initializer = initializers.get("zeros")

    def _act(self, y):
        return activations.get(self.activation, keras3=self.keras3)(y)

    def _bias(self, size: int) -> list[Variable]:
        return [("params", "bias", (size,), jnp.float32)] if self.use_bias else []

    def _pads(self, x) -> Pads:
        return conv_padding(x.shape[1:-1], self.kernel_size, self.strides, self.dilation,
                            self.padding, self.clamp_same, what="kernel_size")

    def _out(self, shape: Shape, channels: int) -> Shape | None:
        """The channels-last output shape (shape rules leave channels_first to tracing)."""
        if self.channels_first or len(shape) != len(self.kernel_size) + 2:
            return None
        sizes = window_outputs(shape[1:-1], self.kernel_size, self.strides, self.dilation,
                               self.padding, self.clamp_same, what="kernel_size")
        return None if min(sizes) < 1 else (shape[0], *sizes, channels)


class Conv(_ConvBase):
    """``act(conv(x, kernel) + bias)``; ``channels_last_output`` = TF.js Conv1D bug."""

    filters: int = 1
    groups: int = 1
    channels_last_output: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = _last(single(inputs), self.channels_first)
        kernel = self.param("kernel", self.kernel_init,
                            (*self.kernel_size, x.shape[-1] // self.groups, self.filters))
        y = conv_nd(x, kernel, self.strides, self._pads(x), self.dilation, self.groups)
        if self.use_bias:
            y = bias_add(y, self.param("bias", self.bias_init, (self.filters,)))
        return self._act(_first(y, self.channels_first and not self.channels_last_output))

    def shape_rule(self, shapes):
        (shape,) = shapes
        out = self._out(shape, self.filters)
        if out is None or shape[-1] % self.groups:
            return None
        kernel = ("params", "kernel", (*self.kernel_size, shape[-1] // self.groups, self.filters),
                  jnp.float32)
        return [out], [kernel, *self._bias(self.filters)]


class ConvTranspose(_ConvBase):
    """Transposed convolution, kernel ``[*k, filters, in]`` (out before in)."""

    filters: int = 1
    output_padding: tuple[int, ...] | None = None

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = _last(single(inputs), self.channels_first)
        kernel = self.param("kernel", self.kernel_init,
                            (*self.kernel_size, self.filters, x.shape[-1]))
        y = conv_transpose_nd(x, kernel, self.strides, self.padding, self.dilation,
                              self.output_padding, self.clamp_same)
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.filters,))
        return self._act(_first(y, self.channels_first))


class DepthwiseConv(_ConvBase):
    """Depthwise conv, kernel ``[*k, C, dm]`` (named ``kernel`` by Keras 3), bias ``[C·dm]``."""

    depth_multiplier: int = 1
    kernel_name: str = "depthwise_kernel"

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = _last(single(inputs), self.channels_first)
        c = x.shape[-1]
        kernel = self.param(self.kernel_name, self.kernel_init,
                            (*self.kernel_size, c, self.depth_multiplier))
        y = depthwise_nd(x, kernel, self.strides, self._pads(x), self.dilation)
        if self.use_bias:
            y = bias_add(y, self.param("bias", self.bias_init, (c * self.depth_multiplier,)))
        return self._act(_first(y, self.channels_first))

    def shape_rule(self, shapes):
        (shape,) = shapes
        c, dm = shape[-1], self.depth_multiplier
        out = self._out(shape, c * dm)
        if out is None:
            return None
        kernel = ("params", self.kernel_name, (*self.kernel_size, c, dm), jnp.float32)
        return [out], [kernel, *self._bias(c * dm)]


class SeparableConv(_ConvBase):
    """Depthwise conv (strides, padding, dilation) then a 1x1 conv, bias, activation.

    ``tfjs_layout``: TF.js's channels_first path adds the bias reshaped
    ``[1,f,1,1]`` to the still-NHWC result (along H) and applies the activation
    before transposing back; reproduced for files TF.js can load.
    """

    filters: int = 1
    depth_multiplier: int = 1
    pointwise_init: initializers.Initializer = initializers.get(None)
    tfjs_layout: bool = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = _last(single(inputs), self.channels_first)
        c, dm, rank = x.shape[-1], self.depth_multiplier, len(self.kernel_size)
        dk = self.param("depthwise_kernel", self.kernel_init, (*self.kernel_size, c, dm))
        pk = self.param("pointwise_kernel", self.pointwise_init,
                        (*(1,) * rank, c * dm, self.filters))
        y = depthwise_nd(x, dk, self.strides, self._pads(x), self.dilation)
        y = jnp.tensordot(y, pk.reshape(c * dm, self.filters), axes=1)
        bias = self.param("bias", self.bias_init, (self.filters,)) if self.use_bias else None
        if self.channels_first and self.tfjs_layout:
            if bias is not None:
                y = y + bias.reshape(1, self.filters, *(1,) * rank)
            return _first(self._act(y), True)
        if bias is not None:
            y = y + bias
        return self._act(_first(y, self.channels_first))

    def shape_rule(self, shapes):
        (shape,) = shapes
        c, dm, rank = shape[-1], self.depth_multiplier, len(self.kernel_size)
        out = self._out(shape, self.filters)
        if out is None:
            return None
        return [out], [("params", "depthwise_kernel", (*self.kernel_size, c, dm), jnp.float32),
                       ("params", "pointwise_kernel", (*(1,) * rank, c * dm, self.filters),
                        jnp.float32),
                       *self._bias(self.filters)]


# ----------------------------------------------------------------------------- converters


#: padding modes per rank: Keras's 1-D convs also take "causal" (TF.js cannot run it).
_PAD_MODES = {1: ("valid", "same", "causal"), 2: ("valid", "same"), 3: ("valid", "same")}


def _common(spec: LayerSpec, rank: int, pad_modes: Sequence[str] | None = None) -> dict:
    c = spec.config
    ks = ints(spec, "kernel_size", rank)
    return dict(kernel_size=ks, strides=ints(spec, "strides", rank, 1),
                padding=padding(spec, pad_modes or _PAD_MODES[rank]),
                dilation=ints(spec, "dilation_rate", rank, 1),
                channels_first=channels_first(spec), activation=activation(spec),
                use_bias=bool(c.get("use_bias", True)), keras3=spec.keras3,
                clamp_same=rank < 3 or spec.keras3,
                bias_init=initializers.get(c.get("bias_initializer"), "zeros"),
                name=spec.name)


def _kernel_init(spec: LayerSpec, key: str = "kernel_initializer"):
    return initializers.get(spec.config.get(key), "glorot_uniform")


def _groups(spec: LayerSpec) -> int:
    groups = int(spec.config.get("groups") or 1)
    if groups < 1 or int(spec.config["filters"]) % groups:
        raise fail(spec, f"groups={groups} must divide filters={spec.config['filters']}")
    return groups


def _conv_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if int(config.get("groups") or 1) != 1:
        raise refuse(spec, f"groups={config['groups']} (grouped convolution) is not "
                     "supported by TF.js")
    if spec.class_name == "Conv1D":
        if str(config.get("padding", "valid")).lower() == "causal":
            raise refuse(spec, "padding='causal' cannot run in TF.js")
        if spec.keras3 and channels_first(spec):
            raise refuse(spec, "TF.js returns channels_last outputs for a channels_first "
                         "Conv1D (Keras 3 returns channels_first)")


_CONV1D_DEFAULTS = {**DENSE_DEFAULTS, "strides": 1, "padding": "valid",
                    "data_format": "channels_last", "dilation_rate": 1}
_CONV2D_DEFAULTS = {**DENSE_DEFAULTS, "strides": [1, 1], "padding": "valid",
                    "data_format": "channels_last", "dilation_rate": [1, 1]}
_BIAS = {"bias_initializer": {"class_name": "RandomUniform", "config": {"seed": 1}}}

#: the fields of a sliding window (convolutions, pooling).
WINDOW_FIELDS = {"strides": POSITIVE_INTS, "dilation_rate": POSITIVE_INTS,
                 "padding": Str("valid", "same", "causal"),
                 "data_format": Str("channels_last", "channels_first")}
_CONV_FIELDS = {**WINDOW_FIELDS, "kernel_size": Ints(1, required=True),
                "filters": Int(1, required=True), "groups": Int(1)}
_DEPTHWISE_FIELDS = {**WINDOW_FIELDS, "kernel_size": Ints(1, required=True),
                     "depth_multiplier": Int(1)}
_TRANSPOSE_FIELDS = {**_CONV_FIELDS, "output_padding": Ints(0)}
_SEPARABLE_FIELDS = {**_DEPTHWISE_FIELDS, "filters": Int(1, required=True)}


@register_layer("Conv1D", tfjs=True, export=Export(_conv_export, _CONV1D_DEFAULTS),
                foldable=Foldable(1), fields=_CONV_FIELDS, notes=(
    "channels_first: TF.js transposes the input to NWC and returns [B,T,f] (reproduced; "
    "Keras 3 files get [B,f,T]). Keras-only: padding='causal' (left pad (k-1)·d) and "
    "groups>1 (grouped conv), which TF.js cannot run."), samples=[
        Sample({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", **_BIAS},
               ((2, 7, 3),)),
        Sample({"filters": 4, "kernel_size": 2, "padding": "causal", "dilation_rate": 2,
                "groups": 2}, ((2, 7, 2),), exportable=False)])
def conv1d(spec: LayerSpec) -> nn.Module:
    kw = _common(spec, 1)
    return Conv(filters=int(spec.config["filters"]), groups=_groups(spec),
                channels_last_output=kw["channels_first"] and not spec.keras3,
                kernel_init=_kernel_init(spec), **kw)


@register_layer("Conv2D", tfjs=True, export=Export(_conv_export, _CONV2D_DEFAULTS),
                foldable=Foldable(2), fields=_CONV_FIELDS, notes=(
    "TF.js `same` padding (extra cell bottom/right); channels_first via NHWC transposes, "
    "a softmax activation then runs over the last (W) axis as in TF.js. Keras-only: "
    "groups>1 (grouped conv; TF.js ignores `groups` and fails on the kernel shape)."), samples=[
        Sample({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same",
                "activation": "relu", **_BIAS}, ((2, 7, 6, 3),)),
        Sample({"filters": 2, "kernel_size": [2, 3], "data_format": "channels_first",
                "dilation_rate": 2}, ((2, 3, 7, 8),)),
        Sample({"filters": 4, "kernel_size": 3, "groups": 2}, ((2, 6, 6, 4),),
               exportable=False)])
@register_layer("Conv3D", tfjs=True, export=Export(_conv_export), foldable=Foldable(3),
                fields=_CONV_FIELDS, notes=(
    "as Conv2D in 3-D (kernel [kd,kh,kw,in,f]); TF.js's 3-D `same` padding is not clamped "
    "at 0 (kernel < stride shifts the windows by one cell; reproduced); groups>1 Keras-only."),
    samples=[Sample({"filters": 3, "kernel_size": 2, "strides": 2, "padding": "same", **_BIAS},
                    ((2, 5, 4, 5, 2),))])
def conv2d(spec: LayerSpec) -> nn.Module:
    rank = 3 if spec.class_name == "Conv3D" else 2
    return Conv(filters=int(spec.config["filters"]), groups=_groups(spec),
                kernel_init=_kernel_init(spec), **_common(spec, rank))


def _conv_transpose_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if spec.keras3 and (config.get("output_padding") is not None
                        or not is_default(config.get("dilation_rate"), 1)):
        raise refuse(spec, "TF.js ignores output_padding and dilation_rate, which this "
                     "Keras 3 layer uses")


@register_layer("Conv2DTranspose", tfjs=True, export=Export(_conv_transpose_export),
                fields=_TRANSPOSE_FIELDS, notes=(
    "kernel [kh,kw,f,in]; gradient of conv2d, output in·s (same) or in·s+max(k-s,0) "
    "(valid). TF.js ignores output_padding and dilation_rate (reproduced); Keras 3 files "
    "honour both."), samples=[
        Sample({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", **_BIAS},
               ((2, 4, 5, 2),)),
        Sample({"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1},
               ((2, 4, 4, 2),), keras3=True, exportable=False)])
@register_layer("Conv3DTranspose", tfjs=True, export=Export(_conv_transpose_export),
                fields=_TRANSPOSE_FIELDS, notes=(
    "as Conv2DTranspose in 3-D (kernel [kd,kh,kw,f,in]), with TF.js's unclamped 3-D "
    "`same` padding (see Conv3D)."), samples=[
        Sample({"filters": 2, "kernel_size": 2, "strides": 2, **_BIAS}, ((2, 3, 2, 3, 2),))])
@register_layer("Conv1DTranspose", fields=_TRANSPOSE_FIELDS, notes=(
    "Keras-only (TF.js has no Conv1DTranspose): kernel [k,f,in]; output_padding and "
    "dilation_rate honoured."), samples=[
        Sample({"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": 1, **_BIAS},
               ((2, 5, 2),))])
def conv_transpose(spec: LayerSpec) -> nn.Module:
    rank = {"Conv1DTranspose": 1, "Conv2DTranspose": 2, "Conv3DTranspose": 3}[spec.class_name]
    keras_semantics = spec.keras3 or rank == 1
    kw = _common(spec, rank, ("valid", "same"))
    op = spec.config.get("output_padding")
    if keras_semantics:
        output_padding = ints(spec, "output_padding", rank) if op is not None else None
    else:
        output_padding, kw["dilation"] = None, (1,) * rank
    return ConvTranspose(filters=int(spec.config["filters"]), output_padding=output_padding,
                         kernel_init=_kernel_init(spec), **kw)


def _depthwise_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if spec.keras3 and not is_default(config.get("dilation_rate"), 1):
        raise refuse(spec, "TF.js ignores DepthwiseConv2D's dilation_rate, which this "
                     "Keras 3 layer uses")


@register_layer("DepthwiseConv2D", tfjs=True, depthwise=True, fields=_DEPTHWISE_FIELDS,
                export=Export(_depthwise_export, {"depth_multiplier": 1}),
                foldable=Foldable(2, kernel="depthwise_kernel"), notes=(
    "output channel c·dm+m; TF.js ignores dilation_rate (reproduced for TF.js-loadable "
    "files; Keras 3 files honour it, weight named `kernel`). CPU: lowered to shifted "
    "multiply-adds (faster than XLA's grouped conv); grouped conv on GPU/TPU."), samples=[
        Sample({"kernel_size": 3, "depth_multiplier": 2, "strides": 2, "padding": "same",
                **_BIAS}, ((2, 7, 6, 3),)),
        Sample({"kernel_size": 3, "dilation_rate": 2}, ((2, 7, 7, 2),), keras3=True,
               exportable=False)])
@register_layer("DepthwiseConv1D", depthwise=True, fields=_DEPTHWISE_FIELDS, notes=(
    "Keras-only (TF.js has no DepthwiseConv1D): kernel [k,in,dm] (`depthwise_kernel`, "
    "Keras 3 `kernel`), dilation honoured."), samples=[
        Sample({"kernel_size": 3, "depth_multiplier": 2, "dilation_rate": 2, **_BIAS},
               ((2, 8, 3),))])
def depthwise_conv(spec: LayerSpec) -> nn.Module:
    rank = 1 if spec.class_name == "DepthwiseConv1D" else 2
    kw = _common(spec, rank)
    if rank == 2 and not spec.keras3:
        kw["dilation"] = (1, 1)
    return DepthwiseConv(depth_multiplier=int(spec.config.get("depth_multiplier") or 1),
                         kernel_name="kernel" if spec.keras3 else "depthwise_kernel",
                         kernel_init=_kernel_init(spec, "depthwise_initializer"), **kw)


def _separable_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if spec.keras3 and channels_first(spec):
        raise refuse(spec, "TF.js adds the bias of a channels_first SeparableConv2D along "
                     "the wrong axis (Keras 3 semantics were used)")


@register_layer("SeparableConv2D", tfjs=True, depthwise=True, fields=_SEPARABLE_FIELDS,
                export=Export(_separable_export, {"depth_multiplier": 1}), notes=(
    "depthwise (strides, padding, dilation) then 1x1 conv. depth_multiplier is read from "
    "the config (TF.js's own save omits it: such files only load with dm=1). "
    "channels_first: TF.js adds the bias along H and applies the activation in NHWC "
    "(reproduced; Keras 3 files get Keras semantics)."), samples=[
        Sample({"filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu",
                **_BIAS}, ((2, 6, 5, 3),)),
        Sample({"filters": 4, "kernel_size": 2, "depth_multiplier": 2,  # TF.js's bias axis
                "data_format": "channels_first"}, ((2, 2, 5, 5),))])      # needs H' == filters
@register_layer("SeparableConv1D", depthwise=True, fields=_SEPARABLE_FIELDS, notes=(
    "Keras-only (TF.js throws for rank 1): depthwise_kernel [k,in,dm], pointwise_kernel "
    "[1,in·dm,f]; Keras semantics."), samples=[
        Sample({"filters": 4, "kernel_size": 3, "depth_multiplier": 2, **_BIAS}, ((2, 7, 3),))])
def separable_conv(spec: LayerSpec) -> nn.Module:
    rank = 1 if spec.class_name == "SeparableConv1D" else 2
    return SeparableConv(filters=int(spec.config["filters"]),
                         depth_multiplier=int(spec.config.get("depth_multiplier") or 1),
                         kernel_init=_kernel_init(spec, "depthwise_initializer"),
                         pointwise_init=_kernel_init(spec, "pointwise_initializer"),
                         tfjs_layout=rank == 2 and not spec.keras3,
                         **_common(spec, rank))


__all__ = ["Conv", "ConvTranspose", "DepthwiseConv", "SeparableConv", "conv_nd",
           "conv_padding", "conv_transpose_nd", "depthwise_nd", "window_outputs"]
