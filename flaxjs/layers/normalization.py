"""Normalization layers: BatchNormalization, LayerNormalization and Keras-only relatives.

TF.js semantics (``tfjs-layers/src/layers/normalization.ts``): epsilon is added
to the variance inside the square root (default 1e-3), batch statistics are the
mean and the *biased* two-pass variance, and the moving statistics follow
``moving - (moving - batch) * (1 - momentum)``. Parameters always broadcast
along their axis (TF.js's CPU kernel cycles them over the flattened input when
the axis is not the last one; that bug is not reproduced, see the notes).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from ..topology.spec import LayerSpec
from . import channel_sums, initializers
from .base import KerasLayer, fail, single
from .fields import BOOL, Field, Float, Floats, Ints, is_int
from .registry import register_layer
from .sizes import check_axes
from .traits import Export, ExportContext, Sample, refuse

_RANDOM = {"class_name": "RandomUniform", "config": {"minval": 0.5, "maxval": 1.5, "seed": 1}}
_ONES = {"class_name": "Ones", "config": {}}
_ZEROS = {"class_name": "Zeros", "config": {}}
_FIELDS = {"axis": Ints(), "epsilon": Float(), "momentum": Float(), "center": BOOL,
           "scale": BOOL}


def _axes(spec: LayerSpec, value: Any, *, allow_none: bool = False) -> tuple[int, ...]:
    """A config ``axis`` (int or list of ints) as a tuple."""
    if value is None and allow_none:
        return ()
    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise fail(spec, f"axis must be an int or a list of ints, got {value!r}") from None
    if any(float(v) != int(v) for v in values):
        raise fail(spec, f"axis must be integers, got {value!r}")
    return out


def _resolve(axes: Sequence[int], ndim: int, layer: str) -> tuple[int, ...]:
    """Negative axes counted from the end; checked against the input rank."""
    return check_axes("axis", axes, ndim)


def _broadcast_shape(shape: Sequence[int], axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(d if i in axes else 1 for i, d in enumerate(shape))


def _moments(x, axes: Sequence[int], keepdims: bool = False):
    """Mean and biased variance, two-pass like ``tf.moments`` (never E[x²]−E[x]²)."""
    mean = jnp.mean(x, axis=tuple(axes), keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=tuple(axes), keepdims=keepdims)
    if not keepdims:
        mean = jnp.squeeze(mean, axis=tuple(axes))
    return mean, var


def _normalize(x, mean, var, gamma, beta, epsilon: float):
    """``(x - mean) · gamma / sqrt(var + eps) + beta``, broadcast along the last axis."""
    inv = jnp.reciprocal(jnp.sqrt(var + epsilon))
    if gamma is not None:
        inv = inv * gamma
    y = (x - mean) * inv
    return y if beta is None else y + beta


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _batch_norm_train(x, gamma, beta, epsilon: float, scale: bool, center: bool):
    """Channels-last training-mode batch normalization: ``(y, batch mean, biased batch
    variance)``, the sums folded as :mod:`.channel_sums` does, with a hand-written
    backward pass (JAX's own one runs six plain channel reductions per layer, which
    XLA:CPU makes the bulk of a full fine-tuning step). Tests compare both."""
    return _batch_norm_fwd(x, gamma, beta, epsilon, scale, center)[0]


def _batch_norm_fwd(x, gamma, beta, epsilon, scale, center):
    count = x.dtype.type(x.size // x.shape[-1])
    mean = lax.div(channel_sums.channel_sum(lambda a: a, x), count)
    var = lax.div(channel_sums.channel_sum(lambda a: jnp.square(a - mean), x), count)
    y = _normalize(x, mean, var, gamma if scale else None, beta if center else None, epsilon)
    return (y, mean, var), (x, mean, var, gamma)


def _batch_norm_bwd(epsilon, scale, center, residuals, cotangents):
    """``dx = g·r·(dy − Σdy/P − x̂·Σ(dy·x̂)/P)`` with ``x̂ = (x − mean)·r``,
    ``r = 1/sqrt(var + eps)``, plus the terms of the mean and variance outputs."""
    x, mean, var, gamma = residuals
    dy, dmean, dvar = cotangents
    count = x.dtype.type(x.size // x.shape[-1])
    r = jnp.reciprocal(jnp.sqrt(var + epsilon))
    sum_dy = channel_sums.channel_sum(lambda a: a, dy)
    sum_dy_xc = channel_sums.channel_sum(lambda a, b: a * (b - mean), dy, x)
    g = r * gamma if scale else r
    xc = x - mean
    dx = g * (dy - sum_dy / count - xc * (r * r * sum_dy_xc / count))
    dx = dx + dmean / count + xc * (2 * dvar / count)
    return (dx, sum_dy_xc * r if scale else jnp.zeros_like(gamma),
            sum_dy if center else jnp.zeros_like(gamma))


_batch_norm_train.defvjp(_batch_norm_fwd, _batch_norm_bwd)


def _init(c: dict, key: str, default: str) -> initializers.Initializer:
    return initializers.get(c.get(key), default)


# ----------------------------------------------------------------- BatchNormalization
class BatchNormalization(KerasLayer):
    """Batch normalization over one feature axis.

    Inference: ``(x - moving_mean) · gamma / sqrt(moving_variance + eps) + beta``.
    Training (``train=True`` and ``trainable``): normalizes with the batch mean
    and biased batch variance over every other axis and, when the
    ``batch_stats`` collection is mutable, updates the moving statistics as
    TF.js does. A frozen layer (``trainable=False``) always normalizes with the
    moving statistics, as Keras ≥ 2.1 does, so frozen backbones fine-tune right.
    """

    axis: int = -1
    momentum: float = 0.99
    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True
    trainable: bool = True
    gamma_init: initializers.Initializer = initializers.get("ones")
    beta_init: initializers.Initializer = initializers.get("zeros")
    moving_mean_init: initializers.Initializer = initializers.get("zeros")
    moving_variance_init: initializers.Initializer = initializers.get("ones")

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "BatchNormalization")
        (axis,) = _resolve((self.axis,), x.ndim, self.name or "BatchNormalization")
        dim = x.shape[axis]
        gamma = self.param("gamma", self.gamma_init, (dim,)) if self.scale else None
        beta = self.param("beta", self.beta_init, (dim,)) if self.center else None
        moving_mean = self.state("moving_mean", self.moving_mean_init, (dim,))
        moving_var = self.state("moving_variance", self.moving_variance_init, (dim,))
        bshape = _broadcast_shape(x.shape, (axis,))
        reduce = tuple(i for i in range(x.ndim) if i != axis)

        training = train and self.trainable
        if training and axis == x.ndim - 1 and x.ndim > 1:
            ones = jnp.ones((dim,), x.dtype)
            y, mean, var = _batch_norm_train(x, ones if gamma is None else gamma,
                                             ones if beta is None else beta, self.epsilon,
                                             gamma is not None, beta is not None)
        else:
            mean, var = (_moments(x, reduce) if training
                         else (moving_mean.value, moving_var.value))
            y = _normalize(x, mean.reshape(bshape), var.reshape(bshape),
                           None if gamma is None else gamma.reshape(bshape),
                           None if beta is None else beta.reshape(bshape), self.epsilon)
        if training and self.is_mutable_collection("batch_stats") and not self.is_initializing():
            decay = 1.0 - self.momentum
            moving_mean.value = moving_mean.value - (moving_mean.value - mean) * decay
            moving_var.value = moving_var.value - (moving_var.value - var) * decay
        return y

    def shape_rule(self, shapes):
        (shape,) = shapes
        axis = self.axis + len(shape) if self.axis < 0 else self.axis
        if not 0 <= axis < len(shape):
            return None
        dim = (shape[axis],)
        params = [("params", n, dim, jnp.float32) for n, on in
                  (("gamma", self.scale), ("beta", self.center)) if on]
        stats = [("batch_stats", n, dim, jnp.float32) for n in ("moving_mean", "moving_variance")]
        return [tuple(shape)], params + stats


@register_layer("BatchNormalization", tfjs=True, export=Export(defaults={
    "axis": -1, "momentum": 0.99, "epsilon": 1e-3, "center": True, "scale": True,
    "beta_initializer": _ZEROS, "gamma_initializer": _ONES, "moving_mean_initializer": _ZEROS,
    "moving_variance_initializer": _ONES}), fields=_FIELDS, samples=[
        Sample({"gamma_initializer": _RANDOM, "moving_variance_initializer": _RANDOM},
               ((2, 3, 3, 4),)),
        Sample({"axis": 1, "center": False, "epsilon": 0.01}, ((2, 3, 5),))], notes=(
    "epsilon from the config (default 1e-3) inside the sqrt; `axis` an int or a one-element "
    "list (negative allowed, Keras); parameters broadcast along `axis` (TF.js's CPU kernel cycles "
    "them over the flattened input for a non-last axis: the Keras/WebGL result is produced); any "
    "input rank (TF.js: 2-4). train=True: batch mean and biased two-pass variance, moving stats "
    "`m - (m - batch)(1 - momentum)` when `batch_stats` is mutable (TF.js trainOnBatch). "
    "trainable=False runs in inference mode even when training (Keras >= 2.1; TF.js uses batch "
    "statistics). Ignored (training only): `virtual_batch_size`, `adjustment`. Refused: multi-axis "
    "lists, renorm."))
def batch_normalization(spec: LayerSpec) -> nn.Module:
    c = spec.config
    axes = _axes(spec, c.get("axis", -1))
    if len(axes) != 1:
        raise fail(spec, f"normalizing over several axes {list(axes)} is not supported "
                         "(TF.js and Keras 3 accept exactly one axis)")
    if c.get("renorm"):
        raise fail(spec, "renorm=True (batch renormalization) is not supported")
    return BatchNormalization(
        axis=axes[0], momentum=float(c.get("momentum", 0.99)),
        epsilon=float(c.get("epsilon", 1e-3)), center=bool(c.get("center", True)),
        scale=bool(c.get("scale", True)), trainable=spec.trainable,
        gamma_init=_init(c, "gamma_initializer", "ones"),
        beta_init=_init(c, "beta_initializer", "zeros"),
        moving_mean_init=_init(c, "moving_mean_initializer", "zeros"),
        moving_variance_init=_init(c, "moving_variance_initializer", "ones"),
        name=spec.name)


# ----------------------------------------------------------------- LayerNormalization
class LayerNormalization(KerasLayer):
    """``(x - mean)/sqrt(var + eps) · gamma + beta`` over ``axis`` (per sample).

    ``gamma``/``beta`` have the sizes of the normalized axes in config order and
    are reshaped (not transposed) onto them, as TF.js and Keras do.
    """

    axis: tuple[int, ...] = (-1,)
    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True
    gamma_init: initializers.Initializer = initializers.get("ones")
    beta_init: initializers.Initializer = initializers.get("zeros")
    rms_scaling: bool = False

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "LayerNormalization")
        axes = _resolve(self.axis, x.ndim, self.name or "LayerNormalization")
        pshape = tuple(x.shape[a] for a in axes)
        gamma = self.param("gamma", self.gamma_init, pshape) if self.scale else None
        center = self.center and not self.rms_scaling
        beta = self.param("beta", self.beta_init, pshape) if center else None
        bshape = _broadcast_shape(x.shape, axes)
        mean, var = _moments(x, axes, keepdims=True)
        inv = jnp.reciprocal(jnp.sqrt(var + self.epsilon))
        # Keras 3 rms_scaling: x (not centred) over sqrt(variance + eps), no beta
        y = x * inv if self.rms_scaling else (x - mean) * inv
        if gamma is not None:
            y = y * gamma.reshape(bshape)
        if beta is not None:
            y = y + beta.reshape(bshape)
        return y


def _layer_norm_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if config.pop("rms_scaling", False):
        raise refuse(spec, "rms_scaling=True: TF.js ignores it and would centre and shift")


@register_layer("LayerNormalization", tfjs=True, export=Export(_layer_norm_export, defaults={
    "axis": -1, "epsilon": 1e-3, "center": True, "scale": True}), fields={
        **_FIELDS, "rms_scaling": BOOL}, samples=[
        Sample({"gamma_initializer": _RANDOM}, ((2, 3, 4),)),
        Sample({"axis": [1, 2], "epsilon": 0.01}, ((2, 3, 4),)),
        Sample({"rms_scaling": True, "gamma_initializer": _RANDOM}, ((2, 3, 4),),
               keras3=True, exportable=False)], notes=(
    "mean and biased two-pass variance over `axis` (int or list), epsilon default 1e-3; "
    "gamma/beta shaped like the normalized dims (reshaped onto them). Any input rank (TF.js: "
    "<= 4). Keras 3 rms_scaling=True (TF.js cannot load it): `x / sqrt(var + eps) * gamma`, "
    "x not centred, no beta, as Keras computes it."))
def layer_normalization(spec: LayerSpec) -> nn.Module:
    c = spec.config
    return LayerNormalization(rms_scaling=bool(c.get("rms_scaling", False)),
        axis=_axes(spec, c.get("axis", -1)), epsilon=float(c.get("epsilon", 1e-3)),
        center=bool(c.get("center", True)), scale=bool(c.get("scale", True)),
        gamma_init=_init(c, "gamma_initializer", "ones"),
        beta_init=_init(c, "beta_initializer", "zeros"),
        name=spec.name)


# ----------------------------------------------------------------- Keras-only layers
class GroupNormalization(KerasLayer):
    """Keras ``GroupNormalization``: channels split into ``groups``; statistics per
    sample and group over the spatial axes and the group's channels."""

    groups: int = 32
    axis: int = -1
    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True
    gamma_init: initializers.Initializer = initializers.get("ones")
    beta_init: initializers.Initializer = initializers.get("zeros")

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "GroupNormalization")
        (axis,) = _resolve((self.axis,), x.ndim, self.name or "GroupNormalization")
        channels = x.shape[axis]
        groups = channels if self.groups == -1 else self.groups
        if axis == 0 or channels % groups:
            raise ValueError(f"{self.name}: {channels} channels on axis {axis} cannot be split "
                             f"into {groups} groups")
        gamma = self.param("gamma", self.gamma_init, (channels,)) if self.scale else None
        beta = self.param("beta", self.beta_init, (channels,)) if self.center else None
        gshape = (*x.shape[:axis], groups, channels // groups, *x.shape[axis + 1:])
        xg = x.reshape(gshape)
        reduce = tuple(i for i in range(1, xg.ndim) if i != axis)
        mean, var = _moments(xg, reduce, keepdims=True)
        y = (xg - mean) * jnp.reciprocal(jnp.sqrt(var + self.epsilon))
        pshape = tuple(d if i in (axis, axis + 1) else 1 for i, d in enumerate(gshape))
        if gamma is not None:
            y = y * gamma.reshape(pshape)
        if beta is not None:
            y = y + beta.reshape(pshape)
        return y.reshape(x.shape)


@register_layer("GroupNormalization", fields={**_FIELDS, "groups": Field(
    "-1 or a positive integer", lambda v: is_int(v) and (v == -1 or v >= 1))}, samples=[
    Sample({"groups": 2, "gamma_initializer": _RANDOM}, ((2, 3, 3, 4),)),
    Sample({"groups": -1, "axis": 1}, ((2, 4, 5),))], notes=(
    "Keras-only (TF.js cannot load it). Keras semantics: `groups` (-1 = one per channel) along "
    "`axis`, mean/variance over all but batch and group axes, eps default 1e-3, per-channel "
    "gamma/beta."))
def group_normalization(spec: LayerSpec) -> nn.Module:
    c = spec.config
    axes = _axes(spec, c.get("axis", -1))
    if len(axes) != 1:
        raise fail(spec, f"axis must be a single axis, got {c.get('axis')!r}")
    return GroupNormalization(
        groups=int(c.get("groups", 32)), axis=axes[0], epsilon=float(c.get("epsilon", 1e-3)),
        center=bool(c.get("center", True)), scale=bool(c.get("scale", True)),
        gamma_init=_init(c, "gamma_initializer", "ones"),
        beta_init=_init(c, "beta_initializer", "zeros"),
        name=spec.name)


class UnitNormalization(KerasLayer):
    """``x / sqrt(max(Σ x², 1e-12))`` over ``axis`` (Keras ``l2_normalize``)."""

    axis: tuple[int, ...] = (-1,)

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "UnitNormalization").astype(jnp.float32)
        axes = _resolve(self.axis, x.ndim, self.name or "UnitNormalization")
        sq = jnp.sum(jnp.square(x), axis=axes, keepdims=True)
        return x * jnp.reciprocal(jnp.sqrt(jnp.maximum(sq, 1e-12)))


