"""Raw data → model input (``model.preprocess``) and model output → labels (``model.decode``).

Nothing here is zoo-specific: any :class:`~flaxjs.Model` uses it. Specs are the
``preprocessing`` dicts of zoo cards (``zoo/README.md``) or of a model's
``userDefinedMetadata``, or are
inferred from a model's ``metadata.json`` (Teachable Machine image models,
speech-commands, the tfjs-examples sentiment vocabulary). Resizing reproduces
TF.js ``tf.image.resizeBilinear`` (``alignCorners``, ``halfPixelCenters``)
in numpy, so no image library is needed for arrays; PIL images are accepted
when Pillow is installed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import PreprocessingError

#: TF.js converts RGB to grayscale with these weights (Teachable Machine cropTensor).
LUMA = np.array([0.2989, 0.5870, 0.1140], np.float32)
#: speech-commands ``normalize``: ``tf.backend().epsilon()`` of a float32 backend.
TFJS_EPSILON = 1e-7


# ---------------------------------------------------------------- metadata
def labels_from_metadata(metadata: Mapping[str, Any] | None) -> list[str] | None:
    """``labels`` (Teachable Machine), ``wordLabels`` / ``words`` (speech-commands)."""
    if not metadata:
        return None
    for key in ("labels", "wordLabels", "words"):
        value = metadata.get(key)
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            return [str(v) for v in value]
    return None


def spec_from_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The preprocessing a known ``metadata.json`` implies, else ``None``."""
    if not metadata:
        return None
    package = str(metadata.get("packageName", ""))
    if "teachablemachine/image" in package or ("tmVersion" in metadata and "labels" in metadata
                                                and "imageSize" in metadata):
        size = int(metadata.get("imageSize") or 224)
        return {"kind": "image", "size": [size, size], "channels": 3, "crop": "center",
                "resize": "bilinear", "align_corners": False, "half_pixel_centers": True,
                "ops": [["div", 127], ["sub", 1]]}
    if "word_index" in metadata and "max_len" in metadata:
        return {"kind": "text"}
    if "wordLabels" in metadata or ("words" in metadata and "frameSize" in metadata):
        return {"kind": "znorm", "epsilon": TFJS_EPSILON}
    return None


# ---------------------------------------------------------------- resizing
def _source_coords(new: int, old: int, align_corners: bool, half_pixel: bool):
    ratio = (old - 1) / (new - 1) if align_corners and new > 1 else old / new
    index = np.arange(new, dtype=np.float64)
    frac = ratio * (index + 0.5) - 0.5 if half_pixel else ratio * index
    low = np.maximum(0, np.floor(frac)).astype(np.int64)
    high = np.minimum(old - 1, np.ceil(frac)).astype(np.int64)
    return low, high, frac - low


def resize_bilinear(images: np.ndarray, size: Sequence[int], *, align_corners: bool = False,
                    half_pixel_centers: bool = False) -> np.ndarray:
    """``tf.image.resizeBilinear`` of TF.js (CPU backend) for ``[N, H, W, C]`` arrays.

    The weights may be negative at the border with ``half_pixel_centers`` — TF.js
    does not clamp them, and neither does this.
    """
    images = np.asarray(images, np.float32)
    height, width = int(size[0]), int(size[1])
    if images.shape[1:3] == (height, width):
        return images
    r0, r1, rf = _source_coords(height, images.shape[1], align_corners, half_pixel_centers)
    c0, c1, cf = _source_coords(width, images.shape[2], align_corners, half_pixel_centers)
    x = images.astype(np.float64)
    cf = cf[None, None, :, None]
    top = x[:, r0][:, :, c0] + (x[:, r0][:, :, c1] - x[:, r0][:, :, c0]) * cf
    bottom = x[:, r1][:, :, c0] + (x[:, r1][:, :, c1] - x[:, r1][:, :, c0]) * cf
    return (top + (bottom - top) * rf[None, :, None, None]).astype(np.float32)


# ---------------------------------------------------------------- images
def _is_pil(obj: Any) -> bool:
    return hasattr(obj, "convert") and hasattr(obj, "mode") and hasattr(obj, "size")


