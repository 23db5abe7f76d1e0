"""Image resizing, cropping and projective transforms (TF.js ``image``).

TF.js's kernels (``tfjs-backend-cpu`` ``ResizeBilinear``, ``ResizeNearestNeighbor``,
``CropAndResize``, ``Transform``) are followed index for index: ``jax.image.resize``
antialiases and knows neither ``align_corners`` nor TF's half-pixel rules. Where the
sample positions depend only on shapes they are NumPy tables computed in float64, as
TF.js computes them in JavaScript doubles; the pixels are gathered and interpolated
with ``jax.numpy`` (differentiable in the image, and in the boxes or transforms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...layers.preprocessing import bilinear_taps, nearest_taps
from ..graphdef import DType, NodeDef
from .common import GraphOpError, static_ints, string_attr, xp
from .registry import Feed, OpSample, op

_IMG = Feed((2, 5, 7, 3))


def _size(node: NodeDef, size, what: str = "size") -> tuple[int, int]:
    values = static_ints(node, size, what)
    if len(values) != 2:
        raise GraphOpError(node, f"{what} must be [height, width], got {values}")
    return values[0], values[1]


def _resize_flags(node: NodeDef) -> tuple[bool, bool]:
    align = bool(node.attr("align_corners", False))
    half = bool(node.attr("half_pixel_centers", False))
    if align and half:
        raise GraphOpError(node, "align_corners and half_pixel_centers are both set, which "
                                 "TF.js refuses (\"If halfPixelCenters is true, alignCorners "
                                 "must be false\"); re-export with one of them")
    return align, half


def _as_batch(node: NodeDef, images) -> tuple[Any, bool]:
    rank = np.ndim(images)
    if rank not in (3, 4):
        raise GraphOpError(node, f"images must be rank 3 or 4, got rank {rank}")
    return (images[None] if rank == 3 else images), rank == 3


def _resize_samples(op_name: str) -> list[OpSample]:
    samples = []
    for size, attrs, tag in [
            ((8, 11), {}, "up"),
            ((3, 4), {}, "down"),
            ((9, 10), {"align_corners": True}, "align-corners"),
            ((2, 3), {"align_corners": True}, "align-corners-down"),
            ((8, 5), {"half_pixel_centers": True}, "half-pixel"),
            ((3, 4), {"half_pixel_centers": True}, "half-pixel-down"),
            ((1, 1), {"align_corners": True}, "one-pixel")]:
        samples.append(OpSample([_IMG, np.array(size, np.int32)],
                                {"align_corners": False, "half_pixel_centers": False, **attrs},
                                name=tag))
    samples.append(OpSample([Feed((5, 7, 2)), np.array([7, 9], np.int32)],
                            {"half_pixel_centers": True}, name="rank3"))
    if op_name == "ResizeNearestNeighbor":
        samples.append(OpSample([Feed((1, 4, 5, 2), "int32", -50, 50), np.array([7, 3], np.int32)],
                                {"half_pixel_centers": True}, name="int32"))
    else:
        samples.append(OpSample([Feed((1, 4, 5, 2), "int32", -50, 50), np.array([7, 3], np.int32)],
                                {}, name="int32"))
    return samples


@op("ResizeBilinear", samples=_resize_samples("ResizeBilinear"))
def resize_bilinear(node: NodeDef, images, size):
    """Always float32 (TF.js's kernel writes a Float32Array, whatever the input dtype)."""
    align, half = _resize_flags(node)
    new_h, new_w = _size(node, size)
    x, squeeze = _as_batch(node, images)
    lib = xp(x)
    x = lib.asarray(x).astype(np.float32)
    _, old_h, old_w, _ = x.shape
    r0, r1, fr = bilinear_taps(old_h, new_h, align, half)
    c0, c1, fc = bilinear_taps(old_w, new_w, align, half)
    top, bottom = x[:, r0], x[:, r1]
    fc = fc[:, None]
    top = top[:, :, c0] + (top[:, :, c1] - top[:, :, c0]) * fc
    bottom = bottom[:, :, c0] + (bottom[:, :, c1] - bottom[:, :, c0]) * fc
    out = top + (bottom - top) * fr[:, None, None]
    return out[0] if squeeze else out


@op("ResizeNearestNeighbor", samples=_resize_samples("ResizeNearestNeighbor"))
def resize_nearest_neighbor(node: NodeDef, images, size):
    """Keeps the input dtype (TF.js accepts float32 and int32 images)."""
    align, half = _resize_flags(node)
    new_h, new_w = _size(node, size)
    x, squeeze = _as_batch(node, images)
    _, old_h, old_w, _ = np.shape(x)
    rows = nearest_taps(old_h, new_h, align, half)
    cols = nearest_taps(old_w, new_w, align, half)
    out = x[:, rows][:, :, cols]
    return out[0] if squeeze else out


def _crop_coords(lib, lo, hi, size: int, crop: int):
    """``y1 * (H - 1) + y * (y2 - y1) * (H - 1) / (crop - 1)`` per box and output row, or the
    box's centre when ``crop == 1``, in TF.js's order of operations."""
    if crop > 1:
        scale = (hi - lo) * (size - 1) / (crop - 1)
        steps = lib.arange(crop, dtype=lo.dtype)
        return lo[:, None] * (size - 1) + steps[None, :] * scale[:, None]
    return (0.5 * (lo + hi) * (size - 1))[:, None]


_BOXES = np.array([[0.0, 0.0, 1.0, 1.0], [0.2, 0.1, 0.7, 0.9], [-0.3, 0.4, 1.2, 0.6],
                   [0.9, 0.8, 0.1, 0.05], [0.5, 1.1, 0.5, -0.2]], np.float32)
_BOX_IND = np.array([0, 1, 1, 0, 1], np.int32)


@op("CropAndResize", samples=[
    OpSample([_IMG, _BOXES, _BOX_IND, np.array([4, 6], np.int32)],
             {"method": "bilinear", "extrapolation_value": 0.0}, name="bilinear"),
    OpSample([_IMG, _BOXES, _BOX_IND, np.array([3, 5], np.int32)],
             {"method": "nearest", "extrapolation_value": -2.5}, name="nearest"),
    OpSample([_IMG, _BOXES, np.array([0, 2, 1, 5, 1], np.int32), np.array([2, 3], np.int32)],
             {"method": "bilinear", "extrapolation_value": -2.5}, name="index-past-batch"),
    OpSample([_IMG, _BOXES, _BOX_IND, np.array([1, 1], np.int32)],
             {"method": "bilinear", "extrapolation_value": 7.0}, name="one-pixel"),
    OpSample([_IMG, Feed((3, 4), low=-0.2, high=1.2), np.array([1, 0, 2], np.int32),
              np.array([5, 4], np.int32)],
             {"method": "bilinear", "extrapolation_value": 1.5}, name="fed-boxes"),
    OpSample([Feed((1, 6, 6, 1), "int32", 0, 255), _BOXES[:2], np.array([0, 0], np.int32),
              np.array([3, 3], np.int32)], {"method": "bilinear"}, name="int32"),
])
def crop_and_resize(node: NodeDef, image, boxes, box_ind, crop_size):
    """Float32 out. Positions outside the image get ``extrapolation_value``; a box whose
    index is past the batch stays all zeros, as TF.js skips it (TF refuses it)."""
    method = string_attr(node, "method", "bilinear")
    if method not in ("bilinear", "nearest"):
        raise GraphOpError(node, f"method {method!r} is not supported (TF.js computes "
                                 "bilinear or nearest)")
    extrapolation = float(node.attr("extrapolation_value", 0.0))
    crop_h, crop_w = _size(node, crop_size, "crop_size")
    if crop_h < 1 or crop_w < 1:
        raise GraphOpError(node, f"crop_size must be at least [1, 1], got {[crop_h, crop_w]}")
    if np.ndim(image) != 4 or np.shape(boxes)[-1:] != (4,) or np.ndim(boxes) != 2:
        raise GraphOpError(node, f"image must be rank 4 and boxes [n, 4], got shapes "
                                 f"{list(np.shape(image))} and {list(np.shape(boxes))}")
    lib = xp(image, boxes, box_ind)
    batch, height, width, _ = np.shape(image)
    # Positions: float64 when the boxes are static (exactly TF.js's doubles), else float32.
    boxes = lib.asarray(boxes).astype(np.float64 if lib is np else np.float32)
    ys = _crop_coords(lib, boxes[:, 0], boxes[:, 2], height, crop_h)
    xs = _crop_coords(lib, boxes[:, 1], boxes[:, 3], width, crop_w)
    inside = (((ys >= 0) & (ys <= height - 1))[:, :, None]
              & ((xs >= 0) & (xs <= width - 1))[:, None, :])[..., None]
    box_ind = lib.asarray(box_ind).astype(np.int32)
    skipped = (box_ind >= batch)[:, None, None, None]
    b = lib.clip(box_ind, 0, batch - 1)[:, None, None]
    x = lib.asarray(image).astype(np.float32)

    def read(rows, cols):
        rows = lib.clip(rows, 0, height - 1).astype(np.int32)
        cols = lib.clip(cols, 0, width - 1).astype(np.int32)
        return x[b, rows[:, :, None], cols[:, None, :]]

    if method == "bilinear":
        top, left = lib.floor(ys), lib.floor(xs)
        y_lerp = (ys - top).astype(np.float32)[:, :, None, None]
        x_lerp = (xs - left).astype(np.float32)[:, None, :, None]
        bottom, right = lib.ceil(ys), lib.ceil(xs)
        tl, tr = read(top, left), read(top, right)
        bl, br = read(bottom, left), read(bottom, right)
        upper = tl + (tr - tl) * x_lerp
        lower = bl + (br - bl) * x_lerp
        out = upper + (lower - upper) * y_lerp
    else:
        out = read(lib.floor(ys + 0.5), lib.floor(xs + 0.5))  # JS Math.round
    out = lib.where(inside, out, np.float32(extrapolation))
    return lib.where(skipped, np.float32(0), out).astype(np.float32)


def _map_coord(lib, coord, size: int, mode: str):
    """TF.js's ``mapCoord``: where a source position outside the image reads from."""
    if mode == "nearest":
        return lib.clip(coord, 0, size - 1)
    if mode not in ("reflect", "wrap"):  # constant, and TF.js's default for unknown modes
        return coord
    if size <= 1:
        return lib.where((coord < 0) | (coord > size - 1), 0.0, coord).astype(coord.dtype)
    if mode == "reflect":
        sz2 = 2.0 * size
        neg = sz2 * lib.trunc(-coord / sz2) + coord
        neg = lib.where(neg < -size, neg + sz2, -neg - 1)
        pos = coord - sz2 * lib.trunc(coord / sz2)
        pos = lib.where(pos >= size, sz2 - pos - 1, pos)
    else:
        sz = size - 1.0
        neg = coord + size * (lib.trunc(-coord / sz) + 1)
        pos = coord - size * lib.trunc(coord / sz)
    coord = lib.where(coord < 0, neg, lib.where(coord > size - 1, pos, coord))
    return lib.clip(coord, 0, size - 1)


# Dyadic coefficients: TF.js maps positions in float64 and flaxjs in float32, which agree
# exactly here (on generic coefficients only positions within float32 rounding of a pixel
# boundary could round differently).
_ROTATE = np.array([[0.75, -0.5, 2.0, 0.5, 0.875, -1.0, 0.0, 0.0]], np.float32)
_PROJECTIVE = np.array([[1.125, 0.25, -1.5, -0.125, 0.875, 0.5, 0.046875, -0.03125]],
                       np.float32)
_INFINITE = np.array([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, -0.25, 0.0]], np.float32)
_SHIFT = np.array([[1.0, 0.0, -3.5, 0.0, 1.0, 2.25, 0.0, 0.0]], np.float32)
_ONE = Feed((1, 5, 7, 3))


