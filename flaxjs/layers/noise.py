"""Noise layers (``tfjs-layers/src/layers/noise.ts``): identity at inference.

In training (``train=True``) they draw from ``self.make_rng("dropout")``.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax

from ..topology.spec import LayerSpec
from .base import KerasLayer, single
from .fields import RATE, Dims, Float
from .registry import register_layer
from .traits import Sample

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class GaussianNoise(KerasLayer):
    """Training: ``x + N(0, stddev)``."""

    stddev: float

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        if not train:
            return x
        noise = jax.random.normal(self.make_rng("dropout"), x.shape, x.dtype)
        return x + self.stddev * noise


@register_layer("GaussianNoise", tfjs=True,
                fields={"stddev": Float()},
                samples=[Sample({"stddev": 0.5}, ((2, 6),))],
                notes="identity at inference; training adds N(0, stddev)")
def gaussian_noise(spec: LayerSpec) -> nn.Module:
    return GaussianNoise(stddev=float(spec.config.get("stddev", 0.0) or 0.0), name=spec.name)


class GaussianDropout(KerasLayer):
    """Training, for ``0 < rate < 1``: ``x · N(1, sqrt(rate / (1 - rate)))``."""

    rate: float

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        if not train or not 0.0 < self.rate < 1.0:
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = jax.random.normal(self.make_rng("dropout"), x.shape, x.dtype)
        return x * (1.0 + stddev * noise)


@register_layer("GaussianDropout", tfjs=True,
                fields={"rate": RATE},
                samples=[Sample({"rate": 0.3}, ((2, 6),))],
                notes="identity at inference; training multiplies by "
                "N(1, sqrt(rate/(1-rate))) when 0 < rate < 1")
def gaussian_dropout(spec: LayerSpec) -> nn.Module:
    return GaussianDropout(rate=float(spec.config.get("rate", 0.0) or 0.0), name=spec.name)


class AlphaDropout(KerasLayer):
    """Training, for ``0 < rate < 1``: alpha dropout, then the affine correction ``a·x + b``.

    TF.js sets dropped units to ``(kept - 1)·α' = +αλ`` before the correction
    (Keras: ``-αλ``, the SELU saturation value); TF.js's formula is kept.
    """

    rate: float
    noise_shape: tuple[int | None, ...] | None = None

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        if not train or not 0.0 < self.rate < 1.0:
            return x
        shape = x.shape if self.noise_shape is None else tuple(
            x.shape[i] if d is None else int(d) for i, d in enumerate(self.noise_shape))
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        kept = jax.random.bernoulli(self.make_rng("dropout"), 1.0 - self.rate, shape)
        kept = kept.astype(x.dtype)
        a = ((1.0 - self.rate) * (1.0 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        return (x * kept + (kept - 1.0) * alpha_p) * a + b


@register_layer("AlphaDropout", tfjs=True, fields={"rate": RATE, "noise_shape": Dims(1)},
                samples=[Sample({"rate": 0.3}, ((2, 6),))],
                notes="identity at inference; training when 0 < rate < 1: "
                "TF.js's formula (dropped units set to +alpha*scale before the affine "
                "correction; Keras uses -alpha*scale)")
def alpha_dropout(spec: LayerSpec) -> nn.Module:
    shape = spec.config.get("noise_shape")
    return AlphaDropout(rate=float(spec.config.get("rate", 0.0) or 0.0),
                        noise_shape=tuple(shape) if shape is not None else None,
                        name=spec.name)


__all__ = ["AlphaDropout", "GaussianDropout", "GaussianNoise"]
