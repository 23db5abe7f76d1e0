"""``GraphModule``: runs a parsed Keras graph as one ``flax.linen`` module.

Layers become child modules named after the Keras layers, so variables are
``params[layer][weight]``; a shared layer is one child called several times; a
nested model is a nested ``GraphModule``.

Execution follows TF.js exactly, including its mask plumbing
(``tfjs-layers/src/engine/executor.ts``): at the top level the tensors are
visited in TF.js's depth-first order, each layer receives ``mask`` = the first
input's mask whenever any input carries one, and otherwise the *last* mask seen
(TF.js reuses one ``kwargs`` object for the whole ``predict``). Inside nested
models each layer gets its own input's mask (``Container.runInternalGraph``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax

from .errors import LayerConfigError, LayerFitError, TopologyError
from .layers import registry
from .layers.base import KerasLayer, as_list
from .layers.sizes import check_count
from .topology.spec import LayerSpec, ModelGraph, TensorRef

Array = jax.Array


def _tensor_inputs(graph: ModelGraph, ref: TensorRef) -> tuple[TensorRef, ...]:
    spec = graph.layer(ref.layer)
    if spec.class_name == "InputLayer":
        return ()
    return spec.calls[spec.call_index(ref.node)].inputs


def _sort_one(graph: ModelGraph, fetch: TensorRef) -> list[TensorRef]:
    """TF.js's ``getTopologicalSortAndRecipientCountsForOneFetch``, with cycle detection."""
    visited = set(graph.inputs)
    ordered: list[TensorRef] = []
    stack = [fetch]
    marks: list[int] = []
    in_progress: set[TensorRef] = set()
    while stack:
        top = stack[-1]
        if top in visited:
            stack.pop()
            continue
        inputs = _tensor_inputs(graph, top)
        marked = bool(marks) and marks[-1] == len(stack) - 1
        if not inputs or marked:
            stack.pop()
            ordered.append(top)
            visited.add(top)
            in_progress.discard(top)
            if marked:
                marks.pop()
            continue
        if top in in_progress:
            raise TopologyError(f"model {graph.name!r}: the graph has a cycle through {top}")
        in_progress.add(top)
        marks.append(len(stack) - 1)
        for ref in inputs:
            if ref in in_progress:
                raise TopologyError(f"model {graph.name!r}: the graph has a cycle through {ref}")
            if ref not in visited:
                stack.append(ref)
    return ordered


@functools.lru_cache(maxsize=256)
def execution_order(graph: ModelGraph, fetches: tuple[TensorRef, ...]
                    ) -> tuple[tuple[str, int], ...]:
    """The ``(layer, call index)`` calls needed for ``fetches``, in TF.js's order."""
    seen_tensors: set[TensorRef] = set()
    calls: list[tuple[str, int]] = []
    seen_calls: set[tuple[str, int]] = set()
    for fetch in fetches:
        for ref in _sort_one(graph, fetch):
            if ref in seen_tensors:
                continue
            seen_tensors.add(ref)
            spec = graph.layer(ref.layer)
            if spec.class_name == "InputLayer":
                if ref not in graph.inputs:
                    raise TopologyError(f"model {graph.name!r}: input layer {ref.layer!r} is used "
                                        "but is not one of the model's inputs")
                continue
            key = (spec.name, spec.call_index(ref.node))
            if key not in seen_calls:
                seen_calls.add(key)
                calls.append(key)
    return tuple(calls)


def _produced(graph: ModelGraph, values: Mapping[TensorRef, Array], ref: TensorRef,
              what: str) -> Array:
    """The value of ``ref``, which its layer's call produced (checked here: how many
    outputs a layer has is known only once it ran)."""
    if ref in values:
        return values[ref]
    made = sum(1 for r in values if (r.layer, r.node) == (ref.layer, ref.node))
    raise TopologyError(f"model {graph.name!r}: {what} refers to output {ref.tensor} of layer "
                        f"{ref.layer!r}, which has {made} output(s)")


def split_capture(graph: ModelGraph, name: str) -> tuple[TensorRef, str | None]:
    """``"layer"`` → (its first output, None); ``"model/inner"`` → (the model's output, "inner")."""
    head, _, rest = name.partition("/")
    try:
        spec = graph.layer(head)
    except KeyError:
        raise KeyError(f"model {graph.name!r} has no layer {head!r}") from None
    if rest and not spec.is_model:
        raise KeyError(f"layer {head!r} of model {graph.name!r} is not a nested model")
    if not spec.calls and spec.class_name != "InputLayer":
        raise KeyError(f"layer {head!r} of model {graph.name!r} is never called")
    return spec.output(), (rest or None)


def _call_flax(module: nn.Module, arg: Any, train: bool) -> Any:
    """Call a user's Flax module with whichever of ``train``/``deterministic`` it accepts."""
    params = inspect.signature(type(module).__call__).parameters
    if "train" in params:
        return module(arg, train=train)
    if "deterministic" in params:
        return module(arg, deterministic=not train)
    if "training" in params:
        return module(arg, training=train)
    return module(arg)


