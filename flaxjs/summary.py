"""``Model.summary()``: layers, output shapes, parameter counts and trainable flags."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import jax

from .topology.spec import ModelGraph

if TYPE_CHECKING:
    from .model import Model


def _count(tree: Any) -> int:
    return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(tree))


def output_shapes(model: Model) -> dict[str, tuple]:
    """Shape of each top-level layer's first output (batch axis shown as ``None``)."""
    from .loader import dummy_inputs
    names = tuple(s.name for s in model.graph.layers if s.calls or s.class_name == "InputLayer")
    dummies = dummy_inputs(model.input_specs)

    def run(*xs):
        return model.apply(model.variables, *xs, capture=names)[1]

    shapes = jax.eval_shape(run, *dummies)
    batch_known = {s.shape[0] for s in model.input_specs} - {None}
    return {name: (None if not batch_known else s.shape[0], *s.shape[1:])
            for name, s in shapes.items()}


def summary_table(model: Model) -> str:
    """The summary text (see :meth:`flaxjs.Model.summary`)."""
    graph: ModelGraph = model.graph
    shapes = output_shapes(model)
    rows = [("Layer (type)", "Output shape", "Param #", "Trainable")]
    trainable_total = frozen_total = 0
    for spec in graph.layers:
        params = model.variables.get("params", {}).get(spec.name, {})
        stats = model.variables.get("batch_stats", {}).get(spec.name, {})
        n_params, n_stats = _count(params), _count(stats)
        if spec.trainable:
            trainable_total += n_params
            frozen_total += n_stats
        else:
            frozen_total += n_params + n_stats
        shape = shapes.get(spec.name)
        rows.append((f"{spec.name} ({spec.class_name})",
                     str(list(shape)).replace("None", "null") if shape else "-",
                     f"{n_params + n_stats:,}", "yes" if spec.trainable else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    rule = "-" * (sum(widths) + 6)
    lines = [f'Model: "{graph.name}" ({graph.class_name})', rule]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append(rule)
    lines += [rule, f"Total params: {trainable_total + frozen_total:,}",
              f"Trainable params: {trainable_total:,}",
              f"Non-trainable params: {frozen_total:,}"]
    return "\n".join(lines)
