"""Tensors made from shapes and scalars, and random tensors (TF.js ``creation``).

Shapes and scalars come in as tensors that TF.js reads as plain numbers (the first
element); flaxjs needs the shapes static and keeps the results NumPy when everything is
static, so that shape arithmetic through ``Fill``, ``Range``... stays static.

Random ops follow what TF.js computes, which is reproducible only in part:

* ``RandomStandardNormal``, ``TruncatedNormal`` and ``Multinomial`` with a nonzero
  ``seed`` draw from ``seedrandom.alea(String(seed))``, fresh for each call: flaxjs ports
  that generator and TF.js's samplers, so the values are TF.js's exactly.
* ``RandomUniformInt``: TF.js reads ``minval``/``maxval`` from attributes that TF graphs
  never have (they are inputs), so both are 0 and every value is 0; flaxjs gives the same.
* ``RandomUniform`` (TF.js passes it no seed) and the ops above with ``seed`` 0 draw from
  ``Math.random`` in TF.js: different values on every call, which no port can reproduce.
  flaxjs draws them from the same alea generator seeded with the ``seed`` attribute, or
  the node's name when it is 0: right shape, dtype and distribution, independent across
  nodes, but the same values on every call (a converter is a pure function).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..graphdef import DType, NodeDef
from .common import GraphOpError, cast, dtype_attr, result, static, static_ints, xp
from .registry import Feed, OpSample, op

_SHAPE = np.array([2, 3, 4], np.int32)
_F32, _I32, _BOOL = DType.of("float32"), DType.of("int32"), DType.of("bool")


def _scalar(lib, x):
    """TF.js reads a ``number`` input as the tensor's first element."""
    return lib.reshape(lib.asarray(x), (-1,))[0]


def _number(node: NodeDef, x, what: str) -> float:
    value = static(node, x, what).reshape(-1)
    if value.size == 0:
        raise GraphOpError(node, f"its {what} is an empty tensor")
    return value[0].item()


def _shape(node: NodeDef, shape) -> list[int]:
    dims = static_ints(node, shape, "shape")
    if any(d < 0 for d in dims):
        raise GraphOpError(node, f"shape {dims} has a negative dimension")
    return dims