def _image_list(images: Any, channels: int) -> list[np.ndarray]:
    """One HWC float32 array per image, with ``channels`` channels."""
    if _is_pil(images):
        items = [images]
    elif isinstance(images, np.ndarray) or (hasattr(images, "__array__") and not isinstance(
            images, (list, tuple))):
        array = np.asarray(images)
        if array.ndim == 4:
            items = list(array)
        elif array.ndim == 3 and array.shape[-1] not in (1, 3, 4):
            items = list(array)  # a batch of grayscale HW images
        elif array.ndim in (2, 3):
            items = [array]
        else:
            raise PreprocessingError(f"images must be HWC, HW or NHWC arrays, got shape "
                                     f"{array.shape}")
    elif isinstance(images, (list, tuple)):
        items = list(images)
    else:
        raise PreprocessingError(f"cannot preprocess a {type(images).__name__}; pass uint8 HWC "
                                 "arrays or PIL images")
    out = []
    for item in items:
        if _is_pil(item):
            item = item.convert("RGB" if channels == 3 else "L")
        array = np.asarray(item)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise PreprocessingError(f"an image must be HWC or HW, got shape {array.shape}")
        out.append(_channels(array.astype(np.float32), channels))
    return out


def _channels(image: np.ndarray, channels: int) -> np.ndarray:
    have = image.shape[-1]
    if have == 4:
        image, have = image[..., :3], 3
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return np.repeat(image, 3, axis=-1)
    if have == 3 and channels == 1:
        return (image * LUMA).sum(-1, keepdims=True, dtype=np.float32)
    raise PreprocessingError(f"cannot turn a {have}-channel image into {channels} channel(s)")


def _center_crop(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def _ops(x: np.ndarray, ops: Sequence[Sequence[Any]]) -> np.ndarray:
    for op, value in ops:
        v = np.asarray(value, np.float32)
        if op == "sub":
            x = x - v
        elif op == "div":
            x = x / v
        elif op == "mul":
            x = x * v
        elif op == "add":
            x = x + v
        else:
            raise PreprocessingError(f"unknown preprocessing op {op!r} (use sub, div, mul, add)")
    return x.astype(np.float32)


def preprocess_images(images: Any, spec: Mapping[str, Any]) -> np.ndarray:
    """Images (uint8 HWC/NHWC arrays, PIL images, or a list) → ``[N, H, W, C]`` float32."""
    channels = int(spec.get("channels", 3))
    size = spec.get("size")
    ops = spec.get("ops") or ()
    ops_first = spec.get("order") == "ops-then-resize"
    batch = []
    for image in _image_list(images, channels):
        if spec.get("crop") == "center":
            image = _center_crop(image)
        if ops_first:
            image = _ops(image, ops)
        if size is not None:
            image = resize_bilinear(image[None], size,
                                    align_corners=bool(spec.get("align_corners", False)),
                                    half_pixel_centers=bool(spec.get("half_pixel_centers",
                                                                     False)))[0]
        if not ops_first:
            image = _ops(image, ops)
        batch.append(image)
    return np.stack(batch).astype(np.float32)


# ---------------------------------------------------------------- other kinds
def _batched(x: Any, rank: int | None, dtype) -> np.ndarray:
    array = np.asarray(x, dtype=dtype)
    if rank is not None and array.ndim == rank - 1:
        array = array[None]
    return array


def preprocess_text(texts: str | Sequence[str], metadata: Mapping[str, Any], dtype=np.int32
                    ) -> np.ndarray:
    """tfjs-examples sentiment: words → ids from metadata.json, padded at the front."""
    try:
        word_index = metadata["word_index"]
        max_len = int(metadata["max_len"])
    except (KeyError, TypeError):
        raise PreprocessingError("text preprocessing needs metadata.json with word_index and "
                                 "max_len") from None
    index_from = int(metadata.get("index_from", 0))
    vocab = metadata.get("vocabulary_size")
    oov = 2
    if isinstance(texts, str):
        texts = [texts]
    out = np.zeros((len(texts), max_len), dtype)
    for row, text in enumerate(texts):
        words = re.sub(r"[.,!]", "", text.strip().lower()).split(" ")
        ids = []
        for word in words:
            if word not in word_index:
                ids.append(oov)
                continue
            index = int(word_index[word]) + index_from
            ids.append(oov if vocab is not None and index > int(vocab) else index)
        ids = ids[-max_len:]
        out[row, max_len - len(ids):] = ids
    return out


def preprocess(data: Any, spec: Mapping[str, Any] | None, *,
               metadata: Mapping[str, Any] | None = None,
               input_shape: Sequence[int | None] | None = None, dtype: str = "float32"
               ) -> np.ndarray:
    """Turn raw data into the model's input following ``spec``.

    Args:
      data: images (``kind: image``), texts (``text``) or arrays (``none``, ``znorm``);
        one example or a batch.
      spec: the card's ``preprocessing`` (``None``: inferred from ``metadata``).
      metadata: the model's metadata.json (labels, vocabulary).
      input_shape: the model input's shape (with the batch dimension) to add a
        missing batch axis.
      dtype: the model input's dtype; images become int32 (truncated, as TF.js's
        ``cast``) for an integer input or a spec with ``dtype: "int32"``.
    """
    spec = dict(spec or spec_from_metadata(metadata) or {})
    kind = spec.get("kind")
    rank = len(input_shape) if input_shape is not None else None
    if kind == "image":
        if "size" not in spec and input_shape is not None and rank == 4:
            spec["size"] = [input_shape[1], input_shape[2]]
            spec.setdefault("channels", input_shape[3])
        images = preprocess_images(data, spec)
        if "int" in str(spec.get("dtype", dtype)):  # e.g. MoveNet: tf.cast(x, "int32")
            return np.trunc(images).astype(np.int32)
        return images
    if kind == "text":
        return preprocess_text(data, metadata or {},
                               dtype=np.int32 if "int" in dtype else np.float32)
    if kind == "znorm":
        x = _batched(data, rank, np.float32)
        axes = tuple(range(1, x.ndim))
        mean = x.mean(axis=axes, keepdims=True, dtype=np.float64)
        std = np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True))
        eps = float(spec.get("epsilon", TFJS_EPSILON))
        return ((x - mean) / (std + eps)).astype(np.float32)
    if kind == "none":
        return _batched(data, rank, dtype if dtype != "string" else None)
    raise PreprocessingError(
        "no preprocessing is known for this model: it has no zoo card and no recognised "
        "metadata.json. Pass arrays shaped like the model input, or give it one: "
        "model = model.with_info(preprocessing={'kind': 'image', 'size': [H, W], 'ops': [...]}).")


