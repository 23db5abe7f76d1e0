"""Write a :class:`~flaxjs.topology.spec.ModelGraph` as the Keras-2 topology TF.js 4.22 reads.

Only the layers the outputs need are written (TF.js drops the others and would
then reject their weights). Call events are listed in the order TF.js's
``Container.fromConfig`` will execute them, so that the node indices TF.js
assigns (processing order) and the ones flaxjs reads back (list order) are the
same calls the graph means. A nested model's first call is node 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ExportError
from ..graph_module import execution_order
from ..topology.spec import LayerSpec, ModelGraph, TensorRef
from . import compat

CallId = tuple[str, int]  # (layer name, index in spec.calls)


@dataclasses.dataclass
class Written:
    """A written topology and the layers whose variables belong in the manifest."""

    model_config: dict[str, Any]
    layer_keys: set[tuple[str, ...]]  # (*nested model names, layer name)


def write_graph(graph: ModelGraph, *, custom_classes: Iterable[str] = (),
                prefix: tuple[str, ...] = (), masked: bool | None = None) -> Written:
    """``{"class_name", "config"}`` of a model graph (Sequential when it is a plain chain).

    Args:
      graph: the model graph (nested models are written recursively).
      custom_classes: class names the page registers itself.
      prefix: enclosing nested-model names (for the returned layer keys).
      masked: whether the model produces masks (computed when ``None``).

    Raises:
      ExportError: a layer cannot be exported, or the graph cannot be expressed.
    """
    custom = frozenset(custom_classes)
    if masked is None:
        masked = _has_masks(graph)
    layers = _needed_layers(graph)
    order = _tfjs_call_order(graph, layers)
    keys = {(*prefix, s.name) for s in layers}
    nested: dict[str, Written] = {}
    for spec in layers:
        if spec.graph is not None:
            inner = write_graph(spec.graph, custom_classes=custom, prefix=(*prefix, spec.name),
                                masked=masked)
            nested[spec.name] = inner
            keys |= inner.layer_keys
    configs = {s.name: _config(graph, s, nested, custom, masked) for s in layers}
    chain = _sequential_chain(graph, layers, order)
    if chain is not None:
        return Written({"class_name": "Sequential",
                        "config": {"name": graph.name, "layers": _sequential_layers(
                            graph, chain, configs)}}, keys)
    refs = _RefWriter(graph, order)
    entries = []
    for spec in layers:
        events = [] if spec.class_name == "InputLayer" else [
            refs.event(spec, spec.calls[i]) for i in order[spec.name]]
        entries.append({"name": spec.name, "class_name": spec.class_name,
                        "config": configs[spec.name], "inbound_nodes": events})
    config = {"name": graph.name, "layers": entries,
              "input_layers": [refs.triple(r) for r in graph.inputs],
              "output_layers": [refs.triple(r) for r in graph.outputs]}
    cls = graph.class_name if graph.class_name in ("Model", "Functional") else "Model"
    return Written({"class_name": cls, "config": config}, keys)


# ----------------------------------------------------------------------------- pieces
def _has_masks(graph: ModelGraph) -> bool:
    return any(spec.class_name == "Masking" or spec.config.get("mask_zero")
               for _, spec in graph.walk())


def _needed_layers(graph: ModelGraph) -> list[LayerSpec]:
    """Input layers plus every layer some output needs, in config order."""
    needed = {ref.layer for ref in graph.inputs}
    for name, _ in execution_order(graph, tuple(graph.outputs)):
        needed.add(name)
    return [spec for spec in graph.layers if spec.name in needed]


def _tfjs_call_order(graph: ModelGraph, layers: list[LayerSpec]) -> dict[str, list[int]]:
    """Per layer, the indices of its kept calls in the order TF.js will execute them.

    Simulates ``Container.fromConfig``'s sweeps (layers in config order, each
    layer's queued calls in list order, unready ones queued again) until the list
    order is the execution order.
    """
    kept = {s.name: s for s in layers}
    inputs = {r.layer for r in graph.inputs}
    calls: dict[str, list[int]] = {}
    for spec in layers:
        if spec.class_name != "InputLayer":
            calls[spec.name] = [i for i, call in enumerate(spec.calls)
                                if _possible(call.inputs, kept, inputs)]
    for _ in range(len(layers) + 2):
        done = _simulate(graph, layers, calls, inputs)
        if done == calls:
            return calls
        calls = done
    raise ExportError(f"model {graph.name!r}: could not order the shared layers' calls so that "
                      "TF.js numbers them as flaxjs does")


def _possible(refs: Iterable[TensorRef], kept: Mapping[str, LayerSpec], inputs: set[str]) -> bool:
    return all(r.layer in kept and (kept[r.layer].class_name != "InputLayer" or r.layer in inputs)
               for r in refs)


def _simulate(graph: ModelGraph, layers: list[LayerSpec], calls: dict[str, list[int]],
              inputs: set[str]) -> dict[str, list[int]]:
    processed: dict[str, list[int]] = {name: [] for name in calls}

    def ready(ref: TensorRef) -> bool:
        spec = graph.layer(ref.layer)
        if spec.class_name == "InputLayer":
            return ref.layer in inputs and ref.node == 0
        return spec.call_index(ref.node) in processed.get(ref.layer, ())

    queues = {name: list(indices) for name, indices in calls.items()}
    while any(queues.values()):
        progress = False
        for spec in layers:
            queue = queues.get(spec.name)
            if not queue:
                continue
            queues[spec.name] = []
            for index in queue:
                if all(ready(r) for r in spec.calls[index].inputs):
                    processed[spec.name].append(index)
                    progress = True
                else:
                    queues[spec.name].append(index)
        if not progress:  # calls that can never run (their inputs were cut away)
            break
    return processed


class _RefWriter:
    """Tensor references with the node indices of the written call order."""

    def __init__(self, graph: ModelGraph, order: Mapping[str, list[int]]):
        self.graph = graph
        self.node = {name: {call: pos for pos, call in enumerate(indices)}
                     for name, indices in order.items()}

    def triple(self, ref: TensorRef) -> list[Any]:
        spec = self.graph.layer(ref.layer)
        if spec.class_name == "InputLayer":
            return [ref.layer, 0, ref.tensor]
        position = self.node[ref.layer].get(spec.call_index(ref.node))
        if position is None:
            raise ExportError(f"model {self.graph.name!r}: {ref} refers to a call that was cut "
                              "away")
        return [ref.layer, spec.node_of(position), ref.tensor]

    def event(self, spec: LayerSpec, call: Any) -> list[list[Any]]:
        if "_constants" in call.kwargs:
            raise compat.refuse(spec, "constant call arguments (_CONSTANT_VALUE) make TF.js "
                                "loop forever")
        kwargs = {} if spec.keras3 else _json_kwargs(call.kwargs)
        return [[*self.triple(ref), kwargs] for ref in call.inputs]


def _json_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Call kwargs TF.js can take verbatim (plain JSON values only)."""
    def plain(v: Any) -> bool:
        if isinstance(v, (str, int, float, bool)) or v is None:
            return True
        if isinstance(v, list):
            return all(plain(x) for x in v)
        if isinstance(v, Mapping):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        return False
    return {k: v for k, v in kwargs.items() if plain(v)}


