"""Batch normalization, softmax and friends (TF.js ``normalization``)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from ...layers import activations
from ..graphdef import NodeDef
from .common import nhwc, static_ints
from .registry import Feed, OpSample, op

_RNG = np.random.default_rng(2)


def _w(*shape: int, low: float = -1.0) -> np.ndarray:
    return _RNG.uniform(low, 1, shape).astype(np.float32)


@op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", samples=[
    OpSample([Feed((2, 3, 3, 4)), _w(4), _w(4), _w(4), _w(4, low=0.1)], {"epsilon": 0.001}),
    OpSample([Feed((2, 3, 3, 4)), _w(4), _w(4), _w(4), _w(4, low=0.1)],
             {"epsilon": 0.01, "is_training": True}, op="FusedBatchNormV3",
             name="is-training-ignored"),
])
def fused_batch_norm(node: NodeDef, x, scale, offset, mean, variance, *rest):
    """Inference form only: TF.js ignores ``is_training`` and returns only output 0."""
    nhwc(node)
    eps = float(node.attr("epsilon", 0.001))
    return (x - mean) * lax.rsqrt(variance + eps) * scale + offset


@op("Softmax", samples=[OpSample([Feed((3, 5), low=-4, high=4)])])
def softmax(node: NodeDef, x):
    return activations.softmax(x, -1)


@op("LogSoftmax", samples=[OpSample([Feed((3, 5), low=-4, high=4)])])
def log_softmax(node: NodeDef, x):
    return activations.log_softmax(x, -1)


@op("LRN", samples=[OpSample([Feed((1, 3, 3, 6))], {"depth_radius": 2, "bias": 1.0,
                                                    "alpha": 0.5, "beta": 0.75})])
def lrn(node: NodeDef, x):
    """``x / (bias + alpha·sum(x² over ±radius channels))^beta`` (TF's LRN)."""
    radius = int(node.attr("depth_radius", 5))
    bias = float(node.attr("bias", 1.0))
    alpha = float(node.attr("alpha", 1.0))
    beta = float(node.attr("beta", 0.5))
    sq = jnp.square(x)
    window = lax.reduce_window(sq, 0.0, lax.add, (1, 1, 1, 2 * radius + 1), (1, 1, 1, 1),
                               ((0, 0), (0, 0), (0, 0), (radius, radius)))
    return x / jnp.power(bias + alpha * window, beta)


@op("EuclideanNorm", samples=[
    OpSample([Feed((2, 3, 4)), np.array([1, 2], np.int32)], {"keep_dims": False}),
    OpSample([Feed((2, 3, 4)), np.array(1, np.int32)], {"keep_dims": True}, name="keepdims")])
def euclidean_norm(node: NodeDef, x, axis):
    axes = tuple(a % np.ndim(x) for a in static_ints(node, axis, "axis"))
    keep = bool(node.attr("keep_dims", False))
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=axes, keepdims=keep))
