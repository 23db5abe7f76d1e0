"""``flaxjs.save`` of a graph model: the GraphDef it needs, with the current weights.

The nodes the outputs need are written as they were read (every attribute kept),
the signature names the model's inputs and outputs, and every ``Const`` node's
value comes from the model: its (fine-tuned) float weights, its other constants.
``tf.loadGraphModel`` then computes what flaxjs computes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExportError
from ..graph import executor
from ..graph.graphdef import DType
from ..graph.model import GraphModel
from . import metadata as meta
from .files import write_folder
from .graph_head import head_nodes
from .weights import Weight, encode, shard


def _tensor_entry(name: str, shape: Any, dtype: str) -> dict[str, Any]:
    dims = [{"size": str(-1 if d is None else d)} for d in shape]
    return {"name": name, "dtype": DType.of(dtype).tf_name, "tensorShape": {"dim": dims}}


def save_graph(model: GraphModel, folder: str | os.PathLike[str], *, variables: Any = None,
               quantize: str | None = None, quantize_only: str | Iterable[str] | None = None,
               shard_bytes: int = 4 * 2**20, metadata: Mapping[str, Any] | None = None
               ) -> Path:
    """Write a graph model folder; see :func:`flaxjs.save`."""
    source = (model.model_json or {}).get("modelTopology")
    if not isinstance(source, Mapping) or not isinstance(source.get("node"), list):
        raise ExportError("the model has no GraphDef to write (it was not loaded from a file)")
    params = dict(model.params)
    if variables is not None:
        given = variables if isinstance(variables, Mapping) else {
            "params": getattr(variables, "params", None)}
        new = given.get("params")
        if not isinstance(new, Mapping) or set(new) != set(params):
            raise ExportError("variables must hold the same 'params' as the model "
                              f"({len(params)} weight nodes)")
        params = dict(new)
    spec = model.spec
    feeds = {s.name for s in spec.inputs}
    order = executor.execution_order(spec, spec.outputs, feeds)
    needed = executor.needed_names(spec, order) | feeds
    raw_nodes: list[Mapping[str, Any]] = [
        n for n in source["node"] if isinstance(n, Mapping) and n.get("name") in needed]
    outputs = [f"{ref.node}:{ref.index}" for ref in spec.outputs]
    output_keys = list(spec.output_keys)
    head_consts: dict[str, np.ndarray] = {}
    if model.head is not None:
        (ref,) = spec.outputs
        shape = tuple(model.graph_output_spec().shape)
        nodes, head_consts, out = head_nodes(
            model.head, {k: v for k, v in params.items() if k not in spec.nodes},
            str(ref), len(shape), shape)
        taken = {n.get("name") for n in source["node"] if isinstance(n, Mapping)}
        clash = sorted(n["name"] for n in nodes if n["name"] in taken)
        if clash:
            raise ExportError(f"head node names {clash} are taken in the graph")
        raw_nodes = [*raw_nodes, *nodes]
        outputs, output_keys = [f"{out}:0"], ["output_0"]
    stored = _manifest_names(model.model_json)
    weights = []
    const_names = [str(n["name"]) for n in raw_nodes if n.get("op") == "Const"]
    for name in const_names + executor.function_constants(spec):
        if name in params:
            value = np.asarray(params[name], np.float32)
            if value.shape != tuple(np.shape(model.params[name])):
                raise ExportError(f"weight {name!r} has shape {list(value.shape)}, the model "
                                  f"{list(np.shape(model.params[name]))}")
        elif name in stored:
            value = np.asarray(model.constants[name])
        else:
            continue  # an inline constant: it stays in the node
        weights.append(Weight(name, value))
    weights += [Weight(name, value) for name, value in head_consts.items()]
    entries, data = encode(weights, quantize, quantize_only)
    files = shard(data, shard_bytes)
    signature = {
        "inputs": {key: _tensor_entry(f"{s.name}:0", s.shape, s.dtype)
                   for key, s in zip(spec.input_keys, spec.inputs, strict=True)},
        "outputs": {key: {"name": name} for key, name in zip(output_keys, outputs, strict=True)},
    }
    original = dict(model.model_json or {})
    topology = {k: v for k, v in source.items() if k != "node"}
    topology["node"] = raw_nodes
    model_json: dict[str, Any] = {
        "format": "graph-model",
        "generatedBy": original.get("generatedBy"),
        "convertedBy": meta.PRODUCER,
        "signature": signature,
        "modelTopology": topology,
        "weightsManifest": [{"paths": [name for name, _ in files], "weights": entries}],
    }
    user = {k: v for k, v in (original.get("userDefinedMetadata") or {}).items()
            if k not in ("signature", "structuredOutputKeys")}
    if spec.structured_keys is not None and model.head is None:
        user["structuredOutputKeys"] = list(spec.structured_keys)
    if metadata:
        user.update(metadata)
    if user:
        model_json["userDefinedMetadata"] = user
    return write_folder(folder, model_json, files)


def _manifest_names(model_json: Mapping[str, Any] | None) -> set[str]:
    groups = (model_json or {}).get("weightsManifest") or []
    return {str(w.get("name")) for g in groups if isinstance(g, Mapping)
            for w in g.get("weights", []) if isinstance(w, Mapping)}
