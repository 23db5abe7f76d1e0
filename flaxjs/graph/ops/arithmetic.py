"""Binary arithmetic with broadcasting (TF.js ``arithmetic``).

Each op runs on NumPy when both inputs are static (shape arithmetic) and on
``jax.numpy`` otherwise. Both inputs first take their common dtype (TF.js's
``makeTypesMatch``). TF.js's CPU kernels compute in JavaScript numbers and store the
result in the output's typed array, which is where the int32 quirks come from:
``Div`` of two int32 tensors floors, ``FloorDiv`` always returns int32 (also for float
inputs), integer division or modulo by zero gives 0, ``Pow`` of ints truncates
(``2 ** -1`` is 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..graphdef import NodeDef
from .common import nhwc, result, to_int32, upcast, xp
from .registry import Feed, OpSample, op

_A, _B = Feed((2, 3, 4), low=-3, high=3), Feed((3, 1), low=-3, high=3)
_INTS = (np.array([[7, -7, 9, 0, -8], [2, -3, 0, 5, 6]], np.int32),
         np.array([2, 3, -4, 0, -3], np.int32))
_POS = Feed((2, 3, 4), low=0.5, high=3)
#: float divisions whose float32 quotient rounds onto an integer (1 / 0.1 is 9.99999985).
_EDGES = (np.array([1.0, -1.0, 0.3, 7.0, -7.0, 0.0, 5.0, -2.5], np.float32),
          np.array([0.1, 0.1, 0.1, 2.0, 2.0, 3.0, 0.0, -0.5], np.float32))


def _int(x: Any) -> bool:
    return np.dtype(x.dtype).kind in "iub"


def _samples(*, ints: bool = True, b: Feed | None = None, name: str | None = None
             ) -> list[OpSample]:
    out = [OpSample([_A, b or _B], op=name)]
    if ints:
        out.append(OpSample([*_INTS], op=name, name="int32"))
    return out


def _binary(names: tuple[str, ...], fn: Callable[[Any, Any, Any], Any],
            samples: list[OpSample], doc: str) -> None:
    def convert(node: NodeDef, a, b):
        lib = xp(a, b)
        a, b = upcast(a, b)
        with np.errstate(all="ignore"):  # TF.js gives inf/NaN silently
            return result(fn(lib, a, b))
    convert.__name__ = names[0].lower()
    convert.__qualname__ = convert.__name__
    convert.__module__ = __name__
    convert.__doc__ = doc
    op(*names, samples=samples)(convert)


def _safe(lib, b):
    """``b`` with zeros replaced by ones (integer division by zero is undefined in XLA)."""
    return lib.where(b == 0, lib.ones_like(b), b)


def _floor_div_int(lib, a, b):
    """Integer ``Math.floor(a / b)``: division by zero gives 0 (``Infinity`` in an Int32Array)."""
    return lib.where(b == 0, lib.zeros_like(a), lib.floor_divide(a, _safe(lib, b)))


def _floor_div(lib, a, b):
    """TF.js's ``FloorDiv`` kernel: ``Math.floor(a / b)`` stored as int32 for every dtype."""
    if _int(a):
        return _floor_div_int(lib, a, b)
    # floor_divide floors the exact quotient (1 / 0.1 gives 9, as in float64), where
    # floor(a / b) in float32 gives 10; inf and NaN (division by 0) store as 0.
    return to_int32(lib.floor_divide(a, b))


def _true_div(lib, a, b):
    """TF.js ``div``: two int32 tensors go to ``floorDiv``."""
    if _int(a):
        return _floor_div_int(lib, a, b)
    return lib.true_divide(a, b)


def _div_no_nan(lib, a, b):
    return lib.where(b == 0, lib.zeros_like(a * b), _true_div(lib, a, _safe(lib, b)))


def _mod(lib, a, b):
    """TF.js ``mod``: ``a % b`` (C ``fmod``), then ``(r + b) % b`` when ``a`` and ``b`` have
    different signs: the remainder takes the divisor's sign; integer ``x % 0`` is 0."""
    if _int(a):
        return lib.where(b == 0, lib.zeros_like(a), lib.mod(a, _safe(lib, b)))
    r = lib.fmod(a, b)
    same = ((a < 0) & (b < 0)) | ((a >= 0) & (b >= 0))
    return lib.where(same | (r == 0), r, r + b)


