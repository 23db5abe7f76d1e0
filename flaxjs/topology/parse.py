"""Parse a Keras topology (``modelTopology`` of a model.json) into a :class:`ModelGraph`.

Handles both envelopes (``{"model_config": ...}`` and bare), Sequential with a
list or ``{name, layers}`` config, ``Model``/``Functional`` graphs with shared
layers and nested models, and the Keras 3 dialect (``{"args", "kwargs"}`` call
events with ``__keras_tensor__`` references, single-triple or dict
``input_layers``/``output_layers``, ``batch_shape``, dtype-policy objects).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ModelFormatError, TopologyError
from . import config as cfg
from .spec import MODEL_CLASSES, Call, InputSpec, LayerSpec, ModelGraph, TensorRef

_CONSTANT = "_CONSTANT_VALUE"
_SHAPE_KEYS = ("batch_input_shape", "batch_shape", "input_shape", "input_dim", "input_length")


def _declared_shape(config: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """:func:`config.input_shape_of`, with ``()`` for a value that is not a list (refused
    by ``input_spec``)."""
    try:
        return cfg.input_shape_of(config)
    except TypeError:
        return ()


def _is_index(value: Any) -> bool:
    return cfg.is_int(value) and value >= 0


def model_config_of(model_json: Mapping[str, Any], *, location: str = "model.json"
                    ) -> dict[str, Any]:
    """The ``{class_name, config}`` of the model, from either envelope."""
    topology = model_json.get("modelTopology")
    if topology is None:
        if "class_name" in model_json and "config" in model_json:
            topology = model_json  # a bare Keras model config passed directly
        else:
            raise ModelFormatError(
                f"{location}: no 'modelTopology'; this is a weights-only file or not a TF.js "
                "Layers model (flaxjs never builds a randomly initialized model silently)")
    if not isinstance(topology, Mapping):
        raise ModelFormatError(f"{location}: 'modelTopology' must be an object")
    if "node" in topology:
        raise ModelFormatError(
            f"{location}: this is a TF.js graph model (format {model_json.get('format')!r}, a "
            "TensorFlow GraphDef); flaxjs loads TF.js Layers models (Keras topology)")
    if topology.get("model_config") is not None:
        topology = topology["model_config"]
    if not isinstance(topology, Mapping) or "class_name" not in topology:
        raise ModelFormatError(f"{location}: modelTopology has no Keras 'class_name'")
    return cfg.clean(dict(topology))


def parse_model(model_config: Mapping[str, Any], *, location: str = "model.json",
                keras_version: str = "") -> ModelGraph:
    """Parse a top-level ``{class_name, config}`` into a graph.

    Args:
      model_config: the model's ``{class_name, config}``.
      location: where it came from, for error messages.
      keras_version: ``modelTopology.keras_version``; ``3.x`` selects Keras 3 semantics
        for the few options whose meaning Keras 3 changed.
    """
    class_name = model_config.get("class_name")
    if class_name not in MODEL_CLASSES:
        raise ModelFormatError(f"{location}: top-level class {class_name!r} is not a model "
                               f"(expected one of {', '.join(sorted(MODEL_CLASSES))})")
    keras3 = keras_version.split(".")[0].strip() == "3"
    return _Parser(location, keras3).model(class_name, model_config.get("config"))


def _is_ref(value: Any) -> bool:
    """A tf.keras ``[layer, node, tensor]`` reference in a call kwarg."""
    return (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3
            and isinstance(value[0], str) and all(isinstance(v, int) for v in value[1:]))


def _is_list_of_refs(value: Any) -> bool:
    return (isinstance(value, Sequence) and not isinstance(value, str) and bool(value)
            and all(_is_ref(v) for v in value))


def _keras3_nodes(specs: Sequence[LayerSpec], outputs: Sequence[TensorRef]
                  ) -> tuple[list[LayerSpec], list[TensorRef]]:
    """Keras 3's node numbers rewritten in the Keras 2 numbering the graph uses.

    Keras 2 numbers a nested model's calls from 1 (node 0 is its own internal call)
    everywhere. Keras 3 writes a call event's input references with the node's index
    among this model's calls only (``serialize_node`` drops the internal node), and
    ``output_layers`` with Keras 2's numbering for a nested ``Functional`` but from 0
    for a nested ``Sequential`` (not a Functional subclass in Keras 3).
    """
    models = {s.name for s in specs if s.is_model}
    sequential = {s.name for s in specs if s.is_model and s.class_name == "Sequential"}

    def shift(ref: TensorRef, names: set[str]) -> TensorRef:
        return dataclasses.replace(ref, node=ref.node + 1) if ref.layer in names else ref

    specs = [dataclasses.replace(s, calls=tuple(
        dataclasses.replace(c, inputs=tuple(shift(r, models) for r in c.inputs))
        for c in s.calls))
        if any(r.layer in models for c in s.calls for r in c.inputs) else s for s in specs]
    return specs, [shift(r, sequential) for r in outputs]


def _calls_of(specs: Sequence[LayerSpec], name: str) -> tuple[Call, ...]:
    return next(s.calls for s in specs if s.name == name)


class _Parser:
    def __init__(self, location: str, keras3: bool = False):
        self.location = location
        self.keras3 = keras3

    def fail(self, message: str) -> TopologyError:
        return TopologyError(f"{self.location}: {message}")

    # ------------------------------------------------------------------ models
    def model(self, class_name: str, config: Any, fallback_name: str = "model") -> ModelGraph:
        if class_name == "Sequential":
            return self.sequential(config, fallback_name)
        if not isinstance(config, Mapping):
            raise self.fail(f"the config of {class_name} model {fallback_name!r} must be an object")
        return self.functional(class_name, config, fallback_name)

    def model_name(self, config: Mapping[str, Any], fallback: str) -> str:
        name = config.get("name") or fallback
        if not isinstance(name, str):
            raise self.fail(f"model {fallback!r}: 'name' must be a string, got {str(name)[:80]}")
        return name

    def layer_entry(self, raw: Any, where: str) -> tuple[str, str, dict[str, Any], Any]:
        if not isinstance(raw, Mapping) or "class_name" not in raw:
            raise self.fail(f"{where}: a layer entry needs a 'class_name', got {str(raw)[:80]}")
        class_name = raw["class_name"]
        if not isinstance(class_name, str):
            raise self.fail(f"{where}: 'class_name' must be a string, got {str(class_name)[:80]}")
        if not isinstance(raw.get("config") or {}, Mapping):
            raise self.fail(f"{where}: the config of layer class {class_name} must be an object, "
                            f"got {str(raw.get('config'))[:80]}")
        if class_name == "Merge":
            raise self.fail(f"{where}: the legacy Keras 1 'Merge' layer is not supported "
                            "(re-save the model with Keras 2 merge layers)")
        config = cfg.snake_keys(raw.get("config") or {})
        name = raw.get("name") or config.get("name")
        if not name:
            raise self.fail(f"{where}: layer of class {class_name} has no name")
        if not isinstance(name, str):
            raise self.fail(f"{where}: the name of a {class_name} layer must be a string, got "
                            f"{str(name)[:80]}")
        return class_name, name, config, raw.get("inbound_nodes", [])

    def nested(self, class_name: str, name: str, config: dict[str, Any]) -> ModelGraph | None:
        if class_name not in MODEL_CLASSES:
            return None
        return self.model(class_name, config, name)

    def sequential(self, config: Any, fallback_name: str) -> ModelGraph:
        if isinstance(config, Mapping):
            name = self.model_name(config, fallback_name)
            entries = config.get("layers")
        else:
            name, entries = fallback_name, config
        if not isinstance(entries, Sequence) or not entries:
            raise self.fail(f"Sequential model {name!r} has no layers")
        specs: list[LayerSpec] = []
        first_class, first_name, first_config, _ = self.layer_entry(entries[0], f"{name}.layers[0]")
        first_graph = self.nested(first_class, first_name, first_config)
        if first_class == "InputLayer":
            input_spec = self.input_spec(first_name, first_config)
            start = 1
        else:
            if first_graph is not None:
                if len(first_graph.inputs) != 1 or len(first_graph.outputs) != 1:
                    raise self.fail(f"nested model {first_name!r} in Sequential {name!r} must have "
                                    "exactly one input and one output")
                inner = first_graph.input_specs[0]
                input_spec = InputSpec(inner.name, inner.shape, inner.dtype)
            else:
                if _declared_shape(first_config) is None:
                    raise self.fail(
                        f"the first layer of Sequential {name!r} ({first_name!r}) declares no "
                        "input shape (batch_input_shape / input_shape); TF.js cannot build it "
                        "either")
                input_spec = self.input_spec(first_name, first_config, f"{first_name}_input")
            start = 0
        input_config = {"name": input_spec.name, "batch_input_shape": list(input_spec.shape),
                        "dtype": input_spec.dtype}
        specs.append(LayerSpec("InputLayer", input_spec.name, input_config))
        previous = TensorRef(input_spec.name)
        for i, raw in enumerate(entries[start:], start):
            class_name, layer_name, config, _ = self.layer_entry(raw, f"{name}.layers[{i}]")
            graph = first_graph if i == 0 else self.nested(class_name, layer_name, config)
            spec = LayerSpec(class_name, layer_name, config, (Call((previous,)),), graph,
                             self.keras3)
            specs.append(spec)
            previous = spec.output()
        self.check_unique(name, specs)
        return ModelGraph("Sequential", name, tuple(specs), (TensorRef(input_spec.name),),
                          (input_spec,), (previous,), None,
                          dict(config) if isinstance(config, Mapping) else {})

    def functional(self, class_name: str, config: Mapping[str, Any], fallback_name: str
                   ) -> ModelGraph:
        name = self.model_name(config, fallback_name)
        entries = config.get("layers")
        if not isinstance(entries, Sequence):
            raise self.fail(f"{class_name} model {name!r} has no 'layers' list")
        specs = []
        for i, raw in enumerate(entries):
            class_name_i, layer_name, layer_config, inbound = self.layer_entry(
                raw, f"{name}.layers[{i}]")
            calls = tuple(self.call(c, layer_name) for c in self.call_events(inbound, layer_name))
            graph = self.nested(class_name_i, layer_name, layer_config)
            specs.append(LayerSpec(class_name_i, layer_name, layer_config, calls, graph,
                                   self.keras3))
        self.check_unique(name, specs)
        if not self.keras3:
            specs = self.tfjs_node_order(name, specs)
        by_name = {s.name: s for s in specs}
        inputs, _ = self.io_refs(config.get("input_layers"), f"{name}.input_layers")
        outputs, keys = self.io_refs(config.get("output_layers"), f"{name}.output_layers")
        if self.keras3:
            specs, outputs = _keras3_nodes(specs, outputs)
            by_name = {s.name: s for s in specs}
        if not outputs:
            raise self.fail(f"model {name!r} declares no output_layers")
        input_specs = []
        for ref in inputs:
            spec = by_name.get(ref.layer)
            if spec is None or spec.class_name != "InputLayer":
                raise self.fail(f"model {name!r}: input {ref.layer!r} is not an InputLayer")
            input_specs.append(self.input_spec(spec.name, spec.config))
        graph = ModelGraph(class_name, name, tuple(specs), tuple(inputs), tuple(input_specs),
                           tuple(outputs), keys, dict(config))
        self.check_refs(graph)
        return graph

    def tfjs_node_order(self, model: str, specs: list[LayerSpec]) -> list[LayerSpec]:
        """Renumber each layer's calls in the order TF.js applies them.

        TF.js's ``Container.fromConfig`` sweeps the layers repeatedly and applies a
        queued call as soon as its inputs exist, so a shared layer's calls get node
        indices in application order, not list order (Keras keeps list order). The
        references in the file are then read with TF.js's numbering.
        """
        nodes = {s.name: (1 if s.is_model or s.class_name == "InputLayer" else 0) for s in specs}
        pending = {s.name: list(range(len(s.calls))) for s in specs if s.calls}
        applied: dict[str, list[int]] = {s.name: [] for s in specs}
        while pending:
            progressed = False
            for spec in specs:
                for index in pending.pop(spec.name, []):
                    refs = spec.calls[index].inputs
                    if all(r.layer in nodes and nodes[r.layer] > r.node for r in refs):
                        nodes[spec.name] += 1
                        applied[spec.name].append(index)
                        progressed = True
                    else:
                        pending.setdefault(spec.name, []).append(index)
            if not progressed:
                for layer, calls in pending.items():
                    for index in calls:
                        for ref in _calls_of(specs, layer)[index].inputs:
                            if ref.layer not in nodes:
                                raise self.fail(f"model {model!r}: input of layer {layer!r} "
                                                f"refers to unknown layer {ref.layer!r}")
                stuck = ", ".join(f"{n} call {i}" for n, calls in pending.items() for i in calls)
                raise self.fail(f"model {model!r}: calls that can never run ({stuck}); their "
                                "inputs reference nodes that do not exist (TF.js loops forever)")
        return [s if applied[s.name] == list(range(len(s.calls))) else
                dataclasses.replace(s, calls=tuple(s.calls[i] for i in applied[s.name]))
                for s in specs]

    # ------------------------------------------------------------------ pieces
    def input_spec(self, name: str, config: Mapping[str, Any], input_name: str = ""
                   ) -> InputSpec:
        """The input a layer declares (an InputLayer, or the first layer of a Sequential):
        each dimension a non-negative integer or null, a dtype Keras knows."""
        shape = _declared_shape(config)
        if shape is None:
            raise self.fail(f"InputLayer {name!r} has no batch_input_shape, batch_shape or "
                            "input_shape")
        if not shape or not all(d is None or (_is_index(d) and d > 0) for d in shape):
            given = {k: config.get(k) for k in _SHAPE_KEYS if config.get(k) is not None}
            raise self.fail(f"layer {name!r}: the input shape must be a list of positive "
                            f"integers or nulls, got {str(given)[:120]}")
        dtype = cfg.dtype_name(config.get("dtype"), "")
        if config.get("dtype") is None:
            dtype = "float32"
        if dtype not in cfg.DTYPES:
            raise self.fail(f"layer {name!r}: dtype {str(config.get('dtype'))[:80]} is not one "
                            f"of {', '.join(sorted(cfg.DTYPES))}")
        return InputSpec(input_name or name, tuple(int(d) if d is not None else None
                                                   for d in shape), dtype)

    def check_unique(self, model: str, specs: Sequence[LayerSpec]) -> None:
        seen: set[str] = set()
        for spec in specs:
            if spec.name in seen:
                raise self.fail(f"model {model!r} has two layers named {spec.name!r}")
            seen.add(spec.name)

    def call_events(self, inbound: Any, layer: str) -> list[Any]:
        if inbound in (None, []):
            return []
        if not isinstance(inbound, Sequence):
            raise self.fail(f"layer {layer!r}: inbound_nodes must be a list")
        return list(inbound)

    def call(self, event: Any, layer: str) -> Call:
        if isinstance(event, Mapping):  # Keras 3
            refs: list[TensorRef] = []
            self.collect_keras3(event.get("args", []), refs)
            kwargs = dict(event.get("kwargs") or {})
            states: list[TensorRef] = []
            self.collect_keras3(kwargs.pop("initial_state", None), states)
            kwargs.pop("mask", None)
            named, names = [], []
            for key, value in kwargs.items():
                found: list[TensorRef] = []
                self.collect_keras3(value, found)
                named += found
                names += [key] * len(found)
            return Call(tuple(refs + states + named), kwargs, tuple(names))
        if not isinstance(event, Sequence) or not event:
            raise self.fail(f"layer {layer!r}: malformed call event {str(event)[:80]}")
        if isinstance(event[0], str):  # a single reference not wrapped in a list
            event = [event]
        refs, kwargs, constants = [], {}, []
        for ref in event:
            if not isinstance(ref, Sequence) or len(ref) < 3:
                raise self.fail(f"layer {layer!r}: malformed inbound reference {ref!r}")
            if len(ref) > 3 and isinstance(ref[3], Mapping):
                kwargs = dict(ref[3])
            if ref[0] == _CONSTANT:
                constants.append(ref[2])
                continue
            refs.append(self.ref(ref, f"layer {layer!r}"))
        if constants:
            kwargs["_constants"] = constants
        names = []
        for key, value in kwargs.items():  # tf.keras writes a tensor kwarg as a triple
            if key == "mask" or key == "_constants":
                continue
            for item in (value if _is_list_of_refs(value) else [value]):
                if _is_ref(item):
                    refs.append(TensorRef(str(item[0]), int(item[1]), int(item[2])))
                    names.append(key)
        return Call(tuple(refs), kwargs, tuple(names))

    def collect_keras3(self, value: Any, out: list[TensorRef]) -> None:
        if isinstance(value, Mapping):
            if value.get("class_name") == "__keras_tensor__":
                history = value.get("config", {}).get("keras_history")
                if not isinstance(history, Sequence) or len(history) != 3:
                    raise self.fail(f"malformed __keras_tensor__ reference {str(value)[:120]}")
                out.append(self.ref(history, "__keras_tensor__ reference"))
        elif isinstance(value, (list, tuple)):
            for v in value:
                self.collect_keras3(v, out)

    def io_refs(self, raw: Any, where: str) -> tuple[list[TensorRef], tuple[str, ...] | None]:
        if raw is None:
            return [], None
        if isinstance(raw, Mapping):
            keys = tuple(raw)
            return [self.triple(raw[k], where) for k in keys], keys
        if isinstance(raw, Sequence) and raw and isinstance(raw[0], str):
            return [self.triple(raw, where)], None
        if isinstance(raw, Sequence):
            return [self.triple(r, where) for r in raw], None
        raise self.fail(f"{where}: expected a list of [layer, node, tensor] triples")

    def triple(self, raw: Any, where: str) -> TensorRef:
        if not isinstance(raw, Sequence) or len(raw) < 3 or not isinstance(raw[0], str):
            raise self.fail(f"{where}: malformed reference {str(raw)[:80]}")
        return self.ref(raw, where)

    def ref(self, raw: Sequence[Any], where: str) -> TensorRef:
        """``[layer, node, tensor, ...]`` with non-negative integer indices."""
        if not all(_is_index(i) for i in raw[1:3]):
            raise self.fail(f"{where}: the node and tensor indices of a reference must be "
                            f"non-negative integers, got {str(list(raw[:3]))[:80]}")
        return TensorRef(str(raw[0]), int(raw[1]), int(raw[2]))

    def check_refs(self, graph: ModelGraph) -> None:
        """Every reference must name an existing layer call: TF.js would loop forever."""
        by_name = graph.layer_map
        for spec in graph.layers:
            for call in spec.calls:
                for ref in call.inputs:
                    self.check_ref(graph, by_name, ref, f"input of layer {spec.name!r}")
        for ref in graph.outputs:
            self.check_ref(graph, by_name, ref, "model output")

    def check_ref(self, graph: ModelGraph, by_name: dict[str, LayerSpec], ref: TensorRef,
                  what: str) -> None:
        target = by_name.get(ref.layer)
        if target is None:
            raise self.fail(f"model {graph.name!r}: {what} refers to unknown layer {ref.layer!r}")
        if target.class_name == "InputLayer":
            ok = ref.node == 0
            if ref.tensor != 0:
                raise self.fail(f"model {graph.name!r}: {what} refers to output {ref.tensor} of "
                                f"input layer {ref.layer!r}, which has one output")
        else:
            ok = 0 <= target.call_index(ref.node) < len(target.calls)
        if not ok:
            raise self.fail(f"model {graph.name!r}: {what} refers to node {ref.node} of "
                            f"{ref.layer!r}, which has {len(target.calls)} call(s)")