class GraphModule(KerasLayer):
    """A Keras model (Sequential or Functional) as a linen module.

    Attributes:
      graph: the parsed topology.
      custom_layers: per-call converters (class name → converter) tried before the registry.
      top_level: run with TF.js's top-level executor semantics (see module docstring).
    """

    graph: ModelGraph
    custom_layers: Mapping[str, Any] | None = None
    top_level: bool = True

    def _make(self, spec: LayerSpec) -> nn.Module:
        if spec.graph is not None:  # a nested model
            return GraphModule(spec.graph, self.custom_layers, top_level=False, name=spec.name)
        if spec.module is not None:
            return spec.module.clone(parent=self, name=spec.name)
        return registry.convert(spec, self.custom_layers)

    @nn.compact
    def __call__(self, inputs: Array | Sequence[Array], *, train: bool = False,
                 mask: Array | None = None, capture: Sequence[str] = ()):
        """Run the graph.

        Args:
          inputs: one array per model input (a single array for one input).
          train: training behaviour for Dropout, noise and BatchNormalization.
          mask: the mask of the first input (used when nested inside another model).
          capture: layer names (``"outer/inner"`` for nested models) whose outputs to
            return as well.

        Returns:
          the output (a list for several outputs); with ``capture``, a pair
          ``(outputs, {name: array})``.
        """
        graph = self.graph
        xs = as_list(inputs)
        if len(xs) != len(graph.inputs):
            raise ValueError(f"model {graph.name!r} takes {len(graph.inputs)} input(s) "
                             f"({', '.join(s.name for s in graph.input_specs)}), got {len(xs)}")
        captures = [(name, *split_capture(graph, name)) for name in capture]
        fetches = tuple(graph.outputs) + tuple(ref for _, ref, _ in captures)
        order = execution_order(graph, fetches)

        sub_capture: dict[str, list[str]] = {}
        for _, ref, rest in captures:
            if rest is not None:
                sub_capture.setdefault(ref.layer, []).append(rest)

        values: dict[TensorRef, Array] = dict(zip(graph.inputs, xs, strict=True))
        masks: dict[TensorRef, Any] = {graph.inputs[0]: mask} if mask is not None else {}
        inner_captured: dict[str, dict[str, Array]] = {}
        modules: dict[str, nn.Module] = {}
        kwargs_mask = None
        for layer_name, call_index in order:
            spec = graph.layer(layer_name)
            if layer_name not in modules:
                modules[layer_name] = self._make(spec)
            module = modules[layer_name]
            refs = spec.calls[call_index].inputs
            in_values = [_produced(graph, values, r, f"input of layer {layer_name!r}")
                         for r in refs]
            in_masks = [masks.get(r) for r in refs]
            if self.top_level:
                if any(m is not None for m in in_masks):
                    kwargs_mask = in_masks[0]
                layer_mask = kwargs_mask
            else:
                layer_mask = in_masks[0]
            arg = in_values[0] if len(in_values) == 1 else in_values
            wanted = sub_capture.get(layer_name) if call_index == 0 else None
            try:
                if wanted:
                    out, inner = module(arg, train=train, mask=layer_mask, capture=tuple(wanted))
                    inner_captured[layer_name] = inner
                elif spec.module is not None:
                    out = _call_flax(module, arg, train)
                else:
                    out = module(arg, train=train, mask=layer_mask)
                outs = as_list(out)
                for value in outs:
                    check_count("the output", getattr(value, "shape", ()))
            except LayerFitError as err:  # raised from shapes: nothing was computed yet
                raise LayerConfigError(spec.name, spec.class_name, str(err)) from None
            if spec.module is not None or (
                    self.top_level and not getattr(module, "supports_masking", False)):
                out_masks: list[Any] = [None] * len(outs)
            else:
                computed = module.compute_mask(in_values, in_masks)
                if self.top_level or not isinstance(computed, (list, tuple)):
                    first = computed[0] if isinstance(computed, (list, tuple)) else computed
                    out_masks = [first] * len(outs)
                else:
                    out_masks = list(computed) + [None] * (len(outs) - len(computed))
            node = spec.node_of(call_index)
            for t, (value, m) in enumerate(zip(outs, out_masks, strict=False)):
                ref = TensorRef(layer_name, node, t)
                values[ref] = value
                if m is not None:
                    masks[ref] = m

        outputs = [_produced(graph, values, r, "model output") for r in graph.outputs]
        result = outputs[0] if len(outputs) == 1 else outputs
        if not capture:
            return result
        captured = {}
        for name, ref, rest in captures:
            captured[name] = values[ref] if rest is None else inner_captured[ref.layer][rest]
        return result, captured

    def compute_mask(self, inputs, masks):
        return None
