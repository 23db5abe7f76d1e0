"""Matrix products and transposes (TF.js ``matrices``)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..graphdef import NodeDef
from . import fused
from .common import result, static_ints, xp
from .registry import Feed, OpSample, op

_RNG = np.random.default_rng(1)


def _w(*shape: int) -> np.ndarray:
    return _RNG.uniform(-1, 1, shape).astype(np.float32)


def _matmul(node: NodeDef, a, b):
    ta = bool(node.attr("transpose_a", node.attr("adj_x", False)))
    tb = bool(node.attr("transpose_b", node.attr("adj_y", False)))
    lib = xp(a, b)
    if ta:
        a = lib.swapaxes(a, -1, -2)
    if tb:
        b = lib.swapaxes(b, -1, -2)
    return result(lib.matmul(a, b))


@op("MatMul", "BatchMatMul", "BatchMatMulV2", samples=[
    OpSample([Feed((3, 4)), _w(4, 5)]),
    OpSample([Feed((4, 3)), _w(5, 4)], {"transpose_a": True, "transpose_b": True},
             name="transposed"),
    OpSample([Feed((2, 3, 4)), Feed((2, 4, 5))], op="BatchMatMulV2"),
    OpSample([Feed((2, 1, 3, 4)), Feed((3, 5, 4))], {"adj_y": True}, op="BatchMatMulV2",
             name="broadcast-adj"),
])
def matmul(node: NodeDef, a, b):
    return _matmul(node, a, b)


@op("_FusedMatMul", samples=[
    OpSample([Feed((3, 4)), _w(4, 5), _w(5)], {"fused_ops": ["BiasAdd"], "num_args": 1},
             name="bias"),
    OpSample([Feed((3, 4)), _w(4, 5), _w(5)], {"fused_ops": ["BiasAdd", "Relu"],
                                               "num_args": 1}, name="relu"),
    OpSample([Feed((3, 4)), _w(5, 4), _w(5)], {"fused_ops": ["BiasAdd", "Relu6"],
                                               "num_args": 1, "transpose_b": True},
             name="relu6-transposed"),
    OpSample([Feed((3, 4)), _w(4, 5), _w(5)], {"fused_ops": ["BiasAdd", "Elu"],
                                               "num_args": 1}, name="elu"),
    OpSample([Feed((3, 4)), _w(4, 5), _w(5)], {"fused_ops": ["BiasAdd", "Sigmoid"],
                                               "num_args": 1}, name="sigmoid"),
    OpSample([Feed((3, 4)), _w(4, 5), _w(5)], {"fused_ops": ["BiasAdd", "LeakyRelu"],
                                               "num_args": 1, "leakyrelu_alpha": 0.1},
             name="leakyrelu"),
    OpSample([Feed((3, 4)), _w(4, 5), _w(5), _w(5)], {"fused_ops": ["BiasAdd", "Prelu"],
                                                      "num_args": 2}, name="prelu"),
])
def fused_matmul(node: NodeDef, a, b, *args):
    return fused.finish(node, _matmul(node, a, b), list(args), conv=False)


@op("Transpose", samples=[OpSample([Feed((2, 3, 4)), np.array([2, 0, 1], np.int32)])])
def transpose(node: NodeDef, x, perm):
    return result(xp(x).transpose(x, static_ints(node, perm, "perm")))


@op("Einsum", samples=[
    OpSample([Feed((2, 3, 4)), Feed((2, 4, 5))], {"equation": "bij,bjk->bik", "N": 2})])
def einsum(node: NodeDef, *operands):
    return jnp.einsum(str(node.attr("equation", "")), *operands)


@op("MatrixBandPart", samples=[
    OpSample([Feed((2, 4, 5)), np.array(1, np.int32), np.array(2, np.int32)]),
    OpSample([Feed((4, 4)), np.array(-1, np.int32), np.array(0, np.int32)], name="lower")])
def matrix_band_part(node: NodeDef, x, num_lower, num_upper):
    lo = int(static_ints(node, num_lower, "num_lower")[0])
    hi = int(static_ints(node, num_upper, "num_upper")[0])
    m, n = np.shape(x)[-2:]
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    keep = ((lo < 0) | (i - j <= lo)) & ((hi < 0) | (j - i <= hi))
    lib = xp(x)
    return result(lib.where(keep, x, lib.zeros((), np.asarray(x).dtype if lib is np
                                               else x.dtype)))
