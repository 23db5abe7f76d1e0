"""Core layers: Dense, Activation (more of the family: Dropout, Flatten, Reshape, ...)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ..topology.spec import LayerSpec
from . import activations, initializers
from .base import KerasLayer, activation, single
from .registry import register_layer


class Dense(KerasLayer):
    """``act(x · kernel + bias)`` contracting the last axis for any input rank."""

    units: int
    activation: str = "linear"
    use_bias: bool = True
    keras3: bool = False
    kernel_init: initializers.Initializer = initializers.get(None)
    bias_init: initializers.Initializer = initializers.get("zeros")

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.units))
        y = jnp.tensordot(x, kernel, axes=1)
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.units,))
        return activations.get(self.activation, keras3=self.keras3)(y)


@register_layer("Dense")
def dense(spec: LayerSpec) -> nn.Module:
    c = spec.config
    return Dense(units=int(c["units"]), activation=activation(spec),
                 use_bias=bool(c.get("use_bias", True)), keras3=spec.keras3,
                 kernel_init=initializers.get(c.get("kernel_initializer"), "glorot_uniform"),
                 bias_init=initializers.get(c.get("bias_initializer"), "zeros"),
                 name=spec.name)


class Activation(KerasLayer):
    """Applies a named activation (TF.js formulas, see :mod:`flaxjs.layers.activations`)."""

    activation: str = "linear"
    keras3: bool = False

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        return activations.get(self.activation, keras3=self.keras3)(single(inputs))


@register_layer("Activation")
def activation_layer(spec: LayerSpec) -> nn.Module:
    return Activation(activation=activation(spec), keras3=spec.keras3, name=spec.name)


__all__ = ["Dense", "Activation", "jax"]
