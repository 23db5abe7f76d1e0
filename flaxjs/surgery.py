"""Pure functions that rewrite a model graph: cut it, pick outputs, append layers, freeze.

They return new :class:`~flaxjs.topology.spec.ModelGraph` objects; the Keras
layer names (and so the variable names) never change.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import flax.linen as nn

from .errors import UnknownNameError, did_you_mean
from .graph_module import execution_order
from .keras import keras_name
from .topology.spec import Call, InputSpec, LayerSpec, ModelGraph, TensorRef

_TENSOR_SUFFIX = re.compile(r"^(.*):(\d+)$")


def find_layer(graph: ModelGraph, name: str) -> tuple[tuple[str, ...], LayerSpec]:
    """Resolve ``name`` to ``(enclosing nested-model names, spec)``.

    ``name`` is a layer name at any nesting depth when unique, or a path
    ``"outer_model/inner_layer"``.
    """
    if "/" in name:
        head, rest = name.split("/", 1)
        spec = graph.layer_map.get(head)
        if spec is None or spec.graph is None:
            nested = [s.name for _, s in graph.walk() if s.graph is not None]
            raise UnknownNameError(f"model {graph.name!r} has no nested model {head!r}"
                                   + (did_you_mean(head, nested) if nested else
                                      " (it has no nested models: name the layer alone)"))
        path, found = find_layer(spec.graph, rest)
        return (head, *path), found
    if name in graph.layer_map:
        return (), graph.layer_map[name]
    hits = [(prefix, spec) for prefix, spec in graph.walk() if spec.name == name]
    if not hits:
        raise UnknownNameError(f"model {graph.name!r} has no layer {name!r}"
                               + (did_you_mean(name, [s.name for _, s in graph.walk()])
                                  or "; model.layer_names lists its layers"))
    if len(hits) > 1:
        where = ", ".join("/".join((*p, s.name)) for p, s in hits)
        raise UnknownNameError(f"layer name {name!r} is ambiguous in model {graph.name!r}: "
                               f"name one of {where}")
    return hits[0]


def layer_paths(graph: ModelGraph) -> list[str]:
    """Every layer as ``"outer/inner"`` (top-level layers by their name), config order."""
    return ["/".join((*prefix, spec.name)) for prefix, spec in graph.walk()]


def first_output(spec: LayerSpec, tensor: int = 0) -> TensorRef:
    """The ``tensor``-th output of a layer's first call."""
    if not spec.calls and spec.class_name != "InputLayer":
        raise KeyError(f"layer {spec.name!r} is never called, so it has no output")
    return spec.output(tensor)


def output_ref(graph: ModelGraph, name: str) -> tuple[ModelGraph, TensorRef]:
    """The graph (nested graphs rewritten to output the target) and the ref of ``name``.

    ``"layer:1"`` selects the second output tensor (e.g. an LSTM state).
    """
    tensor = 0
    match = _TENSOR_SUFFIX.match(name)
    if match:
        name, tensor = match.group(1), int(match.group(2))
    path, spec = find_layer(graph, name)
    if not path:
        return graph, first_output(spec, tensor)
    outer = graph.layer_map[path[0]]
    assert outer.graph is not None  # find_layer's path names nested models only
    inner = with_outputs(outer.graph, ["/".join((*path[1:], spec.name)) + (
        f":{tensor}" if tensor else "")], keep_inputs=True)
    rewritten = dataclasses.replace(outer, graph=inner)
    layers = tuple(rewritten if s.name == outer.name else s for s in graph.layers)
    return dataclasses.replace(graph, layers=layers), first_output(rewritten)


def prune(graph: ModelGraph, *, keep_inputs: bool = False) -> ModelGraph:
    """Drop the layers (and, unless ``keep_inputs``, the inputs) that the outputs do not
    need; config order is kept."""
    needed = {name for name, _ in execution_order(graph, tuple(graph.outputs))}
    for ref in graph.outputs:
        needed.add(ref.layer)
    for name, call_index in execution_order(graph, tuple(graph.outputs)):
        needed.update(ref.layer for ref in graph.layer(name).calls[call_index].inputs)
    if keep_inputs:
        needed.update(ref.layer for ref in graph.inputs)
    inputs = [(ref, spec) for ref, spec in zip(graph.inputs, graph.input_specs, strict=True)
              if ref.layer in needed]
    layers = tuple(s for s in graph.layers if s.name in needed)
    return dataclasses.replace(graph, layers=layers, inputs=tuple(r for r, _ in inputs),
                               input_specs=tuple(s for _, s in inputs))


