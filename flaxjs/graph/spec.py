"""A parsed graph model: its nodes, inputs, outputs and constant values."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ModelFormatError
from ..topology.spec import InputSpec
from .graphdef import DType, NodeDef, TensorRef, dtype_of, parse_nodes, shape_of

#: ops whose nodes are the model's inputs when it has no signature (TF.js 4.22's
#: ``transformGraph``: every op starting with it, ``PlaceholderWithDefault`` too).
PLACEHOLDER = "Placeholder"


@dataclasses.dataclass(frozen=True, eq=False)
class GraphSpec:
    """The graph of a TF.js graph model.

    Attributes:
      nodes: every node by name, in file order.
      inputs: the inputs (``name`` is the placeholder node's name).
      input_keys: each input's signature key (its node name when there is no signature).
      outputs: the outputs, as ``node`` or ``node:k``.
      output_keys: each output's signature key (its tensor name when there is none).
      functions: the ``library.function`` bodies by name (control flow v2).
      structured_keys: ``userDefinedMetadata.structuredOutputKeys``: the outputs come back
        as ``{key: tensor}``, as TF.js's ``predict``/``execute`` return them.
    """

    nodes: Mapping[str, NodeDef]
    inputs: tuple[InputSpec, ...]
    input_keys: tuple[str, ...]
    outputs: tuple[TensorRef, ...]
    output_keys: tuple[str, ...]
    functions: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    structured_keys: tuple[str, ...] | None = None

    def node(self, name: str) -> NodeDef:
        try:
            return self.nodes[name]
        except KeyError:
            hint = difflib.get_close_matches(name, list(self.nodes), n=1)
            raise ModelFormatError(f"the graph has no node named {name!r}"
                                   + (f"; did you mean {hint[0]!r}?" if hint else "")) from None

    def tensor(self, text: str | TensorRef) -> TensorRef:
        """A tensor named as TF.js names them: ``node``, ``node:k``, or a signature key."""
        if isinstance(text, TensorRef):
            ref = text
        elif text in self.output_keys and text not in self.nodes:
            ref = self.outputs[self.output_keys.index(text)]
        elif text in self.input_keys and text not in self.nodes:
            ref = TensorRef(self.inputs[self.input_keys.index(text)].name)
        else:
            ref = TensorRef.parse(text)
        self.node(ref.node)
        return ref


def _signature(model_json: Mapping[str, Any]) -> Mapping[str, Any] | None:
    user = model_json.get("userDefinedMetadata")
    if isinstance(user, Mapping) and isinstance(user.get("signature"), Mapping):
        return user["signature"]
    signature = model_json.get("signature")
    return signature if isinstance(signature, Mapping) else None


def _entries(section: Any, where: str) -> list[tuple[str, Mapping[str, Any]]]:
    if not isinstance(section, Mapping):
        raise ModelFormatError(f"{where} must be an object")
    entries = []
    for key, entry in section.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ModelFormatError(f"{where}[{key!r}] needs a tensor 'name'")
        entries.append((str(key), entry))
    return entries


def _signature_tensors(signature: Mapping[str, Any], kind: str, nodes: Mapping[str, NodeDef],
                       location: str) -> list[tuple[str, TensorRef, Mapping[str, Any]]]:
    """``(key, tensor, entry)`` of the signature's ``inputs`` or ``outputs``, each naming a
    node of the graph."""
    out = []
    for key, entry in _entries(signature[f"{kind}s"], f"{location}: signature.{kind}s"):
        ref = TensorRef.parse(entry["name"])
        if ref.node not in nodes:
            raise ModelFormatError(f"{location}: signature {kind} {key!r} names "
                                   f"{entry['name']!r}, which is not a node of the graph")
        out.append((key, ref, entry))
    return out


def _input_spec(node: NodeDef, entry: Mapping[str, Any] | None, where: str) -> InputSpec:
    shape = None
    dtype: DType | None = None
    if entry is not None:
        if entry.get("tensorShape") is not None:
            shape = shape_of(entry["tensorShape"], where)
        if entry.get("dtype") is not None:
            dtype = dtype_of(entry["dtype"], where)
    if shape is None:
        shape = node.attr("shape")
    if dtype is None:
        dtype = node.attr("dtype") if isinstance(node.attr("dtype"), DType) else DType("DT_FLOAT")
    return InputSpec(node.name, tuple(shape) if shape is not None else (), dtype.name)


def parse_graph(model_json: Mapping[str, Any], *, location: str = "model.json") -> GraphSpec:
    """The :class:`GraphSpec` of a graph model's model.json."""
    topology = model_json.get("modelTopology")
    if not isinstance(topology, Mapping):
        raise ModelFormatError(f"{location}: 'modelTopology' must be an object")
    nodes = parse_nodes(topology.get("node"), f"{location} modelTopology")
    for node in nodes.values():
        for ref in node.inputs:
            if ref.node not in nodes:
                raise ModelFormatError(f"{location}: node {node.name!r} reads {str(ref)!r}, "
                                       "which is not a node of the graph")
    library = topology.get("library")
    functions = {}
    if isinstance(library, Mapping):
        for fn in library.get("function") or []:
            name = ((fn or {}).get("signature") or {}).get("name")
            if isinstance(name, str):
                functions[name] = fn
    signature = _signature(model_json)
    inputs: list[InputSpec] = []
    input_keys: list[str] = []
    outputs: list[TensorRef] = []
    output_keys: list[str] = []
    if signature is not None and signature.get("inputs"):
        for key, ref, entry in _signature_tensors(signature, "input", nodes, location):
            inputs.append(_input_spec(nodes[ref.node], entry, f"{location}: input {key!r}"))
            input_keys.append(key)
    else:
        for node in nodes.values():
            if node.op.startswith(PLACEHOLDER):
                inputs.append(_input_spec(node, None, f"{location}: input {node.name!r}"))
                input_keys.append(node.name)
    if signature is not None and signature.get("outputs"):
        for key, ref, _ in _signature_tensors(signature, "output", nodes, location):
            outputs.append(ref)
            output_keys.append(key)
    else:
        consumed = {ref.node for n in nodes.values() for ref in n.inputs}
        consumed |= {c for n in nodes.values() for c in n.control}
        for node in nodes.values():
            if node.name not in consumed:
                outputs.append(TensorRef(node.name))
                output_keys.append(node.name)
    if not outputs:
        raise ModelFormatError(f"{location}: the graph has no outputs")
    user = model_json.get("userDefinedMetadata")
    keys = user.get("structuredOutputKeys") if isinstance(user, Mapping) else None
    structured = None
    if keys is not None:
        if not isinstance(keys, list) or len(keys) != len(outputs):
            raise ModelFormatError(f"{location}: userDefinedMetadata.structuredOutputKeys must "
                                   f"list one key per output ({len(outputs)}), got {keys!r}")
        structured = tuple(str(k) for k in keys)
    return GraphSpec(nodes, tuple(inputs), tuple(input_keys), tuple(outputs),
                     tuple(output_keys), functions, structured)


def inline_constants(spec: GraphSpec) -> dict[str, np.ndarray]:
    """Values of ``Const`` nodes written into the graph itself (the old JSON dialect)."""
    out = {}
    for node in spec.nodes.values():
        if node.op == "Const" and isinstance(node.attr("value"), tuple):
            _, _, value = node.attr("value")
            if value is not None:
                out[node.name] = value
    return out


def consumers(spec: GraphSpec) -> dict[str, list[str]]:
    """Node name → the names of the nodes that read it."""
    out: dict[str, list[str]] = {name: [] for name in spec.nodes}
    for node in spec.nodes.values():
        for ref in node.inputs:
            out[ref.node].append(node.name)
    return out


def node_names(refs: Sequence[TensorRef]) -> list[str]:
    return [r.node for r in refs]
