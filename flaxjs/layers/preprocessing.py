"""Preprocessing layers: rescaling, resizing, cropping, category encoding, augmentation,
and Keras 3's AutoContrast and audio front-ends (STFTSpectrogram, MelSpectrogram).

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
from jax import lax

from ..topology.config import snake
from ..topology.spec import LayerSpec
from . import initializers
from .base import KerasLayer, channels_first, fail, single
from .base import padding as padding_of
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
                  "RandomContrast", "RandomBrightness",
                  # Keras 3 (checked: model(x, training=False) returns x)
                  "AugMix", "CutMix", "MixUp", "RandAugment",
                  "RandomColorDegeneration", "RandomColorJitter", "RandomElasticTransform",
                  "RandomErasing", "RandomGaussianBlur", "RandomGrayscale", "RandomHue",
                  "RandomInvert", "RandomPerspective", "RandomPosterization", "RandomSaturation",
                  "RandomSharpness", "RandomShear", "Solarization")


@register_layer(*_AUGMENTATIONS, samples=[Sample({"factor": 0.2}, ((2, 6, 5, 3),))], notes=(
    "Keras-only (TF.js cannot load it): identity at inference, as in Keras. Training-time "
    "augmentation is not reproduced (identity): augment in the input pipeline."))
def random_augmentation(spec: LayerSpec) -> nn.Module:
    return InferenceIdentity(name=spec.name)


class AutoContrast(KerasLayer):
    """Keras 3 ``AutoContrast`` (active at inference): per image and channel, the values
    stretched from their [min, max] over axes 1, 2 to ``value_range``; NaN results (a
    constant channel) keep the input, as Keras does."""

    value_range: tuple[float, float] = (0.0, 255.0)

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "AutoContrast")
        images = x.astype(jnp.float32)
        lo, hi = (np.float32(v) for v in self.value_range)
        if (lo, hi) != (0.0, 255.0):
            images = (images - lo) / (hi - lo) * np.float32(255.0)
        low = jnp.min(images, axis=(1, 2), keepdims=True)
        high = jnp.max(images, axis=(1, 2), keepdims=True)
        scale = np.float32(255.0) / (high - low)
        out = jnp.clip(images * scale + (-low * scale), 0.0, 255.0)
        if (lo, hi) != (0.0, 255.0):
            out = out / np.float32(255.0) * (hi - lo) + lo
        out = jnp.where(jnp.isnan(out), x.astype(jnp.float32), out)
        if jnp.issubdtype(x.dtype, jnp.integer):
            return jnp.clip(jnp.round(out), jnp.iinfo(x.dtype).min,
                            jnp.iinfo(x.dtype).max).astype(x.dtype)
        return out.astype(x.dtype)


@register_layer("AutoContrast", samples=[
    Sample({"value_range": [0, 1]}, ((2, 4, 5, 3),), low=0, high=1)], notes=(
    "Keras 3 only, active at inference: per image and channel (min/max over axes 1, 2) "
    "`clip((x - min) * 255 / (max - min), 0, 255)` in the 0..255 scale of `value_range`; "
    "a constant channel (NaN) keeps its input."))
def auto_contrast(spec: LayerSpec) -> nn.Module:
    value_range = spec.config.get("value_range", (0, 255))
    if not isinstance(value_range, (list, tuple)) or len(value_range) != 2:
        raise fail(spec, f"value_range must be [low, high], got {value_range!r}")
    return AutoContrast(value_range=(float(value_range[0]), float(value_range[1])),
                        name=spec.name)


# ----------------------------------------------------------------- Keras 3 STFTSpectrogram
_STFT_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


class STFTSpectrogram(KerasLayer):
    """Keras 3 ``STFTSpectrogram``: each channel of a ``[B, T, C]`` signal (``[B, C, T]``
    channels_first) convolved with the stored ``real_kernel``/``imag_kernel``
    (``[frame_length, 1, F]``, the windowed Fourier basis) at stride ``frame_step``,
    then turned into the ``mode``'s quantity, exactly as Keras computes it."""

    mode: str = "log"
    frame_length: int = 256
    frame_step: int = 128
    n_freq: int = 129
    padding: str = "valid"
    expand_dims: bool = False
    channels_first: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "STFTSpectrogram").astype(jnp.float32)
        if not self.channels_first:
            x = jnp.swapaxes(x, 1, 2)
        b, c, t = x.shape
        signal = x.reshape(b * c, t, 1)
        shape = (self.frame_length, 1, self.n_freq)
        init = initializers.get("zeros")

        def conv(name: str):
            kernel = self.param(name, init, shape)
            y = lax.conv_general_dilated(signal, kernel, (self.frame_step,),
                                         self.padding.upper(), dimension_numbers=("NWC", "WIO",
                                                                                  "NWC"))
            return jnp.swapaxes(y, 1, 2).reshape(b, c, self.n_freq, -1)  # [B, C, F, T']

        if self.mode in ("real", "imag"):
            return self._layout(conv(f"{self.mode}_kernel"))
        real, imag = conv("real_kernel"), conv("imag_kernel")
        if self.mode == "angle":
            out = jnp.arctan2(imag, real)
        elif self.mode == "stft":
            out = jnp.concatenate([real, imag], axis=2)
        else:
            power = jnp.square(real) + jnp.square(imag)
            if self.mode == "psd":
                out = power + jnp.pad(power[:, :, 1:-1, :], ((0, 0), (0, 0), (1, 1), (0, 0)))
            else:
                out = jnp.sqrt(jnp.maximum(power, _EPSILON))
                if self.mode == "log":
                    out = jnp.log(jnp.maximum(out, _EPSILON))
        return self._layout(out)

    def _layout(self, y):
        """``[B, C, F, T']`` to Keras's output layout."""
        b, c, f, t = y.shape
        if self.expand_dims:
            return jnp.transpose(y, (0, 1, 3, 2) if self.channels_first else (0, 3, 2, 1))
        y = y.reshape(b, c * f, t)
        return y if self.channels_first else jnp.swapaxes(y, 1, 2)


