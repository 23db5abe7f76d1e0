"""Reductions and scans over axes given as an input tensor (TF.js ``reduction``)."""

from __future__ import annotations

import numpy as np

from ..graphdef import NodeDef
from .common import normalize_axis, result, static_ints, xp
from .registry import Feed, OpSample, op

_X = Feed((2, 3, 4), low=-3, high=3)
_AXES = [(np.array([1, 2], np.int32), False, "two-axes"),
         (np.array(-1, np.int32), True, "keepdims")]


def _axes(node: NodeDef, x, axis) -> tuple[int, ...]:
    rank = np.ndim(x)
    return tuple(sorted({normalize_axis(node, a, rank)
                         for a in static_ints(node, axis, "axis")}))


def _reduce(names: tuple[str, ...], method: str, x_feed=_X, extra: list | None = None) -> None:
    def convert(node: NodeDef, x, axis):
        lib = xp(x)
        keep = bool(node.attr("keep_dims", False))
        axes = _axes(node, x, axis)
        x = lib.asarray(x)
        if method == "mean" and np.dtype(x.dtype).kind in "iub":
            x = x.astype(np.float32)  # TF.js divides in float32
        return result(getattr(lib, method)(x, axis=axes, keepdims=keep))
    convert.__name__ = names[0].lower()
    convert.__qualname__ = convert.__name__
    convert.__module__ = __name__
    samples = [OpSample([x_feed, axis], {"keep_dims": keep}, name=tag)
               for axis, keep, tag in _AXES] + (extra or [])
    op(*names, samples=samples)(convert)


_BOOL = Feed((2, 3, 4), dtype="bool")
_reduce(("Sum",), "sum")
_reduce(("Mean",), "mean")
_reduce(("Max",), "max")
_reduce(("Min",), "min")
_reduce(("Prod",), "prod", Feed((2, 3, 4), low=0.5, high=1.5))
_reduce(("All",), "all", _BOOL)
_reduce(("Any",), "any", _BOOL)


def _arg(names: tuple[str, ...], method: str) -> None:
    def convert(node: NodeDef, x, axis):
        lib = xp(x)
        (a,) = static_ints(node, axis, "axis")[:1] or [0]
        return result(getattr(lib, method)(x, axis=normalize_axis(node, a, np.ndim(x)))
                      .astype(np.int32))
    convert.__name__ = names[0].lower()
    convert.__qualname__ = convert.__name__
    convert.__module__ = __name__
    op(*names, samples=[OpSample([_X, np.array(1, np.int32)]),
                        OpSample([_X, np.array(-1, np.int32)], name="last")])(convert)


_arg(("ArgMax",), "argmax")
_arg(("ArgMin",), "argmin")


def _scan(node: NodeDef, x, axis, method: str):
    lib = xp(x)
    (a,) = static_ints(node, axis, "axis")[:1]
    a = normalize_axis(node, a, np.ndim(x))
    exclusive = bool(node.attr("exclusive", False))
    reverse = bool(node.attr("reverse", False))
    x = lib.asarray(x)
    if reverse:
        x = lib.flip(x, a)
    out = getattr(lib, method)(x, axis=a)
    if exclusive:
        first = lib.ones_like if method == "cumprod" else lib.zeros_like
        head = first(lib.take(x, lib.arange(1), axis=a))
        out = lib.concatenate([head, lib.take(out, lib.arange(x.shape[a] - 1), axis=a)], a)
    if reverse:
        out = lib.flip(out, a)
    return result(out)


_SCAN = [OpSample([_X, np.array(1, np.int32)]),
         OpSample([_X, np.array(2, np.int32)], {"exclusive": True, "reverse": True},
                  name="exclusive-reverse")]


@op("Cumsum", samples=_SCAN)
def cumsum(node: NodeDef, x, axis):
    return _scan(node, x, axis, "cumsum")


@op("Cumprod", samples=_SCAN)
def cumprod(node: NodeDef, x, axis):
    return _scan(node, x, axis, "cumprod")
