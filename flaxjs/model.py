"""``Model``: a converted module, its variables, and the metadata that came with it."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from . import lowering, runtime, surgery
from .graph_module import GraphModule
from .topology.spec import InputSpec, ModelGraph

Array = jax.Array

def _cast_floats(tree: Any, dtype: Any) -> Any:
    """Cast every floating-point leaf of ``tree`` to ``dtype`` (integers untouched)."""
    return jax.tree_util.tree_map(
        lambda a: a.astype(dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a,
        tree)


#: classes whose computation may mix samples of a batch (raw TF ops can reduce axis 0).
_BATCH_COUPLED = frozenset({"TensorFlowOpLayer", "TFOpLambda", "SlicingOpLambda"})


class Model:
    """A TF.js Layers model in JAX: ``module`` + ``variables`` + metadata.

    ``m(x, ...)`` runs jitted inference (several inputs as several arguments;
    several outputs come back as a list in model order, as TF.js ``predict``).
    ``m.apply(variables, *inputs, ...)`` is the pure function behind it.

    Attributes:
      module: the ``flax.linen`` module (a :class:`~flaxjs.graph_module.GraphModule`).
      variables: ``{"params": ..., "batch_stats": ...}`` with Keras layer and weight names.
      graph: the parsed topology.
      model_json: the model.json the model was loaded from (``None`` if built in code).
      weight_names: variable path ``(collection, *path)`` → its manifest name.
      metadata: the sibling ``metadata.json`` (labels etc.), if any.
      location: where the model was loaded from.
      card: the :mod:`flaxjs.zoo` card the model came from, if any.
      preprocessing: how :meth:`preprocess` prepares raw data (the card's
        ``preprocessing`` dict; ``None`` infers it from :attr:`metadata`).
      decoding: how :meth:`decode` reads the output (``{"output": kind,
        "label_offset": n}`` from the zoo card), if known.
    """

    def __init__(self, module: GraphModule, variables: Mapping[str, Any], *, graph: ModelGraph,
                 model_json: Mapping[str, Any] | None = None,
                 weight_names: Mapping[tuple[str, ...], str] | None = None,
                 metadata: Mapping[str, Any] | None = None, location: str | None = None,
                 dict_outputs: bool = False):
        self.module = module
        self.variables = dict(variables)
        self.graph = graph
        self.model_json = dict(model_json) if model_json is not None else None
        self.weight_names = dict(weight_names or {})
        self.metadata = dict(metadata) if metadata else None
        self.location = location
        self.card: Any = None
        self.preprocessing: Mapping[str, Any] | None = None
        self.decoding: Mapping[str, Any] | None = None
        self._labels: list[str] | None = None
        self._metadata_labels = True  # False once the outputs were changed (truncate, extend)
        self.compute_dtype: Any = None  # see with_compute_dtype
        self.dict_outputs = dict_outputs

    def derive(self, graph: ModelGraph, variables: Mapping[str, Any] | None = None, *,
               dict_outputs: bool = False) -> Model:
        """A model on a rewritten graph, keeping this one's metadata and variable names;
        variables of layers the graph no longer has are dropped."""
        kept = surgery.variables_for(graph, self.variables if variables is None else variables)
        module = GraphModule(graph, self.module.custom_layers)
        out = Model(module, kept, graph=graph, model_json=self.model_json,
                    weight_names=self.weight_names, metadata=self.metadata,
                    location=self.location, dict_outputs=dict_outputs)
        out.card, out.preprocessing = self.card, self.preprocessing  # same inputs
        out.compute_dtype = self.compute_dtype
        if (graph.outputs, graph.output_keys) == (self.graph.outputs, self.graph.output_keys):
            out._labels, out.decoding = self._labels, self.decoding
            out._metadata_labels = self._metadata_labels
        else:  # new outputs: the labels no longer describe them
            out._metadata_labels = False
        return out

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
        from .heads import attach
        return attach(self, head, key=key, name=name)

    def freeze(self, patterns: str | Sequence[str] = "*") -> Model:
        """A copy whose layers matching ``patterns`` have ``trainable=False`` (Keras's flag:
        optimizers skip them and a frozen BatchNormalization runs in inference mode)."""
        match = surgery.matcher(patterns)
        return self.derive(surgery.set_trainable(
            self.graph, lambda path, spec: False if match(path) else None))

    def unfreeze(self, patterns: str | Sequence[str] = "*") -> Model:
        """The inverse of :meth:`freeze` for layers matching ``patterns``."""
        match = surgery.matcher(patterns)
        return self.derive(surgery.set_trainable(
            self.graph, lambda path, spec: True if match(path) else None))

    # ---------------------------------------------------------------- running
    @functools.cached_property
    def _lowered(self) -> tuple[GraphModule, list[lowering.Fold]]:
        graph, folds = lowering.plan(self.graph)
        return GraphModule(graph, self.module.custom_layers), folds

    def inference_variables(self) -> dict[str, Any]:
        """The variables of the lowered inference module (BatchNormalization folded into the
        convolutions), derived from :attr:`variables` and cached until those change."""
        cached = getattr(self, "_folded", None)
        if cached is not None and cached[0] is self.variables:
            return cached[1]
        _, folds = self._lowered
        folded = jax.device_put(lowering.fold_variables(self.variables, folds)) if folds \
            else self.variables
        self._folded = (self.variables, folded)
        return folded

    @functools.cached_property
    def _predict(self):
        module, _ = self._lowered
        dtype = self.compute_dtype

        def predict(variables, *inputs):
            if dtype is not None:
                variables, inputs = _cast_floats((variables, inputs), dtype)
            out = module.apply(variables, list(inputs), train=False)
            if dtype is not None:
                out = _cast_floats(out, jnp.float32)
            return self._format(out)

        return jax.jit(predict, compiler_options=runtime.compiler_options(self.graph) or None)

    def with_compute_dtype(self, dtype: Any) -> Model:
        """A copy whose ``__call__`` computes in ``dtype`` (e.g. ``jnp.bfloat16``).

        Parameters stay float32 in :attr:`variables` and are cast inside the jitted
        call; outputs come back as float32. Never the default: on the CPU measured
        here bfloat16 is slower than float32 and drifts by ~1e-3 in MobileNetV2's
        probabilities (``benchmarks/``); it pays off on TPUs and recent GPUs.
        """
        copy = self.derive(self.graph, dict_outputs=self.dict_outputs)
        copy.compute_dtype = None if dtype is None else jnp.dtype(dtype)
        return copy

    def __call__(self, *inputs: Any) -> Array | list[Array]:
        """Jitted inference with the model's own variables.

        On CPU a batch larger than :func:`flaxjs.runtime.micro_batch` images runs as a
        sequence of calls of that size (XLA:CPU is fastest per image at batch 1-2, and
        one compiled program then serves every batch size); the results are the same.
        """
        self._check_arity(inputs)
        variables = self.inference_variables()
        chunk = self._micro_batch(inputs)
        if chunk is None:
            return self._predict(variables, *inputs)
        batch = inputs[0].shape[0]
        pieces = [self._predict(variables, *(x[i:i + chunk] for x in inputs))
                  for i in range(0, batch, chunk)]
        return jax.tree_util.tree_map(lambda *ys: jnp.concatenate(ys), *pieces)

    @functools.cached_property
    def _batch_independent(self) -> bool:
        """Whether each sample's output depends on that sample only (safe to split)."""
        if any(s.shape and s.shape[0] is not None for s in self.input_specs):
            return False  # fixed batch size, e.g. stateful RNNs
        return not any(spec.class_name in _BATCH_COUPLED for _, spec in self.graph.walk())

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
              mutable: bool | str | Sequence[str] = False, capture: Sequence[str] = ()):
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
        self._check_arity(inputs)
        if rngs is not None and not isinstance(rngs, Mapping):
            rngs = {"dropout": rngs}
        result = self.module.apply(dict(variables), list(inputs), train=train, rngs=rngs,
                                   mutable=mutable, capture=tuple(capture))
        if mutable:
            out, updates = result
            return self._format_captured(out, capture), updates
        return self._format_captured(result, capture)

    def _format(self, outputs: Any) -> Any:
        if self.dict_outputs:
            values = outputs if isinstance(outputs, list) else [outputs]
            return dict(zip(self.graph.output_keys or self.output_names, values))
        return outputs

    def _format_captured(self, result: Any, capture: Sequence[str]) -> Any:
        if capture:
            outputs, captured = result
            return self._format(outputs), captured
        return self._format(result)

    def _check_arity(self, inputs: Sequence[Any]) -> None:
        if len(inputs) != len(self.graph.inputs):
            names = ", ".join(s.name for s in self.input_specs)
            raise TypeError(f"model {self.name!r} takes {len(self.graph.inputs)} input(s) "
                            f"({names}), got {len(inputs)}")

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

    @property
    def params(self) -> Any:
        return self.variables.get("params", {})

    # ---------------------------------------------------------------- labels & data
    @property
    def labels(self) -> list[str] | None:
        """Class names: the zoo card's, else metadata.json's ``labels`` (Teachable
        Machine) or ``wordLabels``/``words`` (speech-commands); ``None`` if unknown."""
        if self._labels is not None or not self._metadata_labels:
            return self._labels
        from .zoo.preprocessing import labels_from_metadata
        return labels_from_metadata(self.metadata)

    @labels.setter
    def labels(self, value: Sequence[str] | None) -> None:
        self._labels = [str(v) for v in value] if value is not None else None

    @property
    def vocabulary(self) -> dict[str, int] | None:
        """metadata.json's ``word_index`` (tfjs-examples text models), if any."""
        vocab = (self.metadata or {}).get("word_index")
        return vocab if isinstance(vocab, dict) else None

    def preprocess(self, data: Any) -> Any:
        """Raw data (uint8 HWC / PIL images, texts...) → this model's input array.

        Follows :attr:`preprocessing` (see :func:`flaxjs.zoo.preprocessing.preprocess`).
        """
        from .zoo.preprocessing import preprocess
        spec = self.input_specs[0] if self.input_specs else None
        return preprocess(data, self.preprocessing, metadata=self.metadata,
                          input_shape=spec.shape if spec else None,
                          dtype=spec.dtype if spec else "float32")

    def decode(self, outputs: Any, *, top: int = 5) -> list:
        """The ``top`` ``(label, score)`` pairs of an output, best first (one list per
        example for a batch of several); see :func:`flaxjs.zoo.preprocessing.decode`."""
        from .zoo.preprocessing import decode
        decoding = self.decoding or {}
        return decode(outputs, self.labels, top=top, output=decoding.get("output"),
                      label_offset=decoding.get("label_offset", 0))

    def summary(self, *, print_fn=print) -> str:
        """A Keras-style table: layer, class, output shape, parameters, trainable."""
        from .summary import summary_table
        text = summary_table(self)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        inputs = ", ".join(f"{s.name}{list(s.shape)}" for s in self.input_specs)
        return (f"<flaxjs.Model {self.name!r}: {len(self.graph.layers)} layers, "
                f"inputs {inputs}, outputs {self.output_names}>")
