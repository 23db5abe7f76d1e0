"""Loading a TF.js graph model: the GraphDef, its weights, a :class:`GraphModel`."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from ..errors import WeightMatchError
from ..info import ModelInfo
from ..io.source import Artifacts
from ..weights.decode import decode_weights
from ..weights.manifest import parse_manifest
from ..weights.shards import read_shards
from . import executor
from .model import GraphModel
from .spec import inline_constants, parse_graph


def is_graph_model(model_json: Mapping[str, Any]) -> bool:
    """A graph model says so in ``format``; older files only by ``modelTopology.node``."""
    if model_json.get("format") == "graph-model":
        return True
    topology = model_json.get("modelTopology")
    return isinstance(topology, Mapping) and isinstance(topology.get("node"), list)


def from_artifacts(artifacts: Artifacts, *, strict: bool = True) -> GraphModel:
    """:func:`flaxjs.load` of a graph model, after the source was opened.

    Float tensors become ``variables["params"]`` (trainable, traced under ``jax.jit``);
    scalars and integer, boolean and inline constants stay NumPy values, because ops
    such as ``Range``, ``Fill`` or a ``Reshape`` read them as numbers that must be
    known when the function is traced.
    """
    model_json = artifacts.model_json
    location = artifacts.location
    spec = parse_graph(model_json, location=location)
    order = executor.execution_order(spec, spec.outputs, {s.name for s in spec.inputs})
    executor.check_supported(order, location)
    manifest = parse_manifest(model_json.get("weightsManifest") or [], source=location)
    decoded = decode_weights(manifest, read_shards(artifacts, manifest))
    inline = inline_constants(spec)
    const_nodes = [n.name for n in spec.nodes.values() if n.op == "Const"]
    const_nodes += executor.function_constants(spec)  # v2 control-flow bodies' constants
    params: dict[str, Any] = {}
    constants: dict[str, np.ndarray] = {}
    for name in const_nodes:
        value = decoded.get(name)
        if value is None:
            value = inline.get(name)
            if value is not None:
                constants[name] = value
        elif value.dtype == np.float32 and value.ndim > 0:
            params[name] = value
        else:
            constants[name] = value
    unmatched = sorted(set(decoded) - set(const_nodes))
    needed = {n.name for n in order if n.op == "Const"}
    missing = sorted(needed - set(params) - set(constants))
    if unmatched or missing:
        lines = []
        if missing:
            lines.append(f"{len(missing)} constant node(s) the outputs need have no weight in "
                         "the manifest and no value in the graph: " + ", ".join(missing))
        if unmatched:
            lines.append(f"{len(unmatched)} manifest weight(s) belong to no Const node: "
                         + ", ".join(unmatched))
        message = f"{location}: " + "; ".join(lines)
        if strict or missing:
            raise WeightMatchError(message + ". Re-download or re-convert the model (the "
                                   "weight files and model.json must come from one conversion)"
                                   + ("" if missing else ", or load with strict=False"))
        warnings.warn(message, stacklevel=3)
    info = ModelInfo(location=location, model_json=model_json, metadata=artifacts.metadata,
                     weight_names={("params", name): name for name in params})
    return GraphModel(spec, {"params": jax.device_put(params)}, constants, info=info)
