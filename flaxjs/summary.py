"""``Model.summary()``: layers, output shapes, parameter counts and trainable flags."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax

from .topology.spec import ModelGraph


def _count(tree: Any) -> int:
    return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(tree))


def table(graph: ModelGraph, variables: Mapping[str, Any], shapes: Mapping[str, tuple]) -> str:
    """The summary text (see :meth:`flaxjs.Model.summary`): ``shapes`` are each layer's
    output shape (:func:`flaxjs.shape_inference.layer_output_shapes`)."""
    rows = [("Layer (type)", "Output shape", "Param #", "Trainable")]
    trainable_total = frozen_total = 0
    for spec in graph.layers:
        params = variables.get("params", {}).get(spec.name, {})
        stats = variables.get("batch_stats", {}).get(spec.name, {})
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
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append(rule)
    lines += [rule, f"Total params: {trainable_total + frozen_total:,}",
              f"Trainable params: {trainable_total:,}",
              f"Non-trainable params: {frozen_total:,}"]
    return "\n".join(lines)
