"""Pooling: Max/AveragePooling1D/2D/3D and the global poolings (TF.js semantics).

Windows run channels-last with ``lax.reduce_window``. ``same`` padding is TF's
(extra cell after); padded cells never win a max and are left out of an
average's divisor. TF.js's 1-D poolings ignore ``data_format``, and the global
poolings ignore ``keepdims`` (and GlobalAveragePooling1D the mask); files written
by Keras 3, which TF.js cannot load, get the Keras meaning of those options.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..topology.spec import LayerSpec
from .base import KerasLayer, channels_first, ints, padding, single, spatial_axes
from .conv import WINDOW_FIELDS, conv_padding, window_outputs
from .fields import BOOL, POSITIVE_INTS
from .registry import register_layer
from .traits import Export, ExportContext, Sample, refuse


def pool_nd(x, kind: str, window, strides, mode: str, clamp: bool = True):
    """Channels-last max/avg pooling; an average counts only in-bounds cells.

    ``clamp=False``: TF.js's unclamped 3-D ``same`` padding (see ``conv_padding``).
    """
    spatial = x.shape[1:-1]
    pads = ((0, 0), *conv_padding(spatial, window, strides, (1,) * len(window), mode, clamp,
                                  what="pool_size"), (0, 0))
    dims, steps = (1, *window, 1), (1, *strides, 1)
    x = x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)
    if kind == "max":
        # NumPy init values: JAX recognises the max/add monoid (and differentiates it)
        # only for a concrete init value; a jnp array is staged out under grad.
        return lax.reduce_window(x, np.array(-np.inf, x.dtype), lax.max, dims, steps, pads)
    total = lax.reduce_window(x, np.array(0, x.dtype), lax.add, dims, steps, pads)
    if all(p == (0, 0) for p in pads):
        return total / np.prod(window)
    ones = np.ones((1, *spatial, 1), np.float32)
    count = lax.reduce_window(ones, 0.0, lax.add, dims, steps, pads)
    return total / count.astype(x.dtype)


class Pooling(KerasLayer):
    """Max or average pooling over the spatial axes (channels-last inside)."""

    kind: str = "max"
    pool_size: tuple[int, ...] = (2,)
    strides: tuple[int, ...] = (2,)
    padding: str = "valid"
    channels_first: bool = False
    clamp_same: bool = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        if self.channels_first:
            x = jnp.moveaxis(x, 1, -1)
        y = pool_nd(x, self.kind, self.pool_size, self.strides, self.padding, self.clamp_same)
        return jnp.moveaxis(y, -1, 1) if self.channels_first else y

    def shape_rule(self, shapes):
        (shape,) = shapes
        axes = spatial_axes(len(shape), self.channels_first)
        if len(axes) != len(self.pool_size):
            return None
        sizes = window_outputs([shape[a] for a in axes], self.pool_size, self.strides,
                               (1,) * len(axes), self.padding, self.clamp_same, what="pool_size")
        if min(sizes) < 1:
            return None
        out = list(shape)
        for axis, size in zip(axes, sizes, strict=True):
            out[axis] = size
        return [tuple(out)], []


class GlobalPooling(KerasLayer):
    """Mean or max over every spatial axis; ``masked``: Keras's masked 1-D mean."""

    kind: str = "avg"
    channels_first: bool = False
    keepdims: bool = False
    masked: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        axes = tuple(range(2, x.ndim)) if self.channels_first else tuple(range(1, x.ndim - 1))
        if self.kind == "max":
            return jnp.max(x, axis=axes, keepdims=self.keepdims)
        if self.masked and mask is not None and mask.shape == x.shape[:2]:
            m = jnp.expand_dims(mask.astype(x.dtype), 1 if self.channels_first else -1)
            return (jnp.sum(x * m, axis=axes, keepdims=self.keepdims)
                    / jnp.sum(m, axis=axes, keepdims=self.keepdims))
        return jnp.mean(x, axis=axes, keepdims=self.keepdims)

    def shape_rule(self, shapes):
        (shape,) = shapes
        axes = spatial_axes(len(shape), self.channels_first)
        out = tuple(1 if i in axes else d for i, d in enumerate(shape)) if self.keepdims else \
            tuple(d for i, d in enumerate(shape) if i not in axes)
        return [out], []