@register_layer("UnitNormalization",
                fields={"axis": Ints()},
                samples=[Sample({"axis": -1}, ((2, 3, 4),)),
                                             Sample({"axis": [1, 2]}, ((2, 3, 4),))], notes=(
    "Keras-only (TF.js cannot load it): `x / sqrt(max(sum(x^2), 1e-12))` over `axis`."))
def unit_normalization(spec: LayerSpec) -> nn.Module:
    return UnitNormalization(axis=_axes(spec, spec.config.get("axis", -1)), name=spec.name)


class RMSNormalization(KerasLayer):
    """Keras 3 ``RMSNormalization``: ``x / sqrt(mean(x², axis) + eps) · scale``.

    ``scale`` has the sizes of the (sorted) axes and multiplies the result as Keras does,
    aligned with the input's last axes.
    """

    axis: tuple[int, ...] = (-1,)
    epsilon: float = 1e-6

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "RMSNormalization").astype(jnp.float32)
        axes = sorted(_resolve(self.axis, x.ndim, self.name or "RMSNormalization"))
        scale = self.param("scale", initializers.get("ones"), tuple(x.shape[a] for a in axes))
        ms = jnp.mean(jnp.square(x), axis=tuple(axes), keepdims=True)
        return x * jax.lax.rsqrt(ms + self.epsilon) * scale


