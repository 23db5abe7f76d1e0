"""Binary arithmetic with broadcasting (TF.js ``arithmetic``).

Each op runs on NumPy when both inputs are static (shape arithmetic) and on
``jax.numpy`` otherwise. Integer division and modulo floor, as TF.js's do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..graphdef import NodeDef
from .common import result, xp
from .registry import Feed, OpSample, op

_A, _B = Feed((2, 3, 4), low=-3, high=3), Feed((3, 1), low=-3, high=3)
_INTS = (np.array([[7, -7, 9], [2, -3, 0]], np.int32), np.array([2, 3, -4], np.int32))
_POS = Feed((2, 3, 4), low=0.5, high=3)


def _samples(*, ints: bool = True, b: Feed | None = None) -> list[OpSample]:
    out = [OpSample([_A, b or _B])]
    if ints:
        out.append(OpSample([*_INTS], name="int32"))
    return out


def _binary(names: tuple[str, ...], fn: Callable[[Any, Any, Any], Any],
            samples: list[OpSample]) -> None:
    def convert(node: NodeDef, a, b):
        lib = xp(a, b)
        return result(fn(lib, lib.asarray(a), lib.asarray(b)))
    convert.__name__ = names[0].lower()
    convert.__qualname__ = convert.__name__
    convert.__module__ = __name__
    op(*names, samples=samples)(convert)


def _true_div(lib, a, b):
    if np.dtype(a.dtype).kind in "iu" and np.dtype(b.dtype).kind in "iu":
        return lib.floor_divide(a, b)  # TF.js div of two int32 tensors floors
    return lib.true_divide(a, b)


def _floor_div(lib, a, b):
    if np.dtype(a.dtype).kind in "iu":
        return lib.floor_divide(a, b)
    return lib.floor(lib.true_divide(a, b))


def _div_no_nan(lib, a, b):
    safe = lib.where(b == 0, lib.ones_like(b), b)
    return lib.where(b == 0, lib.zeros_like(a * b), _true_div(lib, a, safe))


def _mod(lib, a, b):
    """TF.js ``mod``: the remainder takes the divisor's sign (floor modulo)."""
    if np.dtype(a.dtype).kind in "iu":
        return lib.mod(a, b)
    r = lib.fmod(a, b)
    return lib.where((r != 0) & ((r < 0) != (b < 0)), r + b, r)


_binary(("Add", "AddV2"), lambda lib, a, b: lib.add(a, b),
        _samples() + [OpSample([_A, _B], op="AddV2")])
_binary(("Sub",), lambda lib, a, b: lib.subtract(a, b), _samples())
_binary(("Mul",), lambda lib, a, b: lib.multiply(a, b), _samples())
_binary(("RealDiv", "Div"), _true_div,
        [OpSample([_A, Feed((3, 1), low=0.5, high=2)]),
         OpSample([*_INTS], op="Div", name="int32")])
_binary(("DivNoNan",), _div_no_nan,
        [OpSample([_A, np.array([[0.0], [2.0], [-0.5]], np.float32)])])
_binary(("FloorDiv",), _floor_div, _samples(b=Feed((3, 1), low=0.5, high=2)))
_binary(("FloorMod", "Mod"), _mod,
        _samples(b=Feed((3, 1), low=0.5, high=2)) + [OpSample([*_INTS], op="Mod", name="int")])
_binary(("Maximum",), lambda lib, a, b: lib.maximum(a, b), _samples())
_binary(("Minimum",), lambda lib, a, b: lib.minimum(a, b), _samples())
_binary(("Pow",), lambda lib, a, b: lib.power(a, b),
        [OpSample([_POS, Feed((3, 1), low=-2, high=2)]),
         OpSample([np.array([[2, 3, -2]], np.int32), np.array([3, 2, 3], np.int32)],
                  name="int32")])
_binary(("SquaredDifference",), lambda lib, a, b: lib.square(a - b), _samples())
_binary(("Atan2",), lambda lib, a, b: lib.arctan2(a, b), [OpSample([_A, _B])])


@op("AddN", samples=[OpSample([_A, _A, Feed((2, 3, 4))], {"N": 3})])
def add_n(node: NodeDef, *xs):
    lib = xp(*xs)
    total = xs[0]
    for x in xs[1:]:
        total = lib.add(total, x)
    return result(total)


@op("BiasAdd", samples=[OpSample([Feed((2, 3, 4)), np.arange(4, dtype=np.float32)])])
def bias_add(node: NodeDef, x, bias):
    from .common import nhwc  # noqa: PLC0415
    nhwc(node)
    return result(xp(x, bias).add(x, bias))