_POOL_NOTES = ("`same` padding as TF (extra cell after); padding 'causal' runs as 'valid' "
               "(TF.js accepts it); average divides by the in-bounds cells only.")


_POOL_FIELDS = {**WINDOW_FIELDS, "pool_size": POSITIVE_INTS}
_GLOBAL_FIELDS = {"data_format": WINDOW_FIELDS["data_format"], "keepdims": BOOL}


def _pool1d_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if spec.keras3 and channels_first(spec):
        raise refuse(spec, "TF.js ignores data_format for 1-D pooling")


@register_layer("MaxPooling1D", "AveragePooling1D", tfjs=True, export=Export(_pool1d_export),
                fields=_POOL_FIELDS,
                notes=_POOL_NOTES + " TF.js ignores data_format (always [B,T,C]); Keras 3 "
                "files honour it.", samples=[
                    Sample({"pool_size": 2, "strides": 1}, ((2, 5, 3),)),
                    Sample({"pool_size": 3, "strides": 2, "padding": "same"}, ((2, 6, 3),))])
@register_layer("MaxPooling2D", "AveragePooling2D", tfjs=True, fields=_POOL_FIELDS,
                export=Export(defaults={"padding": "valid", "data_format": "channels_last"}),
                notes=_POOL_NOTES + " channels_first.", samples=[
                    Sample({"pool_size": 2}, ((2, 5, 4, 3),)),
                    Sample({"pool_size": 3, "strides": 2, "padding": "same",
                            "data_format": "channels_first"}, ((2, 2, 6, 5),))])
@register_layer("MaxPooling3D", "AveragePooling3D", tfjs=True, fields=_POOL_FIELDS, notes=(
    _POOL_NOTES + " channels_first. TF.js's 3-D `same` padding is not clamped at 0 (pool "
    "smaller than stride shifts the windows by one cell; reproduced)."), samples=[
        Sample({"pool_size": 2, "padding": "same"}, ((2, 3, 4, 5, 2),))])
def pooling(spec: LayerSpec) -> nn.Module:
    rank = int(spec.class_name[-2])
    size = ints(spec, "pool_size", rank, 2)
    strides = spec.config.get("strides")
    strides = size if strides is None else ints(spec, "strides", rank)
    mode = padding(spec, ("valid", "same", "causal"))
    return Pooling(kind="max" if spec.class_name.startswith("Max") else "avg",
                   pool_size=size, strides=strides,
                   padding="valid" if mode == "causal" else mode,
                   channels_first=channels_first(spec) and (rank > 1 or spec.keras3),
                   clamp_same=rank < 3 or spec.keras3, name=spec.name)


def _global_pool_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if not spec.keras3:
        return
    if config.get("keepdims"):
        raise refuse(spec, "TF.js ignores keepdims")
    if spec.class_name.endswith("1D") and channels_first(spec):
        raise refuse(spec, "TF.js ignores data_format for 1-D global pooling")
    if spec.class_name == "GlobalAveragePooling1D" and ctx.masked:
        raise refuse(spec, "TF.js ignores the mask in GlobalAveragePooling1D (Keras 3 uses it)")


@register_layer("GlobalAveragePooling1D", "GlobalMaxPooling1D", tfjs=True, fields=_GLOBAL_FIELDS,
                export=Export(_global_pool_export), notes=(
    "mean/max over axis 1; TF.js ignores data_format, keepdims and (average) the mask; "
    "Keras 3 files honour all three."), samples=[
        Sample({}, ((2, 5, 3),)), Sample({"keepdims": True}, ((2, 5, 3),), keras3=True,
                                          exportable=False)])
