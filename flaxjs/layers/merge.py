"""Merge layers (``tfjs-layers/src/layers/merge.ts``).

Elementwise merges expand lower-rank inputs at axis 1 until the ranks agree,
then broadcast numpy-style. Their output mask reproduces TF.js's
``Merge.computeMask``: each mask gets a leading size-1 axis and the result is
the AND of all masks but the last (a TF.js bug, kept for parity: a mask consumer
downstream sees exactly what it sees in TF.js).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..topology.spec import LayerSpec
from .base import KerasLayer, as_list, fail
from .fields import BOOL, Int, Ints
from .registry import register_layer
from .sizes import check_axes
from .traits import Export, ExportContext, Sample, refuse

Array = jax.Array

#: backend epsilon used by TF.js's ``l2Normalize`` (Keras uses 1e-12).
EPSILON = 1e-7


def _expand_ranks(xs: list[Array]) -> list[Array]:
    """Insert size-1 axes at axis 1 into lower-rank inputs (TF.js ``Merge.call``)."""
    rank = max(x.ndim for x in xs)
    out = []
    for x in xs:
        for _ in range(rank - x.ndim):
            x = jnp.expand_dims(x, 1)
        out.append(x)
    return out


def _tfjs_merge_mask(masks) -> Array | None:
    """TF.js ``Merge.computeMask``: leading axis added, the last mask ignored."""
    if not masks or all(m is None for m in masks):
        return None
    expanded = [None if m is None else jnp.expand_dims(m, 0) for m in masks]
    out = expanded[0]
    for m in expanded[1:-1]:
        if m is None:
            continue  # TF.js throws here (logicalAnd with null); treat as all-true
        out = m if out is None else jnp.logical_and(out, m)
    return out


class Elementwise(KerasLayer):
    """``Add``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``, ``Subtract``."""

    op: str
    tfjs_mask: bool = True

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        xs = as_list(inputs)
        if len(xs) < 2:
            raise ValueError(f"a merge layer needs at least 2 inputs, got {len(xs)}")
        if self.op == "subtract" and len(xs) != 2:
            raise ValueError(f"Subtract needs exactly 2 inputs, got {len(xs)}")
        xs = _expand_ranks(xs)
        if self.op == "add" and all(x.shape == xs[0].shape and x.dtype == xs[0].dtype
                                    for x in xs):
            return functools.reduce(lax.add, xs)  # the common case, cheapest to trace
        if self.op == "average":
            return functools.reduce(jnp.add, xs) * (1.0 / len(xs))
        return functools.reduce(_OPS[self.op], xs)

    def shape_rule(self, shapes):
        if len(shapes) < 2 or (self.op == "subtract" and len(shapes) != 2):
            return None
        rank = max(len(s) for s in shapes)
        expanded = [(s[0], *(1,) * (rank - len(s)), *s[1:]) if s else s for s in shapes]
        try:  # _expand_ranks inserts the missing axes at 1
            return [tuple(np.broadcast_shapes(*expanded))], []
        except ValueError:
            return None

    def compute_mask(self, inputs, masks):
        if self.tfjs_mask:
            return _tfjs_merge_mask(masks)
        present = [m for m in masks if m is not None]
        return functools.reduce(jnp.logical_and, present) if present else None


_OPS: dict[str, Callable[[Array, Array], Array]] = {
    "add": jnp.add, "multiply": jnp.multiply, "maximum": jnp.maximum,
    "minimum": jnp.minimum, "subtract": jnp.subtract,
}

_MASK_NOTE = ("output mask as TF.js computes it (extra leading axis, last input's mask "
              "ignored)")


@register_layer("Add", tfjs=True,
                samples=[Sample({}, ((2, 3, 4), (2, 3, 4))), Sample({}, ((2, 3, 4), (2, 4)))],
                notes="lower-rank inputs expanded at axis 1; " + _MASK_NOTE)
def add(spec: LayerSpec) -> nn.Module:
    return Elementwise(op="add", name=spec.name)


@register_layer("Multiply", tfjs=True, samples=[Sample({}, ((2, 3, 4), (2, 3, 4)))],
                notes="lower-rank inputs expanded at axis 1; " + _MASK_NOTE)
def multiply(spec: LayerSpec) -> nn.Module:
    return Elementwise(op="multiply", name=spec.name)


@register_layer("Average", tfjs=True, samples=[Sample({}, ((2, 4),) * 3)],
                notes="sum * (1/n); " + _MASK_NOTE)
def average(spec: LayerSpec) -> nn.Module:
    return Elementwise(op="average", name=spec.name)


@register_layer("Maximum", tfjs=True, samples=[Sample({}, ((2, 3, 4), (2, 3, 4)))],
                notes=_MASK_NOTE)
def maximum(spec: LayerSpec) -> nn.Module:
    return Elementwise(op="maximum", name=spec.name)


@register_layer("Minimum", tfjs=True, samples=[Sample({}, ((2, 3, 4), (2, 3, 4)))],
                notes=_MASK_NOTE)
def minimum(spec: LayerSpec) -> nn.Module:
    return Elementwise(op="minimum", name=spec.name)


@register_layer("Subtract", samples=[Sample({}, ((2, 3, 4), (2, 3, 4)))],
                notes="Keras only (TF.js cannot load it): x0 - x1 "
                "with merge broadcasting; output mask = AND of the input masks (Keras)")
def subtract(spec: LayerSpec) -> nn.Module:
    return Elementwise(op="subtract", tfjs_mask=False, name=spec.name)


class Concatenate(KerasLayer):
    """Concatenation along ``axis``.

    ``run_axis`` is where the tensors are joined: TF.js's ``K.concatenate`` maps
    every negative axis to the last one; ``axis`` (the configured one) is still
    used for the masks, as in TF.js's ``computeMask``.
    """

    axis: int = -1
    run_axis: int = -1

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        xs = as_list(inputs)
        if len(xs) < 2:
            raise ValueError(f"Concatenate needs at least 2 inputs, got {len(xs)}")
        return jnp.concatenate(xs, axis=self.run_axis)

    def shape_rule(self, shapes):
        rank = len(shapes[0])
        axis = self.run_axis + rank if self.run_axis < 0 else self.run_axis
        if len(shapes) < 2 or not 0 <= axis < rank or any(
                len(s) != rank or s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]
                for s in shapes):
            return None
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        return [tuple(out)], []

    def compute_mask(self, inputs, masks):
        if not masks or all(m is None for m in masks):
            return None
        parts = []
        for x, m in zip(inputs, masks, strict=True):
            if m is None:
                m = jnp.ones(x.shape, bool)
            elif m.ndim < x.ndim:
                # TF.js concatenates [..., 1] against full-size parts (which only works
                # when they agree); broadcasting gives the same `all` wherever TF.js works.
                m = jnp.broadcast_to(jnp.expand_dims(m, -1), x.shape)
            parts.append(m.astype(bool))
        return jnp.all(jnp.concatenate(parts, axis=self.axis), axis=-1)


def _concatenate_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    axis = int(config.get("axis", -1))
    if spec.keras3 and axis < -1:
        raise refuse(spec, f"TF.js concatenates on the last axis for axis={axis}")


@register_layer("Concatenate", tfjs=True, export=Export(_concatenate_export),
                fields={"axis": Int()}, notes=(
    "TF.js quirk reproduced: a negative axis other than -1 concatenates on the LAST axis "
    "(Keras 3 files: the configured axis); masks concatenated (missing = all true) and ANDed "
    "over the last axis"), samples=[Sample({"axis": 1}, ((2, 3, 4), (2, 2, 4))),
                                   Sample({"axis": -2}, ((2, 3, 4), (2, 2, 4)), keras3=True,
                                          exportable=False)])
def concatenate(spec: LayerSpec) -> nn.Module:
    axis = spec.config.get("axis")
    axis = -1 if axis is None else int(axis)
    run_axis = axis if axis >= 0 or spec.keras3 else -1
    return Concatenate(axis=axis, run_axis=run_axis, name=spec.name)


def _l2_normalize(x: Array, axis: int) -> Array:
    square_sum = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
    return x / jnp.sqrt(jnp.maximum(square_sum, EPSILON))


def _interpret_axis(axis: int, rank: int) -> int:
    """TF.js's ``interpretAxis``: add the rank until the axis is not negative."""
    return axis % rank if axis < 0 else axis


