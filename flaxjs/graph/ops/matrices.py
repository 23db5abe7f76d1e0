"""Matrix products and transposes (TF.js ``matrices``)."""

from __future__ import annotations

import re

import numpy as np

from ..graphdef import NodeDef
from . import fused
from .common import GraphOpError, result, static_ints, upcast, xp
from .registry import Feed, OpSample, op

_RNG = np.random.default_rng(1)


def _w(*shape: int) -> np.ndarray:
    return _RNG.uniform(-1, 1, shape).astype(np.float32)


def _matmul(node: NodeDef, a, b):
    """TF.js's ``BatchMatMul`` kernel: the batch dims of each side are flattened and the
    ``i``-th product pairs batch ``i % batchA`` with ``i % batchB``. That is numpy
    broadcasting when one side has a single batch or both have the same, and TF.js's
    own pairing otherwise (``[2, 3]`` with ``[2, 1]`` pairs ``i`` with ``i % 2``); a
    broadcast whose size is not ``max(batchA, batchB)`` fails in TF.js and here."""
    ta = bool(node.attr("transpose_a", node.attr("adj_x", False)))
    tb = bool(node.attr("transpose_b", node.attr("adj_y", False)))
    lib = xp(a, b)
    a, b = upcast(a, b)
    if a.ndim < 2 or b.ndim < 2:
        raise GraphOpError(node, f"both inputs need rank >= 2, got {a.shape} and {b.shape}")
    if ta:
        a = lib.swapaxes(a, -1, -2)
    if tb:
        b = lib.swapaxes(b, -1, -2)
    (m, k), (k2, n) = a.shape[-2:], b.shape[-2:]
    if k != k2:
        raise GraphOpError(node, f"inner shapes ({k}) and ({k2}) of {a.shape} and {b.shape} "
                                 "(after transposes) must match")
    if a.ndim == 2 and b.ndim == 2:
        return result(lib.matmul(a, b))
    try:
        outer = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise GraphOpError(node, f"batch dims {a.shape[:-2]} and {b.shape[:-2]} do not "
                                 "broadcast") from None
    batch_a, batch_b = int(np.prod(a.shape[:-2])), int(np.prod(b.shape[:-2]))
    batch = max(batch_a, batch_b)
    if batch != int(np.prod(outer)):
        raise GraphOpError(node, f"TF.js cannot broadcast batch dims {a.shape[:-2]} with "
                                 f"{b.shape[:-2]} (it pairs flattened batches modulo their "
                                 "sizes); make one side's batch size 1 or equal")
    a3, b3 = a.reshape(batch_a, m, k), b.reshape(batch_b, k, n)
    if batch_a != batch_b and 1 not in (batch_a, batch_b):
        index = np.arange(batch)
        a3, b3 = a3[index % batch_a], b3[index % batch_b]
    return result(lib.matmul(a3, b3).reshape(*outer, m, n))


@op("MatMul", "BatchMatMul", "BatchMatMulV2", samples=[
    OpSample([Feed((3, 4)), _w(4, 5)]),
    OpSample([Feed((4, 3)), _w(5, 4)], {"transpose_a": True, "transpose_b": True},
             name="transposed"),
    OpSample([np.array([[1, 2], [3, -4]], np.int32), np.array([[5, 6], [-7, 8]], np.int32)],
             name="int32"),
    OpSample([Feed((2, 3, 4)), Feed((2, 4, 5))], op="BatchMatMul"),
    OpSample([Feed((2, 4, 3)), Feed((2, 5, 4))], {"adj_x": True, "adj_y": True},
             op="BatchMatMul", name="adj"),
    OpSample([Feed((2, 3, 4)), Feed((2, 4, 5))], op="BatchMatMulV2"),
    OpSample([Feed((2, 3, 3, 4)), Feed((3, 5, 4))], {"adj_y": True}, op="BatchMatMulV2",
             name="broadcast-adj"),
    OpSample([Feed((2, 3, 4)), _w(4, 5)], op="BatchMatMulV2", name="rank2-weight"),
    OpSample([Feed((1, 3, 4)), Feed((3, 4, 2))], op="BatchMatMulV2", name="broadcast-one"),
    OpSample([Feed((2, 3, 2, 4)), Feed((2, 1, 4, 5))], op="BatchMatMulV2",
             name="modulo-pairing"),
])
def matmul(node: NodeDef, a, b):
    return _matmul(node, a, b)