# ---------------------------------------------------------------- decoding
def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def decode(outputs: Any, labels: Sequence[str] | None, *, output: str | None = None,
           label_offset: int = 0, top: int = 5
           ) -> list[tuple[str, float]] | list[list[tuple[str, float]]]:
    """The ``top`` (label, score) pairs, best first.

    Args:
      outputs: the model output, ``[K]`` or ``[N, K]``.
      labels: class names (``None``: the class indices as strings).
      output: ``probabilities`` / ``scores`` (ranked as they are), ``logits``
        (softmax first), ``sigmoid`` (one unit = P(labels[1])); ``features`` and
        ``regression`` outputs have no labels to decode.
      label_offset: output index of ``labels[0]``; the columns before it (a
        background class) are left out.
      top: how many pairs per example.

    Returns:
      a list of pairs for one example of shape ``[K]``; for a batch ``[N, K]``, one such
      list per example, for a batch of one too (the nesting follows the batch axis).
    """
    if output in ("features", "regression"):
        raise PreprocessingError(f"this model's output is {output}; there are no labels to decode")
    if isinstance(outputs, (list, tuple)):
        raise PreprocessingError(f"the model has {len(outputs)} outputs; decode one of them")
    scores = np.asarray(outputs, np.float64)
    single = scores.ndim == 1
    if single:
        scores = scores[None]
    if scores.ndim != 2:
        raise PreprocessingError(f"decode needs [K] or [N, K] scores, got shape {scores.shape}")
    if output == "logits":
        scores = _softmax(scores)
    elif output == "sigmoid" and scores.shape[1] == 1:
        scores = np.concatenate([1 - scores, scores], axis=1)
        labels = labels or ["0", "1"]
    scores = scores[:, label_offset:]
    count = scores.shape[1]
    names = list(labels) if labels is not None else [str(i) for i in range(count)]
    if len(names) != count:
        raise PreprocessingError(f"the output has {count} classes (after label_offset "
                                 f"{label_offset}) but there are {len(names)} labels")
    rows = []
    for row in scores:
        order = np.argsort(-row, kind="stable")[:max(0, top)]
        rows.append([(names[i], float(row[i])) for i in order])
    return rows[0] if single else rows