def batch_dot(x: Array, y: Array, axes: tuple[int, int]) -> Array:
    """TF.js's ``batchDot`` for inputs of rank 2 or 3 (axes count the batch axis)."""
    if x.ndim > 3 or y.ndim > 3:
        raise NotImplementedError("Dot supports inputs of rank <= 3 only (as TF.js)")
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError("Dot needs inputs of rank >= 2")
    x_rank, y_rank = x.ndim, y.ndim
    diff = abs(x_rank - y_rank)
    if x_rank > y_rank:
        y = y.reshape(y.shape + (1,) * diff)
    elif y_rank > x_rank:
        x = x.reshape(x.shape + (1,) * diff)
    if x.ndim == 2 and y.ndim == 2:
        if axes[0] == axes[1]:
            out = jnp.sum(x * y, axis=axes[0])
        else:
            out = jnp.sum(jnp.transpose(x) * y, axis=axes[1])
    else:
        if axes[0] != x.ndim - 1:
            x = jnp.swapaxes(x, -1, -2)
        if axes[1] == y.ndim - 1:
            y = jnp.swapaxes(y, -1, -2)
        out = jnp.matmul(x, y)
    if diff > 0:
        start = x_rank + y_rank - 3 if x_rank > y_rank else x_rank - 1
        out = jnp.squeeze(out, axis=tuple(range(start, start + diff)))
    if out.ndim == 1:
        out = out[:, None]
    return out


