"""Batch normalization, softmax and friends (TF.js ``normalization``)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, nhwc, normalize_axis, result, static_ints, xp
from .registry import Feed, OpSample, op

_RNG = np.random.default_rng(2)


def _w(*shape: int, low: float = -1.0) -> np.ndarray:
    return _RNG.uniform(low, 1, shape).astype(np.float32)


def _bn_samples() -> list[OpSample]:
    x, params = Feed((2, 3, 3, 4)), [_w(4), _w(4), _w(4), _w(4, low=0.1)]
    return [
        OpSample([x, *params], {"epsilon": 0.001}),
        OpSample([x, *params], {"epsilon": 0.001, "data_format": "NHWC"}, op="FusedBatchNormV2"),
        OpSample([x, *params], {"epsilon": 1e-5}, op="FusedBatchNormV3"),
        OpSample([x, *params], {"epsilon": 0.01, "is_training": True}, op="FusedBatchNormV3",
                 name="is-training-ignored"),
        OpSample([x, *params], {}, op="FusedBatchNormV3", name="default-epsilon"),
        OpSample([Feed((3, 4)), *params], {"epsilon": 0.001}, op="FusedBatchNormV3",
                 name="rank2"),
    ]


@op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", samples=_bn_samples())
def fused_batch_norm(node: NodeDef, x, scale, offset, mean, variance, *rest):
    """``offset + (x - mean)·scale / sqrt(variance + epsilon)`` (TF.js's ``batchNorm``
    kernel). TF.js ignores ``is_training`` (always the inference form) and computes only
    output 0 (no batch statistics)."""
    nhwc(node)
    eps = np.float32(node.attr("epsilon", 0.001))
    return offset + (x - mean) * scale / jnp.sqrt(variance + eps)


@op("Softmax", samples=[OpSample([Feed((3, 5), low=-4, high=4)]),
                        OpSample([Feed((2, 3, 5), low=-40, high=40)], name="rank3")])
def softmax(node: NodeDef, x):
    """Over the last axis: ``exp(x - max) / sum(exp(x - max))``."""
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


@op("LogSoftmax", samples=[OpSample([Feed((3, 5), low=-4, high=4)]),
                           OpSample([Feed((2, 3, 5), low=-40, high=40)], name="rank3")])
def log_softmax(node: NodeDef, x):
    """Over the last axis: ``(x - max) - log(sum(exp(x - max)))``."""
    shifted = x - jnp.max(x, axis=-1, keepdims=True)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))


@op("LRN", samples=[
    OpSample([Feed((1, 3, 3, 6))], {"depth_radius": 2, "bias": 1.0, "alpha": 0.5, "beta": 0.75}),
    OpSample([Feed((1, 2, 2, 12))], {}, name="defaults")])
def lrn(node: NodeDef, x):
    """``x · (bias + alpha·sum(x² over channels c-r..c+r))^-beta`` (TF.js's ``LRN``)."""
    radius = int(node.attr("depth_radius", 5))
    bias = float(node.attr("bias", 1.0))
    alpha = float(node.attr("alpha", 1.0))
    beta = float(node.attr("beta", 0.5))
    if jnp.ndim(x) != 4:
        raise GraphOpError(node, f"LRN needs a rank-4 input, got shape {jnp.shape(x)}")
    sq = jnp.square(x)
    c = jnp.shape(x)[-1]
    padded = jnp.pad(sq, ((0, 0), (0, 0), (0, 0), (radius, radius)))
    window = sum(padded[..., i:i + c] for i in range(2 * radius + 1))
    return x * jnp.power(bias + alpha * window, -beta)


@op("EuclideanNorm", samples=[
    OpSample([Feed((2, 3, 4)), np.array([1, 2], np.int32)], {"keep_dims": False}),
    OpSample([Feed((2, 3, 4)), np.array(1, np.int32)], {"keep_dims": True}, name="keepdims"),
    OpSample([Feed((2, 3, 4)), np.array([-1], np.int32)], {"keep_dims": False}, name="one"),
    OpSample([Feed((5,)), np.array(0, np.int32)], {"keep_dims": True}, name="vector")])
def euclidean_norm(node: NodeDef, x, axis):
    """``sqrt(sum(x²))`` over one or two axes (TF.js's ``norm`` refuses more, and int32
    inputs, which its ``sqrt`` refuses)."""
    lib = xp(x)
    x = lib.asarray(x)
    rank = x.ndim
    axes = [normalize_axis(node, a, rank) for a in static_ints(node, axis, "axis")]
    if rank > 1 and len(axes) not in (1, 2):
        raise GraphOpError(node, f"TF.js's norm takes one or two axes, got {axes}")
    if np.dtype(x.dtype).kind != "f":
        raise GraphOpError(node, f"TF.js computes the norm of float32 only, got {x.dtype}")
    keep = bool(node.attr("keep_dims", False))
    total = lib.sum(lib.square(x), axis=tuple(axes) if rank else None, keepdims=keep)
    return result(lib.sqrt(total))
