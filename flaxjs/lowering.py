"""Inference lowering: fold each BatchNormalization into the convolution before it.

``conv → BN`` (the conv's only consumer, linear activation, normalizing the last
axis) becomes one conv with ``kernel·s`` and ``(bias − mean)·s + beta``,
``s = gamma / sqrt(moving_variance + epsilon)``. The graph gets ~50 fewer layers
to trace and compile (MobileNetV2) and runs the same mathematics. The folded
values are a *derived* cache of the Keras-named variables, which stay the truth
for training, checkpoints and export; only ``Model.__call__`` uses the lowering.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import hostmem
from .layers import registry
from .layers.base import channels_first
from .layers.traits import Foldable
from .topology.spec import LayerSpec, ModelGraph, TensorRef

#: a model's per-call converters (``flaxjs.load(..., custom_layers=...)``).
Custom = Mapping[str, registry.Converter] | None


@dataclasses.dataclass(frozen=True)
class Fold:
    """BatchNormalization ``bn`` folded into ``conv``, both under nested models ``path``."""

    path: tuple[str, ...]
    conv: str
    bn: str
    kernel: str  # the conv's kernel variable name
    epsilon: float


def _linear(spec: LayerSpec) -> bool:
    act = spec.config.get("activation", "linear")
    return act in (None, "linear")


def _last_axis(bn: LayerSpec, fold: Foldable) -> bool:
    axis = bn.config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    rank = fold.spatial_rank
    return axis == -1 or (rank is not None and axis == rank + 1)


def _foldable(conv: LayerSpec, bn: LayerSpec, custom: Custom) -> Foldable | None:
    """How ``bn`` folds into ``conv`` (their classes' registrations say), or None."""
    conv_reg = registry.traits_of(conv.class_name, custom)
    bn_reg = registry.traits_of(bn.class_name, custom)
    fold = conv_reg.foldable if conv_reg is not None else None
    if fold is None or bn_reg is None:
        return None
    ok = (conv.module is None and conv.graph is None
            and len(conv.calls) == 1 and _linear(conv)
            and not channels_first(conv)
            and bn.class_name == "BatchNormalization" and bn.module is None
            and len(bn.calls) == 1 and bn.calls[0].inputs == (TensorRef(conv.name),)
            and _last_axis(bn, fold) and not bn.config.get("renorm"))
    return fold if ok else None


def plan(graph: ModelGraph, path: tuple[str, ...] = (), custom: Custom = None
         ) -> tuple[ModelGraph, list[Fold]]:
    """The inference graph (BNs folded away, nested models too) and the folds made.

    ``custom`` are the model's per-call converters: a class they replace keeps its layers
    unfolded (its traits are unknown).
    """
    consumers: dict[str, int] = {}
    for spec in graph.layers:
        for call in spec.calls:
            for ref in call.inputs:
                consumers[ref.layer] = consumers.get(ref.layer, 0) + 1
    outputs = {ref.layer for ref in graph.outputs}
    by_name = graph.layer_map
    folds: list[Fold] = []
    replaced: dict[str, str] = {}  # bn name -> conv name
    for spec in graph.layers:
        if spec.class_name != "BatchNormalization" or len(spec.calls) != 1:
            continue
        source = spec.calls[0].inputs
        if len(source) != 1 or source[0].layer not in by_name:
            continue
        conv = by_name[source[0].layer]
        if consumers.get(conv.name) != 1 or conv.name in outputs:
            continue
        fold = _foldable(conv, spec, custom)
        if fold is not None:
            folds.append(Fold(path, conv.name, spec.name, fold.kernel_of(conv),
                              float(spec.config.get("epsilon", 1e-3))))
            replaced[spec.name] = conv.name

    def rewire(ref: TensorRef) -> TensorRef:
        return dataclasses.replace(ref, layer=replaced[ref.layer]) if ref.layer in replaced \
            else ref

    layers = []
    folded_convs = set(replaced.values())
    for spec in graph.layers:
        if spec.name in replaced:
            continue
        calls = tuple(dataclasses.replace(c, inputs=tuple(rewire(r) for r in c.inputs))
                      for c in spec.calls)
        config = {**spec.config, "use_bias": True} if spec.name in folded_convs else spec.config
        inner = None
        if spec.graph is not None:
            inner, inner_folds = plan(spec.graph, (*path, spec.name), custom)
            folds.extend(inner_folds)
        layers.append(dataclasses.replace(spec, calls=calls, config=config,
                                          graph=inner if inner is not None else spec.graph))
    lowered = dataclasses.replace(graph, layers=tuple(layers),
                                  outputs=tuple(rewire(r) for r in graph.outputs))
    return lowered, folds


def _subtree(tree: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        tree = tree.get(key, {})
    return tree


#: kernel elements from which folding spreads over threads (see hostmem.parallel_map).
PARALLEL_FOLD_MIN = 1 << 20


def fold_variables(variables: Mapping[str, Any], folds: list[Fold]) -> dict[str, Any]:
    """The lowered model's variables: folded convs, BatchNormalization entries removed."""
    params = _copy(variables.get("params", {}))
    stats = _copy(variables.get("batch_stats", {}))
    products: list[tuple[dict[str, Any], str, np.ndarray, np.ndarray]] = []
    for fold in folds:
        conv = _subtree(params, fold.path)[fold.conv]
        bn = _subtree(params, fold.path).get(fold.bn, {})
        moving = _subtree(stats, fold.path)[fold.bn]
        kernel = np.asarray(conv[fold.kernel])
        mean = np.asarray(moving["moving_mean"], np.float64)
        var = np.asarray(moving["moving_variance"], np.float64)
        gamma = np.asarray(bn.get("gamma", np.ones_like(mean)), np.float64)
        beta = np.asarray(bn.get("beta", np.zeros_like(mean)), np.float64)
        scale = gamma / np.sqrt(var + fold.epsilon)  # per channel, in float64
        bias = np.asarray(conv.get("bias", np.zeros_like(mean)), np.float64)
        factor = scale.astype(kernel.dtype)  # the big multiply stays in the kernel's dtype
        if fold.kernel == "depthwise_kernel" or kernel.shape[-1] != scale.shape[0]:
            factor = factor.reshape(kernel.shape[-2], kernel.shape[-1])
        products.append((conv, fold.kernel, kernel, factor))
        conv["bias"] = ((bias - mean) * scale + beta).astype(kernel.dtype)
        _subtree(params, fold.path).pop(fold.bn, None)
        _subtree(stats, fold.path).pop(fold.bn, None)

    def scaled(item: tuple[dict[str, Any], str, np.ndarray, np.ndarray]) -> None:
        conv, name, kernel, factor = item
        conv[name] = hostmem.frozen(np.multiply(
            kernel, factor, out=hostmem.aligned_empty(kernel.shape, kernel.dtype)))

    hostmem.parallel_map(scaled, products,
                         threads=sum(k.size for _, _, k, _ in products) >= PARALLEL_FOLD_MIN)
    out = {k: v for k, v in variables.items() if k not in ("params", "batch_stats")}
    out["params"] = params
    if _has_leaves(stats):
        out["batch_stats"] = stats
    return out


def _copy(tree: Any) -> Any:
    return {k: _copy(v) for k, v in tree.items()} if isinstance(tree, Mapping) else tree


def _has_leaves(tree: Any) -> bool:
    if isinstance(tree, Mapping):
        return any(_has_leaves(v) for v in tree.values())
    return True
