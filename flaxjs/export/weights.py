"""Variables → named weights → ``weightsManifest`` entries and shard files.

Names are the ones TF.js matches (``format.md`` §5): the original manifest name
when TF.js resolves it to the same variable (round trips stay byte-identical and
keep the original order), else the variable's TF.js name ``layer/weight``
(nested models add no prefix; Bidirectional adds ``forward_<rnn>``...).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import matching
from ..errors import ExportError
from ..layers import constraints
from ..topology.spec import LayerSpec, ModelGraph
from . import quantize as quant

_KEEP = ("float32", "int32", "bool", "complex64")


@dataclasses.dataclass(frozen=True)
class Weight:
    """One weight to write: its manifest name and value (a TF.js dtype)."""

    name: str
    value: np.ndarray


def tfjs_name(slot: matching.Slot, spec: LayerSpec | None) -> str:
    """The name TF.js gives the variable (Keras 3's DepthwiseConv2D ``kernel`` is
    ``depthwise_kernel`` in TF.js)."""
    sub = slot.sub
    if spec is not None and spec.keras3 and spec.class_name == "DepthwiseConv2D" and sub == (
            "kernel",):
        sub = ("depthwise_kernel",)
    return "/".join((slot.layer, *sub))


def _tfjs_resolves(name: str, key: str, keys: set[str]) -> bool:
    """Whether TF.js's ``loadWeights`` assigns manifest ``name`` to variable ``key``."""
    if name == key:
        return True
    tokens = name.split("/")
    return name not in keys and "/".join(tokens[:-2] + tokens[-1:]) == key


def _as_tfjs_array(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.name in _KEEP:
        return np.ascontiguousarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(np.int32)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise ExportError(f"weight {name!r} does not fit int32")
        return array.astype(np.int32)
    raise ExportError(f"weight {name!r} has dtype {array.dtype}, which TF.js cannot store")


def collect(graph: ModelGraph, variables: Mapping[str, Any], layer_keys: set[tuple[str, ...]],
            *, original_names: Mapping[tuple[str, ...], str] | None = None,
            original_order: Sequence[str] = ()) -> list[Weight]:
    """The weights of the written layers, named and ordered for the manifest.

    Args:
      graph: the model graph.
      variables: ``{"params": ..., "batch_stats": ...}``.
      layer_keys: the written layers (``(*nested models, layer)``).
      original_names: variable path ``(collection, *path)`` → original manifest name.
      original_order: the original manifest's names in order.
    """
    specs = {(*prefix, s.name): s for prefix, s in graph.walk()}
    tree = {c: variables[c] for c in ("params", "batch_stats") if c in variables}
    slots = [s for s in matching.slots_from_tree(graph, tree) if s.layer_key in layer_keys]
    keys = [tfjs_name(s, specs.get(s.layer_key)) for s in slots]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ExportError("TF.js would see several variables named " + ", ".join(duplicates)
                          + " (layers with the same name in different nested models); rename "
                          "them before exporting")
    key_set = set(keys)
    position = {name: i for i, name in enumerate(original_order)}
    chosen: list[tuple[float, int, str, matching.Slot]] = []
    used: set[str] = set()
    for i, (slot, key) in enumerate(zip(slots, keys, strict=True)):
        original = (original_names or {}).get((slot.collection, *slot.path))
        name = key
        if original and original not in used and _tfjs_resolves(original, key, key_set):
            name = original
        used.add(name)
        chosen.append((position.get(name, math.inf), i, name, slot))
    chosen.sort(key=lambda t: (t[0], t[1]))
    pairs = [(slot, Weight(name, _as_tfjs_array(_leaf(tree, (slot.collection, *slot.path)),
                                                name)))
             for _, _, name, slot in chosen]
    _warn_constraints(specs, pairs)
    return [w for _, w in pairs]


def _leaf(tree: Mapping[str, Any], path: Sequence[str]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def _warn_constraints(specs: Mapping[tuple[str, ...], LayerSpec],
                      pairs: Sequence[tuple[matching.Slot, Weight]]) -> None:
    """TF.js applies a weight's constraint when it loads it: say when that moves values."""
    for slot, weight in pairs:
        spec = specs.get(slot.layer_key)
        if spec is None or weight.value.dtype != np.float32:
            continue
        for name, constraint in constraints.constraints_of(spec.config):
            if slot.sub[-1] != name:
                continue
            value = weight.value
            moved = float(np.abs(constraints.apply(constraint, value) - value).max(initial=0.0))
            if moved > 1e-5 * max(1.0, float(np.abs(value).max(initial=0.0))):
                warnings.warn(f"TF.js applies {constraint.get('class_name')} to {weight.name} "
                              f"when it loads the model: values move by up to {moved:.3g} "
                              "(flaxjs.load applies it too)", stacklevel=4)


# ----------------------------------------------------------------------------- bytes
def encode(weights: Iterable[Weight], quantize: str | None = None,
           patterns: str | Iterable[str] | None = None) -> tuple[list[dict[str, Any]], bytes]:
    """Manifest entries and the concatenated little-endian bytes.

    Args:
      weights: the named weights in manifest order.
      quantize: ``"uint8"``, ``"uint16"``, ``"float16"`` or ``None``; only float32
        weights are quantized (as the converter does).
      patterns: only quantize weights whose names match these shell patterns.
    """
    weights = list(weights)
    chosen = quant.selected([w.name for w in weights], patterns) if quantize else set()
    entries, chunks = [], []
    for w in weights:
        entry: dict[str, Any] = {"name": w.name, "shape": list(w.value.shape),
                                 "dtype": w.value.dtype.name}
        data = w.value
        if w.name in chosen and data.dtype == np.float32:
            data, meta = quant.quantize(data, quantize)  # type: ignore[arg-type]
            entry["quantization"] = meta
        chunks.append(np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<")).tobytes())
        entries.append(entry)
    return entries, b"".join(chunks)


def shard(data: bytes, shard_bytes: int, group: int = 1) -> list[tuple[str, bytes]]:
    """Split the stream into ``group<G>-shard<i>of<N>.bin`` files of ``shard_bytes``
    (the last one shorter), as the converter does."""
    if not isinstance(shard_bytes, int) or shard_bytes <= 0:
        raise ExportError(f"shard_bytes must be a positive integer, got {shard_bytes!r}")
    count = math.ceil(len(data) / shard_bytes)
    return [(f"group{group}-shard{i + 1}of{count}.bin", data[i * shard_bytes:(i + 1) * shard_bytes])
            for i in range(count)]
