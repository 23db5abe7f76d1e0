"""One-node graph models from an op's :class:`~.registry.OpSample` (for its TF.js test).

``tools/graph_op_references`` runs these models in TF.js to record the
references; the tests build them again and compare, so a changed sample without a
new reference is noticed.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..graphdef import DType, attr_json, const_node
from .registry import Feed, OpRegistration, OpSample, ShapeAttr

NODE = "op"


def _attr(value: Any) -> dict[str, Any]:
    """A sample attribute as a protobuf-JSON ``AttrValue`` (shapes as :class:`ShapeAttr`)."""
    if isinstance(value, ShapeAttr):
        if value.dims is None:
            return {"shape": {"unknownRank": True}}
        return {"shape": {"dim": [{"size": str(d)} for d in value.dims]}}
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], ShapeAttr):
        return {"list": {"shape": [_attr(v)["shape"] for v in value]}}
    return attr_json(value)


def _tf_dtype(dtype: str) -> str:
    return DType.of(dtype).tf_name


def feed_value(feed: Feed, rng: np.random.Generator) -> np.ndarray:
    """Deterministic values for a :class:`Feed`."""
    if feed.dtype == "bool":
        return rng.random(feed.shape) < 0.5
    if feed.dtype == "int32":
        return rng.integers(int(feed.low), int(feed.high), feed.shape).astype(np.int32)
    if feed.dtype == "complex64":
        re, im = (rng.uniform(feed.low, feed.high, feed.shape) for _ in range(2))
        return (re + 1j * im).astype(np.complex64)
    return rng.uniform(feed.low, feed.high, feed.shape).astype(np.float32)


def build_case(registration: OpRegistration, sample: OpSample, case_id: str
               ) -> tuple[dict[str, Any], bytes, dict[str, np.ndarray], list[str]]:
    """``(model.json, weights bytes, {input name: value}, output names)`` of a sample."""
    rng = np.random.default_rng(zlib.crc32(case_id.encode()))
    nodes: list[dict[str, Any]] = []
    inputs: list[str] = []
    weights: list[dict[str, Any]] = []
    data = bytearray()
    feeds: dict[str, np.ndarray] = {}
    for i, item in enumerate(sample.inputs):
        if isinstance(item, Feed):
            name = f"input_{i}"
            feeds[name] = feed_value(item, rng)
            nodes.append({"name": name, "op": "Placeholder", "attr": {
                "dtype": {"type": _tf_dtype(item.dtype)},
                "shape": {"shape": {"dim": [{"size": str(d)} for d in item.shape]}}}})
        else:
            name = f"const_{i}"
            value = np.asarray(item)
            dtype = {"f": "float32", "i": "int32", "b": "bool", "c": "complex64"}[
                value.dtype.kind if value.dtype.kind != "u" else "i"]
            value = value.astype(dtype)
            nodes.append(const_node(name, value))
            weights.append({"name": name, "shape": list(value.shape), "dtype": dtype})
            data += value.astype(value.dtype.newbyteorder("<")).tobytes()
        inputs.append(name)
    if sample.graph:
        return _multi_node_case(sample, nodes, bytes(data), weights, feeds)
    op_name = sample.op or registration.names[0]
    nodes.append({"name": NODE, "op": op_name, "input": inputs,
                  "attr": {k: _attr(v) for k, v in sample.attrs.items()}})
    model = {"format": "graph-model", "generatedBy": "flaxjs op sample",
             "convertedBy": None, "modelTopology": {"node": nodes, "versions": {}},
             "weightsManifest": [{"paths": ["weights.bin"], "weights": weights}]}
    outputs = [NODE if k == 0 else f"{NODE}:{k}" for k in range(sample.outputs)]
    return model, bytes(data), feeds, outputs


def _multi_node_case(sample: OpSample, nodes: list[dict[str, Any]], data: bytes,
                     weights: list[dict[str, Any]], feeds: dict[str, np.ndarray]
                     ) -> tuple[dict[str, Any], bytes, dict[str, np.ndarray], list[str]]:
    """A sample whose ``graph`` nodes follow its inputs (loops, lists, functions)."""
    for node in sample.graph:
        entry: dict[str, Any] = {"name": node.name, "op": node.op}
        if node.inputs:
            entry["input"] = list(node.inputs)
        entry["attr"] = {k: _attr(v) for k, v in node.attrs.items()}
        nodes.append(entry)
    topology: dict[str, Any] = {"node": nodes, "versions": {}}
    if sample.functions:
        topology["library"] = {"function": [dict(f) for f in sample.functions]}
    model = {"format": "graph-model", "generatedBy": "flaxjs op sample",
             "convertedBy": None, "modelTopology": topology,
             "weightsManifest": [{"paths": ["weights.bin"], "weights": weights}]}
    return model, data, feeds, list(sample.fetch)


def cases(registrations: Any) -> dict[str, tuple[OpRegistration, OpSample]]:
    """Every sample of ``registrations`` by its case id."""
    out = {}
    for registration in registrations:
        for case_id, sample in zip(registration.case_ids(), registration.samples, strict=True):
            out[case_id] = (registration, sample)
    return out


def encode_array(value: np.ndarray) -> dict[str, Any]:
    value = np.asarray(value)
    dtype = {"f": "float32", "i": "int32", "u": "int32", "b": "bool",
             "c": "complex64"}[value.dtype.kind]
    raw = value.astype({"bool": np.uint8}.get(dtype, dtype)).astype(
        np.dtype({"bool": "u1"}.get(dtype, dtype)).newbyteorder("<"))
    return {"dtype": dtype, "shape": list(value.shape),
            "b64": base64.b64encode(raw.tobytes()).decode()}


def decode_array(entry: Mapping[str, Any]) -> np.ndarray:
    if entry["dtype"] == "string":
        return np.array(entry["strings"], dtype=object).reshape(entry["shape"])
    storage = {"float32": "<f4", "int32": "<i4", "bool": "u1", "complex64": "<c8"}[
        entry["dtype"]]
    value = np.frombuffer(base64.b64decode(entry["b64"]), storage).reshape(entry["shape"])
    return value.astype(bool) if entry["dtype"] == "bool" else value
