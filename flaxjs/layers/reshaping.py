"""Zero padding, cropping and up-sampling in 1-3 spatial dimensions.

``UpSampling2D(interpolation="bilinear")`` is TF.js's legacy TF1 resize
(``align_corners=False, half_pixel_centers=False``); Keras 3 files get Keras's
half-pixel resize instead. The 1-D/3-D classes are Keras-only (TF.js has none).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import LayerFitError
from ..topology.spec import LayerSpec
from .base import KerasLayer, channels_first, fail, ints, single, spatial_axes
from .conv import WINDOW_FIELDS
from .fields import POSITIVE_INTS, Ints, Str
from .registry import register_layer
from .sizes import check_count
from .traits import Export, ExportContext, Sample, refuse


def _pairs(spec: LayerSpec, key: str, rank: int, default) -> tuple[tuple[int, int], ...]:
    """``int`` | ``[a, b, …]`` (symmetric per axis) | ``[[lo, hi], …]``, one pair per axis.

    For rank 1 a flat ``[lo, hi]`` is one asymmetric pair (Keras's 1-D layers).
    """
    value = spec.config.get(key, default)
    value = default if value is None else value
    try:
        if isinstance(value, (int, float)):
            return ((int(value), int(value)),) * rank
        value = list(value)
        if rank == 1 and len(value) == 2 and not isinstance(value[0], (list, tuple)):
            return ((int(value[0]), int(value[1])),)
        if len(value) != rank:
            raise ValueError(f"expected {rank} entries")
        return tuple((int(v), int(v)) if isinstance(v, (int, float)) else
                     (int(v[0]), int(v[1])) for v in value)
    except (TypeError, ValueError, IndexError) as err:
        raise fail(spec, f"cannot read {key}={value!r}: {err}") from None


class ZeroPadding(KerasLayer):
    """Zero pad each spatial axis by ``(before, after)``."""

    pads: tuple[tuple[int, int], ...] = ((1, 1),)
    channels_first: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        widths = [(0, 0)] * x.ndim
        for axis, p in zip(spatial_axes(x.ndim, self.channels_first), self.pads, strict=True):
            widths[axis] = p
        check_count("the output", [n + lo + hi for n, (lo, hi) in zip(x.shape, widths,
                                                                      strict=True)])
        return jnp.pad(x, widths)

    def shape_rule(self, shapes):
        return _resized(shapes, self.channels_first, [lo + hi for lo, hi in self.pads], 1)


class Cropping(KerasLayer):
    """Drop ``(start, end)`` cells of each spatial axis."""

    crops: tuple[tuple[int, int], ...] = ((1, 1),)
    channels_first: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        index = [slice(None)] * x.ndim
        axes = spatial_axes(x.ndim, self.channels_first)
        for axis, (lo, hi) in zip(axes, self.crops, strict=True):
            if lo + hi >= x.shape[axis]:
                raise LayerFitError(f"cropping {[list(c) for c in self.crops]} leaves nothing "
                                     f"of the input's spatial size "
                                     f"{[x.shape[a] for a in axes]}")
            index[axis] = slice(lo, x.shape[axis] - hi)
        return x[tuple(index)]

    def shape_rule(self, shapes):
        return _resized(shapes, self.channels_first, [-lo - hi for lo, hi in self.crops], 1)


def _legacy_taps(n_in: int, n_out: int):
    """TF1 bilinear source taps: ``src = dst·in/out`` (in float64, as JS), upper one clamped."""
    src = np.arange(n_out, dtype=np.float64) * (n_in / n_out)
    lo = np.maximum(np.floor(src), 0).astype(np.int32)
    hi = np.minimum(np.ceil(src), n_in - 1).astype(np.int32)
    return lo, hi, (src - lo).astype(np.float32)


def resize_bilinear_legacy(x, size: Sequence[int], axes: Sequence[int] = (1, 2)):
    """TF.js ``resizeBilinear`` (``align_corners=false, half_pixel_centers=false``)."""
    x = x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)
    for axis, n_out in zip(axes, size, strict=True):
        lo, hi, frac = _legacy_taps(x.shape[axis], int(n_out))
        shape = [1] * x.ndim
        shape[axis] = -1
        a, b = jnp.take(x, lo, axis=axis), jnp.take(x, hi, axis=axis)
        x = a + (b - a) * jnp.asarray(frac, x.dtype).reshape(shape)
    return x


class UpSampling(KerasLayer):
    """Scale each spatial axis by an integer factor (nearest = repeat)."""

    size: tuple[int, ...] = (2,)
    interpolation: str = "nearest"
    channels_first: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs)
        axes = spatial_axes(x.ndim, self.channels_first)
        out = [x.shape[a] * s for a, s in zip(axes, self.size, strict=True)]
        shape = list(x.shape)
        for a, n in zip(axes, out, strict=True):
            shape[a] = n
        check_count("the output", shape)
        if self.interpolation == "nearest":
            for axis, s in zip(axes, self.size, strict=True):
                x = jnp.repeat(x, s, axis=axis)
            return x
        if self.interpolation == "bilinear_legacy":
            return resize_bilinear_legacy(x, out, axes)
        return jax.image.resize(x, shape, self.interpolation)

    def shape_rule(self, shapes):
        return _resized(shapes, self.channels_first, [0] * len(self.size), self.size)


def _resized(shapes, cf: bool, add: Sequence[int], scale: Sequence[int] | int):
    """Shape rule of a layer mapping spatial size ``n`` to ``n·scale + add`` per axis."""
    (shape,) = shapes
    axes = spatial_axes(len(shape), cf)
    scales = [scale] * len(axes) if isinstance(scale, int) else list(scale)
    if len(axes) != len(add) or len(axes) != len(scales):
        return None
    out = list(shape)
    for axis, a, k in zip(axes, add, scales, strict=True):
        out[axis] = shape[axis] * k + a
    return ([tuple(out)], []) if min(out) > 0 else None


_DATA_FORMAT = {"data_format": WINDOW_FIELDS["data_format"]}
_PADDING_FIELDS = {**_DATA_FORMAT, "padding": Ints(0, pairs=True)}
_CROPPING_FIELDS = {**_DATA_FORMAT, "cropping": Ints(0, pairs=True)}
_UPSAMPLING_FIELDS = {**_DATA_FORMAT, "size": POSITIVE_INTS, "length": POSITIVE_INTS,
                      "interpolation": Str()}


@register_layer("ZeroPadding2D", tfjs=True,
                fields=_PADDING_FIELDS,
                notes="padding int, [h,w] or [[t,b],[l,r]]; "
                "channels_first.", samples=[
                    Sample({"padding": [[1, 0], [2, 1]]}, ((2, 3, 3, 2),)),
                    Sample({"padding": 1, "data_format": "channels_first"}, ((2, 2, 3, 3),))])
@register_layer("ZeroPadding1D",
                fields=_PADDING_FIELDS,
                notes="Keras-only (TF.js has no 1-D zero padding).",
                samples=[Sample({"padding": [2, 1]}, ((2, 4, 3),))])
@register_layer("ZeroPadding3D",
                fields=_PADDING_FIELDS,
                notes="Keras-only (TF.js has no 3-D zero padding).",
                samples=[Sample({"padding": [1, 0, 2]}, ((2, 2, 3, 2, 2),))])
def zero_padding(spec: LayerSpec) -> nn.Module:
    rank = int(spec.class_name[-2])
    return ZeroPadding(pads=_pairs(spec, "padding", rank, 1),
                       channels_first=channels_first(spec), name=spec.name)


@register_layer("Cropping2D", tfjs=True,
                fields=_CROPPING_FIELDS,
                notes="cropping int, [h,w] or [[t,b],[l,r]]; "
                "channels_first.", samples=[
                    Sample({"cropping": [[1, 0], [0, 2]]}, ((2, 4, 5, 2),))])
@register_layer("Cropping1D",
                fields=_CROPPING_FIELDS,
                notes="Keras-only (TF.js has no 1-D cropping).",
                samples=[Sample({"cropping": [1, 2]}, ((2, 6, 3),))])
@register_layer("Cropping3D",
                fields=_CROPPING_FIELDS,
                notes="Keras-only (TF.js has no 3-D cropping).",
                samples=[Sample({"cropping": [[1, 0], [0, 1], [1, 1]]}, ((2, 3, 4, 5, 2),))])
def cropping(spec: LayerSpec) -> nn.Module:
    rank = int(spec.class_name[-2])
    return Cropping(crops=_pairs(spec, "cropping", rank, 1 if rank != 2 else 0),
                    channels_first=channels_first(spec), name=spec.name)


_KERAS3_RESIZE = {"bilinear": "bilinear", "bicubic": "bicubic", "lanczos3": "lanczos3",
                  "lanczos5": "lanczos5"}


def _upsampling_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if spec.keras3 and str(config.get("interpolation", "nearest")).lower() != "nearest":
        raise refuse(spec, "TF.js's bilinear up-sampling is the legacy TF1 resize (Keras 3 "
                     "uses half-pixel centres)")


@register_layer("UpSampling2D", tfjs=True, export=Export(_upsampling_export),
                fields=_UPSAMPLING_FIELDS, notes=(
    "nearest = pixel repeat; bilinear = TF.js legacy TF1 resize (align_corners=False, "
    "half_pixel_centers=False), which differs from Keras on TF2; Keras 3 files get Keras's "
    "half-pixel bilinear/bicubic/lanczos."), samples=[
        Sample({"size": [2, 3]}, ((2, 3, 2, 2),)),
        Sample({"size": 2, "interpolation": "bilinear"}, ((2, 3, 2, 2),)),
        Sample({"size": 2, "interpolation": "bilinear"}, ((2, 3, 2, 2),), keras3=True,
               exportable=False)])
@register_layer("UpSampling1D",
                fields=_UPSAMPLING_FIELDS,
                notes="Keras-only (TF.js has no 1-D up-sampling): repeat each "
                "step.", samples=[Sample({"size": 3}, ((2, 3, 2),))])
@register_layer("UpSampling3D",
                fields=_UPSAMPLING_FIELDS,
                notes="Keras-only (TF.js has no 3-D up-sampling): repeat each "
                "voxel.", samples=[Sample({"size": [1, 2, 2]}, ((2, 2, 2, 3, 1),))])
def upsampling(spec: LayerSpec) -> nn.Module:
    rank = int(spec.class_name[-2])
    key = "length" if rank == 1 and "length" in spec.config else "size"
    size = ints(spec, key, rank, 2)
    method = str(spec.config.get("interpolation") or "nearest").lower()
    if rank != 2 or method == "nearest":
        method = "nearest"
    elif spec.keras3 and method in _KERAS3_RESIZE:
        method = _KERAS3_RESIZE[method]
    elif method == "bilinear":
        method = "bilinear_legacy"
    else:
        raise fail(spec, f"interpolation {method!r} is not supported (nearest, bilinear)")
    return UpSampling(size=size, interpolation=method, channels_first=channels_first(spec),
                      name=spec.name)


__all__ = ["Cropping", "UpSampling", "ZeroPadding", "resize_bilinear_legacy"]
