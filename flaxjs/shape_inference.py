"""Shapes of a model without computing it: expected variables, dummy inputs, layer outputs.

:func:`dummy_inputs` stands in for data wherever only shapes matter (tracing
``init``, ``summary()``, a new head's input). The rest of this module finds a
model's expected variables from per-layer shape rules, without tracing anything.

Strict loading needs every variable's name, shape and creation order before it
matches the manifest. Tracing ``module.init`` finds them for any layer, but costs
100-250 ms on first sight of a topology, more than TF.js takes to load the whole
model. Most layers of real models (convolutions, BatchNormalization, Dense,
pooling, merges, activations...) instead state their variables and output shapes
in :meth:`~flaxjs.layers.base.KerasLayer.shape_rule`; when every layer on the
way to the outputs has a rule, this module walks the graph in the executor's
order with plain tuples and the trace is skipped. Otherwise it answers None and
the loader traces. ``tests/test_shape_inference.py`` holds both to the same
result on every corpus model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from . import matching
from .errors import LayerConfigError, LayerFitError
from .graph_module import GraphModule, execution_order
from .layers import registry
from .layers.base import Shape
from .layers.sizes import check_count
from .topology.spec import InputSpec, ModelGraph, TensorRef


def dummy_inputs(specs: Sequence[InputSpec]) -> list[jax.ShapeDtypeStruct]:
    """Abstract inputs for shape inference: batch 1, unknown dims filled like make_reference."""
    out = []
    for spec in specs:
        rank = len(spec.shape)
        dims = []
        for axis, d in enumerate(spec.shape):
            if d is not None:
                dims.append(d)
            elif axis == 0:
                dims.append(1)
            else:
                dims.append(64 if rank in (4, 5) and axis < rank - 1 else 20)
        dtype = jnp.dtype(spec.dtype if spec.dtype != "string" else "int32")
        out.append(jax.ShapeDtypeStruct(tuple(dims), dtype))
    return out


def layer_output_shapes(module: GraphModule, graph: ModelGraph, variables: Mapping[str, Any]
                        ) -> dict[str, tuple]:
    """Shape of each top-level layer's first output (batch axis ``None`` unless fixed)."""
    names = tuple(s.name for s in graph.layers if s.calls or s.class_name == "InputLayer")

    def run(*xs):
        return module.apply(dict(variables), list(xs), capture=names)[1]

    shapes = jax.eval_shape(run, *dummy_inputs(graph.input_specs))
    batch_known = {s.shape[0] for s in graph.input_specs} - {None}
    return {name: (None if not batch_known else s.shape[0], *s.shape[1:])
            for name, s in shapes.items()}


def infer_slots(graph: ModelGraph, input_shapes: list[Shape]) -> list[matching.Slot] | None:
    """The slots that tracing ``init`` on inputs of ``input_shapes`` would find, or None."""
    tree: dict[str, Any] = {}
    order: list[tuple[str, ...]] = []
    if _walk(graph, list(input_shapes), (), tree, order) is None:
        return None
    return matching.slots_from_tree(graph, tree, order)


def _walk(graph: ModelGraph, shapes: list[Shape], prefix: tuple[str, ...],
          tree: dict[str, Any], order: list[tuple[str, ...]]) -> list[Shape] | None:
    """Output shapes of ``graph`` (nested models recurse), recording created variables."""
    if len(shapes) != len(graph.inputs):
        return None
    values: dict[TensorRef, Shape] = dict(zip(graph.inputs, shapes, strict=True))
    made: set[str] = set()
    for name, call_index in execution_order(graph, tuple(graph.outputs)):
        spec = graph.layer(name)
        if spec.module is not None:
            return None  # a user's Flax module: only tracing knows its variables
        refs = spec.calls[call_index].inputs
        if any(r not in values for r in refs):
            return None  # a reference to an output the layer lacks: the trace reports it
        ins = [values[r] for r in refs]
        if spec.graph is not None:  # a model called again reuses its variables: record them once
            first = name not in made
            outs = _walk(spec.graph, ins, (*prefix, name), tree if first else {},
                         order if first else [])
        else:
            try:
                rule = registry.convert(spec).shape_rule(ins)
                if rule is not None:
                    for shape in rule[0]:
                        check_count("the output", shape)
                    for _, var, shape, _ in rule[1]:
                        check_count(f"variable {var!r}", shape, per_example=False)
            except (ValueError, TypeError):  # e.g. several inputs to a one-input layer:
                rule = None                  # the trace reports it properly
            except LayerFitError as err:
                raise LayerConfigError(spec.name, spec.class_name, str(err)) from None
            if rule is None:
                return None
            outs, variables = rule
            if name not in made:  # a shared layer creates its variables on its first call
                for collection, var, shape, dtype in variables:
                    scope = tree.setdefault(collection, {})
                    for key in (*prefix, name):
                        scope = scope.setdefault(key, {})
                    scope[var] = jax.ShapeDtypeStruct(tuple(shape), dtype)
                    order.append((collection, *prefix, name, var))
        if outs is None:
            return None
        made.add(name)
        node = spec.node_of(call_index)
        for t, shape in enumerate(outs):
            values[TensorRef(name, node, t)] = tuple(shape)
    try:
        return [values[r] for r in graph.outputs]
    except KeyError:
        return None
