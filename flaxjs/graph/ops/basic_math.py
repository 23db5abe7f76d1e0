"""Element-wise unary math (TF.js ``basic_math``).

The formulas follow TF.js's CPU kernels where they differ from NumPy's: ``Round``
rounds half to even, ``Sign`` of NaN is 0, ``Elu``/``Selu`` use ``exp(x) - 1``,
``Softplus`` switches to ``exp(x)`` and ``x`` past TF.js's thresholds. Most kernels
keep the input dtype: on int32 inputs they compute in JavaScript numbers and store the
result in an ``Int32Array`` (``Sqrt`` of 5 is 2, ``Reciprocal`` of 2 is 0); ``Exp``,
``Erf``, ``LeakyRelu`` and ``Prelu`` always give float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from jax import lax

from ..graphdef import NodeDef
from .common import GraphOpError, result, to_int32, upcast, xp
from .registry import Feed, OpSample, op

_X = Feed((2, 3, 4), low=-3, high=3)
_UNIT = Feed((2, 3, 4), low=-0.95, high=0.95)
_POS = Feed((2, 3, 4), low=0.1, high=4)
_GE1 = Feed((2, 3, 4), low=1.05, high=4)
_INT = np.array([[-7, -2, -1, 0], [1, 2, 5, 9]], np.int32)
_SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -2.5, 3.7, -3.7],
                    np.float32)

#: ``backend_util.SELU_SCALEALPHA`` and ``SELU_SCALE``.
SELU_SCALE_ALPHA = 1.7580993408473768599402175208123
SELU_SCALE = 1.0507009873554804934193349852946
#: TF.js's softplus switch points: ``log(float32 epsilon) + 2``.
_SOFTPLUS_T = float(np.log(1.1920928955078125e-7) + 2.0)


def _is_int(x: Any) -> bool:
    return np.dtype(x.dtype).kind in "iub"


def _float(lib, x):
    return x if np.dtype(x.dtype).kind in "fc" else x.astype(np.float32)


def _unary(names: tuple[str, ...], fn: Callable[[Any, Any], Any], x: Feed = _X, *,
           exact_int: bool = False, out: str = "same", int_sample: bool = False,
           special: bool = False, doc: str = "", extra: tuple[OpSample, ...] = (),
           float_only: bool = False) -> None:
    """Register ``fn(lib, x)``. ``out``: ``same`` keeps the input dtype (an int32 input
    computes in float and stores as TF.js's ``Int32Array`` does, unless ``exact_int``: then
    ``fn`` runs on the ints), ``float32`` always gives float32. ``float_only``: TF.js
    refuses int32 inputs (``must be float32 tensor``)."""
    def convert(node: NodeDef, a):
        with np.errstate(all="ignore"):  # TF.js gives inf/NaN silently
            return _convert(node, a)

    def _convert(node: NodeDef, a):
        lib = xp(a)
        a = lib.asarray(a)
        if np.dtype(a.dtype).kind == "c":
            if names[0] != "Abs":
                raise GraphOpError(node, "TF.js has no complex kernel for this op")
            return result(lib.abs(a).astype(np.float32))  # TF.js's abs is ComplexAbs
        if float_only and _is_int(a):
            raise GraphOpError(node, f"TF.js accepts only a float32 input here, got {a.dtype}; "
                                     "insert a Cast to float32")
        if _is_int(a) and a.dtype != np.int32:
            a = a.astype(np.int32)
        if not _is_int(a) or out == "float32":
            return result(fn(lib, _float(lib, a)))
        if exact_int:
            return result(lib.asarray(fn(lib, a)).astype(np.int32))
        return to_int32(fn(lib, a.astype(np.float32)))
    convert.__name__ = names[0].lower()
    convert.__qualname__ = convert.__name__
    convert.__module__ = __name__
    convert.__doc__ = doc or None
    samples = [OpSample([x], op=n) for n in names]
    if int_sample:
        samples.append(OpSample([_INT], op=names[0], name="int32"))
    if special:
        samples.append(OpSample([_SPECIAL], op=names[0], name="special"))
    samples.extend(extra)
    op(*names, samples=samples)(convert)


def _sign(lib, x):
    """``Math.sign``-like but NaN gives 0 (``x < 0 ? -1 : x > 0 ? 1 : 0``)."""
    one = lib.ones_like(x)
    return lib.where(x < 0, -one, lib.where(x > 0, one, lib.zeros_like(x)))


def _relu(lib, x):
    return lib.maximum(x, lib.zeros_like(x))  # Math.max(0, NaN) is NaN


def _relu6(lib, x):
    return lib.minimum(_relu(lib, x), lib.full_like(x, 6))


def _elu(lib, x):
    """``x >= 0 ? x : exp(x) - 1`` (the unselected branch never overflows, for grads)."""
    return lib.where(x >= 0, x, lib.expm1(lib.minimum(x, lib.zeros_like(x))))


def _selu(lib, x):
    neg = lib.expm1(lib.minimum(x, lib.zeros_like(x)))
    return lib.where(x >= 0, SELU_SCALE * x, SELU_SCALE_ALPHA * neg)


def _sigmoid(lib, x):
    return 1 / (1 + lib.exp(-x))


def _softplus(lib, x):
    """TF.js: ``exp(x)`` below ``t = log(eps) + 2``, ``x`` above ``-t``, else ``log(1 + e^x)``."""
    small = lib.exp(lib.minimum(x, np.float32(_SOFTPLUS_T)))
    mid = lib.log1p(lib.exp(lib.clip(x, np.float32(_SOFTPLUS_T), np.float32(-_SOFTPLUS_T))))
    return lib.where(x < _SOFTPLUS_T, small, lib.where(x > -_SOFTPLUS_T, x, mid))


def _erf(lib, x):
    # TF.js uses Abramowitz-Stegun 7.1.26 (error < 1.5e-7); lax.erf is exact and has the
    # right gradient at 0, which the approximation's sign(x) does not.
    return lax.erf(x) if lib is not np else np.vectorize(_np_erf, otypes=[np.float32])(x)


def _np_erf(v: float) -> float:
    return math.erf(v)


# Abs and Square of int32 store into a Float32Array (precision past 2**24 is lost).
_unary(("Abs",), lambda lib, x: lib.abs(x), int_sample=True,
       extra=(OpSample([Feed((2, 3), dtype="complex64")], name="complex"),))
_unary(("Neg",), lambda lib, x: lib.negative(x), exact_int=True, int_sample=True)
_unary(("Sign",), _sign, exact_int=True, int_sample=True, special=True,
       doc=_sign.__doc__ or "")
_unary(("Square",), lambda lib, x: lib.square(x), int_sample=True)
_unary(("Sqrt",), lambda lib, x: lib.sqrt(x), _POS, float_only=True)
_unary(("Rsqrt",), lambda lib, x: 1 / lib.sqrt(x), _POS, float_only=True)
_unary(("Reciprocal",), lambda lib, x: 1 / x, _POS, int_sample=True)
_unary(("Exp",), lambda lib, x: lib.exp(x), out="float32", int_sample=True)
_unary(("Expm1",), lambda lib, x: lib.expm1(x))
_unary(("Log",), lambda lib, x: lib.log(x), _POS, float_only=True)
_unary(("Log1p",), lambda lib, x: lib.log1p(x), _POS, int_sample=True)
_unary(("Floor",), lambda lib, x: lib.floor(x), special=True, float_only=True)
_unary(("Ceil",), lambda lib, x: lib.ceil(x), special=True, float_only=True)
_unary(("Round",), lambda lib, x: lib.round(x), exact_int=True, special=True, int_sample=True,
       doc="Half to even (banker's rounding), as TF.js's kernel.")
_unary(("Sin",), lambda lib, x: lib.sin(x), float_only=True)
_unary(("Cos",), lambda lib, x: lib.cos(x), float_only=True)
_unary(("Tan",), lambda lib, x: lib.tan(x), _UNIT, float_only=True)
_unary(("Asin",), lambda lib, x: lib.arcsin(x), _UNIT)
_unary(("Acos",), lambda lib, x: lib.arccos(x), _UNIT)
_unary(("Atan",), lambda lib, x: lib.arctan(x), int_sample=True)
_unary(("Sinh",), lambda lib, x: lib.sinh(x))
_unary(("Cosh",), lambda lib, x: lib.cosh(x), float_only=True)
_unary(("Tanh",), lambda lib, x: lib.tanh(x), float_only=True)
_unary(("Asinh",), lambda lib, x: lib.arcsinh(x))
_unary(("Acosh",), lambda lib, x: lib.arccosh(x), _GE1)
_unary(("Atanh",), lambda lib, x: lib.arctanh(x), _UNIT)
_unary(("IsNan",), lambda lib, x: lib.isnan(x), out="float32", special=True)
_unary(("IsInf",), lambda lib, x: lib.isinf(x), out="float32", special=True)
_unary(("IsFinite",), lambda lib, x: lib.isfinite(x), out="float32", special=True)
_unary(("Relu",), _relu, exact_int=True, int_sample=True, special=True)
_unary(("Relu6",), _relu6, Feed((2, 3, 4), low=-3, high=9), exact_int=True, int_sample=True)
_unary(("Elu",), _elu, float_only=True, doc=_elu.__doc__ or "")
_unary(("Selu",), _selu, int_sample=True,
       doc="``scale·x`` for ``x >= 0``, else ``scale·alpha·(e^x - 1)``.")
_unary(("Sigmoid",), _sigmoid, Feed((2, 3, 4), low=-20, high=20), float_only=True)
_unary(("Softplus",), _softplus, Feed((2, 3, 4), low=-30, high=30), int_sample=True,
       doc=_softplus.__doc__ or "")
_unary(("Erf",), _erf, out="float32", int_sample=True,
       doc="TF.js casts int32 inputs to float32 first.")


@op("LeakyRelu", samples=[OpSample([_X], {"alpha": 0.3}), OpSample([_X], name="default"),
                          OpSample([_INT], {"alpha": 0.5}, name="int32")])
def leaky_relu(node: NodeDef, x):
    """``x < 0 ? alpha·x : x`` (alpha defaults to 0.2), always float32."""
    lib = xp(x)
    x = _float(lib, lib.asarray(x))
    alpha = np.float32(node.attr("alpha", 0.2))
    return result(lib.where(x < 0, alpha * x, x))


@op("Prelu", samples=[
    OpSample([_X, np.array([0.1, -0.5, 2.0, 0.0], np.float32)]),
    OpSample([Feed((2, 3, 4)), Feed((3, 1))], name="broadcast"),
    OpSample([_INT, np.array([0.5, 2.0, -1.0, 0.25], np.float32)], name="int32")])
def prelu(node: NodeDef, x, alpha):
    """``x < 0 ? alpha·x : x`` with broadcasting, always float32."""
    lib = xp(x, alpha)
    x = _float(lib, lib.asarray(x))
    alpha = _float(lib, lib.asarray(alpha))
    return result(lib.where(x < 0, alpha * x, x).astype(np.float32))


@op("ClipByValue", samples=[
    OpSample([_X, np.array(-1.0, np.float32), np.array(1.5, np.float32)]),
    OpSample([_INT, np.array(-1.5, np.float32), np.array(4.5, np.float32)], name="int32"),
    OpSample([_SPECIAL, np.array([-1.0, 5.0], np.float32), np.array([2.0], np.float32)],
             name="special")])
def clip_by_value(node: NodeDef, x, lo, hi):
    """TF.js reads each bound as a number (the first value of its tensor); int32 inputs
    stay int32, with the bounds truncated as the ``Int32Array`` stores them."""
    lib = xp(x, lo, hi)
    x = lib.asarray(x)
    lo = lib.asarray(lo).reshape(-1)[0]
    hi = lib.asarray(hi).reshape(-1)[0]
    if _is_int(x):
        x = x.astype(np.int32)
        lo, hi = to_int32(lo), to_int32(hi)
    else:
        lo, hi = lo.astype(x.dtype), hi.astype(x.dtype)
    return result(lib.where(x > hi, hi, lib.where(x < lo, lo, x)))


@op("Atan2", samples=[OpSample([Feed((2, 3, 4), low=-3, high=3), Feed((3, 1), low=-3, high=3)]),
                      OpSample([_SPECIAL[:6], _SPECIAL[6:]], name="special")])
def atan2(node: NodeDef, y, x):
    """``Math.atan2(a, b)`` of TF.js's inputs ``x`` and ``y`` in that order."""
    lib = xp(y, x)
    y, x = upcast(y, x)
    if _is_int(y):
        return to_int32(lib.arctan2(y.astype(np.float32), x.astype(np.float32)))
    return result(lib.arctan2(y, x))


_C = Feed((2, 3), dtype="complex64")


@op("Complex", samples=[OpSample([_X, _X])])
def complex_op(node: NodeDef, re, im):
    lib = xp(re, im)
    re, im = (lib.asarray(v).astype(np.float32) for v in (re, im))
    return result((re + 1j * im).astype(np.complex64) if lib is np else lax.complex(re, im))


@op("Real", samples=[OpSample([_C])])
def real(node: NodeDef, x):
    lib = xp(x)
    return result(lib.real(x).astype(np.float32))


@op("Imag", samples=[OpSample([_C])])
def imag(node: NodeDef, x):
    lib = xp(x)
    return result(lib.imag(x).astype(np.float32))


@op("ComplexAbs", samples=[OpSample([_C])])
def complex_abs(node: NodeDef, x):
    lib = xp(x)
    return result(lib.abs(x).astype(np.float32))


#: the element-wise activations TF.js fuses into convolutions and matmuls, as ``fn(lib, x)``.
ACTIVATIONS = {"relu": _relu, "relu6": _relu6, "elu": _elu, "sigmoid": _sigmoid}
