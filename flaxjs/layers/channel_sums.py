"""Per-channel sums over every other axis, written so that XLA:CPU runs them fast.

Training needs many ``[N, H, W, C] -> [C]`` sums (batch statistics, their
gradients, depthwise kernel gradients). XLA:CPU materializes the summand of such
a reduction and runs it as a tree of reduce-windows: about 30 ms for one
32×112×112×16 product, 5–10× the cost of reading it. Here the leading rows are
first summed in ``FOLD_TERMS`` contiguous chunks by an unrolled chain of
``slice · slice`` adds, which XLA fuses into one loop that materializes nothing
but the 1/``FOLD_TERMS`` partial sum; only that partial goes through a reduction
(over rows of ``W·C`` contiguous values, then over ``W``). Same sums, another summation order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
from jax import lax

Array = jax.Array

#: contiguous row chunks summed by the unrolled chain (the largest divisor of the
#: row count up to this many).
FOLD_TERMS = 16


def terms(rows: int) -> int:
    """Chunks to fold ``rows`` into: the largest divisor up to :data:`FOLD_TERMS`."""
    return max(f for f in range(1, min(rows, FOLD_TERMS) + 1) if rows % f == 0)


def _fold(fn: Callable[..., Any], views: list[Array], axis: int) -> Any:
    """``Σ_f fn(*(chunk f of each view along axis))``, an unrolled chain of adds (``fn``
    may return a pytree)."""
    count = terms(views[0].shape[axis])
    chunk = views[0].shape[axis] // count
    total = None
    for f in range(count):
        term = fn(*(lax.slice_in_dim(v, f * chunk, (f + 1) * chunk, axis=axis) for v in views))
        total = term if total is None else jax.tree.map(lax.add, total, term)
    assert total is not None
    return total


def batch_foldable(x: Array) -> bool:
    """Whether the batch axis has enough chunks to fold over (see :func:`fold_batch`)."""
    return x.ndim > 2 and terms(x.shape[0]) >= FOLD_TERMS // 2


def fold_batch(fn: Callable[..., Any], *arrays: Array) -> Any:
    """``Σ_f fn(*(batch chunk f of each array))`` (arrays of any shapes sharing the batch
    axis; ``fn`` may return a pytree of partials for :func:`finish`)."""
    return _fold(fn, list(arrays), 0)


def fold_rows(fn: Callable[..., Array], *arrays: Array) -> Array:
    """``Σ_f fn(*(row chunk f of each array))``: the arrays share a channels-last shape,
    ``fn`` is elementwise and may broadcast ``[C]`` vectors. Chunks of the batch axis
    when it has enough of them (slices of slices, which XLA fuses; a reshape of a strided
    slice it would materialize), else of the rows of a ``[R, W, C]`` view."""
    if arrays[0].ndim <= 2 or batch_foldable(arrays[0]):
        return _fold(fn, list(arrays), 0)
    rows = [x.reshape(math.prod(x.shape[:-2]), *x.shape[-2:]) for x in arrays]
    return _fold(fn, rows, 0)


def finish(partial: Array, lead: int = 0) -> Array:
    """``[*lead, ..., C] -> [*lead, C]``: the sum of a :func:`fold_rows` partial. Behind a
    barrier (fused into the reduction, the fold would become a slow reduce loop); its
    rows are folded once more, then summed with ``W·C`` as one contiguous row, then
    over ``W``. ``lead`` axes are kept (a stack of partials)."""
    partial = lax.optimization_barrier(partial)
    if partial.ndim - lead > 2:
        rows = math.prod(partial.shape[lead:-2])
        partial = partial.reshape(*partial.shape[:lead], rows, *partial.shape[-2:])
        if rows > FOLD_TERMS:
            partial = lax.optimization_barrier(_fold(lambda a: a, [partial], lead))
    out = lax.reduce(partial, partial.dtype.type(0), lax.add, (lead,))
    middle = tuple(range(lead, out.ndim - 1))
    return lax.reduce(out, out.dtype.type(0), lax.add, middle) if middle else out


def channel_sum(fn: Callable[..., Array], *arrays: Array) -> Array:
    """``Σ`` over every axis but the last of the elementwise ``fn(*arrays)``, as ``[C]``."""
    return finish(fold_rows(fn, *arrays))


__all__ = ["FOLD_TERMS", "batch_foldable", "channel_sum", "finish", "fold_batch", "fold_rows",
           "terms"]
