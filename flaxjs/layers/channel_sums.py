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

import jax
from jax import lax

Array = jax.Array

#: contiguous row chunks summed by the unrolled chain (the largest divisor of the
#: row count up to this many).
FOLD_TERMS = 16


def _rows(x: Array) -> Array:
    """``[R, W, C]`` view (``[R, C]`` for rank 2): every axis before the last two as rows."""
    return x.reshape(math.prod(x.shape[:-2]), *x.shape[-2:]) if x.ndim > 2 else x


def fold_rows(fn: Callable[..., Array], *arrays: Array) -> Array:
    """``Σ_f fn(*(row chunk f of each array))`` as ``[R/terms, W, C]``: the arrays share a
    channels-last shape, rows as :func:`_rows` says; ``fn`` is elementwise and may
    broadcast ``[C]`` vectors."""
    views = [_rows(a) for a in arrays]
    rows = views[0].shape[0]
    terms = max(f for f in range(1, min(rows, FOLD_TERMS) + 1) if rows % f == 0)
    chunk = rows // terms
    total = None
    for f in range(terms):
        term = fn(*(lax.slice_in_dim(v, f * chunk, (f + 1) * chunk, axis=0) for v in views))
        total = term if total is None else lax.add(total, term)
    assert total is not None
    return total


def finish(partial: Array, lead: int = 0) -> Array:
    """``[*lead, R', (W,) C] -> [*lead, C]``: sum a :func:`fold_rows` partial over its rows
    (``W·C`` stays a wide contiguous row), then over ``W``; ``lead`` axes are kept (a
    stack of partials)."""
    rows = lax.reduce(partial, partial.dtype.type(0), lax.add, (lead,))
    middle = tuple(range(lead, rows.ndim - 1))
    return lax.reduce(rows, rows.dtype.type(0), lax.add, middle) if middle else rows


def channel_sum(fn: Callable[..., Array], *arrays: Array) -> Array:
    """``Σ`` over every axis but the last of the elementwise ``fn(*arrays)``, as ``[C]``."""
    return finish(fold_rows(fn, *arrays))


__all__ = ["FOLD_TERMS", "channel_sum", "finish", "fold_rows"]
