"""Checks that a layer's config fits its input, made from shapes before XLA compiles anything.

A config can ask for windows, axes or per-channel values the input does not have, or
for outputs no machine holds: ``AveragePooling2D(pool_size=1e6)`` pads a 5x4 input to
10^12 cells (XLA then constant-folds for minutes), ``UpSampling2D(size=1e5)`` asks XLA
for 960 GB. Whether a config fits depends on the input, so it cannot be a declared field
type (:mod:`.fields`): layers call these checks on static shapes while they are traced
(and in their shape rules), so such a model is refused at load with a
:class:`~flaxjs.errors.LayerFitError`, which the model re-raises as a
:class:`~flaxjs.errors.LayerConfigError` naming the layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import LayerFitError

#: the most values one example's tensor (or one variable) may hold: 2**28, 1 GiB of float32,
#: far above any layer of the models flaxjs targets (MobileNet, ResNet, BERT-base at 512).
MAX_ELEMENTS = 2 ** 28


def check_count(what: str, shape: Sequence[int], *, per_example: bool = True) -> None:
    """Refuse a tensor (``per_example``: its batch axis aside) or a variable over the limit."""
    count = math.prod(shape[1:] if per_example else shape)
    if count > MAX_ELEMENTS:
        each = " per example" if per_example else ""
        raise LayerFitError(f"{what} of shape {list(shape)} would hold {count:,} values{each}, "
                             f"over flaxjs's limit of {MAX_ELEMENTS:,}; the config's sizes are "
                             "wrong for this input")


def check_windows(what: str, sizes: Sequence[int], window: Sequence[int],
                  dilation: Sequence[int], pads: Sequence[tuple[int, int]]) -> None:
    """Refuse a sliding window (``window`` cells, ``dilation`` apart) that does not fit its
    input axis once padded by ``pads``, or padding that makes the input absurdly large."""
    padded = [n + lo + hi for n, (lo, hi) in zip(sizes, pads, strict=True)]
    spans = [(k - 1) * d + 1 for k, d in zip(window, dilation, strict=True)]
    if any(span > n for span, n in zip(spans, padded, strict=True)):
        raise LayerFitError(f"{what} {list(window)} does not fit the input's spatial size "
                             f"{list(sizes)} (padded: {padded}): the output would be empty")
    if math.prod(padded) > MAX_ELEMENTS:
        raise LayerFitError(f"{what} {list(window)} pads the input's spatial size "
                             f"{list(sizes)} to {padded}, {math.prod(padded):,} cells, over "
                             f"flaxjs's limit of {MAX_ELEMENTS:,}: the window is far larger "
                             "than the input")


def check_axes(what: str, axes: Sequence[int], ndim: int) -> tuple[int, ...]:
    """``axes`` (negative ones counted from the end) of a rank-``ndim`` input, or a refusal
    when the input lacks one or one repeats."""
    out = tuple(a + ndim if a < 0 else a for a in axes)
    if any(not 0 <= a < ndim for a in out):
        raise LayerFitError(f"{what} {list(axes)} is out of range for a rank-{ndim} input")
    if len(set(out)) != len(out):
        raise LayerFitError(f"{what} {list(axes)} repeats an axis")
    return out


def check_broadcast(what: str, shape: Sequence[int], value_shape: Sequence[int]) -> None:
    """Refuse a per-channel value (``scale``, ``mean``...) that does not broadcast against
    the input (NumPy's rules, as TF.js's)."""
    try:
        np.broadcast_shapes(tuple(shape), tuple(value_shape))
    except ValueError:
        raise LayerFitError(f"{what} of shape {list(value_shape)} does not broadcast against "
                            f"the input's shape {list(shape)}") from None


__all__ = ["MAX_ELEMENTS", "check_axes", "check_broadcast", "check_count", "check_windows"]
