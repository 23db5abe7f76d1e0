"""A Keras head added to a graph model (``GraphModel.extend``) as GraphDef nodes.

The common transfer-learning heads become the ops the TF converter itself writes
for them: ``Dense`` → ``MatMul`` + ``BiasAdd`` + the activation op, the global
poolings → ``Mean``/``Max`` over the spatial axes, ``Flatten`` → ``Reshape``,
``Dropout`` (inference) → nothing. Other layers are refused by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ExportError
from ..graph.graphdef import DType, attr_json, const_node
from ..model import Model

_FLOAT = {"T": attr_json(DType.of("float32"))}

#: Keras activation name → the TF op the converter writes for it.
_ACTIVATION_OPS = {"relu": "Relu", "relu6": "Relu6", "sigmoid": "Sigmoid", "tanh": "Tanh",
                   "softmax": "Softmax", "elu": "Elu", "selu": "Selu", "softplus": "Softplus"}


def _activation(name: Any, layer: str) -> str | None:
    if isinstance(name, Mapping):
        name = (name.get("config") or {}).get("name") or name.get("class_name")
    key = str(name or "linear").lower()
    if key == "linear":
        return None
    if key not in _ACTIVATION_OPS:
        raise ExportError(f"head layer {layer!r}: activation {name!r} has no TF op TF.js runs "
                          f"in a graph model (supported: {', '.join(sorted(_ACTIVATION_OPS))})")
    return _ACTIVATION_OPS[key]


def head_nodes(head: Model, params: Mapping[str, Any], source: str, rank: int,
               shape: tuple[int, ...]) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], str]:
    """``(nodes, {const name: value}, output node)`` computing ``head`` on ``source``.

    Args:
      head: the head model (its Sequential layers after the input).
      params: the head's parameters by layer name.
      source: the graph tensor the head reads.
      rank: that tensor's rank.
      shape: its shape (batch axis first).
    """
    nodes: list[dict[str, Any]] = []
    consts: dict[str, np.ndarray] = {}

    def const(name: str, value: np.ndarray) -> str:
        nodes.append(const_node(name, value))
        consts[name] = value
        return name

    def node(name: str, op: str, inputs: list[str], **attrs: Any) -> str:
        nodes.append({"name": name, "op": op, "input": inputs,
                      "attr": {**_FLOAT, **{k: attr_json(v) for k, v in attrs.items()}}})
        return name

    current = source
    for spec in head.graph.layers[1:]:
        cls, name, config = spec.class_name, f"head/{spec.name}", spec.config
        if cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
                   "GlobalMaxPooling1D"):
            if config.get("data_format") == "channels_first":
                raise ExportError(f"head layer {spec.name!r}: channels_first pooling")
            axes = np.arange(1, rank - 1, dtype=np.int32)
            current = node(name, "Mean" if "Average" in cls else "Max",
                           [current, const(f"{name}/axes", axes)], keep_dims=False)
            rank, shape = 2, (shape[0], shape[-1])
        elif cls == "Flatten":
            size = int(np.prod(shape[1:]))
            current = node(name, "Reshape",
                           [current, const(f"{name}/shape", np.array([-1, size], np.int32))])
            rank, shape = 2, (shape[0], size)
        elif cls == "Dropout" or cls == "SpatialDropout2D":
            continue
        elif cls == "Dense":
            if rank != 2:
                raise ExportError(f"head layer {spec.name!r}: Dense on a rank-{rank} tensor; "
                                  "pool or flatten first")
            weights = params[spec.name]
            kernel = np.asarray(weights["kernel"], np.float32)
            current = node(f"{name}/MatMul", "MatMul",
                           [current, const(f"{name}/kernel", kernel)],
                           transpose_a=False, transpose_b=False)
            if "bias" in weights:
                current = node(f"{name}/BiasAdd", "BiasAdd",
                               [current, const(f"{name}/bias",
                                               np.asarray(weights["bias"], np.float32))],
                               data_format="NHWC")
            op = _activation(config.get("activation"), spec.name)
            if op is not None:
                current = node(f"{name}/{op}", op, [current])
            shape = (shape[0], kernel.shape[1])
        elif cls in ("Activation", "ReLU", "Softmax"):
            op = _activation(config.get("activation", cls.lower()), spec.name)
            if cls == "ReLU" and (config.get("max_value") not in (None, 6, 6.0)
                                  or float(config.get("negative_slope") or 0)
                                  or float(config.get("threshold") or 0)):
                raise ExportError(f"head layer {spec.name!r}: a ReLU with options")
            if cls == "ReLU" and config.get("max_value") in (6, 6.0):
                op = "Relu6"
            if op is not None:
                current = node(name, op, [current])
        else:
            raise ExportError(
                f"head layer {spec.name!r} ({cls}) cannot be written into a graph model yet "
                "(supported: Dense, global poolings, Flatten, Dropout, activations); save the "
                "variables with flaxjs.save_checkpoint instead")
    return nodes, consts, current