def _fused_samples() -> list[OpSample]:
    a, b, bias = Feed((3, 4)), _w(4, 5), _w(5)
    out = [OpSample([a, b, bias], {"fused_ops": ["BiasAdd"], "num_args": 1}, name="bias")]
    for act in ("Relu", "Relu6", "Elu", "Sigmoid"):
        out.append(OpSample([a, b, bias * 4], {"fused_ops": ["BiasAdd", act], "num_args": 1},
                            name=act.lower()))
    out += [
        OpSample([a, _w(5, 4), bias], {"fused_ops": ["BiasAdd", "Relu6"], "num_args": 1,
                                       "transpose_b": True}, name="relu6-transposed"),
        OpSample([a, b, bias], {"fused_ops": ["BiasAdd", "LeakyRelu"], "num_args": 1,
                                "leakyrelu_alpha": 0.1}, name="leakyrelu"),
        OpSample([a, b, bias], {"fused_ops": ["BiasAdd", "LeakyRelu"], "num_args": 1},
                 name="leakyrelu-default"),
        OpSample([a, b, bias, _w(5)], {"fused_ops": ["BiasAdd", "Prelu"], "num_args": 2},
                 name="prelu"),
        OpSample([a, b, bias], {"fused_ops": ["Relu"], "num_args": 1},
                 name="no-biasadd"),
        OpSample([Feed((2, 3, 4)), _w(4, 5), bias], {"fused_ops": ["BiasAdd", "Relu"],
                                                     "num_args": 1}, name="batched"),
    ]
    return out


@op("_FusedMatMul", samples=_fused_samples())
def fused_matmul(node: NodeDef, a, b, *args):
    """``MatMul`` + bias + activation (``fused_ops[1]``; ``["Relu"]`` alone adds the
    argument as a bias and applies no activation, as in TF.js)."""
    alpha = float(node.attr("leakyrelu_alpha", 0.2))
    return fused.finish(node, _matmul(node, a, b), list(args), conv=False, alpha=alpha)


@op("Transpose", samples=[OpSample([Feed((2, 3, 4)), np.array([2, 0, 1], np.int32)]),
                          OpSample([np.array([[1, 2, 3]], np.int32), np.array([1, 0], np.int32)],
                                   name="int32")])
def transpose(node: NodeDef, x, perm):
    return result(xp(x).transpose(x, static_ints(node, perm, "perm")))


@op("Einsum", samples=[
    OpSample([Feed((2, 3, 4)), Feed((2, 4, 5))], {"equation": "bij,bjk->bik", "N": 2}),
    OpSample([Feed((3, 4)), Feed((3, 4))], {"equation": "ij,ij->i", "N": 2}, name="dot"),
    OpSample([Feed((3,)), Feed((4,))], {"equation": "i,j->ij", "N": 2}, name="outer"),
    OpSample([Feed((3, 4))], {"equation": "ij->ji", "N": 1}, name="transpose"),
    OpSample([Feed((2, 3, 4))], {"equation": "abc->b", "N": 1}, name="sum")])
def einsum(node: NodeDef, *operands):
    """TF.js's einsum: an arrow, at most two inputs, no label twice in one input."""
    equation = str(node.attr("equation", "")).replace(" ", "")
    if equation.count("->") != 1:
        raise GraphOpError(node, f"equation {equation!r} needs exactly one '->' (TF.js)")
    lhs, _ = equation.split("->")
    terms = lhs.split(",")
    if len(operands) > 2 or len(terms) != len(operands):
        raise GraphOpError(node, f"equation {equation!r} with {len(operands)} inputs (TF.js "
                                 "supports one or two, one term each)")
    for term in terms:
        if "." in term or not re.fullmatch(r"[A-Za-z]*", term):
            raise GraphOpError(node, f"ellipsis or odd labels in {term!r} (TF.js does not "
                                     "support them)")
        if len(set(term)) != len(term):
            raise GraphOpError(node, f"label repeated in {term!r} (TF.js does not support "
                                     "traces or diagonals)")
    lib = xp(*operands)
    operands = upcast(*operands)
    return result(lib.einsum(equation, *operands))


@op("MatrixBandPart", samples=[
    OpSample([Feed((2, 4, 5)), np.array(1, np.int32), np.array(2, np.int32)]),
    OpSample([Feed((4, 4)), np.array(-1, np.int32), np.array(0, np.int32)], name="lower"),
    OpSample([Feed((5, 3)), np.array(0, np.int32), np.array(-1, np.int32)], name="diag"),
    OpSample([Feed((3, 5)), np.array(7, np.int32), np.array(1, np.int32)], name="clamped"),
    OpSample([np.arange(12, dtype=np.int32).reshape(3, 4), np.array(1, np.int32),
              np.array(0, np.int32)], name="int32")])
def matrix_band_part(node: NodeDef, x, num_lower, num_upper):
    """TF.js's op list reads both ``num_lower`` and ``num_upper`` from input 1, so the
    band is symmetric (``num_upper`` is ignored); a negative count keeps the whole side."""
    lib = xp(x, num_lower)
    x = lib.asarray(x)
    if x.ndim < 2:
        raise GraphOpError(node, f"the input needs rank >= 2, got {x.shape}")
    band = lib.asarray(num_lower)
    if np.dtype(band.dtype).kind not in "iu":
        raise GraphOpError(node, f"num_lower must be int32, got {band.dtype} (TF.js)")
    m, n = x.shape[-2:]
    lower = lib.where(band < 0, m, lib.minimum(band, m))
    upper = lib.where(band < 0, n, lib.minimum(band, n))
    ij = np.arange(m)[:, None] - np.arange(n)[None, :]
    keep = (ij <= lower) & (ij >= -upper)
    return result(lib.where(keep, x, lib.zeros_like(x)))
