"""The small graph IR that a Keras topology is parsed into.

A :class:`ModelGraph` is a list of :class:`LayerSpec` in config order, each with
its call events (:class:`Call`), plus the model's input and output tensor
references. Nested models (a Sequential or Functional used as a layer) carry
their own ``graph``. Nothing here depends on JAX.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

#: class names of model containers (used as layers they are nested graphs).
MODEL_CLASSES = frozenset({"Sequential", "Model", "Functional"})


@dataclasses.dataclass(frozen=True)
class TensorRef:
    """Output ``tensor`` of call ``node`` of ``layer`` (Keras's ``[layer, node, tensor]``)."""

    layer: str
    node: int = 0
    tensor: int = 0

    def __str__(self) -> str:
        return f"{self.layer}[{self.node}][{self.tensor}]"


@dataclasses.dataclass(frozen=True)
class Call:
    """One call of a layer: its input tensors (positional, then initial states, then the
    tensors passed by keyword).

    ``tensor_kwargs`` names the keyword argument of each of the last inputs that came from
    the call's kwargs (``mha(q, value=v)``); the kwargs keep their raw values too.
    """

    inputs: tuple[TensorRef, ...]
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    tensor_kwargs: tuple[str, ...] = dataclasses.field(default=(), compare=False)

    @property
    def n_positional(self) -> int:
        """How many inputs came before the tensors passed by keyword."""
        return len(self.inputs) - len(self.tensor_kwargs)


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """A model input: name, shape with the batch axis (``None`` = unknown), dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"


@dataclasses.dataclass(frozen=True, eq=False)
class LayerSpec:
    """One Keras layer: class, name, raw snake_case config and its calls.

    Attributes:
      class_name: the Keras ``class_name`` (the converter registry key).
      name: the layer name (variables live under it).
      config: the layer's ``config`` with Keras-3 wrappers normalized (see ``parse``).
      calls: the layer's call events in node order.
      graph: for nested models, their own graph.
      keras3: the file was written by Keras 3, whose semantics differ from TF.js's
        for a few options TF.js cannot load anyway (``hard_sigmoid``,
        ``negative_slope``...).
      module: a ready ``flax.linen.Module`` standing in for a Keras class (a research head
        added in code); such a layer cannot be exported to TF.js.
    """

    class_name: str
    name: str
    config: dict[str, Any]
    calls: tuple[Call, ...] = ()
    graph: ModelGraph | None = None
    keras3: bool = False
    module: Any = None

    @property
    def trainable(self) -> bool:
        return bool(self.config.get("trainable", True))

    @property
    def is_model(self) -> bool:
        return self.graph is not None

    def call_index(self, node: int) -> int:
        """The index in ``calls`` of Keras node ``node`` (a nested model owns node 0)."""
        return node - 1 if self.is_model else node

    def node_of(self, call_index: int) -> int:
        """The Keras node index of ``calls[call_index]`` (the inverse of :meth:`call_index`)."""
        return call_index + 1 if self.is_model else call_index

    def output(self, tensor: int = 0) -> TensorRef:
        """Output ``tensor`` of the layer's first call (an input layer's own tensor)."""
        node = 0 if self.class_name == "InputLayer" else self.node_of(0)
        return TensorRef(self.name, node, tensor)


@dataclasses.dataclass(frozen=True, eq=False)
class ModelGraph:
    """A Sequential or Functional model as a graph of layer calls.

    Attributes:
      class_name: ``Sequential``, ``Model`` or ``Functional``.
      name: the model name.
      layers: every layer in config order, input layers included.
      inputs: the model inputs (outputs of ``InputLayer`` layers).
      input_specs: shape and dtype of each input, same order.
      outputs: the model outputs in order.
      output_keys: names of the outputs when the config gave them as a dict.
    """

    class_name: str
    name: str
    layers: tuple[LayerSpec, ...]
    inputs: tuple[TensorRef, ...]
    input_specs: tuple[InputSpec, ...]
    outputs: tuple[TensorRef, ...]
    output_keys: tuple[str, ...] | None = None
    config: dict[str, Any] = dataclasses.field(default_factory=dict)

    def layer(self, name: str) -> LayerSpec:
        return self.layer_map[name]

    @functools.cached_property
    def layer_map(self) -> dict[str, LayerSpec]:
        return {spec.name: spec for spec in self.layers}

    def walk(self, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], LayerSpec]]:
        """Every layer with its path of enclosing nested-model names, depth first."""
        for spec in self.layers:
            yield prefix, spec
            if spec.graph is not None:
                yield from spec.graph.walk((*prefix, spec.name))