def with_outputs(graph: ModelGraph, names: Sequence[str], keys: Sequence[str] | None = None,
                 *, keep_inputs: bool = False) -> ModelGraph:
    """The graph computing the outputs of ``names`` (pruned to what they need)."""
    refs = []
    for name in names:
        graph, ref = output_ref(graph, name)
        refs.append(ref)
    cls = "Sequential" if graph.class_name == "Sequential" and len(refs) == 1 else "Model"
    out = dataclasses.replace(graph, class_name=cls, outputs=tuple(refs),
                              output_keys=tuple(keys) if keys else None)
    return prune(out, keep_inputs=keep_inputs)


def unique_name(base: str, taken: Iterable[str]) -> str:
    """Keras-style ``dense``, ``dense_1``, ``dense_2``... not in ``taken``."""
    taken = set(taken)
    if base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def all_names(graph: ModelGraph) -> set[str]:
    """Every layer name in the graph, nested models included."""
    return {spec.name for _, spec in graph.walk()}


def extend(graph: ModelGraph, specs: Sequence[LayerSpec], *, name: str | None = None
           ) -> ModelGraph:
    """Append layers after the graph's single output, each called on the previous one."""
    if len(graph.outputs) != 1:
        raise ValueError(f"model {graph.name!r} has {len(graph.outputs)} outputs; cut it to one "
                         "(truncate) before adding a head")
    taken = all_names(graph)
    previous = graph.outputs[0]
    added = []
    for spec in specs:
        if spec.name in taken:
            raise ValueError(f"layer name {spec.name!r} is already used in model {graph.name!r}")
        taken.add(spec.name)
        added.append(dataclasses.replace(spec, calls=(Call((previous,)),)))
        previous = spec.output()
    cls = "Sequential" if graph.class_name == "Sequential" else "Model"
    return dataclasses.replace(graph, class_name=cls, name=name or graph.name,
                               layers=graph.layers + tuple(added), outputs=(previous,),
                               output_keys=None)


def input_graph(name: str, spec: InputSpec, layers: Sequence[LayerSpec]) -> ModelGraph:
    """A Sequential graph ``InputLayer → layers`` (used to initialise new heads alone)."""
    input_layer = LayerSpec("InputLayer", spec.name, {
        "name": spec.name, "batch_input_shape": list(spec.shape), "dtype": spec.dtype})
    graph = ModelGraph("Sequential", name, (input_layer,), (TensorRef(spec.name),), (spec,),
                       (TensorRef(spec.name),))
    return extend(graph, layers)


def set_trainable(graph: ModelGraph, decide: Callable[[str, LayerSpec], bool | None],
                  prefix: tuple[str, ...] = ()) -> ModelGraph:
    """Rewrite ``trainable`` flags: ``decide(path, spec)`` returns True/False, or None to keep.

    ``path`` is the layer's name with its enclosing nested models (``"outer/inner"``).
    Nested models are visited recursively.
    """
    layers = []
    for spec in graph.layers:
        path = "/".join((*prefix, spec.name))
        inner = (set_trainable(spec.graph, decide, (*prefix, spec.name))
                 if spec.graph is not None else None)
        verdict = decide(path, spec)
        config = spec.config
        if verdict is not None and spec.class_name != "InputLayer":
            config = {**config, "trainable": bool(verdict)}
        layers.append(dataclasses.replace(spec, config=config, graph=inner))
    return dataclasses.replace(graph, layers=tuple(layers))


def matcher(patterns: str | Sequence[str]) -> Callable[[str], bool]:
    """A predicate for layer paths: shell-style patterns matched on the full path or its last
    segment (``"conv_pw_1[2-3]*"``, ``"dense*"``, ``"model_1/*"``)."""
    pats = [patterns] if isinstance(patterns, str) else list(patterns)

    def match(path: str) -> bool:
        last = path.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(last, p) for p in pats)

    return match


