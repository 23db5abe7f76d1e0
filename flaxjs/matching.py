"""Match manifest weight names to the model's variables.

First exactly as TF.js does (``LayersModel.loadWeights``: the variable's original
name ``layer/weight``, then the name with its second-to-last segment dropped, so
``lstm/lstm_cell/kernel`` finds ``lstm/kernel``), then what TF.js lacks: a trailing
``:0``, leading model or nested-model names (``sequential_1/dense/kernel``), the
``_1`` name drift of TF1-era files (``batch_normalization_1_1/gamma``), Keras 3
``<layer>/<sublayer>.../vars/<i>`` positions (as :mod:`flaxjs.io.keras_file` names a
``.keras`` file's variables) and the ``layers/<key>/vars/<i>`` paths the TF.js converter
copies from it, and finally, per layer, the order of the remaining weights when their
shapes agree. Nothing is ever filled silently.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .topology.spec import ModelGraph

_DRIFT = re.compile(r"^(.*)_\d+$")
_KERAS3_SCOPES = {"layers", "_layer_checkpoint_dependencies", "layer_checkpoint_dependencies",
                  "vars", "cell"}


@dataclasses.dataclass(frozen=True)
class Slot:
    """One model variable: where it lives and what TF.js calls it."""

    collection: str
    models: tuple[str, ...]  # enclosing nested-model layer names
    layer: str
    sub: tuple[str, ...]  # scope inside the layer, then the weight name
    shape: tuple[int, ...]
    dtype: Any
    index: int  # position among its layer's variables (trainable first)

    @property
    def tfjs_name(self) -> str:
        return "/".join((self.layer, *self.sub))

    @property
    def path(self) -> tuple[str, ...]:
        return (*self.models, self.layer, *self.sub)

    @property
    def layer_key(self) -> tuple[str, ...]:
        return (*self.models, self.layer)


@dataclasses.dataclass
class MatchResult:
    """Which manifest name went to which slot, and what is left over."""

    assigned: dict[Slot, str]
    unmatched: list[str]  # manifest names with no variable
    missing: list[Slot]  # variables with no manifest weight
    mismatched: list[tuple[str, Slot, tuple[int, ...]]]  # name, slot, manifest shape
    by_order: list[tuple[str, Slot]]  # matched by the per-layer order fallback
    renamed: list[tuple[str, Slot]]  # matched by a rule beyond TF.js's


def slots_from_tree(graph: ModelGraph, tree: Mapping[str, Any],
                    creation_order: Sequence[tuple[str, ...]] = ()) -> list[Slot]:
    """Slots of an (abstract) variables tree, in Keras order within each layer.

    Args:
      graph: the model's graph.
      tree: ``{"params": ..., "batch_stats": ...}`` (arrays or shape structs).
      creation_order: ``(collection, *path)`` of every variable in creation order;
        without it the tree's own order is used.
    """
    out: list[Slot] = []
    counters: dict[tuple[str, ...], int] = {}
    layer_order = {key: i for i, key in enumerate(_layer_keys(graph))}
    leaves = dict(flatten(tree))
    order = [p for p in creation_order if p in leaves] or list(leaves)
    for collection in ("params", "batch_stats"):
        for full in order:
            if full[0] != collection:
                continue
            path, leaf = full[1:], leaves[full]
            models, layer, sub = _split_path(graph, path)
            key = (*models, layer)
            index = counters.get(key, 0)
            counters[key] = index + 1
            out.append(Slot(collection, models, layer, sub, tuple(leaf.shape), leaf.dtype, index))
    out.sort(key=lambda s: layer_order.get(s.layer_key, len(layer_order)))
    return out


def _layer_keys(graph: ModelGraph) -> list[tuple[str, ...]]:
    return [(*prefix, spec.name) for prefix, spec in graph.walk()]


def flatten(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()):
    """``(path, leaf)`` pairs of a nested mapping, in its iteration order."""
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from flatten(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _split_path(graph: ModelGraph, path: tuple[str, ...]):
    models: list[str] = []
    current = graph
    i = 0
    while True:
        spec = current.layer_map.get(path[i])
        if spec is not None and spec.graph is not None and i + 1 < len(path) - 1:
            models.append(path[i])
            current = spec.graph
            i += 1
            continue
        return tuple(models), path[i], tuple(path[i + 1:])


def _model_names(graph: ModelGraph) -> set[str]:
    names = {graph.name}
    for _, spec in graph.walk():
        if spec.graph is not None:
            names.update({spec.name, spec.graph.name})
    return names


class _Matcher:
    def __init__(self, graph: ModelGraph, slots: Sequence[Slot]):
        self.slots = list(slots)
        self.free: set[Slot] = set(slots)
        self.by_key: dict[str, list[Slot]] = {}
        for slot in slots:
            for key in {slot.tfjs_name, "/".join(slot.path)}:
                self.by_key.setdefault(key, []).append(slot)
        self.model_names = _model_names(graph)
        self.layer_names = {s.layer for s in slots}
        self.by_layer: dict[str, list[Slot]] = {}
        self.by_layer_key: dict[tuple[str, ...], list[Slot]] = {}
        for slot in slots:
            self.by_layer.setdefault(slot.layer, []).append(slot)
            self.by_layer_key.setdefault(slot.layer_key, []).append(slot)

    def take(self, key: str) -> Slot | None:
        for slot in self.by_key.get(key, ()):
            if slot in self.free:
                return slot
        return None

    def tfjs(self, name: str) -> Slot | None:
        """TF.js's own two tries."""
        slot = self.take(name)
        if slot is None:
            tokens = name.split("/")
            slot = self.take("/".join(tokens[:-2] + tokens[-1:]))
        return slot

    def variants(self, name: str) -> Iterable[str]:
        """Names to try beyond TF.js's rule, most literal first."""
        base = name[:-2] if name.endswith(":0") else name
        tokens = base.split("/")
        stripped = list(tokens)
        while len(stripped) > 2 and stripped[0] in self.model_names:
            stripped.pop(0)
        for candidate in (tokens, stripped):
            yield "/".join(candidate)
            head = _DRIFT.match(candidate[0])
            if (head and candidate[0] not in self.layer_names
                    and head.group(1) in self.layer_names):
                yield "/".join([head.group(1), *candidate[1:]])

    def keras3(self, name: str) -> Slot | None:
        tokens = name.split("/")
        if "vars" not in tokens or not tokens[-1].isdigit():
            return None
        index = int(tokens[-1])
        if tokens[-2] == "vars":
            named, slot = self.keras3_scoped(tokens[:-2], index)
            if named:
                return slot
        before = tokens[:tokens.index("vars")] if tokens.count("vars") == 1 else tokens[:-2]
        layer_pos = max((i for i, t in enumerate(before) if t in self.layer_names), default=None)
        if layer_pos is None:
            return None
        scope = [t for t in before[layer_pos + 1:] if t not in _KERAS3_SCOPES]
        candidates = self.by_layer[before[layer_pos]]
        if scope:
            direction = scope[0].split("_")[0]  # forward_layer / backward_layer
            candidates = [s for s in candidates if s.sub and s.sub[0].startswith(direction)]
            ordered = sorted(candidates, key=lambda s: s.index)
        else:
            ordered = sorted(candidates, key=lambda s: s.index)
        if index < len(ordered) and ordered[index] in self.free:
            return ordered[index]
        return None

    def keras3_scoped(self, chain: Sequence[str], index: int) -> tuple[bool, Slot | None]:
        """``<models>/<layer>/<sublayers>`` + the position among that object's own variables:
        ``(whether the chain names a layer and scope, its slot)``.

        The sublayer scope is compared with the slots' scope as TF.js compares names: as is,
        or without its last part (``lstm/lstm_cell`` → the layer's own ``lstm/kernel``).
        """
        for start in range(len(chain)):
            if start and chain[start - 1] not in self.model_names:
                break
            for end in range(len(chain), start, -1):
                slots = self.by_layer_key.get(tuple(chain[start:end]))
                if slots is None:
                    continue
                scope = tuple(chain[end:])
                for wanted in (scope, scope[:-1]) if scope else (scope,):
                    ordered = sorted((s for s in slots if s.sub[:-1] == wanted),
                                     key=lambda s: s.index)
                    if ordered:
                        found = ordered[index] if index < len(ordered) else None
                        return True, found if found in self.free else None
                return False, None  # a scope the layer lacks: left to the rules below
        return False, None

    def find(self, name: str) -> tuple[Slot | None, bool]:
        slot = self.tfjs(name)
        if slot is not None:
            return slot, False
        for candidate in self.variants(name):
            slot = self.tfjs(candidate)
            if slot is not None:
                return slot, True
        return self.keras3(name), True

    def layer_of(self, name: str) -> str | None:
        """The layer a manifest name belongs to, by the same rules (for the order fallback)."""
        for candidate in self.variants(name):
            tokens = candidate.split("/")
            for t in (tokens[0], *(tokens[1:-1])):
                if t in self.layer_names:
                    return t
        return None


