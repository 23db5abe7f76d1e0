"""``Model``: a converted module, its variables, and what is known about where it came from.

A model is immutable: surgery (``truncate``, ``extend``, ``freeze``...) and
``with_*`` methods return new models. Its metadata is one frozen
:class:`ModelInfo` given at construction. The state derived for fast inference
(BatchNormalization folded into the convolutions, the jitted function) is rebuilt
whenever :attr:`Model.variables` no longer holds the arrays it was made from, so
an in-place edit of a variable is never silently ignored.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from . import inputs as input_check
from . import lowering, parallel, runtime, shape_inference, summary, surgery
from .graph_module import GraphModule
from .info import InfoViews, ModelInfo
from .layers import registry
from .topology.spec import InputSpec, LayerSpec, ModelGraph

Array = jax.Array


def _cast_floats(tree: Any, dtype: Any) -> Any:
    """Cast every floating-point leaf of ``tree`` to ``dtype`` (integers untouched)."""
    return jax.tree_util.tree_map(
        lambda a: a.astype(dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a,
        tree)


class _Derived:
    """Inference state derived from a list of variable arrays, valid while they are the
    model's arrays (compared by identity, so an in-place edit invalidates it)."""

    def __init__(self, leaves: list[Any], value: Any):
        self.leaves, self.value = leaves, value

    def valid_for(self, leaves: list[Any]) -> bool:
        return len(leaves) == len(self.leaves) and all(
            a is b for a, b in zip(leaves, self.leaves, strict=True))