def _js_store(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Doubles written into a TF.js typed array: float32 rounds, int32 truncates (and wraps),
    bool (a Uint8Array) keeps nonzero."""
    if dtype == np.float32:
        return values.astype(np.float32)
    if dtype == np.bool_:
        return np.trunc(values) % 256 != 0
    return (np.trunc(values).astype(np.int64) % 2 ** 32).astype(np.uint32).view(np.int32)


# ------------------------------------------------------------------ filled tensors
@op("Fill", samples=[
    OpSample([_SHAPE, np.array(1.5, np.float32)], {"T": _F32}),
    OpSample([np.array([3, 2], np.int32), np.array(-7, np.int32)], {"T": _I32}, name="int32"),
    OpSample([np.array([2, 2], np.int32), Feed(())], {"T": _F32}, name="fed-value"),
    OpSample([np.array([0, 3], np.int32), np.array(2.0, np.float32)], {"T": _F32}, name="empty"),
])
def fill(node: NodeDef, shape, value):
    dims = _shape(node, shape)
    dtype = dtype_attr(node, "T", "float32")
    lib = xp(value)
    return result(lib.full(dims, cast(_scalar(lib, value), dtype), dtype))


def _dtype_samples(op_name: str) -> list[OpSample]:
    return [OpSample([_SHAPE], {"T": _F32}, op=op_name),
            OpSample([np.array([3, 2], np.int32)], {"T": _I32}, op=op_name, name="int32"),
            OpSample([np.array([2, 2], np.int32)], {"T": _BOOL}, op=op_name, name="bool")]


@op("Ones", samples=_dtype_samples("Ones"))
def ones(node: NodeDef, shape):
    return np.ones(_shape(node, shape), dtype_attr(node, "T", "float32"))


@op("Zeros", samples=_dtype_samples("Zeros"))
def zeros(node: NodeDef, shape):
    return np.zeros(_shape(node, shape), dtype_attr(node, "T", "float32"))


def _like_samples() -> list[OpSample]:
    return [OpSample([Feed((2, 3))]), OpSample([Feed((2, 2), "int32", -5, 5)], name="int32"),
            OpSample([Feed((3,), "bool")], name="bool"),
            OpSample([Feed((2, 2), "complex64")], name="complex64"),
            OpSample([np.array([4, 5], np.int32)], name="static")]


@op("OnesLike", samples=_like_samples())
def ones_like(node: NodeDef, x):
    """Same shape and dtype (complex: ``1 + 0j``); static for a static input."""
    return result(xp(x).ones_like(x))


@op("ZerosLike", samples=_like_samples())
def zeros_like(node: NodeDef, x):
    return result(xp(x).zeros_like(x))


# ------------------------------------------------------------------ sequences
@op("LinSpace", samples=[
    OpSample([np.array(-1.5, np.float32), np.array(2.0, np.float32), np.array(7, np.int32)]),
    OpSample([Feed(()), Feed((), low=2, high=3), np.array(5, np.int32)], name="fed"),
    OpSample([np.array(3.0, np.float32), np.array(-1.0, np.float32), np.array(1, np.int32)],
             name="one"),
    OpSample([np.array(0.1, np.float32), np.array(0.7, np.float32), np.array(30, np.int32)],
             name="long"),
])
def lin_space(node: NodeDef, start, stop, num):
    """float32 ``[start, start + step, ...]``, each entry the previous plus ``step`` (TF.js
    accumulates, rounding to float32 at each step), ``num`` entries."""
    n = int(_number(node, num, "num"))
    if n <= 0:
        raise GraphOpError(node, f"num must be positive, got {n}")
    lib = xp(start, stop)
    if lib is np:
        first, last = float(_scalar(np, start)), float(_scalar(np, stop))
        step = (last - first) / (n - 1) if n > 1 else 0.0
        values = np.empty(n, np.float32)
        values[0] = first
        for i in range(1, n):
            values[i] = float(values[i - 1]) + step
        return values
    first = _scalar(lib, start).astype(np.float32)
    last = _scalar(lib, stop).astype(np.float32)
    step = (last - first) / max(n - 1, 1)
    return first + step * jnp.arange(n, dtype=np.float32)


@op("Range", samples=[
    OpSample([np.array(2, np.int32), np.array(11, np.int32), np.array(3, np.int32)],
             {"Tidx": _I32}),
    OpSample([np.array(10, np.int32), np.array(-3, np.int32), np.array(-4, np.int32)],
             {"Tidx": _I32}, name="negative-delta"),
    OpSample([np.array(5, np.int32), np.array(5, np.int32), np.array(1, np.int32)],
             {"Tidx": _I32}, name="empty"),
    OpSample([np.array(0, np.int32), np.array(5, np.int32), np.array(-1, np.int32)],
             {"Tidx": _I32}, name="wrong-sign"),
    OpSample([np.array(4, np.int32), np.array(-2, np.int32), np.array(1, np.int32)],
             {"Tidx": _I32}, name="step-one-down"),
    OpSample([np.array(-3, np.int32), np.array(4, np.int32), np.array(2, np.int32)],
             {"Tidx": _F32}, name="float32"),
    # float scalars are constants, not weights, so the length is known when tracing
    OpSample([np.array(0.0, np.float32), np.array(3.0, np.float32),
              np.array(0.5, np.float32)], {"Tidx": _F32}, name="float32-bounds"),
])
def range_op(node: NodeDef, start, limit, delta):
    """TF.js's ``range``, quirks included: ``|ceil((limit - start) / delta)|`` entries, none
    when ``start == limit``, when ``delta < 0`` going up or ``delta > 1`` going down; going
    down with ``delta == 1`` steps by -1, and with ``0 < delta < 1`` still steps up."""
    first = _number(node, start, "start")
    last = _number(node, limit, "limit")
    step = _number(node, delta, "delta")
    dtype = dtype_attr(node, "Tidx", "float32")
    if step == 0:
        raise GraphOpError(node, "delta must not be zero")
    if first == last or (first < last and step < 0) or (last < first and step > 1):
        return np.zeros(0, dtype)
    n = abs(math.ceil((last - first) / step))
    if last < first and step == 1:
        step = -1
    if dtype == np.float32:
        values = np.full(n, np.float32(step), np.float32)
        values[0] = first
        return np.add.accumulate(values, dtype=np.float32)
    if float(first).is_integer() and float(step).is_integer():
        return _js_store(first + step * np.arange(n, dtype=np.float64), dtype)
    value = _js_store(np.array([first]), dtype)[0]
    values = np.empty(n, dtype)
    for i in range(n):
        values[i] = value
        value = _js_store(np.array([float(value) + step]), dtype)[0]
    return values


@op("OneHot", samples=[
    OpSample([np.array([0, 2, -1, 5, 1], np.int32), np.array(3, np.int32),
              np.array(1.0, np.float32), np.array(0.0, np.float32)],
             {"T": _F32, "axis": -1, "TI": _I32}),
    OpSample([Feed((2, 3), "int32", -1, 5), np.array(4, np.int32), np.array(5, np.int32),
              np.array(-1, np.int32)], {"T": _I32, "axis": -1, "TI": _I32}, name="int32"),
    OpSample([Feed((2, 3), "int32", 0, 4), np.array(4, np.int32), Feed(()),
              np.array(-0.5, np.float32)], {"T": _F32, "axis": -1, "TI": _I32},
             name="fed-on-value"),
    OpSample([Feed((2, 3), "int32", 0, 3), np.array(3, np.int32), np.array(1.0, np.float32),
              np.array(0.0, np.float32)], {"T": _F32, "axis": 0, "TI": _I32},
             name="axis-ignored"),
])
def one_hot(node: NodeDef, indices, depth, on_value, off_value):
    """``[..., depth]``: ``on_value`` where the index is in ``[0, depth)``, else
    ``off_value`` (negative indices give a row of ``off_value``). TF.js ignores ``axis``
    (its op list marks it unsupported): the new axis is always last, here too."""
    d = int(_number(node, depth, "depth"))
    if d < 2:
        raise GraphOpError(node, f"depth must be at least 2 (TF.js refuses {d})")
    dtype = dtype_attr(node, "T", "int32")
    lib = xp(indices, on_value, off_value)
    hot = lib.asarray(indices).astype(np.int32)[..., None] == np.arange(d, dtype=np.int32)
    on = cast(_scalar(lib, on_value), dtype)
    off = cast(_scalar(lib, off_value), dtype)
    return result(lib.where(hot, on, off).astype(dtype))


# ------------------------------------------------------------------ random tensors
def _u32(x: float) -> int:
    return math.trunc(x) % 4294967296


class _Mash:
    """seedrandom's ``Mash`` string hash, in the same float64 steps."""

    def __init__(self) -> None:
        self.n: float = 0xEFC8249D

    def __call__(self, data: str) -> float:
        n = self.n
        for ch in data:
            n += ord(ch)
            h = 0.02519603282416938 * n
            n = _u32(h)
            h -= n
            h *= n
            n = _u32(h)
            h -= n
            n += h * 4294967296.0
        self.n = n
        return _u32(n) * 2.3283064365386963e-10


class _Alea:
    """seedrandom 3's ``alea`` generator (TF.js's), value for value."""

    def __init__(self, seed: str):
        mash = _Mash()
        self.c = 1
        s = [mash(" "), mash(" "), mash(" ")]
        for i in range(3):
            s[i] -= mash(seed)
            if s[i] < 0:
                s[i] += 1
        self.s0, self.s1, self.s2 = s

    def __call__(self) -> float:
        t = 2091639 * self.s0 + self.c * 2.3283064365386963e-10
        self.s0, self.s1 = self.s1, self.s2
        c = _u32(t)
        self.c = c - 4294967296 if c >= 2147483648 else c  # t | 0
        self.s2 = t - self.c
        return self.s2


def _seed(node: NodeDef) -> str:
    """The alea seed: JavaScript's ``String(seed)``, or the node's name for seed 0 (TF's
    "unseeded", for which TF.js draws from ``Math.random``)."""
    seed = node.attr("seed", 0) or 0
    if not seed:
        return node.name
    value = float(int(seed))  # TF.js parses the int64 attribute into a double
    return str(int(value)) if abs(value) < 1e21 else repr(value)


def _gauss(node: NodeDef, shape, mean: float, std: float, truncated: bool):
    """TF.js's ``MPRandGauss``: Marsaglia's polar method on alea, pairs of values, redrawn
    outside two standard deviations when ``truncated``."""
    dims = _shape(node, shape)
    dtype = dtype_attr(node, "dtype", "float32")
    if dtype == np.bool_:
        raise GraphOpError(node, "bool random values are not supported (nor in TF.js)")
    seed = _seed(node)
    random = _Alea(seed)
    upper, lower = mean + std * 2, mean - std * 2
    size = int(np.prod(dims))
    out = np.empty(size, np.float64)
    pending = math.nan
    for i in range(size):
        if not math.isnan(pending):
            out[i], pending = pending, math.nan
            continue
        while True:
            while True:
                v1 = 2 * random() - 1
                v2 = 2 * random() - 1
                s = v1 * v1 + v2 * v2
                if not (s >= 1 or s == 0):
                    break
            mul = math.sqrt(-2.0 * math.log(s) / s)
            x, y = mean + std * v1 * mul, mean + std * v2 * mul
            if not truncated or lower <= x <= upper:
                break
        if not truncated or lower <= y <= upper:
            pending = y
        out[i] = x
    if dtype != np.float32:
        out = np.floor(out + 0.5)  # JS Math.round
    return _js_store(out, dtype).reshape(dims)


@op("RandomStandardNormal", samples=[
    OpSample([_SHAPE], {"seed": 87654321, "seed2": 5, "dtype": _F32, "T": _I32}),
    OpSample([np.array([5, 7], np.int32)], {"seed": -12, "seed2": 0, "dtype": _F32, "T": _I32},
             name="negative-seed"),
])
def random_standard_normal(node: NodeDef, shape):
    """Normal(0, 1) values (TF.js's exactly when ``seed`` is nonzero)."""
    return _gauss(node, shape, 0.0, 1.0, truncated=False)


@op("TruncatedNormal", samples=[
    OpSample([np.array([40, 25], np.int32)], {"seed": 4321, "seed2": 9, "dtype": _F32,
                                              "T": _I32}),
])
def truncated_normal(node: NodeDef, shape):
    """Normal(0, 1) values redrawn outside [-2, 2] (TF.js's exactly when ``seed`` is
    nonzero); TF.js also reads ``means``/``stddev`` attributes, which TF graphs lack."""
    mean = float(node.attr("means", 0.0))
    std = float(node.attr("stddev", 1.0))
    return _gauss(node, shape, mean, std, truncated=True)


def _uniform(node: NodeDef, shape, dtype: np.dtype, maxval: float) -> np.ndarray:
    """TF.js's ``UniformRandom`` with no dtype: ``min + (max - min) * alea()`` written into a
    typed array of ``dtype`` (int32 truncates); ``minval``/``maxval`` are attributes."""
    dims = _shape(node, shape)
    low = float(node.attr("minval", 0.0))
    high = float(node.attr("maxval", maxval))
    seed = _seed(node)
    random = _Alea(seed)
    size = int(np.prod(dims))
    values = np.array([low + (high - low) * random() for _ in range(size)], np.float64)
    return _js_store(values, dtype).reshape(dims)


@op("RandomUniform", samples=[
    # TF.js draws RandomUniform from Math.random (no seed reaches it), so no value can be
    # compared; this case pins shape and dtype with TF.js's minval/maxval attributes equal.
    OpSample([np.array([3, 4], np.int32)], {"seed": 0, "seed2": 0, "dtype": _F32, "T": _I32,
                                            "minval": 0.25, "maxval": 0.25}, name="no-range"),
])
def random_uniform(node: NodeDef, shape):
    """Uniform values in ``[0, 1)`` (TF's op; TF.js honours ``minval``/``maxval``
    attributes when a graph has them). TF.js's values come from ``Math.random``; flaxjs's
    from alea (see the module docstring)."""
    dtype = dtype_attr(node, "dtype", "float32")
    return _uniform(node, shape, dtype, 1.0)


@op("RandomUniformInt", samples=[
    OpSample([_SHAPE, np.array(-5, np.int32), np.array(10, np.int32)],
             {"seed": 77, "seed2": 3, "T": _I32, "Tout": _I32}),
    OpSample([np.array([6], np.int32), np.array(0, np.int32), np.array(100, np.int32)],
             {"seed": 0, "seed2": 0, "T": _I32, "Tout": _I32}, name="unseeded"),
])
def random_uniform_int(node: NodeDef, shape, minval=None, maxval=None):
    """What TF.js computes: its op list reads ``minval``/``maxval`` as attributes (0 when
    absent, as in every TF graph) and ignores the inputs, so the values are all 0."""
    return _uniform(node, shape, np.dtype(np.int32), 0.0)


def _alea_floor32(seed: str, count: int) -> np.ndarray:
    """``count`` alea draws, each as the largest float32 not above it: for a float32 ``c``,
    ``draw < c`` exactly when ``floor32(draw) < c``."""
    random = _Alea(seed)
    draws = np.array([random() for _ in range(count)], np.float64)
    low = draws.astype(np.float32)
    above = low.astype(np.float64) > draws
    return np.where(above, np.nextafter(low, np.float32(-np.inf)), low).astype(np.float32)


@op("Multinomial", samples=[
    OpSample([Feed((3, 5), low=-2, high=2), np.array(12, np.int32)],
             {"seed": 2024, "seed2": 1, "T": _F32, "output_dtype": DType.of("int64")}),
    OpSample([np.array([[0.0, 1.0, 2.0, -1.0]], np.float32), np.array(20, np.int32)],
             {"seed": 9, "seed2": 0, "T": _F32, "output_dtype": _I32}, name="constant-logits"),
])
def multinomial(node: NodeDef, logits, num_samples):
    """int32 ``[rows, num_samples]`` class draws from ``softmax(logits)``. TF.js's kernel
    restarts alea for every row, so every row uses the same uniform draws; each picks the
    first class whose cumulative float32 probability exceeds the draw."""
    n = int(_number(node, num_samples, "num_samples"))
    rank = np.ndim(logits)
    if rank not in (1, 2) or np.size(logits) < 2:
        raise GraphOpError(node, f"logits must be rank 1 or 2 with at least 2 outcomes, got "
                                 f"shape {list(np.shape(logits))}")
    seed = _seed(node)
    draws = _alea_floor32(seed, n)
    lib = xp(logits)
    x = lib.asarray(logits).astype(np.float32).reshape(-1, np.shape(logits)[-1])
    shifted = x - lib.max(x, axis=-1, keepdims=True)
    e = lib.exp(shifted)
    probs = e / lib.sum(e, axis=-1, keepdims=True)
    cdf: Any
    if lib is np:
        cdf = np.add.accumulate(probs[:, :-1], axis=-1, dtype=np.float32)
    else:
        cdf = jax.lax.stop_gradient(jnp.cumsum(probs[:, :-1], axis=-1))
    picks = (cdf[:, None, :] <= draws[None, :, None]).sum(-1).astype(np.int32)
    return result(picks.reshape(-1) if rank == 1 else picks)
