"""Activation layers (``tfjs-layers/src/layers/advanced_activations.ts``).

TF.js semantics, except where TF.js cannot load the file or refuses the option:
Keras 3 files (``spec.keras3``) get Keras 3's ``LeakyReLU.negative_slope`` and
the full ``ReLU(negative_slope, threshold, max_value)`` formula; ``ELU`` with
``alpha != 1`` (TF.js throws) uses Keras's ``alpha·(exp(x) - 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from ..topology.spec import LayerSpec
from . import initializers
from .base import KerasLayer, fail, single
from .fields import Float, Ints
from .registry import register_layer
from .sizes import check_axes
from .traits import Export, ExportContext, Sample, is_default, refuse


@overload
def _float(spec: LayerSpec, key: str, default: float) -> float: ...
@overload
def _float(spec: LayerSpec, key: str, default: None) -> float | None: ...
def _float(spec: LayerSpec, key: str, default: float | None) -> float | None:
    value = spec.config.get(key)
    return default if value is None else float(value)


class ReLU(KerasLayer):
    """TF.js: ``min(max(x, 0), max_value)``. With ``negative_slope``/``threshold``
    (Keras 3 files only) Keras's ``x ≥ max → max; θ ≤ x < max → x; else slope·(x - θ)``."""

    max_value: float | None = None
    negative_slope: float = 0.0
    threshold: float = 0.0

    supports_masking = True
    shape_preserving = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        slope, theta = self.negative_slope, self.threshold
        if slope == 0.0 and theta == 0.0:
            top = jnp.inf if self.max_value is None else self.max_value
            return lax.clamp(jnp.zeros((), x.dtype), x, jnp.full((), top, x.dtype))
        y = x * (x > theta).astype(x.dtype) if theta != 0.0 else jax.nn.relu(x)
        if self.max_value is not None:
            y = jnp.clip(y, 0.0, self.max_value)
        if slope != 0.0:
            y = y - slope * jax.nn.relu(theta - x)
        return y


def _relu_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if spec.keras3 and not (is_default(config.get("negative_slope"), 0.0)
                            and is_default(config.get("threshold"), 0.0)):
        raise refuse(spec, "TF.js's ReLU ignores negative_slope and threshold")


@register_layer("ReLU", tfjs=True, export=Export(_relu_export), fields={
    "max_value": Float(), "negative_slope": Float(), "threshold": Float()}, notes=(
    "TF.js ignores negative_slope and threshold (only max_value); Keras 3 files get the full "
    "Keras formula"), samples=[
        Sample({"max_value": 0.5}, ((2, 5),)),
        Sample({"negative_slope": 0.1, "threshold": 0.2, "max_value": 0.8}, ((2, 5),),
               keras3=True, exportable=False)])
def relu(spec: LayerSpec) -> nn.Module:
    slope = _float(spec, "negative_slope", 0.0) if spec.keras3 else 0.0
    theta = _float(spec, "threshold", 0.0) if spec.keras3 else 0.0
    return ReLU(max_value=_float(spec, "max_value", None), negative_slope=slope,
                threshold=theta, name=spec.name)


class LeakyReLU(KerasLayer):
    """``x < 0 ? alpha·x : x``."""

    alpha: float = 0.3

    shape_preserving = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        return jnp.where(x < 0, self.alpha * x, x)


def _leaky_relu_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    slope = config.pop("negative_slope", None)
    if spec.keras3 and slope is not None:
        config["alpha"] = float(slope)


@register_layer("LeakyReLU", tfjs=True, export=Export(_leaky_relu_export), fields={
    "alpha": Float(), "negative_slope": Float()}, notes=(
    "alpha (default 0.3); TF.js ignores Keras 3's negative_slope (then 0.3): Keras 3 files "
    "use negative_slope"), samples=[Sample({"alpha": 0.2}, ((2, 5),)),
                                    Sample({"negative_slope": 0.1}, ((2, 5),), keras3=True)])
def leaky_relu(spec: LayerSpec) -> nn.Module:
    alpha = _float(spec, "alpha", None)
    if spec.keras3 and spec.config.get("negative_slope") is not None:
        alpha = float(spec.config["negative_slope"])
    return LeakyReLU(alpha=0.3 if alpha is None else alpha, name=spec.name)


class PReLU(KerasLayer):
    """``x < 0 ? alpha·x : x`` with a learned ``alpha`` of shape ``input.shape[1:]``
    (axes in ``shared_axes``, counted with the batch axis, set to 1)."""

    shared_axes: tuple[int, ...] = ()
    alpha_init: initializers.Initializer = initializers.get("zeros")

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        shape = list(x.shape[1:])
        for axis in self.shared_axes:
            shape[axis - 1] = 1
        alpha = self.param("alpha", self.alpha_init, tuple(shape))
        return jnp.where(x < 0, alpha * x, x)