_EPSILON = 1e-7  # Keras's backend.epsilon()


@register_layer("STFTSpectrogram", samples=[
    Sample({"frame_length": 6, "frame_step": 3, "fft_length": 8, "mode": "stft",
            "padding": "same", "expand_dims": True, "data_format": "channels_first"},
           ((2, 2, 17),))], notes=(
    "Keras 3 only: per channel, a strided 1-D convolution with the stored `real_kernel` / "
    "`imag_kernel` (the windowed Fourier basis Keras initialises them with, so window and "
    "scaling live in the weights), then the `mode`: log, magnitude, psd, real, imag, angle, "
    "stft; padding valid/same and expand_dims as Keras lays them out. channels_first follows "
    "Keras's code but no reference covers it (TensorFlow's CPU kernel cannot run it)."))
def stft_spectrogram(spec: LayerSpec) -> nn.Module:
    c = spec.config
    mode = str(c.get("mode", "log"))
    if mode not in _STFT_MODES:
        raise fail(spec, f"mode {mode!r} is not one of {', '.join(_STFT_MODES)}")
    frame_length = int(c.get("frame_length", 256))
    fft_length = c.get("fft_length") or 2 ** math.ceil(math.log2(frame_length))
    step = c.get("frame_step") or frame_length // 2
    return STFTSpectrogram(mode=mode, frame_length=frame_length, frame_step=int(step),
                           n_freq=int(fft_length) // 2 + 1,
                           padding=padding_of(spec), expand_dims=bool(c.get("expand_dims", False)),
                           channels_first=channels_first(spec), name=spec.name)


# ----------------------------------------------------------------- Keras 3 MelSpectrogram
_MEL_BREAK_HZ, _MEL_HIGH_Q = 700.0, 1127.0


def mel_matrix(n_mels: int, n_bins: int, rate: float, low_hz: float, high_hz: float
               ) -> np.ndarray:
    """Keras's (TensorFlow's) ``linear_to_mel_weight_matrix`` ``[n_bins, n_mels]`` in float32:
    triangles between consecutive mel-spaced edges, the DC bin zeroed."""
    def mel(hz):
        return np.float32(_MEL_HIGH_Q) * np.log(np.float32(1.0) + hz / np.float32(_MEL_BREAK_HZ))

    f32 = np.float32
    bins = mel(np.linspace(f32(0.0), f32(rate) / f32(2.0), n_bins, dtype=f32)[1:])[:, None]
    edges = np.linspace(mel(f32(low_hz)), mel(f32(high_hz)), n_mels + 2, dtype=f32)
    lower, center, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    weights = np.maximum(f32(0.0), np.minimum((bins - lower) / (center - lower),
                                              (upper - bins) / (upper - center)))
    return np.pad(weights, ((1, 0), (0, 0))).astype(f32)