class Dot(KerasLayer):
    """Batched dot product of two inputs along ``axes`` (optionally L2-normalized)."""

    axes: int | tuple[int, int]
    normalize: bool = False

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        xs = as_list(inputs)
        if len(xs) != 2:
            raise ValueError(f"Dot needs exactly 2 inputs, got {len(xs)}")
        x1, x2 = xs
        pair = self.axes if isinstance(self.axes, tuple) else (self.axes, self.axes)
        axes = (_interpret_axis(pair[0], x1.ndim), _interpret_axis(pair[1], x2.ndim))
        check_axes("axes", axes[:1], x1.ndim)
        check_axes("axes", axes[1:], x2.ndim)
        if self.normalize:
            x1 = _l2_normalize(x1, axes[0])
            x2 = _l2_normalize(x2, axes[1])
        return batch_dot(x1, x2, axes)

    def compute_mask(self, inputs, masks):
        return None


@register_layer("Dot", tfjs=True, fields={"axes": Ints(required=True), "normalize": BOOL},
                samples=[
    Sample({"axes": -1, "normalize": True}, ((2, 4), (2, 4))),
    Sample({"axes": [2, 2]}, ((2, 3, 4), (2, 5, 4)))],
                notes="inputs of rank <= 3 (as TF.js); normalize divides by "
                "sqrt(max(sum(x^2), 1e-7)) (Keras eps 1e-12); no output mask")
def dot(spec: LayerSpec) -> nn.Module:
    axes = spec.config.get("axes")
    if axes is None:
        raise fail(spec, "missing axes")
    if isinstance(axes, (list, tuple)):
        if len(axes) != 2:
            raise fail(spec, f"axes must be an int or a pair, got {axes!r}")
        value: int | tuple[int, int] = (int(axes[0]), int(axes[1]))
    else:
        value = int(axes)
    return Dot(axes=value, normalize=bool(spec.config.get("normalize") or False),
               name=spec.name)


__all__ = ["Concatenate", "Dot", "Elementwise", "batch_dot"]
