"""``GraphModel``: a TF.js graph model in JAX, called like the Layers :class:`~flaxjs.Model`.

The float weight tensors are ``variables["params"]``, keyed by their ``Const`` node's
name; ``apply(variables, *inputs)`` is a pure function of them (jit, grad and vmap
work on it). Scalars and integer, boolean and inline constants stay NumPy arrays
outside the variables, so that shape arithmetic on them stays static under ``jax.jit``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import inputs as input_check
from .. import runtime, surgery
from ..errors import FlaxjsError, InputError, ModelFormatError
from ..info import InfoViews, ModelInfo
from ..model import Model
from ..topology.spec import InputSpec
from . import executor
from .graphdef import NodeDef, TensorRef
from .spec import GraphSpec

Array = jax.Array


class GraphModel(InfoViews):
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
    frozen: frozenset[str]
    head: Model | None
    dict_outputs: bool

    def __init__(self, spec: GraphSpec, variables: Mapping[str, Any],
                 constants: Mapping[str, np.ndarray], *, info: ModelInfo | None = None,
                 frozen: frozenset[str] = frozenset(), head: Model | None = None,
                 dict_outputs: bool = False):
        set_ = object.__setattr__
        set_(self, "spec", spec)
        set_(self, "variables", dict(variables))
        set_(self, "constants", dict(constants))
        set_(self, "info", info or ModelInfo())
        set_(self, "frozen", frozenset(frozen))
        set_(self, "head", head)
        set_(self, "dict_outputs", dict_outputs)
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
        """The model's folder (or file) name."""
        parts = (self.info.location or "graph-model").rstrip("/").rsplit("/", 2)
        return parts[-2] if len(parts) > 1 and parts[-1].endswith(".json") else parts[-1]

    def _replace(self, **changes: Any) -> GraphModel:
        kwargs = {"spec": self.spec, "variables": self.variables, "constants": self.constants,
                  "info": self.info, "frozen": self.frozen, "head": self.head,
                  "dict_outputs": self.dict_outputs, **changes}
        spec, variables, constants = kwargs.pop("spec"), kwargs.pop("variables"), \
            kwargs.pop("constants")
        out = GraphModel(spec, variables, constants, **kwargs)
        if spec is self.spec and constants is self.constants:  # same graph: same compiled runs
            object.__setattr__(out, "_plans", self.__dict__["_plans"])
        return out

    def with_variables(self, variables: Mapping[str, Any]) -> GraphModel:
        """The same graph with other weights (e.g. fine-tuned ones: ``state.variables``)."""
        return self._replace(variables=variables)

    def with_info(self, **changes: Any) -> GraphModel:
        """A copy whose :class:`~flaxjs.model.ModelInfo` has ``changes`` (labels, card...)."""
        return self._replace(info=dataclasses.replace(self.info, **changes))

    # ----------------------------------------------------------------- surgery
    @property
    def node_names(self) -> list[str]:
        return list(self.spec.nodes)

    def _graph_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The graph's weights in ``params`` (the rest are the head's layers)."""
        return {k: v for k, v in params.items() if k in self.spec.nodes}

    def truncate(self, node: str) -> GraphModel:
        """The model cut at ``node`` (``name`` or ``name:k``): its output becomes the model's.

        Weights the cut model no longer needs are dropped. TF.js cannot do this with a
        graph model; a cut base plus :meth:`extend` is transfer learning.
        """
        return self._with_outputs([node], dict_outputs=False)

    def features(self, nodes: Sequence[str]) -> GraphModel:
        """A model returning ``{name: tensor}`` for several nodes (multi-scale features)."""
        return self._with_outputs(list(nodes), dict_outputs=True)

    def _with_outputs(self, names: list[str], *, dict_outputs: bool) -> GraphModel:
        if self.head is not None:
            raise ModelFormatError("cut the graph before adding a head (truncate, then extend)")
        refs = tuple(self.spec.tensor(n) for n in names)
        spec = dataclasses.replace(self.spec, outputs=refs, output_keys=tuple(names),
                                   structured_keys=None)
        known = set(self.constants) | set(self.params) | {s.name for s in spec.inputs}
        needed = executor.needed_names(spec, executor.execution_order(spec, refs, known))
        params = {k: v for k, v in self.params.items() if k in needed}
        info = dataclasses.replace(self.info, labels=None, decoding=None, outputs_changed=True)
        return self._replace(spec=spec, variables={**self.variables, "params": params},
                             info=info, dict_outputs=dict_outputs)

    def freeze(self, patterns: str | Sequence[str] = "*") -> GraphModel:
        """A copy whose weights (``Const`` node names) and head layers matching ``patterns``
        do not train; a pattern that matches nothing is an error."""
        return self._set_frozen(patterns, True)

    def unfreeze(self, patterns: str | Sequence[str] = "*") -> GraphModel:
        """The inverse of :meth:`freeze`."""
        return self._set_frozen(patterns, False)

    def _set_frozen(self, patterns: str | Sequence[str], frozen: bool) -> GraphModel:
        pats = [patterns] if isinstance(patterns, str) else list(patterns)
        graph_names = [k for k in self.params if k in self.spec.nodes]
        head_names = [] if self.head is None else self.head.layer_names
        surgery.require_matches(pats, graph_names + head_names,
                                what="weight node or head layer")
        match = surgery.matcher(pats)
        chosen = {n for n in graph_names if match(n)}
        new_frozen = self.frozen | chosen if frozen else self.frozen - chosen
        head = self.head
        if head is not None and any(match(n) for n in head_names):
            head = head.freeze(pats) if frozen else head.unfreeze(pats)
        return self._replace(frozen=frozenset(new_frozen), head=head)

    def extend(self, head: Any, *, key: jax.Array | None = None) -> GraphModel:
        """Append a head (:mod:`flaxjs.keras` builders or ``flax.linen`` modules) after the
        model's single output; its layers are initialised and train by default."""
        from ..graph_module import GraphModule

        if self.head is not None:
            raise ModelFormatError("the model already has a head; extend it with "
                                   "model.head.extend(...) and rebuild, or cut first")
        if len(self.spec.outputs) != 1:
            raise ModelFormatError(f"the model has {len(self.spec.outputs)} outputs; cut it to "
                                   "one with truncate(node) before adding a head")
        feature = self.output_spec()
        specs = surgery.head_specs(head, set(self.spec.nodes))
        graph = surgery.input_graph(
            "head", InputSpec("head_input", (None, *feature.shape[1:]), str(feature.dtype)),
            specs)
        params_key, dropout_key = jax.random.split(jax.random.key(0) if key is None else key)
        module = GraphModule(graph)
        head_vars = module.init({"params": params_key, "dropout": dropout_key},
                                [jnp.zeros((1, *feature.shape[1:]), feature.dtype)])
        head_model = Model(module, head_vars, graph=graph)
        clash = sorted(set(head_vars.get("params", {})) & set(self.params))
        if clash:
            raise ModelFormatError(f"head layer names {clash} are also weight node names")
        variables = {c: dict(t) for c, t in self.variables.items()}
        for collection, tree in head_vars.items():
            variables.setdefault(collection, {}).update(tree)
        info = dataclasses.replace(self.info, labels=None, decoding=None, outputs_changed=True)
        return self._replace(variables=variables, head=head_model, info=info)

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
        required = [n for n in names if self.spec.nodes[n].op == "Placeholder"]
        if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)) and len(required) > 1:
            if len(inputs[0]) not in (len(names), len(required)):
                raise InputError(f"model {self.name!r} takes {len(required)} inputs "
                                 f"({', '.join(required)}), got one {type(inputs[0]).__name__} "
                                 f"of {len(inputs[0])} item(s): pass one array each, in that "
                                 "order, or {name: array}")
            inputs = tuple(inputs[0])  # Keras's predict([x1, x2])
        elif len(inputs) == 1 and isinstance(inputs[0], (list, tuple)) and len(names) > 1 \
                and len(inputs[0]) == len(names):
            inputs = tuple(inputs[0])
        if len(inputs) == len(required) < len(names):  # PlaceholderWithDefault left out
            names = required
        if len(inputs) != len(names):
            raise InputError(f"model {self.name!r} takes {len(names)} input(s) "
                             f"({', '.join(names)}), got {len(inputs)}; pass them in that "
                             "order or as {name: array}")
        return {name: self._check(name, x) for name, x in zip(names, inputs, strict=True)}

    def _check(self, name: str, x: Any) -> Any:
        """``x`` checked against input ``name``'s declared dtype and shape (see
        :func:`flaxjs.inputs.check`); an intermediate tensor fed by name goes as it is."""
        spec = next((s for s in self.spec.inputs if s.name == self.spec.tensor(name).node), None)
        if spec is None:
            return x if isinstance(x, jax.Array) else np.asarray(x)
        return input_check.check(x, spec, model=self.name,
                                 preprocessing=self.known_preprocessing, stacklevel=5)

    def apply(self, variables: Mapping[str, Any], *inputs: Any, train: bool = False,
              rngs: Mapping[str, jax.Array] | jax.Array | None = None,
              mutable: bool | str | Sequence[str] = False) -> Any:
        """The pure function behind ``m(x)``: the outputs for ``variables`` and ``inputs``.

        ``train``, ``rngs`` and ``mutable`` concern a head added with :meth:`extend`
        (Dropout, BatchNormalization); the graph itself computes the same either way.
        This is :meth:`flaxjs.Model.apply`'s convention, so :mod:`flaxjs.finetune`
        trains graph models as it trains Layers models.
        """
        feeds = self._feeds(inputs)
        order, _ = self._plan(self.spec.outputs, tuple(sorted(feeds)))
        params = variables.get("params", {})
        outs = executor.run(order, self._known({"params": self._graph_params(params)}, feeds),
                            self.spec.outputs)
        if self.head is None:
            result = self._format(outs)
            return (result, {}) if mutable else result
        head_vars = {c: {k: v for k, v in t.items() if k not in self.spec.nodes}
                     for c, t in variables.items()}
        return self.head.apply(head_vars, outs[0], train=train, rngs=rngs, mutable=mutable)

    def graph_output_spec(self) -> Any:
        """:meth:`output_spec` of the graph alone (before a head added by :meth:`extend`)."""
        if self.head is None:
            return self.output_spec()
        variables = {"params": self._graph_params(self.params)}
        return self._replace(head=None, variables=variables).output_spec()

    def output_spec(self) -> Any:
        """Shape and dtype of the output(s) for one input of the declared shape (batch 1)."""
        feeds = [jax.ShapeDtypeStruct(tuple(1 if d is None else d for d in s.shape), s.dtype)
                 for s in self.spec.inputs if self.spec.nodes[s.name].op == "Placeholder"]
        return jax.eval_shape(lambda v, *xs: self.apply(v, *xs), self.variables, *feeds)

    def __call__(self, *inputs: Any) -> Any:
        """Inference with the model's own weights, jitted (eager for value-dependent ops)."""
        if self.head is not None:
            return self._jitted_apply(self.variables, self._feeds(inputs))  # checked here
        return self._format(self._execute(self._feeds(inputs), self.spec.outputs))

    @functools.cached_property
    def _jitted_apply(self) -> Any:
        return runtime.jit(self.apply)

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
        if self.dict_outputs:
            return dict(zip(self.spec.output_keys, outputs, strict=True))
        if self.spec.structured_keys is not None:
            return dict(zip(self.spec.structured_keys, outputs, strict=True))
        return outputs[0] if len(outputs) == 1 else list(outputs)

    # ----------------------------------------------------------------- inspection
    def summary(self, *, print_fn: Callable[[str], Any] = print) -> None:
        """Print a table of the nodes computed for the outputs: name, op, output shape,
        weights. Returns ``None``; ``print_fn`` receives the text instead of
        :func:`print`, and :meth:`summary_text` returns it."""
        print_fn(self.summary_text())

    def summary_text(self) -> str:
        """The table :meth:`summary` prints."""
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
        line = "  ".join(f"{{:<{w}}}" for w in widths)
        ops = collections.Counter(n.op for n in order)
        total = sum(int(np.prod(v.shape)) for v in params.values())
        text = "\n".join([line.format(*header), *(line.format(*r) for r in rows),
                          f"{len(order)} nodes, {len(ops)} op kinds; {total:,} weights in "
                          f"{len(params)} tensors",
                          "inputs: " + ", ".join(f"{s.name} {list(s.shape)} {s.dtype}"
                                                 for s in self.spec.inputs),
                          "outputs: " + ", ".join(self.output_names)])
        return text

    def __repr__(self) -> str:
        inputs = ", ".join(f"{s.name}{list(s.shape)}" for s in self.spec.inputs)
        return (f"<flaxjs.GraphModel {self.name!r}: {len(self.spec.nodes)} nodes, "
                f"inputs {inputs}, outputs {self.output_names}>")
