"""Running a graph: the nodes an output needs, in order, and their values.

Constants, weights and fed tensors are values known before the run; every other
node is computed by its op's converter from its inputs. A run is a pure function
of the weights and the fed tensors, so it can be jitted, differentiated and
vmapped, as long as no op with value-dependent shapes is on the way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import jax

from ..errors import DynamicOpError, ModelFormatError, UnsupportedOpError
from .graphdef import NodeDef, TensorRef
from .ops import registry
from .ops.common import GraphOpError
from .spec import GraphSpec

#: op families TF.js itself cannot run; named in the refusal.
_NO_TFJS = ("Lookup", "HashTable", "Table", "String", "Regex", "Ragged", "SimpleML")


def execution_order(spec: GraphSpec, outputs: Sequence[TensorRef],
                    known: Collection[str]) -> list[NodeDef]:
    """The nodes ``outputs`` depend on, each after its inputs, stopping at ``known`` ones."""
    order: list[NodeDef] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for root in outputs:
        if root.node in known or state.get(root.node) == 2:
            continue
        stack = [(root.node, False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                state[name] = 2
                order.append(spec.nodes[name])
                continue
            if state.get(name) == 2:
                continue
            state[name] = 1
            stack.append((name, True))
            for ref in reversed(spec.nodes[name].inputs):
                if ref.node in known or state.get(ref.node) == 2:
                    continue
                if state.get(ref.node) == 1:
                    raise GraphOpError(spec.nodes[name], f"the graph has a cycle through "
                                       f"{ref.node!r} (a v1 control-flow loop), which flaxjs "
                                       "does not run yet")
                stack.append((ref.node, False))
    return order


def check_supported(order: Sequence[NodeDef], location: str = "") -> None:
    """Refuse, before anything runs, every op without a converter (all of them at once)."""
    missing: dict[str, list[str]] = {}
    for node in order:
        if registry.lookup(node.op) is None:
            missing.setdefault(node.op, []).append(node.name)
    if not missing:
        return
    if any(part in op for op in missing for part in _NO_TFJS):
        reason = ("String, hash-table and ragged ops have no JAX counterpart (TF.js cannot run "
                  "them with execute() either): feed the graph after its text preprocessing, "
                  "e.g. m.execute({'<node after the lookup>': ids}, ...), or re-export the "
                  "model without them.")
    else:
        reason = ""
    raise UnsupportedOpError(missing, reason=reason, location=location)


def dynamic_ops(order: Sequence[NodeDef]) -> list[NodeDef]:
    """The nodes whose output shapes depend on values (they cannot run under ``jax.jit``)."""
    out = []
    for node in order:
        registration = registry.lookup(node.op)
        if registration is not None and registration.dynamic:
            out.append(node)
    return out


def run(order: Sequence[NodeDef], known: Mapping[str, Any],
        outputs: Sequence[TensorRef]) -> list[Any]:
    """The values of ``outputs``, computing ``order`` from the ``known`` node values."""
    values: dict[str, tuple[Any, ...]] = {name: (value,) for name, value in known.items()}
    for node in order:
        inputs = [_output(values, ref, node) for ref in node.inputs]
        if registry.lookup(node.op).dynamic and any(  # type: ignore[union-attr]
                isinstance(x, jax.core.Tracer) for x in inputs):
            raise DynamicOpError(
                f"node {node.name!r} ({node.op}) has an output shape that depends on values, "
                "so it cannot run under jax.jit (TF.js too runs it only with executeAsync): "
                "call the model without jit, or jit the parts before and after it "
                "(m.execute with those node names as outputs/feeds)")
        values[node.name] = registry.call(node, inputs)
    return [_output(values, ref, None) for ref in outputs]


def _output(values: Mapping[str, tuple[Any, ...]], ref: TensorRef, reader: NodeDef | None) -> Any:
    outs = values[ref.node]
    if ref.index >= len(outs):
        message = (f"output {ref.index} of {ref.node!r} is read, but flaxjs computes "
                   f"{len(outs)} output(s) for it; please report the model")
        if reader is not None:
            raise GraphOpError(reader, message)
        raise ModelFormatError(message)
    return outs[ref.index]