@register_layer("RMSNormalization", samples=[
    Sample({"axis": [1, 2], "epsilon": 0.01}, ((2, 3, 4),))], notes=(
    "Keras 3 only: `x * rsqrt(mean(x^2, axis) + epsilon) * scale` (epsilon default 1e-6); "
    "`scale` shaped like the sorted axes, multiplied aligned with the last axes as Keras "
    "does."))
def rms_normalization(spec: LayerSpec) -> nn.Module:
    return RMSNormalization(axis=_axes(spec, spec.config.get("axis", -1)),
                            epsilon=float(spec.config.get("epsilon", 1e-6)), name=spec.name)


class Normalization(KerasLayer):
    """Keras ``Normalization``: ``(x - mean) / max(sqrt(variance), 1e-7)``.

    Adapted statistics are the layer's non-trainable weights ``mean``,
    ``variance`` (shaped like the kept axes) and ``count``, kept in the
    ``batch_stats`` collection; fixed ``mean``/``variance`` from the config are
    constants instead. ``invert`` maps normalized values back.
    """

    axis: tuple[int, ...] = (-1,)
    mean: Any = None  # fixed statistics from the config (nested lists / numbers)
    variance: Any = None
    invert: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "Normalization").astype(jnp.float32)
        keep = sorted(_resolve(self.axis, x.ndim, self.name or "Normalization"))
        kshape = tuple(x.shape[a] for a in keep)
        bshape = _broadcast_shape(x.shape, keep)
        if self.mean is None:
            zeros = lambda: jnp.zeros(kshape, jnp.float32)  # noqa: E731
            ones = lambda: jnp.ones(kshape, jnp.float32)  # noqa: E731
            mean = self.variable("batch_stats", "mean", zeros).value
            variance = self.variable("batch_stats", "variance", ones).value
            self.variable("batch_stats", "count", lambda: jnp.zeros((), jnp.int32))
        else:
            mean = jnp.asarray(self.mean, jnp.float32)
            variance = jnp.asarray(self.variance, jnp.float32)
        mean, variance = (_onto(v, kshape, bshape) for v in (mean, variance))
        std = jnp.maximum(jnp.sqrt(variance), 1e-7)
        if self.invert:
            return mean + x * std
        return (x - mean) / std