def match(decoded: Mapping[str, np.ndarray], slots: Sequence[Slot], graph: ModelGraph
          ) -> MatchResult:
    """Assign manifest weights to slots; see the module docstring for the rules."""
    matcher = _Matcher(graph, slots)
    assigned: dict[Slot, str] = {}
    mismatched, renamed, leftover = [], [], []
    for name, value in decoded.items():
        slot, by_rule = matcher.find(name)
        if slot is None:
            leftover.append(name)
            continue
        matcher.free.discard(slot)
        if tuple(value.shape) != slot.shape:
            mismatched.append((name, slot, tuple(value.shape)))
            continue
        assigned[slot] = name
        if by_rule:
            renamed.append((name, slot))
    by_order = _order_fallback(matcher, decoded, leftover, assigned)
    for name, _ in by_order:
        leftover.remove(name)
    missing = [s for s in slots if s not in assigned and s not in {m[1] for m in mismatched}]
    return MatchResult(assigned, leftover, missing, mismatched, by_order, renamed)


def _order_fallback(matcher: _Matcher, decoded: Mapping[str, np.ndarray], leftover: list[str],
                    assigned: dict[Slot, str]) -> list[tuple[str, Slot]]:
    """Per layer, pair the remaining names and variables in order when all shapes agree."""
    names_by_layer: dict[str, list[str]] = {}
    for name in leftover:
        layer = matcher.layer_of(name)
        if layer is not None:
            names_by_layer.setdefault(layer, []).append(name)
    pairs: list[tuple[str, Slot]] = []
    for layer, names in names_by_layer.items():
        free = [s for s in matcher.by_layer.get(layer, []) if s in matcher.free]
        free.sort(key=lambda s: s.index)
        if len(free) != len(names):
            continue
        if all(tuple(decoded[n].shape) == s.shape for n, s in zip(names, free, strict=True)):
            for n, s in zip(names, free, strict=True):
                matcher.free.discard(s)
                assigned[s] = n
                pairs.append((n, s))
    return pairs