def _config(graph: ModelGraph, spec: LayerSpec, nested: Mapping[str, Written],
            custom: frozenset[str], masked: bool) -> dict[str, Any]:
    if spec.graph is not None:
        inner = dict(nested[spec.name].model_config["config"])
        if "trainable" in spec.config:
            inner["trainable"] = bool(spec.config["trainable"])
        return inner
    config = compat.layer_config(spec, custom, masked=masked)
    if spec.class_name == "InputLayer":
        index = [r.layer for r in graph.inputs].index(spec.name)
        shape = graph.input_specs[index]
        config["batch_input_shape"] = list(shape.shape)
        config["dtype"] = compat.tensor_dtype(shape.dtype)
    return config


# ----------------------------------------------------------------------------- Sequential
def _sequential_chain(graph: ModelGraph, layers: list[LayerSpec],
                      order: Mapping[str, list[int]]) -> list[LayerSpec] | None:
    """The layers of a plain chain input → l1 → … → output, or None (write Functional)."""
    if graph.class_name != "Sequential" or len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return None
    if not layers or layers[0].name != graph.inputs[0].layer:
        return None
    previous = graph.inputs[0]
    for spec in layers[1:]:
        if order.get(spec.name) != [0] or len(spec.calls) != 1:
            return None
        if spec.calls[0].inputs != (previous,):
            return None
        if spec.graph is not None and (len(spec.graph.inputs) != 1 or len(spec.graph.outputs) != 1):
            return None
        previous = spec.output()
    if graph.outputs[0] != previous or len(layers) < 2:
        return None
    return layers


def _sequential_layers(graph: ModelGraph, chain: list[LayerSpec],
                       configs: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The layer list. The input shape goes on the first layer (converter style), unless
    TF.js would not recreate the input as it is (its name or dtype differ): then an
    explicit InputLayer comes first. A nested model first brings its own input."""
    input_layer, first = chain[0], chain[1]
    out = []
    auto_name = (first.graph.inputs[0].layer if first.graph is not None
                 else f"{first.name}_input")
    source = configs[input_layer.name]
    fold = input_layer.name == auto_name and (
        first.graph is not None or configs[first.name].get("dtype", "float32") == source["dtype"])
    if not fold:
        out.append({"class_name": "InputLayer", "config": source})
    for i, spec in enumerate(chain[1:]):
        config = dict(configs[spec.name])
        if i == 0 and spec.graph is None and fold:
            config["batch_input_shape"] = source["batch_input_shape"]
            config["dtype"] = source["dtype"]
        out.append({"class_name": spec.class_name, "config": config})
    return out
