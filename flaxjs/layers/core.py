"""Core layers: Dense, Activation, Dropout family, Flatten, Reshape, Permute,
RepeatVector, Masking, Embedding, Identity (``tfjs-layers/src/layers/core.ts``,
``embeddings.ts``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ..errors import LayerFitError
from ..topology import config as cfg
from ..topology.spec import LayerSpec
from . import activations, initializers
from .base import KerasLayer, Variable, activation, channels_first, fail, single
from .fields import BOOL, RATE, Dims, Float, Int, Ints, Str
from .registry import register_layer
from .traits import Export, ExportContext, Foldable, Sample, refuse

_GLOROT = {"class_name": "GlorotUniform", "config": {"seed": None}}
_ZEROS = {"class_name": "Zeros", "config": {}}
#: keys of a layer with a kernel and a bias that TF.js reads as these values when absent.
DENSE_DEFAULTS = {"activation": "linear", "use_bias": True, "kernel_initializer": _GLOROT,
                  "bias_initializer": _ZEROS, "kernel_regularizer": None,
                  "bias_regularizer": None, "activity_regularizer": None,
                  "kernel_constraint": None, "bias_constraint": None}
_BIAS = {"bias_initializer": {"class_name": "RandomUniform", "config": {"seed": 1}}}
_DATA_FORMAT = {"data_format": Str("channels_last", "channels_first")}
_DROPOUT_FIELDS = {**_DATA_FORMAT, "rate": RATE, "noise_shape": Dims(1)}


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

    def shape_rule(self, shapes):
        (shape,) = shapes
        variables: list[Variable] = [("params", "kernel", (shape[-1], self.units), jnp.float32)]
        if self.use_bias:
            variables.append(("params", "bias", (self.units,), jnp.float32))
        return [(*shape[:-1], self.units)], variables


def _dense_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if config.pop("lora_rank", None):
        raise refuse(spec, "LoRA-enabled Dense layers are Keras 3 only")


@register_layer("Dense", tfjs=True, export=Export(_dense_export, DENSE_DEFAULTS),
                foldable=Foldable(None), fields={"units": Int(1, required=True)},
                notes="contracts the last axis for any rank (no "
                "flattening)", samples=[
                    Sample({"units": 3, "activation": "tanh", **_BIAS}, ((2, 5),)),
                    Sample({"units": 2, "use_bias": False}, ((2, 3, 4),))])
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
    shape_preserving = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        return activations.get(self.activation, keras3=self.keras3)(single(inputs))


@register_layer("Activation", tfjs=True, samples=[
    Sample({"activation": "selu"}, ((2, 5),)), Sample({"activation": "softmax"}, ((2, 3, 4),))])
def activation_layer(spec: LayerSpec) -> nn.Module:
    return Activation(activation=activation(spec), keras3=spec.keras3, name=spec.name)


# --- dropout family -----------------------------------------------------------------


class Dropout(KerasLayer):
    """Identity at inference; inverted dropout in training when ``0 < rate < 1``.

    ``noise_shape`` entries that are ``None`` take the input's size (TF.js
    ``getNoiseShape``); ``spatial`` gives SpatialDropout's ``[B,1,…,1,C]`` (or
    ``[B,C,1,…]`` channels_first) noise shape instead.
    """

    rate: float
    noise_shape: tuple[int | None, ...] | None = None
    spatial: bool = False
    channels_first: bool = False

    supports_masking = True
    shape_preserving = True

    def _noise_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        if self.spatial:
            if self.channels_first:
                return (shape[0], shape[1]) + (1,) * (len(shape) - 2)
            return (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)
        if self.noise_shape is None:
            return tuple(shape)
        return tuple(shape[i] if d is None else int(d) for i, d in enumerate(self.noise_shape))

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        if not train or not 0.0 < self.rate < 1.0:
            return x
        keep = 1.0 - self.rate
        kept = jax.random.bernoulli(self.make_rng("dropout"), keep, self._noise_shape(x.shape))
        # TF.js multiplies by floor(u + keep) / keep (so inf·0 gives NaN, like TF.js).
        return x * (kept.astype(x.dtype) / jnp.asarray(keep, x.dtype))


def _rate(spec: LayerSpec, key: str = "rate") -> float:
    return min(max(float(spec.config.get(key, 0.0) or 0.0), 0.0), 1.0)


@register_layer("Dropout", tfjs=True, export=Export(defaults={"noise_shape": None, "seed": None}),
                fields=_DROPOUT_FIELDS,
                notes="identity at inference; training: inverted dropout only for 0 < rate < 1 "
                "(rate clamped to [0, 1]), noise_shape None entries = input dims", samples=[
                    Sample({"rate": 0.5}, ((2, 6),)),
                    Sample({"rate": 0.3, "noise_shape": [None, 1, 4]}, ((2, 3, 4),))])
def dropout(spec: LayerSpec) -> nn.Module:
    shape = spec.config.get("noise_shape")
    return Dropout(rate=_rate(spec), noise_shape=tuple(shape) if shape is not None else None,
                   name=spec.name)


@register_layer("SpatialDropout1D", tfjs=True,
                fields=_DROPOUT_FIELDS,
                notes="identity at inference; training noise "
                "shape [B,1,C]", samples=[Sample({"rate": 0.5}, ((2, 3, 4),))])
def spatial_dropout1d(spec: LayerSpec) -> nn.Module:
    return Dropout(rate=_rate(spec), spatial=True, name=spec.name)


@register_layer("SpatialDropout2D",
                fields=_DROPOUT_FIELDS,
                samples=[Sample({"rate": 0.5}, ((2, 3, 3, 4),))],
                notes="Keras only (TF.js cannot load it); identity at inference; training drops "
                "whole channels (data_format honoured)")
@register_layer("SpatialDropout3D", fields=_DROPOUT_FIELDS, samples=[
    Sample({"rate": 0.5, "data_format": "channels_first"}, ((2, 4, 2, 3, 3),))],
                notes="Keras only (TF.js cannot load it); identity at inference; training drops "
                "whole channels (data_format honoured)")
def spatial_dropout_nd(spec: LayerSpec) -> nn.Module:
    return Dropout(rate=_rate(spec), spatial=True, channels_first=channels_first(spec),
                   name=spec.name)


class Identity(KerasLayer):
    """Returns its input (Keras ``Identity``, ``ActivityRegularization`` at inference)."""

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        return single(inputs)


@register_layer("Identity", "ActivityRegularization", samples=[
    Sample({"l1": 0.01}, ((2, 3, 4),))], notes="Keras only (TF.js cannot load it); returns its "
                "input (ActivityRegularization's training loss is not modelled)")
def identity(spec: LayerSpec) -> nn.Module:
    return Identity(name=spec.name)


# --- shape layers ----------------------------------------------------------------


class Flatten(KerasLayer):
    """``[B, ...] → [B, -1]``; channels_first moves axis 1 last first (TF.js, Keras)."""

    channels_first: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        if self.channels_first and x.ndim > 2:
            x = jnp.transpose(x, (0, *range(2, x.ndim), 1))
        return x.reshape(x.shape[0], -1)

    def shape_rule(self, shapes):
        (shape,) = shapes
        return [(shape[0], math.prod(shape[1:]))], []


@register_layer("Flatten", tfjs=True, export=Export(defaults={"data_format": "channels_last"}),
                fields=_DATA_FORMAT,
                notes="channels_first transposes to channels-last before flattening; rank-2 "
                "input is allowed (TF.js requires rank >= 3)", samples=[
                    Sample({}, ((2, 3, 4),)),
                    Sample({"data_format": "channels_first"}, ((2, 2, 3, 4),))])
def flatten(spec: LayerSpec) -> nn.Module:
    return Flatten(channels_first=channels_first(spec), name=spec.name)


class Reshape(KerasLayer):
    """C-order reshape to ``[B] + target_shape`` (one ``-1``/``None`` entry inferred)."""

    target_shape: tuple[int, ...]

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        rule = self.shape_rule([x.shape])
        if rule is None:
            raise LayerFitError(f"target_shape {list(self.target_shape)} cannot hold the "
                                f"input's {math.prod(x.shape[1:])} values per example")
        return x.reshape(rule[0][0])

    def shape_rule(self, shapes):
        (shape,) = shapes
        size, known = math.prod(shape[1:]), math.prod(d for d in self.target_shape if d != -1)
        fill = size // known if known else 0
        target = tuple(fill if d == -1 else d for d in self.target_shape)
        return ([(shape[0], *target)], []) if math.prod(target) == size else None


@register_layer("Reshape", tfjs=True,
                fields={"target_shape": Dims(-1, required=True)},
                notes="C-order reshape; one -1 or null entry is "
                "inferred", samples=[Sample({"target_shape": [3, -1]}, ((2, 6, 2),))])
def reshape(spec: LayerSpec) -> nn.Module:
    target = spec.config.get("target_shape")
    if target is None:
        raise fail(spec, "missing target_shape")
    dims = tuple(-1 if d is None or int(d) < 0 else int(d) for d in target)
    if dims.count(-1) > 1:
        raise fail(spec, f"target_shape {list(target)} has more than one unknown dimension")
    return Reshape(target_shape=dims, name=spec.name)


class Permute(KerasLayer):
    """``transpose(x, [0] + dims)`` with 1-based ``dims``."""

    dims: tuple[int, ...]

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        return jnp.transpose(single(inputs), (0, *self.dims))


@register_layer("Permute", tfjs=True,
                fields={"dims": Ints(1, required=True)},
                samples=[Sample({"dims": [2, 1]}, ((2, 3, 4),))])
def permute(spec: LayerSpec) -> nn.Module:
    dims = spec.config.get("dims")
    if not isinstance(dims, (list, tuple)) or sorted(int(d) for d in dims) != list(
            range(1, len(dims) + 1)):
        raise fail(spec, f"dims must be a permutation of 1..n, got {dims!r}")
    return Permute(dims=tuple(int(d) for d in dims), name=spec.name)


class RepeatVector(KerasLayer):
    """``[B, D] → [B, n, D]``."""

    n: int

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        if x.ndim != 2:
            raise ValueError(f"RepeatVector expects a rank-2 input, got shape {x.shape}")
        return jnp.broadcast_to(x[:, None, :], (x.shape[0], self.n, x.shape[1]))


@register_layer("RepeatVector", tfjs=True,
                fields={"n": Int(1, required=True)},
                samples=[Sample({"n": 3}, ((2, 4),))])
def repeat_vector(spec: LayerSpec) -> nn.Module:
    return RepeatVector(n=int(spec.config["n"]), name=spec.name)


# --- mask producers ---------------------------------------------------------------


class Masking(KerasLayer):
    """Zeroes the time steps whose features all equal ``mask_value`` and masks them."""

    mask_value: float = 0.0

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        keep = jnp.any(x != self.mask_value, axis=-1, keepdims=True)
        return x * keep.astype(x.dtype)

    def compute_mask(self, inputs, masks):
        return jnp.any(single(inputs) != self.mask_value, axis=-1)


@register_layer("Masking", tfjs=True,
                fields={"mask_value": Float()},
                notes="output mask any(x != mask_value, -1); masked "
                "steps zeroed", samples=[Sample({"mask_value": 0.0}, ((2, 3, 4),))])
def masking(spec: LayerSpec) -> nn.Module:
    value = spec.config.get("mask_value")
    return Masking(mask_value=0.0 if value is None else float(value), name=spec.name)


def lookup(table: jax.Array, x: jax.Array) -> jax.Array:
    """Rows of ``table`` at ``x`` cast to int32; out-of-range ids give fill (NaN) rows."""
    ids = x if x.dtype == jnp.int32 else x.astype(jnp.int32)
    ids = jnp.where((ids >= 0) & (ids < table.shape[0]), ids, table.shape[0])
    return jnp.take(table, ids, axis=0, mode="fill")


class Embedding(KerasLayer):
    """Row lookup of ``embeddings [input_dim, output_dim]`` after an int32 cast.

    Float ids are truncated toward zero (TF.js ``cast``). Ids outside
    ``[0, input_dim)`` make TF.js throw; a jitted lookup cannot, so they give
    NaN rows (the smallest int32 for int32 weights) instead of a clamped row.
    """

    input_dim: int
    output_dim: int
    mask_zero: bool = False
    dtype: str = "float32"
    embeddings_init: initializers.Initializer = initializers.get(None, "random_uniform")

    @property
    def supports_masking(self) -> bool:  # type: ignore[override]
        return self.mask_zero

    def _init(self, key, shape, dtype=jnp.float32):
        dtype = jnp.dtype(dtype)
        if jnp.issubdtype(dtype, jnp.floating):
            return self.embeddings_init(key, shape, dtype)
        return self.embeddings_init(key, shape, jnp.float32).astype(dtype)

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        table = self.param("embeddings", self._init, (self.input_dim, self.output_dim),
                           jnp.dtype(self.dtype))
        return lookup(table, x)

    def shape_rule(self, shapes):
        (shape,) = shapes
        table = ("params", "embeddings", (self.input_dim, self.output_dim), jnp.dtype(self.dtype))
        return [(*shape, self.output_dim)], [table]

    def compute_mask(self, inputs, masks):
        if not self.mask_zero:
            return None
        x = single(inputs)
        return x != 0


@register_layer("Embedding", tfjs=True, fields={
    "input_dim": Int(1, required=True), "output_dim": Int(1, required=True), "mask_zero": BOOL},
                notes="input cast to int32 by truncation; "
                "out-of-range ids give NaN rows (TF.js throws); weight dtype from the layer "
                "dtype (int32 embeddings stay int32); mask_zero mask is x != 0 on the raw input",
                samples=[Sample({"input_dim": 7, "output_dim": 3, "mask_zero": True}, ((2, 5),),
                                dtype="int32", low=0, high=7)])
def embedding(spec: LayerSpec) -> nn.Module:
    c = spec.config
    return Embedding(input_dim=int(c["input_dim"]), output_dim=int(c["output_dim"]),
                     mask_zero=bool(c.get("mask_zero") or False),
                     dtype=cfg.variable_dtype(c.get("dtype")),
                     embeddings_init=initializers.get(c.get("embeddings_initializer"),
                                                      "random_uniform"),
                     name=spec.name)


class ReversibleEmbedding(KerasLayer):
    """Keras 3 ``ReversibleEmbedding``: an ``Embedding`` that, called with
    ``reverse=True``, maps hidden states back to logits over the vocabulary
    (``x @ embeddings.T``, or ``x @ reverse_embeddings`` without ``tie_weights``),
    optionally soft-capped ``tanh(logits / cap) * cap``. It gives no mask."""

    input_dim: int
    output_dim: int
    reverse: bool = False
    tie_weights: bool = True
    logit_soft_cap: float | None = None
    embeddings_init: initializers.Initializer = initializers.get(None, "random_uniform")

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        table = self.param("embeddings", self.embeddings_init, (self.input_dim, self.output_dim))
        kernel = None if self.tie_weights else self.param(
            "reverse_embeddings", self.embeddings_init, (self.output_dim, self.input_dim))
        if not self.reverse:
            return lookup(table, x)
        logits = x @ (table.T if kernel is None else kernel)
        if self.logit_soft_cap is not None:
            logits = jnp.tanh(logits / self.logit_soft_cap) * self.logit_soft_cap
        return logits


@register_layer("ReversibleEmbedding", samples=[
    Sample({"input_dim": 7, "output_dim": 3}, ((2, 5),), dtype="int32", low=0, high=7)], notes=(
    "Keras 3 only: a forward call is Embedding's lookup (ids cast to int32, out-of-range ids "
    "give NaN rows, no mask); a call with reverse=True gives `x @ embeddings.T` (or "
    "`reverse_embeddings` when tie_weights=False), soft-capped by logit_soft_cap. All calls "
    "of one layer must agree on reverse (a tied input/output embedding used both ways in one "
    "model is refused). Quantized variants refused."))
def reversible_embedding(spec: LayerSpec) -> nn.Module:
    c = spec.config
    modes = {bool(call.kwargs.get("reverse", False)) for call in spec.calls} or {False}
    if len(modes) > 1:
        raise fail(spec, "its calls mix reverse=True and reverse=False; flaxjs builds one "
                         "module per layer and cannot switch per call")
    if c.get("quantization_config") or c.get("reverse_dtype") not in (None, "float32"):
        raise fail(spec, "quantized or non-float32 reverse_dtype variants are not supported")
    cap = c.get("logit_soft_cap")
    return ReversibleEmbedding(input_dim=int(c["input_dim"]), output_dim=int(c["output_dim"]),
                               reverse=modes.pop(), tie_weights=bool(c.get("tie_weights", True)),
                               logit_soft_cap=float(cap) if cap is not None else None,
                               embeddings_init=initializers.get(c.get("embeddings_initializer"),
                                                                "random_uniform"),
                               name=spec.name)


__all__ = ["Activation", "Dense", "Dropout", "Embedding", "Flatten", "Identity", "Masking",
           "Permute", "RepeatVector", "Reshape", "ReversibleEmbedding"]
