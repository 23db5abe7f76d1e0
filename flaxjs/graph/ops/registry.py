"""The TF op registry: one converter per TensorFlow op name, as ``flaxjs.layers`` has one
per Keras class.

A converter is a pure function ``fn(node, *inputs)`` of the node (its decoded
attributes) and its input tensors. It returns one array or a tuple (one per output
``node:k``). It computes on NumPy when every input is a NumPy array (constants and
shapes, so that shape arithmetic stays static under ``jax.jit``) and on
``jax.numpy`` otherwise; see :func:`flaxjs.graph.ops.common.xp`.

Each registration carries the op's traits and its samples: small one-node graphs
that ``tools/graph_op_references`` runs in TF.js to make the reference each op is
tested against.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..graphdef import NodeDef

Converter = Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class Feed:
    """A sample input fed through a ``Placeholder``: random values in ``[low, high)``."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    low: float = -1.0
    high: float = 1.0


@dataclasses.dataclass(frozen=True)
class OpSample:
    """One case of an op's TF.js reference test: a graph of one node.

    Attributes:
      inputs: per input, a :class:`Feed` (a ``Placeholder``) or a NumPy array (a
        ``Const`` whose value goes into the weights manifest).
      attrs: the node's attributes as Python values (``int``, ``float``, ``bool``,
        ``str``, :class:`~flaxjs.graph.graphdef.DType`, or lists of them).
      outputs: how many outputs (``node:k``) the reference records.
      op: the op name when the registration has several (default: the first).
      name: a short tag telling the op's cases apart.
      graph: for ops that cannot be one node (a loop, a list read back), the nodes of
        the test graph after its inputs (``input_i``/``const_i``); then ``attrs`` and
        ``outputs`` are unused and ``fetch`` names the tensors the reference records.
      fetch: the recorded tensors of a ``graph`` sample (``"node"``, ``"node:k"``).
      functions: ``library.function`` entries (``FunctionDef`` JSON) of a ``graph``
        sample, for control flow v2.
    """

    inputs: Sequence[Feed | np.ndarray]
    attrs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    outputs: int = 1
    op: str | None = None
    name: str = ""
    graph: Sequence[SampleNode] = ()
    fetch: Sequence[str] = ()
    functions: Sequence[Mapping[str, Any]] = ()


@dataclasses.dataclass(frozen=True)
class ShapeAttr:
    """A ``shape`` attribute value in a sample (``None``: unknown rank; -1: unknown size)."""

    dims: tuple[int, ...] | None


@dataclasses.dataclass(frozen=True)
class SampleNode:
    """One node of a multi-node sample (:attr:`OpSample.graph`).

    Attributes:
      name: the node's name.
      op: its TF op.
      inputs: the tensors it reads (``"name"``, ``"name:k"``, ``"^name"`` for control).
      attrs: its attributes, as in :attr:`OpSample.attrs`.
    """

    name: str
    op: str
    inputs: Sequence[str] = ()
    attrs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class OpRegistration:
    """One converter and what is known about the ops it handles.

    Attributes:
      names: the TensorFlow op names it converts.
      fn: the converter.
      family: the module it lives in (``conv``, ``math``...), as in TF.js's op lists.
      dynamic: output shapes depend on values (``Where``, NMS, control flow): TF.js runs
        it only with ``executeAsync``, and flaxjs only eagerly (never under ``jax.jit``).
      samples: the cases of its TF.js reference test.
    """

    names: tuple[str, ...]
    fn: Converter
    family: str
    dynamic: bool = False
    samples: tuple[OpSample, ...] = ()

    def case_ids(self) -> list[str]:
        """Stable ids of the samples: ``Op`` or ``Op-name``, numbered when repeated."""
        ids: list[str] = []
        for i, sample in enumerate(self.samples):
            base = (sample.op or self.names[0]) + (f"-{sample.name}" if sample.name else "")
            ids.append(base if base not in ids else f"{base}-{i}")
        return ids


_REGISTRY: dict[str, OpRegistration] = {}


def op(*names: str, samples: Sequence[OpSample] = (), dynamic: bool = False
       ) -> Callable[[Converter], Converter]:
    """Register ``fn`` as the converter of the TF ops ``names``."""
    def register(fn: Converter) -> Converter:
        family = fn.__module__.rsplit(".", 1)[-1]
        registration = OpRegistration(tuple(names), fn, family, dynamic, tuple(samples))
        for name in names:
            if name in _REGISTRY:
                raise ValueError(f"TF op {name!r} is registered twice")
            _REGISTRY[name] = registration
        return fn
    return register


def lookup(name: str) -> OpRegistration | None:
    return _REGISTRY.get(name)


def registrations() -> Iterator[OpRegistration]:
    """Every registration once, in registration order."""
    seen: set[int] = set()
    for registration in _REGISTRY.values():
        if id(registration) not in seen:
            seen.add(id(registration))
            yield registration


def op_names() -> list[str]:
    return sorted(_REGISTRY)


def call(node: NodeDef, inputs: Sequence[Any]) -> tuple[Any, ...]:
    """Run ``node``'s converter; always a tuple of outputs."""
    registration = lookup(node.op)
    assert registration is not None, node.op  # checked when the model was loaded
    result = registration.fn(node, *inputs)
    return result if isinstance(result, tuple) else (result,)
