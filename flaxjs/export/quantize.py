"""Weight quantization exactly as the TF.js converter writes it.

Mirrors ``tfjs-converter/python/tensorflowjs/quantization.py``
(``quantize_weights`` and ``_get_affine_quantization_range``): affine uint8/uint16
over the weight's ``[min, max]``, with ``min`` nudged so that 0.0 is exactly
representable when the range covers it, and ``scale = 1`` (all codes 0) for a
constant weight; float16 is IEEE half precision (round to nearest even). The
affine arithmetic runs in float64, as the converter does under NumPy 2.
TF.js decodes ``q * scale + min`` in float64 and stores the float32 result
(:func:`dequantize` returns exactly that).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import ExportError

DTYPES = ("uint8", "uint16", "float16")
_AFFINE = {"uint8": np.uint8, "uint16": np.uint16}


def quantize(data: np.ndarray, dtype: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Quantize one float32 weight.

    Args:
      data: the float32 values.
      dtype: ``"uint8"``, ``"uint16"`` or ``"float16"``.

    Returns:
      the stored codes and the manifest's ``quantization`` entry
      (``{"dtype", "min", "scale", "original_dtype"}``; float16 has no min/scale).

    Example:
      >>> q, meta = quantize(np.array([-1.0, 0.0, 2.0], np.float32), "uint8")
      >>> q.tolist(), meta["min"], meta["scale"]
      ([0, 85, 255], -1.0, 0.011764705882352941)
    """
    if dtype not in DTYPES:
        raise ExportError(f"unknown quantization {dtype!r}; use one of {', '.join(DTYPES)}")
    data = np.asarray(data, np.float32)
    if dtype == "float16":
        return data.astype(np.float16), {"dtype": "float16", "original_dtype": "float32"}
    if data.size and not np.isfinite(data).all():
        raise ExportError("cannot affine-quantize a weight holding NaN or infinity")
    target = _AFFINE[dtype]
    if data.size == 0:
        return np.zeros(data.shape, target), {"dtype": dtype, "min": 0.0, "scale": 1.0,
                                              "original_dtype": "float32"}
    low = np.float64(data.min())
    high = np.float64(data.max())
    if low == high:
        codes = np.zeros(data.shape, target)
        scale = 1.0
    else:
        scale, low, high = _affine_range(low, high, int(np.iinfo(target).max))
        codes = np.round((data.astype(np.float64).clip(low, high) - low) / scale).astype(target)
    return codes, {"dtype": dtype, "min": float(low), "scale": float(scale),
                   "original_dtype": "float32"}


def _affine_range(low: np.float64, high: np.float64, quant_max: int
                  ) -> tuple[np.float64, np.float64, np.float64]:
    """``scale`` and the range nudged so that 0.0 maps to an integer code."""
    scale = (high - low) / quant_max
    if low <= 0 <= high:
        zero_point = np.round((0 - low) / scale)
        low = -zero_point * scale
        high = quant_max * scale + low
    return scale, low, high


def dequantize(codes: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """The float32 values TF.js decodes from ``codes`` (``tfjs-core`` ``decodeWeight``)."""
    if meta["dtype"] == "float16":
        return np.asarray(codes, np.float16).astype(np.float32)
    return (np.asarray(codes).astype(np.float64) * meta["scale"] + meta["min"]).astype(np.float32)


def selected(names: Sequence[str], patterns: str | Iterable[str] | None) -> set[str]:
    """The weight names matching shell-style ``patterns`` (all of them for ``None``), like the
    converter's ``--quantize_uint8 'conv*/kernel,dense/*'``."""
    if patterns is None:
        return set(names)
    pats = [patterns] if isinstance(patterns, str) else list(patterns)
    return {n for n in names if any(fnmatch.fnmatchcase(n, p) for p in pats)}
