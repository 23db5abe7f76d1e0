"""Fourier transforms over the last axis (TF.js ``spectral``).

TF.js ignores the ``fft_length`` input of ``RFFT`` and ``IRFFT`` (its op list marks it
unsupported): the transform length is always the input's last axis (``RFFT``) or
``2 * (n - 1)`` for ``n`` input bins (``IRFFT``), and flaxjs does the same.
"""

from __future__ import annotations

import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, result, xp
from .registry import Feed, OpSample, op


def _complex(node: NodeDef, x):
    if np.dtype(x.dtype) != np.complex64:
        raise GraphOpError(node, f"expects a complex64 tensor, got {x.dtype}")
    return x


@op("FFT", samples=[OpSample([Feed((2, 3, 8), "complex64")]),
                    OpSample([Feed((5,), "complex64")], name="odd")])
def fft(node: NodeDef, x):
    lib = xp(x)
    return result(lib.fft.fft(_complex(node, x), axis=-1).astype(np.complex64))


@op("IFFT", samples=[OpSample([Feed((2, 3, 8), "complex64")]),
                     OpSample([Feed((5,), "complex64")], name="odd")])
def ifft(node: NodeDef, x):
    lib = xp(x)
    return result(lib.fft.ifft(_complex(node, x), axis=-1).astype(np.complex64))


@op("RFFT", samples=[
    OpSample([Feed((2, 3, 8)), np.array([8], np.int32)]),
    OpSample([Feed((7,)), np.array([7], np.int32)], name="odd"),
])
def rfft(node: NodeDef, x, fft_length=None):
    """The ``n // 2 + 1`` non-negative frequency bins of a float32 signal (complex64)."""
    if np.dtype(x.dtype) != np.float32:
        raise GraphOpError(node, f"expects a float32 tensor, got {x.dtype}")
    return result(xp(x).fft.rfft(x, axis=-1).astype(np.complex64))


@op("IRFFT", samples=[
    OpSample([Feed((2, 3, 5), "complex64"), np.array([8], np.int32)], name="rank3"),
    OpSample([Feed((4, 5), "complex64"), np.array([8], np.int32)]),
    OpSample([Feed((6,), "complex64"), np.array([10], np.int32)], name="rank1"),
    OpSample([Feed((2, 2, 2, 5), "complex64"), np.array([8], np.int32)], name="rank4"),
    OpSample([Feed((3, 2), "complex64"), np.array([2], np.int32)], name="two-bins"),
])
def irfft(node: NodeDef, x, fft_length=None):
    """The real signal of ``n`` bins, with TF.js's shapes: the inverse of the Hermitian
    extension (length ``2 * (n - 1)``; the plain inverse of the bins when ``n <= 2``), real
    part; the result is ``[rows, length]``, and reshaped back only for rank-3 input (rank-1
    input gives ``[1, length]``)."""
    lib = xp(x)
    x = _complex(node, lib.asarray(x))
    shape = np.shape(x)
    if not shape:
        raise GraphOpError(node, "expects a tensor of rank 1 or more, got a scalar")
    n = shape[-1]
    rows = x.reshape(-1, n)
    if n <= 2:
        out = lib.fft.ifft(rows, axis=-1)
    else:
        mirrored = lib.conj(lib.flip(rows[:, 1:n - 1], axis=1))
        out = lib.fft.ifft(lib.concatenate([rows, mirrored], axis=1), axis=-1)
    out = lib.real(out).astype(np.float32)
    if len(shape) == 3 and shape[0] != 0:
        out = out.reshape(shape[0], -1, out.shape[-1])
    return result(out)