def require_matches(patterns: str | Sequence[str], names: Sequence[str], *, what: str) -> None:
    """Raise :class:`~flaxjs.errors.UnknownNameError` for a pattern that matches none of
    ``names`` (as :func:`matcher` matches), naming the closest ones: freezing nothing by
    a typo would otherwise go unnoticed."""
    for pattern in [patterns] if isinstance(patterns, str) else list(patterns):
        if not any(matcher(pattern)(n) for n in names):
            close = did_you_mean(pattern.rstrip("*?"), names) or did_you_mean(
                pattern, [n.rsplit("/", 1)[-1] for n in names])
            raise UnknownNameError(
                f"pattern {pattern!r} matches no {what}{close}; patterns are shell-style "
                "and match a full path or its last part ('dense*', 'block_1[2-3]*', "
                "'outer/*')")


def variables_for(graph: ModelGraph, variables: Mapping[str, Any]) -> dict[str, Any]:
    """``variables`` restricted to the layers (and nested layers) present in ``graph``."""

    def keep(tree: Mapping[str, Any], g: ModelGraph) -> dict[str, Any]:
        out = {}
        for spec in g.layers:
            if spec.name in tree:
                value = tree[spec.name]
                out[spec.name] = keep(value, spec.graph) if spec.graph is not None else value
        return out

    return {collection: kept for collection, tree in variables.items()
            if (kept := keep(tree, graph))}


def head_specs(head: Any, taken: set[str]) -> list[LayerSpec]:
    """Layer specs for a new head: :mod:`flaxjs.keras` builders (Keras layers) and
    ``flax.linen`` modules, with Keras-style unique names for unnamed ones."""
    items = list(head) if isinstance(head, Sequence) and not isinstance(head, str) else [head]
    taken = set(taken)
    specs = []
    for item in items:
        if isinstance(item, nn.Module):
            cls = type(item).__name__
            name = item.name or unique_name(keras_name(cls), taken)
            spec = LayerSpec(cls, name, {"name": name, "trainable": True}, module=item)
        elif isinstance(item, LayerSpec):
            name = item.name or unique_name(keras_name(item.class_name), taken)
            spec = dataclasses.replace(item, name=name, config={**item.config, "name": name})
        else:
            raise TypeError(f"a head is built from flaxjs.keras builders or flax.linen modules, "
                            f"got {type(item).__name__}")
        taken.add(spec.name)
        specs.append(spec)
    return specs


def tail(graph: ModelGraph, layer: str, shape: tuple[int | None, ...], dtype: str) -> ModelGraph:
    """The graph after ``layer``, fed by a new input named ``layer`` of ``shape``/``dtype``
    (``layer``'s output). Everything after ``layer`` must flow through it."""
    if layer not in graph.layer_map:
        raise ValueError(f"{layer!r} is not a top-level layer of model {graph.name!r}")
    source = LayerSpec("InputLayer", layer, {"name": layer, "batch_input_shape": list(shape),
                                              "dtype": dtype})
    # later layers read the ref of the layer's first output (node 1 for a nested model)
    ref = first_output(graph.layer_map[layer])
    rewired = dataclasses.replace(
        graph, layers=tuple(source if s.name == layer else s for s in graph.layers),
        inputs=(ref,), input_specs=(InputSpec(layer, shape, dtype),))
    pruned = prune(rewired)
    stray = [s.name for s in pruned.layers if s.class_name == "InputLayer" and s.name != layer]
    if stray or list(pruned.inputs) != [ref]:
        raise ValueError(f"cannot split model {graph.name!r} at {layer!r}: later layers also "
                         "read earlier ones")
    return pruned


def with_image_size(graph: ModelGraph, height: int, width: int) -> ModelGraph:
    """The graph with its single image input (``[B, H, W, C]``) declared ``height × width``."""
    if len(graph.inputs) != 1:
        raise ValueError(f"model {graph.name!r} has {len(graph.inputs)} inputs; expected one")
    ref, spec = graph.inputs[0], graph.input_specs[0]
    if len(spec.shape) != 4:
        raise ValueError(f"model {graph.name!r} does not take images (input {spec.shape})")
    shape = (spec.shape[0], height, width, spec.shape[3])
    layers = []
    for layer in graph.layers:
        if layer.name == ref.layer and layer.class_name == "InputLayer":
            config = dict(layer.config)
            for key in ("batch_input_shape", "batch_shape"):
                if key in config:
                    config[key] = list(shape)
            layer = dataclasses.replace(layer, config=config)
        layers.append(layer)
    return dataclasses.replace(graph, layers=tuple(layers),
                               input_specs=(dataclasses.replace(spec, shape=shape),))
