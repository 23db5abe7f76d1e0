"""Element-wise unary math (TF.js ``basic_math``).

The formulas follow TF.js's CPU kernels where they differ from NumPy's
(``Round`` rounds half to even, ``Elu``/``Selu`` use ``exp(x) - 1``...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from ...layers import activations
from ..graphdef import NodeDef
from .common import result, xp
from .registry import Feed, OpSample, op

_X = Feed((2, 3, 4), low=-3, high=3)
_UNIT = Feed((2, 3, 4), low=-0.95, high=0.95)
_POS = Feed((2, 3, 4), low=0.1, high=4)
_GE1 = Feed((2, 3, 4), low=1.05, high=4)


def _unary(names: tuple[str, ...], fn: Callable[[Any, Any], Any], x: Feed = _X) -> None:
    def convert(node: NodeDef, a):
        lib = xp(a)
        return result(fn(lib, lib.asarray(a)))
    convert.__name__ = names[0].lower()
    convert.__qualname__ = convert.__name__
    convert.__module__ = __name__
    op(*names, samples=[OpSample([x], op=n) for n in names])(convert)


_unary(("Abs",), lambda lib, x: lib.abs(x))
_unary(("Neg",), lambda lib, x: lib.negative(x))
_unary(("Sign",), lambda lib, x: lib.sign(x))
_unary(("Square",), lambda lib, x: lib.square(x))
_unary(("Sqrt",), lambda lib, x: lib.sqrt(x), _POS)
_unary(("Rsqrt",), lambda lib, x: 1 / lib.sqrt(x), _POS)
_unary(("Reciprocal",), lambda lib, x: 1 / x, _POS)
_unary(("Exp",), lambda lib, x: lib.exp(x))
_unary(("Expm1",), lambda lib, x: lib.expm1(x))
_unary(("Log",), lambda lib, x: lib.log(x), _POS)
_unary(("Log1p",), lambda lib, x: lib.log1p(x), _POS)
_unary(("Floor",), lambda lib, x: lib.floor(x))
_unary(("Ceil",), lambda lib, x: lib.ceil(x))
_unary(("Round",), lambda lib, x: lib.round(x))
_unary(("Sin",), lambda lib, x: lib.sin(x))
_unary(("Cos",), lambda lib, x: lib.cos(x))
_unary(("Tan",), lambda lib, x: lib.tan(x), _UNIT)
_unary(("Asin",), lambda lib, x: lib.arcsin(x), _UNIT)
_unary(("Acos",), lambda lib, x: lib.arccos(x), _UNIT)
_unary(("Atan",), lambda lib, x: lib.arctan(x))
_unary(("Sinh",), lambda lib, x: lib.sinh(x))
_unary(("Cosh",), lambda lib, x: lib.cosh(x))
_unary(("Tanh",), lambda lib, x: lib.tanh(x))
_unary(("Asinh",), lambda lib, x: lib.arcsinh(x))
_unary(("Acosh",), lambda lib, x: lib.arccosh(x), _GE1)
_unary(("Atanh",), lambda lib, x: lib.arctanh(x), _UNIT)
_unary(("IsNan",), lambda lib, x: lib.isnan(x))
_unary(("IsInf",), lambda lib, x: lib.isinf(x))
_unary(("IsFinite",), lambda lib, x: lib.isfinite(x))


@op("Relu", samples=[OpSample([_X])])
def relu(node: NodeDef, x):
    return activations.relu(jnp.asarray(x))


@op("Relu6", samples=[OpSample([Feed((2, 3, 4), low=-3, high=9)])])
def relu6(node: NodeDef, x):
    return activations.relu6(jnp.asarray(x))


@op("Elu", samples=[OpSample([_X])])
def elu(node: NodeDef, x):
    return activations.elu(jnp.asarray(x))


@op("Selu", samples=[OpSample([_X])])
def selu(node: NodeDef, x):
    return activations.selu(jnp.asarray(x))


@op("Sigmoid", samples=[OpSample([_X])])
def sigmoid(node: NodeDef, x):
    return activations.sigmoid(jnp.asarray(x))


@op("Softplus", samples=[OpSample([Feed((2, 3, 4), low=-30, high=30)])])
def softplus(node: NodeDef, x):
    return jnp.logaddexp(jnp.asarray(x), 0.0)


@op("Erf", samples=[OpSample([_X])])
def erf(node: NodeDef, x):
    return lax.erf(jnp.asarray(x))


@op("LeakyRelu", samples=[OpSample([_X], {"alpha": 0.3}), OpSample([_X], name="default")])
def leaky_relu(node: NodeDef, x):
    alpha = float(node.attr("alpha", 0.2))
    return jnp.where(x < 0, alpha * x, x)


@op("Prelu", samples=[OpSample([_X, np.array([0.1, -0.5, 2.0, 0.0], np.float32)])])
def prelu(node: NodeDef, x, alpha):
    return jnp.where(x < 0, alpha * x, x)


@op("ClipByValue", samples=[OpSample([_X, np.array(-1.0, np.float32),
                                      np.array(1.5, np.float32)])])
def clip_by_value(node: NodeDef, x, lo, hi):
    lib = xp(x, lo, hi)
    return result(lib.minimum(lib.maximum(x, lo), hi))


_C = Feed((2, 3), dtype="complex64")


@op("Complex", samples=[OpSample([_X, _X])])
def complex_op(node: NodeDef, re, im):
    return lax.complex(jnp.asarray(re, jnp.float32), jnp.asarray(im, jnp.float32))


@op("Real", samples=[OpSample([_C])])
def real(node: NodeDef, x):
    return jnp.real(x)


@op("Imag", samples=[OpSample([_C])])
def imag(node: NodeDef, x):
    return jnp.imag(x)


@op("ComplexAbs", samples=[OpSample([_C])])
def complex_abs(node: NodeDef, x):
    return jnp.abs(x)