def _window(kind: str, length: int) -> np.ndarray:
    """TensorFlow's periodic Hann / Hamming window."""
    a = 0.5 if kind == "hann" else 0.54
    n = np.arange(length, dtype=np.float64)
    return (a - (1.0 - a) * np.cos(2.0 * np.pi * n / length)).astype(np.float32)


class MelSpectrogram(KerasLayer):
    """Keras 3 ``MelSpectrogram`` on ``[B, T]`` (or ``[T]``) audio: centred (reflect-padded)
    frames of ``fft_length`` at ``sequence_stride``, the ``sequence_length`` window padded to
    ``fft_length``, ``|rfft|^mag_exp``, the mel filter bank, optionally decibels clamped to
    ``top_db`` below the maximum of the whole batch (as Keras does); ``[..., mels, frames]``."""

    fft_length: int = 2048
    sequence_stride: int = 512
    sequence_length: int = 2048
    window: str | None = "hann"
    sampling_rate: float = 16000.0
    num_mel_bins: int = 128
    min_freq: float = 20.0
    max_freq: float = 8000.0
    power_to_db: bool = True
    top_db: float = 80.0
    mag_exp: float = 2.0
    min_power: float = 1e-10
    ref_power: float = 1.0

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "MelSpectrogram").astype(jnp.float32)
        half = self.fft_length // 2
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)], mode="reflect")
        n_frames = 1 + (x.shape[-1] - self.fft_length) // self.sequence_stride
        starts = np.arange(n_frames) * self.sequence_stride
        frames = x[..., starts[:, None] + np.arange(self.fft_length)[None, :]]
        if self.window is not None:
            left = (self.fft_length - self.sequence_length) // 2
            win = np.zeros(self.fft_length, np.float32)
            win[left:left + self.sequence_length] = _window(self.window, self.sequence_length)
            frames = frames * win
        spectrum = jnp.fft.rfft(frames, n=self.fft_length, axis=-1)
        spec = jnp.sqrt(jnp.square(spectrum.real) + jnp.square(spectrum.imag)) ** self.mag_exp
        weights = mel_matrix(self.num_mel_bins, spec.shape[-1], self.sampling_rate,
                             self.min_freq, self.max_freq)
        out = jnp.tensordot(spec, weights, axes=1)
        if self.power_to_db:
            log_spec = 10.0 * jnp.log10(jnp.maximum(out, self.min_power))
            log_spec = log_spec - 10.0 * np.log10(max(abs(self.ref_power), self.min_power))
            out = jnp.maximum(log_spec, jnp.max(log_spec) - self.top_db)
        return jnp.swapaxes(out, -1, -2)


@register_layer("MelSpectrogram", batch_coupled=True, samples=[
    Sample({"fft_length": 16, "sequence_stride": 4, "sequence_length": 12,
            "sampling_rate": 800, "num_mel_bins": 6, "top_db": 20.0}, ((2, 40),))], notes=(
    "Keras 3 only: centred reflect-padded frames, periodic Hann/Hamming window of "
    "sequence_length padded to fft_length, |rfft|^mag_exp, TensorFlow's mel filter bank "
    "(DC bin zeroed), optional dB `10 log10(max(x, min_power) / ref_power)` clamped to top_db "
    "below the maximum over the whole batch (so one sample depends on the others, as in "
    "Keras); output [..., num_mel_bins, frames]."))
def mel_spectrogram(spec: LayerSpec) -> nn.Module:
    c = spec.config
    fft = int(c.get("fft_length", 2048))
    rate = float(c.get("sampling_rate", 16000))
    window = c.get("window", "hann")
    if window not in ("hann", "hamming", None):
        raise fail(spec, f"window {window!r} is not one of hann, hamming, None")
    length = int(c.get("sequence_length") or fft)
    if length > fft:
        raise fail(spec, f"sequence_length {length} is larger than fft_length {fft}")
    return MelSpectrogram(
        fft_length=fft, sequence_stride=int(c.get("sequence_stride", 512)),
        sequence_length=length, window=window, sampling_rate=rate,
        num_mel_bins=int(c.get("num_mel_bins", 128)), min_freq=float(c.get("min_freq", 20.0)),
        max_freq=float(c.get("max_freq") or int(rate / 2)),
        power_to_db=bool(c.get("power_to_db", True)), top_db=float(c.get("top_db", 80.0)),
        mag_exp=float(c.get("mag_exp", 2.0)), min_power=float(c.get("min_power", 1e-10)),
        ref_power=float(c.get("ref_power", 1.0)), name=spec.name)


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
