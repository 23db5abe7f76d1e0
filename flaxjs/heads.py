"""Attach a new head to a model and initialise only the head's variables."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from . import surgery
from .graph_module import GraphModule
from .keras import keras_name
from .topology.spec import InputSpec, LayerSpec

if TYPE_CHECKING:
    from .model import Model


def _as_specs(head: Any, taken: set[str]) -> list[LayerSpec]:
    items = list(head) if isinstance(head, Sequence) and not isinstance(head, str) else [head]
    specs = []
    for item in items:
        if isinstance(item, nn.Module):
            cls = type(item).__name__
            name = item.name or surgery.unique_name(keras_name(cls), taken)
            spec = LayerSpec(cls, name, {"name": name, "trainable": True}, module=item)
        elif isinstance(item, LayerSpec):
            name = item.name or surgery.unique_name(keras_name(item.class_name), taken)
            spec = dataclasses.replace(item, name=name, config={**item.config, "name": name})
        else:
            raise TypeError(f"a head is built from flaxjs.keras builders or flax.linen modules, "
                            f"got {type(item).__name__}")
        taken.add(spec.name)
        specs.append(spec)
    return specs


def attach(model: Model, head: Any, *, key: jax.Array | None = None,
           name: str | None = None) -> Model:
    """See :meth:`flaxjs.Model.extend`."""
    specs = _as_specs(head, surgery.all_names(model.graph))
    graph = surgery.extend(model.graph, specs, name=name)
    from .loader import dummy_inputs
    out = jax.eval_shape(lambda *xs: model.module.apply(model.variables, list(xs)),
                         *dummy_inputs(model.input_specs))
    feature = InputSpec("__flaxjs_head_input__", (None, *out.shape[1:]), str(out.dtype))
    head_graph = surgery.input_graph("__flaxjs_head__", feature, specs)
    params_key, dropout_key = jax.random.split(jax.random.key(0) if key is None else key)
    head_vars = GraphModule(head_graph, model.module.custom_layers).init(
        {"params": params_key, "dropout": dropout_key},
        [jnp.zeros((1, *out.shape[1:]), out.dtype)])
    variables = {c: dict(t) for c, t in model.variables.items()}
    for collection, tree in head_vars.items():
        variables.setdefault(collection, {}).update(tree)
    return model.derive(graph, variables)
