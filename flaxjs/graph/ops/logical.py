"""Comparisons, boolean logic and selection (TF.js ``logical``).

Binary ops broadcast NumPy-style and compare after TF.js's type promotion (int32 with
float32 compares as float32); on static inputs they stay NumPy (masks of shapes).

``BitwiseAnd`` is left out: TF.js 4.22 cannot run it (its executor reads inputs ``a`` and
``b``, its op list names them ``x`` and ``y``, so every call fails), so no TF.js model with
one runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, result, xp
from .registry import Feed, OpSample, op

_A, _B = Feed((2, 3, 4), low=-2, high=2), Feed((3, 1), low=-2, high=2)
_IA, _IB = Feed((2, 3, 4), "int32", -2, 3), Feed((3, 4), "int32", -2, 3)
_P, _Q = Feed((2, 3, 4), "bool"), Feed((3, 1), "bool")
_TIES = np.array([[0.5], [-1.0], [0.25]], np.float32)


def _binary(names: tuple[str, ...], fn: Callable[[Any, Any, Any], Any],
            samples: list[OpSample], *, boolean: bool = False) -> None:
    def convert(node: NodeDef, a, b):
        lib = xp(a, b)
        a, b = lib.asarray(a), lib.asarray(b)
        if boolean and (a.dtype != np.bool_ or b.dtype != np.bool_):
            raise GraphOpError(node, f"expects bool tensors, got {a.dtype} and {b.dtype}")
        return result(fn(lib, a, b))
    convert.__name__ = names[0].lower()
    convert.__qualname__ = convert.__name__
    convert.__module__ = __name__
    op(*names, samples=samples)(convert)


def _compare_samples() -> list[OpSample]:
    return [OpSample([_A, _B]), OpSample([_IA, _IB], name="int32"),
            OpSample([Feed((3, 4), low=-1, high=1), _TIES], name="ties"),
            OpSample([_P, _Q], name="bool")]


_binary(("Equal",), lambda lib, a, b: lib.equal(a, b), _compare_samples())
_binary(("NotEqual",), lambda lib, a, b: lib.not_equal(a, b), _compare_samples())
_binary(("Greater",), lambda lib, a, b: lib.greater(a, b), _compare_samples())
_binary(("GreaterEqual",), lambda lib, a, b: lib.greater_equal(a, b), _compare_samples())
_binary(("Less",), lambda lib, a, b: lib.less(a, b), _compare_samples())
_binary(("LessEqual",), lambda lib, a, b: lib.less_equal(a, b), _compare_samples())
_binary(("LogicalAnd",), lambda lib, a, b: lib.logical_and(a, b),
        [OpSample([_P, _Q])], boolean=True)
_binary(("LogicalOr",), lambda lib, a, b: lib.logical_or(a, b),
        [OpSample([_P, _Q])], boolean=True)


@op("LogicalNot", samples=[OpSample([_P])])
def logical_not(node: NodeDef, x):
    lib = xp(x)
    x = lib.asarray(x)
    if x.dtype != np.bool_:
        raise GraphOpError(node, f"expects a bool tensor, got {x.dtype}")
    return result(lib.logical_not(x))


@op("Select", "SelectV2", samples=[
    OpSample([_P, _A, Feed((2, 3, 4), low=5, high=6)], name="same-shape"),
    OpSample([Feed((3,), "bool"), Feed((3, 3)), Feed((3, 3), low=5, high=6)],
             name="rank1-condition"),
    OpSample([np.array(True), _A, Feed((2, 3, 4), low=5, high=6)], name="scalar-condition"),
    OpSample([Feed((2, 3, 4), "bool"), _IA, Feed((2, 3, 4), "int32", 10, 20)],
             name="int32"),
    OpSample([_Q, _A, Feed((4,), low=5, high=6)], op="SelectV2", name="broadcast"),
    OpSample([Feed((2, 1, 4), "bool"), Feed((3, 1)), np.array(7.5, np.float32)], op="SelectV2",
             name="broadcast-all"),
])
def select(node: NodeDef, condition, a, b):
    """TF.js runs ``Select`` as ``SelectV2``: all three broadcast NumPy-style, so a rank-1
    condition lines up with the last axis of ``a``, not the first as in TF's ``Select``."""
    lib = xp(condition, a, b)
    condition = lib.asarray(condition)
    if condition.dtype != np.bool_:
        raise GraphOpError(node, f"the condition must be bool, got {condition.dtype}")
    try:
        shape = np.broadcast_shapes(np.shape(condition), np.shape(a), np.shape(b))
    except ValueError:
        raise GraphOpError(node, f"cannot broadcast the condition {list(np.shape(condition))} "
                                 f"with {list(np.shape(a))} and {list(np.shape(b))} (TF.js "
                                 "broadcasts them NumPy-style)") from None
    a, b = lib.asarray(a), lib.asarray(b)
    dtype = np.result_type(a.dtype, b.dtype)
    return result(lib.broadcast_to(lib.where(condition, a.astype(dtype), b.astype(dtype)),
                                   shape))
