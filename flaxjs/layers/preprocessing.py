"""Preprocessing layers: rescaling, resizing, cropping, category encoding, augmentation.

TF.js quirks reproduced (``tfjs-layers/src/layers/preprocessing/*.ts``):
``Resizing`` resizes with ``align_corners = not crop_to_aspect_ratio`` and never
crops; ``CenterCrop`` samples with ``cropAndResize(nearest)`` (left offset 1
when ``W - w == 1``) and falls back to a legacy bilinear resize when the
target is larger. Resampling indices depend only on static shapes, so they are
computed with numpy in float64 exactly as the JS kernels do, and the data path
is a gather plus a lerp.

Random augmentation layers are the identity at inference (Keras); their
training-time augmentation is not reproduced (identity as well): augment in the
input pipeline instead.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from ..topology.config import snake
from ..topology.spec import LayerSpec
from .base import KerasLayer, channels_first, fail, single
from .fields import BOOL, Floats, Int, Str
from .registry import register_layer
from .sizes import check_broadcast
from .traits import Sample


# ----------------------------------------------------------------- resampling helpers
def _js_round(v: np.ndarray) -> np.ndarray:
    """JavaScript ``Math.round`` (halves go up)."""
    return np.floor(v + 0.5)


def _scale(n_in: int, n_out: int, align_corners: bool) -> float:
    if align_corners and n_out > 1:
        return (n_in - 1) / (n_out - 1)
    return n_in / n_out


def bilinear_taps(n_in: int, n_out: int, align_corners: bool, half_pixel: bool):
    """Lower/upper source indices and lerp weights (TF.js ``ResizeBilinear`` kernel)."""
    ratio = _scale(n_in, n_out, align_corners)
    dst = np.arange(n_out, dtype=np.float64)
    src = ratio * (dst + 0.5) - 0.5 if half_pixel else ratio * dst
    lo = np.maximum(0.0, np.floor(src))
    hi = np.minimum(n_in - 1.0, np.ceil(src))
    return lo.astype(np.int32), hi.astype(np.int32), (src - lo).astype(np.float32)


def nearest_taps(n_in: int, n_out: int, align_corners: bool, half_pixel: bool):
    """Source indices of TF.js ``ResizeNearestNeighbor``."""
    ratio = _scale(n_in, n_out, align_corners)
    dst = np.arange(n_out, dtype=np.float64)
    src = ratio * (dst + 0.5) if half_pixel else ratio * dst
    idx = np.minimum(n_in - 1.0, _js_round(src) if align_corners else np.floor(src))
    if half_pixel:
        idx = np.maximum(0.0, idx)
    return idx.astype(np.int32)


def _as_batch(x):
    """``[H,W,C]`` images are resampled as a batch of one (TF.js ``image`` ops)."""
    if x.ndim == 3:
        return x[None], True
    if x.ndim != 4:
        raise ValueError(f"expected a rank 3 or 4 image tensor, got shape {x.shape}")
    return x, False


def resize(x, size: tuple[int, int], method: str = "bilinear", *,
           align_corners: bool = False, half_pixel: bool = False):
    """``tf.image.resizeBilinear`` / ``resizeNearestNeighbor`` on NHWC (or HWC) input."""
    x, unbatched = _as_batch(x)
    (h_in, w_in), (h_out, w_out) = x.shape[1:3], size
    if method == "nearest":
        rows = nearest_taps(h_in, h_out, align_corners, half_pixel)
        cols = nearest_taps(w_in, w_out, align_corners, half_pixel)
        y = jnp.take(jnp.take(x, rows, axis=1), cols, axis=2)
    else:
        x = x.astype(jnp.float32)
        r0, r1, rf = bilinear_taps(h_in, h_out, align_corners, half_pixel)
        c0, c1, cf = bilinear_taps(w_in, w_out, align_corners, half_pixel)
        top, bottom = jnp.take(x, r0, axis=1), jnp.take(x, r1, axis=1)
        cf = cf[None, None, :, None]
        top = jnp.take(top, c0, axis=2) + (jnp.take(top, c1, axis=2)
                                          - jnp.take(top, c0, axis=2)) * cf
        bottom = jnp.take(bottom, c0, axis=2) + (jnp.take(bottom, c1, axis=2)
                                                - jnp.take(bottom, c0, axis=2)) * cf
        y = top + (bottom - top) * rf[None, :, None, None]
    return y[0] if unbatched else y


def _crop_nearest_taps(start: float, end: float, n_in: int, n_out: int):
    """Source indices (``-1`` = extrapolated) of TF.js ``cropAndResize(nearest)`` on one axis.

    ``start``/``end`` are the normalized box edges, stored as float32 by TF.js.
    """
    a, b = float(np.float32(start)), float(np.float32(end))
    idx = np.empty(n_out, np.int64)
    scale = (b - a) * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    for i in range(n_out):
        pos = a * (n_in - 1) + i * scale if n_out > 1 else 0.5 * (a + b) * (n_in - 1)
        idx[i] = -1 if pos < 0 or pos > n_in - 1 else math.floor(pos + 0.5)
    return idx


def _gather_or_zero(x, idx: np.ndarray, axis: int):
    y = jnp.take(x, np.maximum(idx, 0), axis=axis)
    if (idx < 0).any():
        shape = [1] * x.ndim
        shape[axis] = len(idx)
        y = jnp.where(jnp.asarray(idx >= 0).reshape(shape), y, jnp.zeros((), y.dtype))
    return y


def _size(spec: LayerSpec, key: str) -> int:
    value = spec.config.get(key)
    if not isinstance(value, (int, float)) or int(value) != value or value < 1:
        raise fail(spec, f"{key} must be a positive integer, got {value!r}")
    return int(value)


def _interpolation(spec: LayerSpec, allowed=("bilinear", "nearest")) -> str:
    value = snake(str(spec.config.get("interpolation") or "bilinear"))
    if value not in allowed:
        raise fail(spec, f"interpolation {value!r} is not supported (TF.js: "
                         f"{', '.join(allowed)})")
    return value


# ----------------------------------------------------------------- Rescaling
class Rescaling(KerasLayer):
    """``float32(x) · scale + offset`` (scale/offset may be per-channel lists)."""

    scale: Any = 1.0
    offset: Any = 0.0

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "Rescaling").astype(jnp.float32)
        scale, offset = jnp.asarray(self.scale, jnp.float32), jnp.asarray(self.offset, jnp.float32)
        check_broadcast("scale", x.shape, scale.shape)
        check_broadcast("offset", x.shape, offset.shape)
        return x * scale + offset


def _number_or_tuple(spec: LayerSpec, key: str, default: float):
    value = spec.config.get(key)
    if value is None:
        return default
    if isinstance(value, (list, tuple)):
        return tuple(float(v) for v in np.ravel(np.asarray(value, np.float64)))
    if isinstance(value, (int, float)):
        return float(value)
    raise fail(spec, f"{key} must be a number or a list of numbers, got {value!r}")


_SIZE_FIELDS = {"height": Int(1, required=True), "width": Int(1, required=True),
                "interpolation": Str(), "crop_to_aspect_ratio": BOOL,
                "pad_to_aspect_ratio": BOOL}
_ENCODING_FIELDS = {"output_mode": Str(), "sparse": BOOL}


@register_layer("Rescaling", tfjs=True, fields={"scale": Floats(), "offset": Floats()}, samples=[
    Sample({"scale": 0.5, "offset": -1.0}, ((2, 4, 3),), low=0, high=255)],
                notes="cast to float32, then `x * scale + offset`.")
def rescaling(spec: LayerSpec) -> nn.Module:
    return Rescaling(scale=_number_or_tuple(spec, "scale", 1.0),
                     offset=_number_or_tuple(spec, "offset", 0.0), name=spec.name)


# ----------------------------------------------------------------- Resizing
class Resizing(KerasLayer):
    """TF.js ``Resizing``: resize to ``[height, width]`` with the given corner mode, no crop."""

    height: int
    width: int
    interpolation: str = "bilinear"
    align_corners: bool = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        return resize(single(inputs, "Resizing"), (self.height, self.width), self.interpolation,
                      align_corners=self.align_corners)


@register_layer("Resizing", tfjs=True, fields=_SIZE_FIELDS, samples=[
    Sample({"height": 4, "width": 7}, ((2, 6, 5, 3),)),
    Sample({"height": 3, "width": 3, "interpolation": "nearest", "crop_to_aspect_ratio": True},
           ((2, 6, 5, 3),))], notes=(
    "TF.js semantics: `align_corners = not crop_to_aspect_ratio` (so align-corners by default) "
    "and never crops; bilinear or nearest (nearest with align-corners rounds). Keras uses "
    "half-pixel centres and crops: results differ. Keras 3 `pad_to_aspect_ratio` refused."))
def resizing(spec: LayerSpec) -> nn.Module:
    c = spec.config
    if c.get("pad_to_aspect_ratio"):
        raise fail(spec, "pad_to_aspect_ratio=True is not supported")
    if channels_first(spec):
        raise fail(spec, "data_format='channels_first' is not supported")
    return Resizing(height=_size(spec, "height"), width=_size(spec, "width"),
                    interpolation=_interpolation(spec),
                    align_corners=not bool(c.get("crop_to_aspect_ratio", False)), name=spec.name)


# ----------------------------------------------------------------- CenterCrop
class CenterCrop(KerasLayer):
    """TF.js ``CenterCrop`` (see module docstring); output keeps the input dtype."""

    height: int
    width: int

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "CenterCrop")
        h_in, w_in = x.shape[-3], x.shape[-2]
        top = (h_in - self.height) // 2 if h_in != self.height else 0
        left = (w_in - self.width) // 2 if w_in != self.width else 0
        if w_in != self.width and left == 0:
            left = 1  # TF.js: `if (wBuffer === 0) wBuffer = 1`
        if top < 0 or left < 0:
            y = resize(x, (self.height, self.width), "bilinear")
            return y.astype(x.dtype)
        rows = _crop_nearest_taps(top / h_in, (self.height + top) / h_in, h_in, self.height)
        cols = _crop_nearest_taps(left / w_in, (self.width + left) / w_in, w_in, self.width)
        return _gather_or_zero(_gather_or_zero(x, rows, x.ndim - 3), cols, x.ndim - 2)


@register_layer("CenterCrop", tfjs=True, fields=_SIZE_FIELDS,
                samples=[Sample({"height": 3, "width": 4}, ((2, 6, 5, 3),))],
                notes=(
    "TF.js semantics: `cropAndResize(nearest)` on the box [top/H, left/W, (top+h)/H, "
    "(left+w)/W] with top/left = floor(diff/2), left forced to 1 when W - w == 1 (Keras: 0); "
    "a target larger than the input in either dim resizes the whole image with legacy bilinear "
    "(Keras crops/pads differently)."))
def center_crop(spec: LayerSpec) -> nn.Module:
    return CenterCrop(height=_size(spec, "height"), width=_size(spec, "width"), name=spec.name)


# ----------------------------------------------------------------- CategoryEncoding
def encode_categories(x, mode: str, depth: int):
    """TF.js ``encodeCategoricalInputs``: one/multi-hot or count of int ids per row.

    Ids outside ``[0, depth)`` (TF.js throws) count nowhere.
    """
    ids = x.astype(jnp.int32)
    if mode == "int":
        return ids
    if ids.ndim == 0:
        ids = ids[None]
    if mode == "one_hot" and ids.shape[-1] != 1:
        ids = ids[..., None]
    if ids.ndim > 2:
        raise ValueError(f"category encoding: output rank > 2 for input shape {x.shape}")
    hits = ids[..., None] == jnp.arange(depth, dtype=jnp.int32)
    counts = jnp.sum(hits, axis=-2, dtype=jnp.float32)
    if mode in ("one_hot", "multi_hot"):
        counts = jnp.minimum(counts, 1.0)
    return counts


class CategoryEncoding(KerasLayer):
    """Ids (int32 by truncation) → ``multi_hot``/``one_hot``/``count`` rows, or ``int``."""

    num_tokens: int
    output_mode: str = "multi_hot"

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        return encode_categories(single(inputs, "CategoryEncoding"), self.output_mode,
                                 self.num_tokens)


_ENCODINGS = ("multi_hot", "one_hot", "count", "int")


@register_layer("CategoryEncoding", tfjs=True, fields={
    **_ENCODING_FIELDS, "num_tokens": Int(1, required=True)}, samples=[
    Sample({"num_tokens": 5, "output_mode": "count"}, ((2, 4),), dtype="int32", low=0, high=5,
           grad=False),
    Sample({"num_tokens": 5, "output_mode": "one_hot"}, ((2, 1),), dtype="int32", low=0, high=5,
           grad=False)],
                notes=(
    "ids cast to int32 (truncation); `multi_hot` (default), `one_hot` (appends an axis unless the "
    "last dim is 1), `count`, `int` (returns the ids); rank <= 2 after that; a rank-1 input is "
    "encoded as one row, as TF.js does. Out-of-range ids (TF.js throws) count nowhere. Output "
    "float32. Refused: `tf_idf`, `sparse`."))
def category_encoding(spec: LayerSpec) -> nn.Module:
    c = spec.config
    mode = snake(str(c.get("output_mode") or "multi_hot"))
    if mode not in _ENCODINGS:
        raise fail(spec, f"output_mode {mode!r} is not supported ({', '.join(_ENCODINGS)})")
    if c.get("sparse"):
        raise fail(spec, "sparse=True is not supported")
    return CategoryEncoding(num_tokens=_size(spec, "num_tokens"), output_mode=mode,
                            name=spec.name)


# ----------------------------------------------------------------- RandomWidth / RandomHeight
class RandomResize(KerasLayer):
    """``RandomWidth``/``RandomHeight`` with a fixed factor range.

    With ``lo == hi`` the new size is deterministic, ``round(float32(1 + lo) · n)``
    (TF.js resizes even at inference: reproduced). With a real range TF.js picks
    a random output shape per call, which a jitted function cannot have, so the
    layer is the identity (Keras's inference behaviour), in training too.
    """

    axis: int  # -3 height, -2 width
    lower: float = 0.0
    upper: float = 0.0
    interpolation: str = "bilinear"
    resize_at_inference: bool = True  # TF.js RandomWidth; Keras layers are identity

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "RandomResize")
        if not self.resize_at_inference or self.lower != self.upper:
            return x
        n = x.shape[self.axis]
        new = int(_js_round(np.float64(np.float32(1.0 + self.lower)) * n))
        size = [x.shape[-3], x.shape[-2]]
        size[self.axis + 3] = new
        return resize(x, (size[0], size[1]), self.interpolation)


def _factor_range(spec: LayerSpec) -> tuple[float, float]:
    factor = spec.config.get("factor")
    if isinstance(factor, (list, tuple)) and len(factor) == 2:
        lo, hi = float(factor[0]), float(factor[1])
    elif isinstance(factor, (int, float)) and factor > 0:
        lo, hi = -float(factor), float(factor)
    else:
        raise fail(spec, f"factor must be a positive number or a pair, got {factor!r}")
    if lo < -1.0 or hi < -1.0 or hi < lo:
        raise fail(spec, f"invalid factor range [{lo}, {hi}]")
    return lo, hi


@register_layer("RandomWidth", tfjs=True, fields={"factor": Floats(required=True),
                                                 "interpolation": Str()}, samples=[
    Sample({"factor": [0.5, 0.5]}, ((2, 6, 5, 3),)), Sample({"factor": 0.2}, ((2, 6, 5, 3),))],
                notes=(
    "TF.js resizes at inference too (Keras: identity). Factor range with lo == hi (e.g. [0, 0]): "
    "legacy bilinear/nearest resize to width round(float32(1 + lo) * W), as TF.js. Any real "
    "range: TF.js picks a random output shape per call, which jit cannot express, so the layer "
    "is the identity (Keras inference behaviour), also with train=True."))
def random_width(spec: LayerSpec) -> nn.Module:
    lo, hi = _factor_range(spec)
    interp = _interpolation(spec) if lo == hi else snake(str(spec.config.get("interpolation")))
    return RandomResize(axis=-2, lower=lo, upper=hi, interpolation=interp, name=spec.name)


@register_layer("RandomHeight", fields={"factor": Floats(required=True),
                                       "interpolation": Str()},
                samples=[Sample({"factor": 0.2}, ((2, 6, 5, 3),))], notes=(
    "Keras-only (not reachable from the TF.js npm package): identity at inference; training "
    "augmentation not reproduced (identity)."))
def random_height(spec: LayerSpec) -> nn.Module:
    lo, hi = _factor_range(spec)
    return RandomResize(axis=-3, lower=lo, upper=hi, resize_at_inference=False, name=spec.name)


# ----------------------------------------------------------------- Keras-only augmentation
class InferenceIdentity(KerasLayer):
    """Random augmentation: the identity at inference (and here also in training)."""

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        return single(inputs, "augmentation layer")


_AUGMENTATIONS = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                  "RandomContrast", "RandomBrightness")


@register_layer(*_AUGMENTATIONS, samples=[Sample({"factor": 0.2}, ((2, 6, 5, 3),))], notes=(
    "Keras-only (TF.js cannot load it): identity at inference, as in Keras. Training-time "
    "augmentation is not reproduced (identity): augment in the input pipeline."))
def random_augmentation(spec: LayerSpec) -> nn.Module:
    return InferenceIdentity(name=spec.name)


class RandomCrop(KerasLayer):
    """Keras ``RandomCrop`` at inference: the largest centred window with the target
    aspect ratio, resized (bilinear, half-pixel centres) to ``[height, width]``."""

    height: int
    width: int

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "RandomCrop")
        h_in, w_in = x.shape[-3], x.shape[-2]
        crop_h = max(min(h_in, int(float(w_in * self.height) / self.width)), 1)
        crop_w = max(min(w_in, int(float(h_in * self.width) / self.height)), 1)
        top, left = int((h_in - crop_h) / 2), int((w_in - crop_w) / 2)
        y = x[..., top:top + crop_h, left:left + crop_w, :]
        if (crop_h, crop_w) == (self.height, self.width):
            return y
        return resize(y, (self.height, self.width), "bilinear", half_pixel=True)


@register_layer("RandomCrop",
                fields=_SIZE_FIELDS,
                samples=[Sample({"height": 4, "width": 3}, ((2, 6, 5, 3),))], notes=(
    "Keras-only (TF.js cannot load it). Inference (and here training): the largest centred "
    "window with the target aspect ratio, bilinearly resized (half-pixel centres) to the target "
    "size, as Keras's `smart_resize`; random crops in training are not reproduced. "
    "channels_last only."))
def random_crop(spec: LayerSpec) -> nn.Module:
    if channels_first(spec):
        raise fail(spec, "data_format='channels_first' is not supported")
    return RandomCrop(height=_size(spec, "height"), width=_size(spec, "width"), name=spec.name)


# ----------------------------------------------------------------- Discretization
class Discretization(KerasLayer):
    """Bucket index ``i`` with ``b[i-1] <= x < b[i]`` (``tf.raw_ops.Bucketize``), then encoded."""

    bin_boundaries: tuple[float, ...]
    output_mode: str = "int"

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "Discretization")
        bounds = jnp.asarray(self.bin_boundaries, jnp.float32)
        idx = jnp.searchsorted(bounds, x.astype(jnp.float32), side="right").astype(jnp.int32)
        if self.output_mode == "int":
            return idx
        return encode_categories(idx, self.output_mode, len(self.bin_boundaries) + 1)


@register_layer("Discretization", fields={**_ENCODING_FIELDS, "bin_boundaries": Floats()},
                samples=[
    Sample({"bin_boundaries": [-0.5, 0.0, 0.5]}, ((2, 4),), grad=False),
    Sample({"bin_boundaries": [0.0, 0.5], "output_mode": "one_hot"}, ((2, 1),), grad=False)],
                notes=(
    "Keras-only (TF.js cannot load it): bucket index of `bin_boundaries` (int32; Keras int64), "
    "or its one_hot/multi_hot/count encoding. Needs `bin_boundaries` in the config (adapted "
    "layers store them there)."))
def discretization(spec: LayerSpec) -> nn.Module:
    c = spec.config
    bounds = c.get("bin_boundaries")
    if not isinstance(bounds, (list, tuple)) or not bounds:
        raise fail(spec, "the config has no `bin_boundaries` (an un-adapted layer)")
    mode = snake(str(c.get("output_mode") or "int"))
    if mode not in _ENCODINGS:
        raise fail(spec, f"output_mode {mode!r} is not supported ({', '.join(_ENCODINGS)})")
    if c.get("sparse"):
        raise fail(spec, "sparse=True is not supported")
    return Discretization(bin_boundaries=tuple(float(b) for b in bounds), output_mode=mode,
                          name=spec.name)


__all__ = ["CategoryEncoding", "CenterCrop", "Discretization", "InferenceIdentity", "RandomCrop",
           "RandomResize", "Rescaling", "Resizing", "encode_categories", "resize"]
