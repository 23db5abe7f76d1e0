"""One layer's config in the dialect TF.js 4.22 reads, or an :class:`ExportError`.

A layer is exportable when TF.js 4.22 can deserialize its class and will compute
what flaxjs computes. What that means for each class lives on its registration
(:class:`flaxjs.layers.traits.Export`, declared next to its converter): a rule
that rewrites configs where an exact TF.js spelling exists (Keras 3
``batch_shape``, LeakyReLU ``negative_slope``...) and refuses where TF.js would
silently compute something else (GRU ``reset_after``, Keras 3 dilations and data
formats TF.js ignores...), plus the defaults TF.js assumes for absent keys.
:mod:`.dialect` handles the values every layer shares (dtypes, activations,
initializers).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..errors import ExportError
from ..layers import registry
from ..layers.traits import ExportContext, refuse
from ..topology import config as cfg
from ..topology.spec import MODEL_CLASSES, LayerSpec
from .dialect import clean, fix_nested_objects, tensor_dtype

__all__ = ["check_class", "layer_config", "refuse", "tensor_dtype"]


def check_class(spec: LayerSpec, custom_classes: frozenset[str] = frozenset()) -> None:
    """Refuse Flax heads and classes TF.js 4.22 cannot deserialize or that refuse export."""
    if spec.module is not None:
        raise ExportError(
            f"layer {spec.name!r} is the Flax module {type(spec.module).__name__} added in "
            "code; a TF.js Layers model can only describe Keras classes. Build the head from "
            "flaxjs.keras builders to export it.")
    name = spec.class_name
    if name in MODEL_CLASSES or name == "InputLayer" or name in custom_classes:
        return
    reg = registry.registration(name)
    if reg is None:
        raise refuse(spec, f"flaxjs has no converter for {name!r}")
    if reg.export.refusal is not None:
        raise refuse(spec, reg.export.refusal)


def layer_config(spec: LayerSpec, custom_classes: frozenset[str] = frozenset(), *,
                 masked: bool = False) -> dict[str, Any]:
    """The TF.js-readable config of one (non-model) layer.

    Args:
      spec: the layer.
      custom_classes: class names the page registers itself (passed through as is).
      masked: the model produces masks (Embedding ``mask_zero`` or Masking).

    Raises:
      ExportError: the layer cannot be written without changing what it computes.
    """
    check_class(spec, custom_classes)
    config = clean(copy.deepcopy(dict(spec.config)), spec)
    config["name"] = spec.name
    if spec.class_name in custom_classes:
        return config
    fix_nested_objects(spec, config)
    if spec.class_name == "InputLayer":
        _input_layer(spec, config)
    else:
        export = registry.registration(spec.class_name).export  # type: ignore[union-attr]
        if export.rule is not None:
            export.rule(spec, config, ExportContext(masked=masked, nested=_nested))
        for key, value in export.defaults.items():
            config.setdefault(key, copy.deepcopy(value))
    config.setdefault("trainable", True)
    config.setdefault("dtype", "float32")
    return config


def _input_layer(spec: LayerSpec, config: dict[str, Any]) -> None:
    shape = cfg.input_shape_of(config)
    for key in ("batch_shape", "input_shape", "batch_size", "optional", "ragged"):
        config.pop(key, None)
    if config.get("sparse"):
        raise refuse(spec, "sparse inputs are not supported by TF.js")
    config["sparse"] = False
    if shape is not None:
        config["batch_input_shape"] = list(shape)


#: classes that only live inside an RNN: written without a layer's name/trainable/dtype.
_CELL_CLASSES = frozenset({"GRUCell", "LSTMCell", "SimpleRNNCell", "StackedRNNCells"})


def _nested(outer: LayerSpec, value: Any) -> dict[str, Any]:
    """A ``{class_name, config}`` layer or cell inside a wrapper or RNN, made exportable by
    its own class's rule."""
    if not isinstance(value, Mapping) or "class_name" not in value:
        raise refuse(outer, f"cannot read the nested layer {str(value)[:80]!r}")
    class_name = str(value["class_name"])
    inner_config = clean(copy.deepcopy(dict(value.get("config") or {})), outer)
    inner = LayerSpec(class_name, str(inner_config.get("name") or class_name.lower()),
                      inner_config, keras3=outer.keras3)
    if class_name not in _CELL_CLASSES:
        return {"class_name": class_name, "config": layer_config(inner, masked=False)}
    check_class(inner)
    fix_nested_objects(inner, inner_config)
    rule = registry.registration(class_name).export.rule  # type: ignore[union-attr]
    if rule is not None:
        rule(inner, inner_config, ExportContext(masked=False, nested=_nested))
    return {"class_name": class_name, "config": inner_config}