def _pow(lib, a, b):
    """``Math.pow``: ints stay int32 (negative powers truncate to 0 unless the base is ±1);
    ``1 ** NaN`` and ``(±1) ** ±Infinity`` are NaN in JavaScript."""
    if _int(a):
        neg = b < 0
        positive = lib.power(a, lib.where(neg, lib.zeros_like(b), b))
        odd = (b % 2) != 0
        inverse = lib.where(a == 1, lib.ones_like(a),
                            lib.where(a == -1, lib.where(odd, -lib.ones_like(a),
                                                         lib.ones_like(a)),
                                      lib.zeros_like(a)))
        return lib.where(neg, inverse, positive)
    out = lib.power(a, b)
    if np.dtype(a.dtype).kind == "c":
        return out
    js_nan = (lib.abs(a) == 1) & ~lib.isfinite(b)
    return lib.where(js_nan, lib.full_like(out, np.nan), out)


_binary(("Add", "AddV2"), lambda lib, a, b: lib.add(a, b),
        [*_samples(), OpSample([_A, _B], op="AddV2")], "``a + b``.")
_binary(("Sub",), lambda lib, a, b: lib.subtract(a, b), _samples(), "``a - b``.")
_binary(("Mul",), lambda lib, a, b: lib.multiply(a, b), _samples(), "``a * b``.")
_binary(("RealDiv", "Div"), _true_div,
        [OpSample([_A, Feed((3, 1), low=0.5, high=2)]),
         OpSample([*_INTS], op="Div", name="int32"),
         OpSample([*_INTS], name="int32")], _true_div.__doc__ or "")
_binary(("DivNoNan",), _div_no_nan,
        [OpSample([_A, np.array([[0.0], [2.0], [-0.5]], np.float32)]),
         OpSample([*_INTS], name="int32")], "``a / b``, 0 where ``b == 0``.")
_binary(("FloorDiv",), _floor_div,
        [*_samples(b=Feed((3, 1), low=0.5, high=2)), OpSample([*_EDGES], name="float-edges")],
        _floor_div.__doc__ or "")
_binary(("FloorMod", "Mod"), _mod,
        [*_samples(b=Feed((3, 1), low=-2, high=2)),
         OpSample([*_INTS], op="Mod", name="int"),
           OpSample([*_EDGES], name="float-edges"),
           OpSample([_A, Feed((3, 1), low=-2, high=2)], op="Mod")], _mod.__doc__ or "")
_binary(("Maximum",), lambda lib, a, b: lib.maximum(a, b), _samples(),
        "``Math.max`` (NaN wins).")
_binary(("Minimum",), lambda lib, a, b: lib.minimum(a, b), _samples(),
        "``Math.min`` (NaN wins).")
_binary(("Pow",), _pow,
        [OpSample([_POS, Feed((3, 1), low=-2, high=2)]),
         OpSample([np.array([[2, 3, -2, 1, -1, 0, 2]], np.int32),
                   np.array([3, 2, 3, -2, -3, -1, -1], np.int32)], name="int32"),
         OpSample([np.array([1.0, -1.0, -8.0, 0.0, 2.0], np.float32),
                   np.array([np.nan, np.inf, 1 / 3, -1.0, 0.5], np.float32)],
                  name="float-edges")], _pow.__doc__ or "")
_binary(("SquaredDifference",), lambda lib, a, b: lib.square(a - b), _samples(),
        "``(a - b)²``.")


@op("AddN", samples=[OpSample([_A, _A, Feed((2, 3, 4))], {"N": 3}),
                     OpSample([np.array([1, 2], np.int32), np.array([3, -4], np.int32)],
                              {"N": 2}, name="int32")])
def add_n(node: NodeDef, *xs):
    lib = xp(*xs)
    xs = upcast(*xs)
    total = xs[0]
    for x in xs[1:]:
        total = lib.add(total, x)
    return result(total)


@op("BiasAdd", samples=[OpSample([Feed((2, 3, 4)), np.arange(4, dtype=np.float32)]),
                        OpSample([Feed((2, 4)), np.arange(4, dtype=np.float32)],
                                 {"data_format": "NHWC"}, name="rank2")])
def bias_add(node: NodeDef, x, bias):
    """TF.js adds with broadcasting (over the last axis); an NCHW graph is refused, as
    TF.js would add the bias along the width."""
    nhwc(node)
    lib = xp(x, bias)
    x, bias = upcast(x, bias)
    return result(lib.add(x, bias))