@register_layer("GlobalAveragePooling2D", "GlobalMaxPooling2D", tfjs=True, fields=_GLOBAL_FIELDS,
                export=Export(_global_pool_export, {"data_format": "channels_last"}), notes=(
    "reduces H,W (data_format honoured); TF.js ignores keepdims, Keras 3 files honour it."),
    samples=[Sample({}, ((2, 4, 5, 3),)),
             Sample({"data_format": "channels_first"}, ((2, 3, 4, 5),))])
@register_layer("GlobalAveragePooling3D", "GlobalMaxPooling3D", fields=_GLOBAL_FIELDS, notes=(
    "Keras-only (TF.js has no 3-D global pooling): reduces D,H,W; data_format, keepdims."),
    samples=[Sample({"keepdims": True}, ((2, 3, 4, 2, 3),))])
def global_pooling(spec: LayerSpec) -> nn.Module:
    rank = int(spec.class_name[-2])
    keras = spec.keras3 or rank == 3
    average = spec.class_name.startswith("GlobalAverage")
    return GlobalPooling(kind="avg" if average else "max",
                         channels_first=channels_first(spec) and (rank > 1 or keras),
                         keepdims=keras and bool(spec.config.get("keepdims", False)),
                         masked=keras and average and rank == 1, name=spec.name)


# ----------------------------------------------------------------- Keras 3 adaptive pooling
def adaptive_windows(n_in: int, n_out: int) -> list[tuple[int, int]]:
    """Keras's adaptive windows ``[floor(i·n/out), ceil((i+1)·n/out))`` of an axis."""
    i = np.arange(n_out, dtype=np.float32)
    starts = np.minimum(np.floor(i * np.float32(n_in) / np.float32(n_out)), n_in - 1)
    ends = np.minimum(np.ceil((i + 1) * np.float32(n_in) / np.float32(n_out)), n_in)
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


class AdaptivePooling(KerasLayer):
    """Keras 3 ``AdaptiveAverage/MaxPooling{1,2,3}D``: each spatial axis cut into
    ``output_size`` windows (overlapping when the size does not divide), pooled
    axis by axis (max and mean over a box are separable)."""

    kind: str = "avg"
    output_size: tuple[int, ...] = (1,)
    channels_first: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        x = x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)
        axes = spatial_axes(x.ndim, self.channels_first)
        if len(axes) != len(self.output_size):
            raise ValueError(f"{self.name}: output_size {self.output_size} does not fit an "
                             f"input of rank {x.ndim}")
        reduce = jnp.max if self.kind == "max" else jnp.mean
        for axis, n_out in zip(axes, self.output_size, strict=True):
            parts = [reduce(lax.slice_in_dim(x, a, b, axis=axis), axis=axis, keepdims=True)
                     for a, b in adaptive_windows(x.shape[axis], n_out)]
            x = jnp.concatenate(parts, axis=axis)
        return x


_ADAPTIVE_NOTES = (
    "Keras 3 only: window i of an axis of length n covers [floor(i*n/out), ceil((i+1)*n/out)) "
    "(windows overlap when out does not divide n), averaged or maxed; data_format honoured.")


@register_layer("AdaptiveAveragePooling1D", "AdaptiveMaxPooling1D", notes=_ADAPTIVE_NOTES,
                samples=[Sample({"output_size": 2}, ((2, 5, 3),))])
@register_layer("AdaptiveAveragePooling2D", "AdaptiveMaxPooling2D", notes=_ADAPTIVE_NOTES,
                samples=[Sample({"output_size": [2, 3]}, ((2, 5, 7, 2),))])
@register_layer("AdaptiveAveragePooling3D", "AdaptiveMaxPooling3D", notes=_ADAPTIVE_NOTES,
                samples=[Sample({"output_size": [2, 1, 2], "data_format": "channels_first"},
                                ((2, 2, 3, 4, 3),))])
def adaptive_pooling(spec: LayerSpec) -> nn.Module:
    rank = int(spec.class_name[-2])
    return AdaptivePooling(kind="max" if "Max" in spec.class_name else "avg",
                           output_size=ints(spec, "output_size", rank),
                           channels_first=channels_first(spec), name=spec.name)


__all__ = ["AdaptivePooling", "GlobalPooling", "Pooling", "pool_nd"]
