"""The activations TF.js fuses into ``_FusedConv2D``, ``FusedDepthwiseConv2dNative`` and
``_FusedMatMul`` (``tfjs-core`` ``fused_util.applyActivation``), and how TF.js reads the
fused ops (``fusedConvAndDepthWiseParams`` and the ``_FusedMatMul`` executor).

TF.js's reading, which flaxjs follows: the activation is ``fused_ops[1]`` (none when
there is no second entry: ``fused_ops = ["Relu"]`` applies no activation); without a
leading ``BiasAdd`` the convolutions take their first extra argument as the Prelu
alpha (and add no bias), while ``_FusedMatMul`` always takes it as the bias.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from ..graphdef import NodeDef
from .basic_math import ACTIVATIONS
from .common import GraphOpError

_KNOWN = ("relu", "relu6", "elu", "sigmoid", "leakyrelu", "prelu")


def apply_activation(node: NodeDef, y: Any, name: str, prelu: Any = None,
                     alpha: float = 0.2) -> Any:
    """``alpha`` NaN: TF.js passes no LeakyRelu alpha (``FusedDepthwiseConv2dNative``),
    so every negative value becomes ``undefined · x`` = NaN."""
    if name in ("", "linear"):
        return y
    if name in ("relu", "relu6", "elu", "sigmoid"):
        return ACTIVATIONS[name](jnp, y)
    if name == "leakyrelu":
        if np.isnan(alpha):
            return jnp.where(y < 0, jnp.full_like(y, np.nan), y)
        return jnp.where(y < 0, np.float32(alpha) * y, y)
    if name == "prelu":
        if prelu is None:
            raise GraphOpError(node, "the fused Prelu has no alpha argument")
        return jnp.where(y < 0, prelu * y, y)
    raise GraphOpError(node, f"unknown fused activation {name!r} (TF.js fuses relu, relu6, "
                             "elu, sigmoid, leakyrelu and prelu)")


def fused_parts(node: NodeDef, args: list[Any], *, conv: bool) -> tuple[Any, Any, str]:
    """``(bias, prelu alpha, activation)`` from ``fused_ops`` and the extra arguments,
    with TF.js's checks."""
    fused = [str(s).lower() for s in node.attr("fused_ops", [])]
    extra, activation = [*fused, "", ""][:2]
    num_args = int(node.attr("num_args", 0))
    if extra == "biasadd":
        need = 2 if activation == "prelu" else 1
        if num_args != need:
            raise GraphOpError(node, f"BiasAdd{' and Prelu' if need == 2 else ''} needs {need} "
                                     f"extra argument(s), the node declares {num_args}")
    if conv and extra == "fusedbatchnorm":
        raise GraphOpError(node, "a fused FusedBatchNorm is not supported (TF.js refuses it "
                                 "too); convert the model without that fusion")
    if activation and activation not in _KNOWN:
        raise GraphOpError(node, f"unknown fused activation {activation!r} (TF.js fuses relu, "
                                 "relu6, elu, sigmoid, leakyrelu and prelu)")
    bias, prelu = [*args, None, None][:2]
    if conv and extra != "biasadd":
        prelu, bias = bias, None
    return bias, prelu, activation or "linear"


def finish(node: NodeDef, y: Any, args: list[Any], *, conv: bool, alpha: float = 0.2,
           channels_first: bool = False) -> Any:
    """Bias, then activation. ``channels_first``: a 1-D bias or Prelu alpha (of more than
    one value) lines up with axis 1, as TF.js's NCHW ``_FusedConv2D`` reshapes it."""
    bias, prelu, activation = fused_parts(node, args, conv=conv)

    def channels(v: Any) -> Any:
        if channels_first and v is not None and jnp.ndim(v) == 1 and jnp.shape(v)[0] != 1:
            return jnp.reshape(v, (-1, 1, 1))
        return v

    if bias is not None:
        y = y + channels(jnp.asarray(bias, y.dtype))
    return apply_activation(node, y, activation, channels(prelu), alpha)
