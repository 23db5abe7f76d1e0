"""What every converted layer module shares: the call protocol and config helpers.

A layer module is called as ``module(inputs, train=..., mask=...)`` where
``inputs`` is one array, or a list for layers with several inputs (merges, RNN
initial states), and ``mask`` is the mask TF.js's executor hands the layer (see
:mod:`flaxjs.graph_module`). ``compute_mask(inputs, masks)`` gives the output
mask from the per-input masks; layers that do not support masking return None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax

from ..errors import LayerConfigError
from ..topology.config import as_tuple
from ..topology.spec import LayerSpec
from . import activations

Array = jax.Array


class KerasLayer(nn.Module):
    """Base class of converted Keras layers.

    Subclasses implement ``__call__(self, inputs, *, train=False, mask=None)``.
    ``supports_masking = True`` passes the first input's mask through (TF.js's
    default ``computeMask``); override :meth:`compute_mask` for anything else.
    """

    supports_masking: ClassVar[bool] = False

    def compute_mask(self, inputs: Sequence[Array], masks: Sequence[Array | None]
                     ) -> Array | list[Array | None] | None:
        if not self.supports_masking or not masks:
            return None
        return masks[0]


def single(inputs: Any, layer: str = "layer") -> Array:
    """The one input tensor of a single-input layer."""
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != 1:
            raise ValueError(f"{layer} expects one input tensor, got {len(inputs)}")
        return inputs[0]
    return inputs


def as_list(inputs: Any) -> list[Array]:
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def fail(spec: LayerSpec, message: str) -> LayerConfigError:
    return LayerConfigError(spec.name, spec.class_name, message)


def activation(spec: LayerSpec, key: str = "activation", default: str | None = "linear"
               ) -> str:
    """Validate the activation named by ``config[key]`` and return its (raw) name."""
    value = spec.config.get(key, default)
    if isinstance(value, Mapping):
        value = value.get("config", {}).get("name") or value.get("class_name")
    value = default if value is None else value
    if not activations.is_known(value):
        raise fail(spec, f"unknown activation {value!r} in {key!r}; known: "
                         f"{', '.join(activations.names())}")
    return value if value is not None else "linear"


def ints(spec: LayerSpec, key: str, n: int, default: Any = None) -> tuple[int, ...]:
    """``config[key]`` expanded to ``n`` ints (Keras's ``normalize_tuple``)."""
    value = spec.config.get(key, default)
    if value is None:
        value = default
    try:
        return tuple(int(v) for v in as_tuple(value, n, key))
    except (TypeError, ValueError) as err:
        raise fail(spec, f"{key}: {err}") from None


def channels_first(spec: LayerSpec) -> bool:
    """Whether ``data_format`` says channels_first (either spelling)."""
    value = spec.config.get("data_format") or "channels_last"
    return str(value).replace("_", "").lower() == "channelsfirst"


def padding(spec: LayerSpec, allowed: Sequence[str] = ("valid", "same")) -> str:
    value = str(spec.config.get("padding", "valid")).lower()
    if value not in allowed:
        raise fail(spec, f"padding {value!r} is not supported (allowed: {', '.join(allowed)})")
    return value
