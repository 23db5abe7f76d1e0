"""The activations TF.js fuses into ``_FusedConv2D``, ``FusedDepthwiseConv2dNative`` and
``_FusedMatMul`` (``tfjs-core`` ``fused_util.applyActivation``), and the fused-op reading."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from ...layers import activations
from ...layers.conv import bias_add
from ..graphdef import NodeDef
from .common import GraphOpError


def apply_activation(node: NodeDef, y: Any, name: str, prelu: Any = None,
                     alpha: float = 0.2) -> Any:
    if name in ("", "linear"):
        return y
    if name == "relu":
        return activations.relu(y)
    if name == "relu6":
        return activations.relu6(y)
    if name == "elu":
        return activations.elu(y)
    if name == "sigmoid":
        return activations.sigmoid(y)
    if name == "leakyrelu":
        return jnp.where(y < 0, alpha * y, y)
    if name == "prelu":
        if prelu is None:
            raise GraphOpError(node, "the fused Prelu has no alpha argument")
        return jnp.where(y < 0, prelu * y, y)
    raise GraphOpError(node, f"unknown fused activation {name!r} (TF.js fuses relu, relu6, "
                             "elu, sigmoid, leakyrelu and prelu)")


def fused_parts(node: NodeDef, args: list[Any], *, conv: bool) -> tuple[Any, Any, str]:
    """``(bias, prelu alpha, activation)`` from ``fused_ops`` and the extra arguments,
    with TF.js's checks (``fusedConvAndDepthWiseParams``, ``_FusedMatMul``)."""
    fused = [str(s).lower() for s in node.attr("fused_ops", [])]
    extra, activation = (fused + ["", ""])[:2]
    num_args = int(node.attr("num_args", 0))
    if extra == "biasadd":
        need = 2 if activation == "prelu" else 1
        if num_args != need:
            raise GraphOpError(node, f"BiasAdd{' and Prelu' if need == 2 else ''} needs {need} "
                                     f"extra argument(s), the node declares {num_args}")
    elif extra == "fusedbatchnorm":
        raise GraphOpError(node, "a fused FusedBatchNorm is not supported (TF.js refuses it "
                                 "too); convert the model without that fusion")
    elif extra not in ("", "prelu", "relu", "relu6", "elu", "sigmoid", "leakyrelu"):
        raise GraphOpError(node, f"unknown fused op {extra!r}")
    bias, prelu = (list(args) + [None, None])[:2]
    if extra != "biasadd":
        if conv:  # without BiasAdd the first argument is the Prelu alpha
            prelu, bias = bias, None
        if extra and not activation:  # fused_ops = [activation]
            activation = extra
    return bias, prelu, activation


def finish(node: NodeDef, y: Any, args: list[Any], *, conv: bool) -> Any:
    bias, prelu, activation = fused_parts(node, args, conv=conv)
    if bias is not None:
        y = bias_add(y, bias) if jnp.ndim(bias) == 1 else y + bias
    alpha = float(node.attr("leakyrelu_alpha", 0.2))
    return apply_activation(node, y, activation, prelu, alpha)
