"""``GraphModel``: a TF.js graph model in JAX, called like the Layers :class:`~flaxjs.Model`.

The float weights are ``variables["params"]``, keyed by their ``Const`` node's name;
``apply(variables, *inputs)`` is a pure function of them (jit, grad and vmap work
on it). Integer, boolean and inline constants stay NumPy arrays outside the
variables, so that shape arithmetic on them stays static under ``jax.jit``.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import runtime
from ..errors import FlaxjsError
from ..model import ModelInfo
from ..topology.spec import InputSpec
from . import executor
from .graphdef import NodeDef, TensorRef
from .spec import GraphSpec

Array = jax.Array


class InputError(FlaxjsError):
    """Inputs given to a graph model do not fit its inputs (count, name, dtype or shape)."""


class GraphModel:
    """A TF.js graph model: ``spec`` (the GraphDef) + ``variables`` + :class:`ModelInfo`.

    ``m(x, ...)`` runs jitted inference on the inputs in :attr:`input_names` order (or
    ``m({name: x})``); one output comes back as an array, several as a list in
    :attr:`output_names` order, as TF.js ``execute`` returns them.
    ``m.execute(feeds, outputs)`` computes any tensor, intermediate ones too.

    Attributes:
      spec: the parsed graph.
      variables: ``{"params": {const node name: float array}}``.
      constants: the other constant values (integer, boolean, inline), NumPy arrays.
      info: where the model came from.
    """

    spec: GraphSpec
    variables: dict[str, Any]
    constants: Mapping[str, np.ndarray]
    info: ModelInfo

    def __init__(self, spec: GraphSpec, variables: Mapping[str, Any],
                 constants: Mapping[str, np.ndarray], *, info: ModelInfo | None = None):
        set_ = object.__setattr__
        set_(self, "spec", spec)
        set_(self, "variables", dict(variables))
        set_(self, "constants", dict(constants))
        set_(self, "info", info or ModelInfo())
        set_(self, "_plans", {})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a flaxjs GraphModel is immutable; cannot set {name!r}: use "
                             "with_variables, which returns a new model")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a flaxjs GraphModel is immutable; cannot delete {name!r}")

    # ----------------------------------------------------------------- structure
    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.spec.inputs]

    @property
    def output_names(self) -> list[str]:
        return [str(ref) for ref in self.spec.outputs]

    @property
    def input_specs(self) -> tuple[InputSpec, ...]:
        return self.spec.inputs

    @property
    def params(self) -> dict[str, Array]:
        return self.variables["params"]

    @property
    def name(self) -> str:
        location = self.info.location or "graph-model"
        return location.rstrip("/").rsplit("/", 1)[-1]

    @property
    def location(self) -> str | None:
        return self.info.location

    @property
    def model_json(self) -> Mapping[str, Any] | None:
        return self.info.model_json

    def with_variables(self, variables: Mapping[str, Any]) -> GraphModel:
        """The same graph with other weights (e.g. fine-tuned ones)."""
        return GraphModel(self.spec, variables, self.constants, info=self.info)

    # ----------------------------------------------------------------- running
    def _plan(self, outputs: tuple[TensorRef, ...], fed: tuple[str, ...]
              ) -> tuple[list[NodeDef], Any]:
        """The nodes to compute for ``outputs`` from ``fed``, and the jitted run (``None``
        when a value-dependent op is on the way: then the run is eager)."""
        key = (outputs, fed)
        plans = self.__dict__["_plans"]
        if key not in plans:
            known = set(self.constants) | set(self.variables.get("params", {})) | set(fed)
            order = executor.execution_order(self.spec, outputs, known)
            executor.check_supported(order, self.info.location or "")
            jitted = None
            if not executor.dynamic_ops(order):
                def run(variables, feeds):
                    return executor.run(order, self._known(variables, feeds), outputs)
                jitted = runtime.jit(run)
            plans[key] = (order, jitted)
        return plans[key]

    def _known(self, variables: Mapping[str, Any], feeds: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.constants, **variables.get("params", {}), **feeds}

    def _feeds(self, inputs: Sequence[Any]) -> dict[str, Any]:
        """``m(x1, x2)`` or ``m({name: x})`` as ``{node name: array}``, checked."""
        if len(inputs) == 1 and isinstance(inputs[0], Mapping):
            return {self.spec.tensor(k).node: self._check(k, v) for k, v in inputs[0].items()}
        names = self.input_names
        if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)) and len(names) > 1 \
                and len(inputs[0]) == len(names):
            inputs = tuple(inputs[0])
        required = [n for n in names if self.spec.nodes[n].op == "Placeholder"]
        if len(inputs) == len(required) < len(names):  # PlaceholderWithDefault left out
            names = required
        if len(inputs) != len(names):
            raise InputError(f"the model takes {len(names)} input(s) ({', '.join(names)}), "
                             f"got {len(inputs)}; pass them in that order or as "
                             "{name: array}")
        return {name: self._check(name, x) for name, x in zip(names, inputs, strict=True)}

    def _check(self, name: str, x: Any) -> Any:
        spec = next((s for s in self.spec.inputs if s.name == self.spec.tensor(name).node), None)
        if spec is None:  # an intermediate tensor fed by name: as it is
            return x if isinstance(x, jax.Array) else np.asarray(x)
        want = np.dtype(spec.dtype) if spec.dtype != "string" else np.dtype(object)
        if not isinstance(x, jax.Array):
            x = np.asarray(x)
        have = np.dtype(x.dtype)
        if have != want:
            same_kind = have.kind == want.kind or (want.kind == "f" and have.kind in "iu")
            if not same_kind or want.kind == "O":
                raise InputError(f"input {name!r} is {want.name}, got {have.name} values")
            x = x.astype(want)
        shape = tuple(x.shape)
        if spec.shape and (len(shape) != len(spec.shape) or any(
                d is not None and d != s for d, s in zip(spec.shape, shape, strict=True))):
            want_shape = [d if d is not None else None for d in spec.shape]
            hint = ": add a batch axis" if len(shape) + 1 == len(spec.shape) else ""
            raise InputError(f"input {name!r} expects shape {want_shape}, got "
                             f"{list(shape)}{hint}")
        return x

    def apply(self, variables: Mapping[str, Any], *inputs: Any) -> Any:
        """The pure function behind ``m(x)``: the outputs for ``variables`` and ``inputs``."""
        feeds = self._feeds(inputs)
        order, _ = self._plan(self.spec.outputs, tuple(sorted(feeds)))
        return self._format(executor.run(order, self._known(variables, feeds),
                                         self.spec.outputs))

    def __call__(self, *inputs: Any) -> Any:
        """Inference with the model's own weights, jitted (eager for value-dependent ops)."""
        return self._format(self._execute(self._feeds(inputs), self.spec.outputs))

    def execute(self, feeds: Mapping[str, Any] | Any,
                outputs: str | Sequence[str] | None = None) -> Any:
        """Any tensors of the graph, as TF.js's ``execute``: ``feeds`` maps input (or any
        node) names to arrays (a single array feeds the only input); ``outputs`` names
        nodes as ``name`` or ``name:k`` (default: the model's outputs). A single name
        gives one array, a list a list."""
        if not isinstance(feeds, Mapping):
            feeds = dict(zip(self.input_names, [feeds], strict=False))
        checked = {self.spec.tensor(k).node: self._check(k, v) for k, v in feeds.items()}
        if outputs is None:
            return self._format(self._execute(checked, self.spec.outputs))
        names = [outputs] if isinstance(outputs, str) else list(outputs)
        refs = tuple(self.spec.tensor(n) for n in names)
        values = self._execute(checked, refs)
        return values[0] if isinstance(outputs, str) else values

    def _execute(self, feeds: Mapping[str, Any], outputs: Sequence[TensorRef]) -> list[Any]:
        order, jitted = self._plan(tuple(outputs), tuple(sorted(feeds)))
        if jitted is not None:
            return jitted(self.variables, dict(feeds))
        return executor.run(order, self._known(self.variables, feeds), outputs)

    def _format(self, outputs: Sequence[Any]) -> Any:
        outputs = [jnp.asarray(o) if not isinstance(o, jax.Array) else o for o in outputs]
        return outputs[0] if len(outputs) == 1 else list(outputs)

    # ----------------------------------------------------------------- inspection
    def summary(self, *, print_fn: Any = print) -> str:
        """A table of the nodes computed for the outputs: name, op, output shape, weights."""
        params = self.variables.get("params", {})
        feeds = {s.name: jax.ShapeDtypeStruct(tuple(d or 1 for d in s.shape), s.dtype)
                 for s in self.spec.inputs}
        order, _ = self._plan(self.spec.outputs, tuple(sorted(feeds)))
        refs = [TensorRef(n.name) for n in order]
        try:
            shapes = jax.eval_shape(lambda v, f: executor.run(order, self._known(v, f), refs),
                                    self.variables, feeds)
            shape_of = {n.name: str(list(s.shape)) for n, s in zip(order, shapes, strict=True)}
        except FlaxjsError:  # value-dependent shapes
            shape_of = {}
        weights = {n.name: sum(int(np.prod(params[r.node].shape)) for r in n.inputs
                               if r.node in params) for n in order}
        rows = [(n.name, n.op, shape_of.get(n.name, "?"), str(weights[n.name] or ""))
                for n in order]
        header = ("node", "op", "output shape", "weights")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        line = "  ".join("{:<%d}" % w for w in widths)
        ops = collections.Counter(n.op for n in order)
        total = sum(int(np.prod(v.shape)) for v in params.values())
        text = "\n".join([line.format(*header), *(line.format(*r) for r in rows),
                          f"{len(order)} nodes, {len(ops)} op kinds; {total:,} weights in "
                          f"{len(params)} tensors",
                          "inputs: " + ", ".join(f"{s.name} {list(s.shape)} {s.dtype}"
                                                 for s in self.spec.inputs),
                          "outputs: " + ", ".join(self.output_names)])
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        inputs = ", ".join(f"{s.name}{list(s.shape)}" for s in self.spec.inputs)
        return (f"<flaxjs.GraphModel {self.name!r}: {len(self.spec.nodes)} nodes, "
                f"inputs {inputs}, outputs {self.output_names}>")