@register_layer("PReLU", tfjs=True, fields={"shared_axes": Ints(1)}, notes=(
    "alpha shaped like input.shape[1:] with shared_axes set to 1"), samples=[
        Sample({"shared_axes": [1, 2], "alpha_initializer": {
            "class_name": "RandomUniform", "config": {"minval": 0.1, "maxval": 0.3}}},
            ((2, 3, 3, 2),))])
def prelu(spec: LayerSpec) -> nn.Module:
    shared = spec.config.get("shared_axes")
    if shared is None:
        axes: Sequence[int] = ()
    elif isinstance(shared, (list, tuple)):
        axes = [int(a) for a in shared]
    else:
        axes = [int(shared)]
    return PReLU(shared_axes=tuple(axes),
                 alpha_init=initializers.get(spec.config.get("alpha_initializer"), "zeros"),
                 name=spec.name)


class ELU(KerasLayer):
    """``x ≥ 0 ? x : alpha·(exp(x) - 1)``."""

    alpha: float = 1.0

    shape_preserving = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        return jnp.where(x >= 0, x, self.alpha * jnp.expm1(jnp.minimum(x, 0.0)))


def _elu_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    alpha = config.get("alpha")
    if alpha is not None and float(alpha) != 1.0:
        raise refuse(spec, f"TF.js's ELU throws for alpha={config['alpha']} (only 1.0)")


@register_layer("ELU", tfjs=True, export=Export(_elu_export), fields={"alpha": Float()}, notes=(
    "alpha != 1 (TF.js throws) uses Keras's alpha*(exp(x)-1)"), samples=[
        Sample({"alpha": 1.0}, ((2, 5),)), Sample({"alpha": 0.5}, ((2, 5),), exportable=False)])
def elu(spec: LayerSpec) -> nn.Module:
    return ELU(alpha=_float(spec, "alpha", 1.0), name=spec.name)


class ThresholdedReLU(KerasLayer):
    """``x · (x > theta)``."""

    theta: float = 1.0

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        return x * (x > self.theta).astype(x.dtype)


@register_layer("ThresholdedReLU", tfjs=True,
                fields={"theta": Float()},
                notes="x * (x > theta), theta default 1",
                samples=[Sample({"theta": 0.3}, ((2, 5),))])
def thresholded_relu(spec: LayerSpec) -> nn.Module:
    return ThresholdedReLU(theta=_float(spec, "theta", 1.0), name=spec.name)


class Softmax(KerasLayer):
    """Softmax over ``axis`` (an int or a tuple of axes).

    A mask handed to the layer (possibly TF.js's stale executor mask) adds
    ``-1e9·(1 - mask)`` to the logits first, broadcast numpy-style as TF.js does.
    """

    axis: int | tuple[int, ...] = 1

    shape_preserving = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        if mask is not None:
            x = x + (jnp.ones(x.shape, x.dtype) - mask.astype(x.dtype)) * jnp.asarray(-1e9, x.dtype)
        check_axes("axis", self.axis if isinstance(self.axis, tuple) else (self.axis,), x.ndim)
        if isinstance(self.axis, tuple):
            if len(self.axis) > 1:
                return jnp.exp(x - jax.nn.logsumexp(x, axis=self.axis, keepdims=True))
            return jax.nn.softmax(x, axis=self.axis[0])
        return jax.nn.softmax(x, axis=self.axis)


@register_layer("Softmax", tfjs=True, fields={"axis": Ints()}, notes=(
    "axis defaults to 1 when the key is missing (TF.js; Keras -1); a list of axes normalizes "
    "jointly; a received mask adds -1e9*(1-mask) (TF.js's stale mask included); non-last axes "
    "run (TF.js throws)"), samples=[Sample({"axis": -1}, ((2, 3, 4),)),
                                    Sample({"axis": [1, 2]}, ((2, 3, 4),))])
def softmax(spec: LayerSpec) -> nn.Module:
    axis = spec.config.get("axis")
    if axis is None:
        return Softmax(axis=1, name=spec.name)
    if isinstance(axis, (list, tuple)):
        if not axis:
            raise fail(spec, "axis is an empty list")
        return Softmax(axis=tuple(int(a) for a in axis), name=spec.name)
    return Softmax(axis=int(axis), name=spec.name)


__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax", "ThresholdedReLU"]