class Model(InfoViews):
    """A TF.js Layers model in JAX: ``module`` + ``variables`` + :class:`ModelInfo`.

    ``m(x, ...)`` runs jitted inference (several inputs as several arguments;
    several outputs come back as a list in model order, as TF.js ``predict``).
    ``m.apply(variables, *inputs, ...)`` is the pure function behind it.

    Attributes:
      module: the ``flax.linen`` module (a :class:`~flaxjs.graph_module.GraphModule`).
      variables: ``{"params": ..., "batch_stats": ...}`` with Keras layer and weight names.
      graph: the parsed topology.
      info: where the model came from, its labels and preprocessing.
      compute_dtype: the dtype ``__call__`` computes in (``None``: the variables' own).
      dict_outputs: ``__call__`` returns ``{name: output}`` (see :meth:`features`).
    """

    # set once in __init__ (through object.__setattr__: the model is immutable)
    module: GraphModule
    variables: dict[str, Any]
    graph: ModelGraph
    info: ModelInfo
    compute_dtype: np.dtype | None
    dict_outputs: bool
    _folded: _Derived | None

    def __init__(self, module: GraphModule, variables: Mapping[str, Any], *, graph: ModelGraph,
                 info: ModelInfo | None = None, compute_dtype: Any = None,
                 dict_outputs: bool = False):
        set_ = object.__setattr__
        set_(self, "module", module)
        set_(self, "variables", dict(variables))
        set_(self, "graph", graph)
        set_(self, "info", info or ModelInfo())
        set_(self, "compute_dtype", None if compute_dtype is None else jnp.dtype(compute_dtype))
        set_(self, "dict_outputs", dict_outputs)
        set_(self, "_folded", None)

    def __setattr__(self, name: str, value: Any) -> None:
        hint = (f"model.with_info({name}=...)" if name in _INFO_FIELDS
                else "the surgery and with_* methods, which return a new model")
        raise AttributeError(f"a flaxjs.Model is immutable; cannot set {name!r}: use {hint}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a flaxjs.Model is immutable; cannot delete {name!r}")

    def _replace(self, *, graph: ModelGraph | None = None,
                 variables: Mapping[str, Any] | None = None, **changes: Any) -> Model:
        """A model like this one with ``changes`` (constructor keywords)."""
        graph = self.graph if graph is None else graph
        module = self.module if graph is self.graph else GraphModule(graph,
                                                                     self.module.custom_layers)
        kwargs = {"info": self.info, "compute_dtype": self.compute_dtype,
                  "dict_outputs": self.dict_outputs, **changes}
        out = Model(module, self.variables if variables is None else variables, graph=graph,
                    **kwargs)
        if graph is self.graph and variables is None:  # the same arrays: reuse the folding
            out.__dict__["_folded"] = self._folded
            if "_lowered" in self.__dict__:
                out.__dict__["_lowered"] = self.__dict__["_lowered"]
        return out

    def derive(self, graph: ModelGraph, variables: Mapping[str, Any] | None = None, *,
               dict_outputs: bool = False) -> Model:
        """A model on a rewritten graph, keeping this one's info and variable names;
        variables of layers the graph no longer has are dropped. New outputs make the
        labels and decoding no longer apply."""
        kept = surgery.variables_for(graph, self.variables if variables is None else variables)
        info = self.info
        if (graph.outputs, graph.output_keys) != (self.graph.outputs, self.graph.output_keys):
            info = dataclasses.replace(info, labels=None, decoding=None, outputs_changed=True)
        return self._replace(graph=graph, variables=kept, info=info, dict_outputs=dict_outputs)

    def with_info(self, **changes: Any) -> Model:
        """A copy whose :class:`ModelInfo` has ``changes`` (``labels=[...]``,
        ``preprocessing={...}``, ``card=...``); same module and variables.

        Example:
          >>> model = model.with_info(labels=["cat", "dog"])  # doctest: +SKIP
        """
        return self._replace(info=dataclasses.replace(self.info, **changes))

    def with_variables(self, variables: Mapping[str, Any], *, merge: bool = False) -> Model:
        """A copy holding ``variables`` (e.g. trained ones), same graph and info.

        Args:
          variables: a variables tree (``{"params": ..., "batch_stats": ...}``).
          merge: replace only the layers ``variables`` holds (e.g. those trained on a
            :meth:`tail`), keeping every other layer's.
        """
        new = jax.device_get(dict(variables))
        if merge:
            merged = {c: dict(tree) for c, tree in self.variables.items()}
            for collection, tree in new.items():
                merged.setdefault(collection, {}).update(tree)
            new = merged
        return self._replace(variables=surgery.variables_for(self.graph, jax.device_put(new)))

    def with_compute_dtype(self, dtype: Any) -> Model:
        """A copy whose ``__call__`` computes in ``dtype`` (e.g. ``jnp.bfloat16``).

        Parameters stay float32 in :attr:`variables` and are cast inside the jitted
        call; outputs come back as float32. Never the default: on the CPU measured
        here bfloat16 is slower than float32 and drifts by ~1e-3 in MobileNetV2's
        probabilities (``benchmarks/``); it pays off on TPUs and recent GPUs.
        """
        return self._replace(compute_dtype=dtype)

    # ---------------------------------------------------------------- surgery
    def truncate(self, layer: str) -> Model:
        """The model cut after ``layer`` (its output becomes the model output).

        ``layer`` may sit inside a nested model (a unique name, or ``"outer/inner"``);
        ``"lstm_1:1"`` picks a layer's second output. Parameters of layers the cut
        model no longer uses are dropped.
        """
        return self.derive(surgery.with_outputs(self.graph, [layer]))

    def features(self, layers: Sequence[str]) -> Model:
        """A model returning ``{name: output}`` for several layers (multi-scale features)."""
        layers = list(layers)
        return self.derive(surgery.with_outputs(self.graph, layers, keys=layers),
                           dict_outputs=True)

    def tail(self, layer: str) -> Model:
        """The part of the model after ``layer``, as a model whose input is ``layer``'s output.

        ``layer`` must be a top-level layer through which everything after it flows (no
        connection skips over it). Variables keep their names, so trained ones go back
        into the whole model with ``model.with_variables(part.variables, merge=True)``;
        with the part before it run once, this is feature caching for a frozen base.
        """
        out = self.truncate(layer).output_spec()
        return self.derive(surgery.tail(self.graph, layer, (None, *out.shape[1:]),
                                        str(out.dtype)))

    def with_input_size(self, height: int, width: int | None = None) -> Model:
        """The model declared for ``height × width`` images (the same variables).

        A fully convolutional base runs at any size; declaring it keeps ``summary()``,
        ``preprocess`` (which resizes to the declared size) and an export for TF.js
        (which checks input shapes) in line with the data a head is trained on.
        """
        graph = surgery.with_image_size(self.graph, height, height if width is None else width)
        info = self.info
        if info.preprocessing is not None:
            size = [height, height if width is None else width]
            info = dataclasses.replace(info, preprocessing={**info.preprocessing, "size": size})
        return self._replace(graph=graph, info=info)

    def extend(self, head: Any, *, key: jax.Array | None = None, name: str | None = None
               ) -> Model:
        """Append a head after the model's single output; the new layers are initialised.

        Args:
          head: builders from :mod:`flaxjs.keras` (Keras layers, exportable to TF.js),
            ``flax.linen`` modules (any research head), or a list mixing them.
          key: PRNG key for the new layers' initializers (default ``jax.random.key(0)``).
          name: the new model's name (default: this model's).

        Returns:
          a model whose variables are this model's plus the head's, under their layer names.
        """
        specs = surgery.head_specs(head, surgery.all_names(self.graph))
        graph = surgery.extend(self.graph, specs, name=name)
        feature = self.output_spec()
        head_graph = surgery.input_graph(
            "__flaxjs_head__", InputSpec("__flaxjs_head_input__", (None, *feature.shape[1:]),
                                         str(feature.dtype)), specs)
        params_key, dropout_key = jax.random.split(jax.random.key(0) if key is None else key)
        head_vars = GraphModule(head_graph, self.module.custom_layers).init(
            {"params": params_key, "dropout": dropout_key},
            [jnp.zeros((1, *feature.shape[1:]), feature.dtype)])
        variables = {c: dict(t) for c, t in self.variables.items()}
        for collection, tree in head_vars.items():
            variables.setdefault(collection, {}).update(tree)
        return self.derive(graph, variables)

    def freeze(self, patterns: str | Sequence[str] = "*") -> Model:
        """A copy whose layers matching ``patterns`` have ``trainable=False`` (Keras's flag:
        optimizers skip them and a frozen BatchNormalization runs in inference mode).

        A pattern that matches no layer raises :class:`~flaxjs.errors.UnknownNameError`
        naming the closest layer names."""
        surgery.require_matches(patterns, surgery.layer_paths(self.graph),
                                what=f"layer of model {self.name!r}")
        match = surgery.matcher(patterns)
        return self.derive(surgery.set_trainable(
            self.graph, lambda path, spec: False if match(path) else None),
            dict_outputs=self.dict_outputs)

    def unfreeze(self, patterns: str | Sequence[str] = "*") -> Model:
        """The inverse of :meth:`freeze` for layers matching ``patterns``."""
        surgery.require_matches(patterns, surgery.layer_paths(self.graph),
                                what=f"layer of model {self.name!r}")
        match = surgery.matcher(patterns)
        return self.derive(surgery.set_trainable(
            self.graph, lambda path, spec: True if match(path) else None),
            dict_outputs=self.dict_outputs)

    # ---------------------------------------------------------------- running
    @functools.cached_property
    def _lowered(self) -> tuple[GraphModule, list[lowering.Fold]]:
        graph, folds = lowering.plan(self.graph, custom=self.module.custom_layers)
        return GraphModule(graph, self.module.custom_layers), folds

    def inference_variables(self) -> dict[str, Any]:
        """The variables of the lowered inference module (BatchNormalization folded into the
        convolutions), derived from :attr:`variables` and rebuilt whenever those change."""
        leaves = jax.tree_util.tree_leaves(self.variables)
        cached = self._folded
        if cached is not None and cached.valid_for(leaves):
            return cached.value
        _, folds = self._lowered
        folded = jax.device_put(lowering.fold_variables(self.variables, folds)) if folds \
            else self.variables
        object.__setattr__(self, "_folded", _Derived(leaves, folded))
        return folded

    @functools.cached_property
    def xla_options(self) -> dict[str, Any]:
        """The XLA options flaxjs compiles this model's functions with (its call and the
        :mod:`flaxjs.finetune` steps): :func:`flaxjs.runtime.compiler_options` of its
        graph, read once (asking JAX for its backend). On CPU, dense-convolution graphs
        train faster without XLA's fusion emitters, as they infer faster (InceptionV3's
        frozen-base step: 2.55 s against 2.67 s)."""
        return runtime.compiler_options(self.graph, self.module.custom_layers)

    @functools.cached_property
    def _predict(self) -> runtime.Jitted:
        module, _ = self._lowered
        dtype = self.compute_dtype

        def predict(variables, *inputs):
            if dtype is not None:
                variables, inputs = _cast_floats((variables, inputs), dtype)
            out = module.apply(variables, list(inputs), train=False)
            if dtype is not None:
                out = _cast_floats(out, jnp.float32)
            return self._format(out)

        return runtime.jit(predict, graph=self.graph, custom=self.module.custom_layers)

    def __call__(self, *inputs: Any) -> Array | list[Array]:
        """Jitted inference with the model's own variables.

        On CPU a batch larger than :func:`flaxjs.runtime.micro_batch` images runs as a
        sequence of calls of that size (XLA:CPU is fastest per image at batch 1-2, and
        one compiled program then serves every batch size); the results are the same.

        Each input is checked against :attr:`input_specs` first (rank, fixed sizes,
        dtype; Python lists become arrays), so a wrong one raises an
        :class:`~flaxjs.errors.InputError` that says what to do; a model with several
        inputs also takes them as one list.
        """
        inputs = self._checked_inputs(inputs)
        variables = self.inference_variables()
        chunk = self._micro_batch(inputs)
        if chunk is None:
            return self._predict(variables, *inputs)
        batch = inputs[0].shape[0]
        pieces = [self._predict(variables, *(x[i:i + chunk] for x in inputs))
                  for i in range(0, batch, chunk)]
        return jax.tree_util.tree_map(lambda *ys: jnp.concatenate(ys), *pieces)

    def predict(self, x: Any, *, batch_size: int = 32, mesh: Mesh | None = None,
                prepare: Callable[[Any], Any] | None = None) -> Any:
        """The outputs for a whole data set, computed in batches, as numpy arrays (Keras's
        ``predict``).

        Args:
          x: an array (a tuple of arrays for several inputs), first axis the examples.
          batch_size: examples per call.
          mesh: with several devices, each batch is sharded over them (variables
            replicated); by default the model's own jitted call runs.
          prepare: applied to each batch of ``x`` first (e.g. :meth:`preprocess`), so
            raw uint8 images never exist all at once as float32.
        """
        xs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
        prepare = prepare or (lambda batch: batch)
        run: Callable[..., Any] = self
        if mesh is not None and mesh.size > 1:
            variables = parallel.replicate(self.variables, mesh)
            apply = runtime.jit(lambda v, *batch: self.apply(v, *batch), graph=self.graph,
                                custom=self.module.custom_layers)
            batch_size = max(mesh.size, batch_size - batch_size % mesh.size)

            def run(*batch: Any) -> Any:
                return apply(variables, *parallel.shard_batch(batch, mesh))

        pieces = []
        for i in range(0, len(xs[0]), batch_size):
            batch = [prepare(a[i:i + batch_size]) for a in xs]
            pieces.append(jax.tree_util.tree_map(np.asarray, run(*batch)))
        return jax.tree_util.tree_map(lambda *ys: np.concatenate(ys), *pieces)

    @functools.cached_property
    def _batch_independent(self) -> bool:
        """Whether each sample's output depends on that sample only (safe to split)."""
        if any(s.shape and s.shape[0] is not None for s in self.input_specs):
            return False  # fixed batch size, e.g. stateful RNNs
        custom = self.module.custom_layers
        for _, spec in self.graph.walk():
            if spec.module is not None or spec.graph is not None or spec.class_name == "InputLayer":
                continue
            reg = registry.traits_of(spec.class_name, custom)
            if reg is None or reg.batch_coupled:  # a custom converter may do anything
                return False
        return True

    def _micro_batch(self, inputs: Sequence[Any]) -> int | None:
        chunk = runtime.micro_batch()
        if chunk is None or not self._batch_independent:
            return None
        if any(isinstance(x, jax.core.Tracer) or not hasattr(x, "shape") or not x.shape
               for x in inputs):
            return None
        batch = inputs[0].shape[0]
        if batch <= chunk or any(x.shape[0] != batch for x in inputs):
            return None
        return chunk

    def apply(self, variables: Mapping[str, Any], *inputs: Any, train: bool = False,
              rngs: Mapping[str, jax.Array] | jax.Array | None = None,
              mutable: bool | str | Sequence[str] = False, capture: Sequence[str] = ()) -> Any:
        """The pure function: ``module.apply`` with the model's calling convention.

        Args:
          variables: a variables pytree shaped like :attr:`variables`.
          *inputs: one array per model input.
          train: Dropout/noise/BatchNormalization training behaviour.
          rngs: PRNG keys, e.g. ``{"dropout": key}`` (needed when ``train`` and the
            model has Dropout or noise layers); a single key is used for ``dropout``.
          mutable: collections to return updated, e.g. ``["batch_stats"]``.
          capture: layer names whose outputs to return as well, as
            ``(outputs, {name: output})``; nested layers as ``"outer/inner"``.

        Returns:
          the outputs (a list for several outputs), paired with the updated
          collections when ``mutable`` is set.
        """
        inputs = input_check.gather(inputs, self.input_specs, model=self.name)
        # flax takes only a real dict of keys (any other mapping would be read as one key)
        rng_dict: dict[str, jax.Array] | None = None
        if rngs is not None:
            rng_dict = dict(rngs) if isinstance(rngs, Mapping) else {"dropout": rngs}
        result = self.module.apply(dict(variables), list(inputs), train=train, rngs=rng_dict,
                                   mutable=mutable, capture=tuple(capture))
        if mutable:
            out, updates = result
            return self._format_captured(out, capture), updates
        return self._format_captured(result, capture)

    def output_spec(self) -> Any:
        """Shape and dtype of the output(s) for one input of the declared shape (batch 1),
        computed without running anything."""
        specs = [jax.ShapeDtypeStruct((1, *s.shape[1:]), s.dtype)
                 for s in shape_inference.dummy_inputs(self.input_specs)]
        return jax.eval_shape(lambda *xs: self.apply(self.variables, *xs), *specs)

    def _format(self, outputs: Any) -> Any:
        if self.dict_outputs:
            values = outputs if isinstance(outputs, list) else [outputs]
            return dict(zip(self.graph.output_keys or self.output_names, values, strict=True))
        return outputs

    def _format_captured(self, result: Any, capture: Sequence[str]) -> Any:
        if capture:
            outputs, captured = result
            return self._format(outputs), captured
        return self._format(result)

    def _checked_inputs(self, given: Sequence[Any]) -> tuple[Any, ...]:
        specs, name, prep = self.input_specs, self.name, self.known_preprocessing
        out = []
        for x, spec in zip(input_check.gather(given, specs, model=name), specs, strict=True):
            out.append(input_check.check(x, spec, model=name, preprocessing=prep, stacklevel=4))
        return tuple(out)

    # ---------------------------------------------------------------- facts
    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def input_specs(self) -> tuple[InputSpec, ...]:
        return self.graph.input_specs

    @property
    def output_names(self) -> list[str]:
        if self.graph.output_keys:
            return list(self.graph.output_keys)
        return [ref.layer if ref.tensor == 0 else f"{ref.layer}:{ref.tensor}"
                for ref in self.graph.outputs]

    @property
    def layer_names(self) -> list[str]:
        """Top-level layer names in config order (input layers included)."""
        return [spec.name for spec in self.graph.layers]

    def layer(self, name: str) -> LayerSpec:
        """The spec of layer ``name`` (``"outer/inner"`` or a unique nested name); an
        unknown name raises :class:`~flaxjs.errors.UnknownNameError` with close names."""
        return surgery.find_layer(self.graph, name)[1]

    get_layer = layer  # Keras's name for it

    @property
    def params(self) -> Any:
        return self.variables.get("params", {})

    def summary(self, *, print_fn: Callable[[str], Any] = print) -> None:
        """Print a Keras-style table: layer, class, output shape, parameters, trainable.

        Returns ``None`` (as Keras), so Jupyter does not echo it a second time;
        ``print_fn`` receives the text instead of :func:`print` (e.g. a logger), and
        :meth:`summary_text` returns it."""
        print_fn(self.summary_text())

    def summary_text(self) -> str:
        """The table :meth:`summary` prints."""
        shapes = shape_inference.layer_output_shapes(self.module, self.graph, self.variables)
        return summary.table(self.graph, self.variables, shapes)

    def __repr__(self) -> str:
        inputs = ", ".join(f"{s.name}{list(s.shape)}" for s in self.input_specs)
        return (f"<flaxjs.Model {self.name!r}: {len(self.graph.layers)} layers, "
                f"inputs {inputs}, outputs {self.output_names}>")


_INFO_FIELDS = frozenset(f.name for f in dataclasses.fields(ModelInfo))