def _transform_sample(transforms, interpolation: str, fill_mode: str, tag: str,
                      shape=(5, 7), fill: float = -1.0) -> OpSample:
    return OpSample([_ONE, transforms, np.array(shape, np.int32), np.array(fill, np.float32)],
                    {"interpolation": interpolation, "fill_mode": fill_mode,
                     "dtype": DType.of("float32")}, name=tag)


@op("ImageProjectiveTransformV3", samples=[
    _transform_sample(_ROTATE, "BILINEAR", "CONSTANT", "bilinear-constant"),
    _transform_sample(_ROTATE, "NEAREST", "CONSTANT", "nearest-constant"),
    _transform_sample(_PROJECTIVE, "BILINEAR", "REFLECT", "bilinear-reflect", (6, 9)),
    _transform_sample(_SHIFT, "NEAREST", "REFLECT", "nearest-reflect"),
    _transform_sample(_SHIFT, "BILINEAR", "WRAP", "bilinear-wrap"),
    _transform_sample(_PROJECTIVE, "NEAREST", "WRAP", "nearest-wrap", (4, 8)),
    _transform_sample(_ROTATE, "BILINEAR", "NEAREST", "bilinear-nearest"),
    _transform_sample(_SHIFT, "NEAREST", "NEAREST", "nearest-nearest", fill=3.0),
    _transform_sample(_INFINITE, "BILINEAR", "CONSTANT", "projection-zero", fill=2.0),
])
def image_projective_transform(node: NodeDef, images, transforms, output_shape, fill_value):
    """Each output pixel ``(x, y)`` reads the input at ``((a0 x + a1 y + a2) / k,
    (b0 x + b1 y + b2) / k)``, ``k = c0 x + c1 y + 1`` (fill value where ``k == 0``).

    TF.js 4.22's CPU kernel returns after the first image of a batch (the others are left
    at the fill value); flaxjs transforms every image, as TF and TF.js's WebGL backend do.
    """
    interpolation = string_attr(node, "interpolation", "")
    if interpolation not in ("nearest", "bilinear"):
        raise GraphOpError(node, f"interpolation {interpolation.upper() or '(none)'} is not "
                                 "supported (TF.js computes NEAREST or BILINEAR)")
    mode = string_attr(node, "fill_mode", "constant")
    if np.ndim(images) != 4:
        raise GraphOpError(node, f"images must be rank 4, got rank {np.ndim(images)}")
    batch, height, width, _ = np.shape(images)
    if np.ndim(transforms) != 2 or np.shape(transforms)[1] != 8 \
            or np.shape(transforms)[0] not in (1, batch):
        raise GraphOpError(node, f"transforms must be [{batch} or 1, 8], got "
                                 f"{list(np.shape(transforms))}")
    out_h, out_w = _size(node, output_shape, "output_shape")
    lib = xp(images, transforms, fill_value)
    x = lib.asarray(images).astype(np.float32)
    fill = lib.reshape(lib.asarray(fill_value).astype(np.float32), (-1,))[0]
    t = lib.broadcast_to(lib.asarray(transforms).astype(np.float32), (batch, 8))
    t = [t[:, i, None, None] for i in range(8)]
    oy = np.arange(out_h, dtype=np.float32)[None, :, None]
    ox = np.arange(out_w, dtype=np.float32)[None, None, :]
    projection = t[6] * ox + t[7] * oy + 1
    infinite = projection == 0
    projection = lib.where(infinite, 1.0, projection)
    in_x = _map_coord(lib, (t[0] * ox + t[1] * oy + t[2]) / projection, width, mode)
    in_y = _map_coord(lib, (t[3] * ox + t[4] * oy + t[5]) / projection, height, mode)
    b = np.arange(batch)[:, None, None]

    def read(rows, cols):
        inside = ((rows >= 0) & (rows < height) & (cols >= 0) & (cols < width))[..., None]
        rows = lib.clip(rows, 0, height - 1).astype(np.int32)
        cols = lib.clip(cols, 0, width - 1).astype(np.int32)
        return lib.where(inside, x[b, rows, cols], fill)

    if interpolation == "nearest":
        out = read(lib.floor(in_y + 0.5), lib.floor(in_x + 0.5))  # JS Math.round
    else:
        y0, x0 = lib.floor(in_y), lib.floor(in_x)
        y1, x1 = y0 + 1, x0 + 1
        wx0, wx1 = (x1 - in_x)[..., None], (in_x - x0)[..., None]
        upper = wx0 * read(y0, x0) + wx1 * read(y0, x1)
        lower = wx0 * read(y1, x0) + wx1 * read(y1, x1)
        out = (y1 - in_y)[..., None] * upper + (in_y - y0)[..., None] * lower
    return lib.where(infinite[..., None], fill, out).astype(np.float32)