def _onto(value, kept_shape, bshape):
    """Statistics of the kept axes (or anything broadcastable) on the input's rank."""
    if value.ndim and value.size == math.prod(kept_shape):
        return value.reshape(bshape)
    return jnp.broadcast_to(value, bshape) if value.ndim else value


def _frozen(value: Any) -> Any:
    """Config lists as nested tuples (module attributes must be hashable)."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


@register_layer("Normalization", fields={"axis": Ints(empty=True), "mean": Floats(),
                                         "variance": Floats(), "invert": BOOL}, samples=[
    Sample({"axis": -1, "mean": [0.1, 0.2, 0.3], "variance": [1.0, 2.0, 0.5]}, ((2, 4, 3),)),
    Sample({"axis": -1, "mean": [0.1, 0.2, 0.3], "variance": [1.0, 2.0, 0.5], "invert": True},
           ((2, 3),))], notes=(
    "Keras-only (TF.js cannot load it): `(x - mean) / max(sqrt(variance), 1e-7)` (`invert`: "
    "`mean + x * max(sqrt(variance), 1e-7)`); adapted `mean`/`variance`/`count` weights live "
    "in `batch_stats`, or fixed `mean`/`variance` from the config."))
def normalization(spec: LayerSpec) -> nn.Module:
    c = spec.config
    mean, variance = c.get("mean"), c.get("variance")
    if (mean is None) != (variance is None):
        raise fail(spec, "the config must give both `mean` and `variance`, or neither")
    return Normalization(axis=_axes(spec, c.get("axis", -1), allow_none=True),
                         mean=_frozen(mean), variance=_frozen(variance),
                         invert=bool(c.get("invert", False)), name=spec.name)


__all__ = ["BatchNormalization", "GroupNormalization", "LayerNormalization", "Normalization",
           "RMSNormalization", "UnitNormalization"]
