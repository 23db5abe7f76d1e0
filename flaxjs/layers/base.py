"""What every converted layer module shares: the call protocol and config helpers.

A layer module is called as ``module(inputs, train=..., mask=...)`` where
``inputs`` is one array, or a list for layers with several inputs (merges, RNN
initial states), and ``mask`` is the mask TF.js's executor hands the layer (see
:mod:`flaxjs.graph_module`). ``compute_mask(inputs, masks)`` gives the output
mask from the per-input masks; layers that do not support masking return None.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from ..errors import LayerConfigError
from ..topology.config import as_tuple
from ..topology.spec import LayerSpec
from . import activations
from .sizes import check_count

Array = jax.Array

#: a shape with every dimension known (the loader's dummy inputs fill the unknown ones).
Shape = tuple[int, ...]

#: ``(collection, name, shape, dtype)`` of a variable a layer creates.
Variable = tuple[str, str, Shape, Any]

#: what :meth:`KerasLayer.shape_rule` returns: the output shapes and the variables
#: the layer creates on its first call, in creation order.
ShapeRule = tuple[list[Shape], list[Variable]]

_SHAPES_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("flaxjs_shapes_only",
                                                                   default=False)


@contextlib.contextmanager
def shapes_only() -> Iterator[None]:
    """Within this context, new variables are created as zeros without drawing random keys.

    The loader traces ``init`` only to learn each variable's name, shape and
    creation order; skipping the initializers' random draws makes that trace cheap.
    """
    token = _SHAPES_ONLY.set(True)
    try:
        yield
    finally:
        _SHAPES_ONLY.reset(token)


def _shape_and_dtype(init_args: tuple, init_kwargs: dict) -> tuple[tuple[int, ...], Any]:
    shape = init_args[0] if init_args else init_kwargs.get("shape", ())
    dtype = init_args[1] if len(init_args) > 1 else init_kwargs.get("dtype", jnp.float32)
    return tuple(shape), dtype


class KerasLayer(nn.Module):
    """Base class of converted Keras layers.

    Subclasses implement ``__call__(self, inputs, *, train=False, mask=None)``.
    ``supports_masking = True`` passes the first input's mask through (TF.js's
    default ``computeMask``); override :meth:`compute_mask` for anything else.

    Variables are made with ``self.param(name, init, shape[, dtype])`` and
    ``self.state(name, init, shape[, dtype])`` (``batch_stats``); both skip
    Flax's per-variable re-tracing of the initializer when the value is given,
    which keeps tracing a 300-layer model fast, and check the shape themselves.
    """

    supports_masking: ClassVar[bool] = False

    #: the output has the input's shape and the layer makes no variables.
    shape_preserving: ClassVar[bool] = False

    def shape_rule(self, shapes: Sequence[Shape]) -> ShapeRule | None:
        """Output shapes and created variables for inputs of these ``shapes``, computed
        without tracing (see :mod:`flaxjs.shape_inference`), or None when this layer
        has no rule for them: the loader then learns them by tracing ``init``."""
        if self.shape_preserving and len(shapes) == 1:
            return [tuple(shapes[0])], []
        return None

    def param(self, name: str, init_fn: Callable[..., Any], *init_args: Any,
              unbox: bool = True, **init_kwargs: Any) -> Any:
        if self.has_variable("params", name):
            return self._existing("params", name, init_args, init_kwargs)
        shape, dtype = _shape_and_dtype(init_args, init_kwargs)
        check_count(f"variable {name!r}", shape, per_example=False)
        if _SHAPES_ONLY.get():
            return self.variable("params", name, jnp.zeros, shape, dtype).value
        return super().param(name, init_fn, *init_args, unbox=unbox, **init_kwargs)

    def state(self, name: str, init_fn: Callable[..., Any], shape: Sequence[int],
              dtype: Any = jnp.float32) -> Any:
        """A ``batch_stats`` variable (e.g. BatchNormalization's moving statistics)."""
        if self.has_variable("batch_stats", name):
            self._existing("batch_stats", name, (tuple(shape),), {})
            return self.variable("batch_stats", name)
        check_count(f"variable {name!r}", tuple(shape), per_example=False)
        if _SHAPES_ONLY.get():
            return self.variable("batch_stats", name, jnp.zeros, tuple(shape), dtype)
        return self.variable("batch_stats", name,
                             lambda: init_fn(self.make_rng("params"), tuple(shape), dtype))

    def _existing(self, collection: str, name: str, init_args: tuple, init_kwargs: dict) -> Any:
        value: Any = self.get_variable(collection, name)
        shape, _ = _shape_and_dtype(init_args, init_kwargs)
        if tuple(jnp.shape(value)) != shape:
            raise LayerConfigError(
                self.name or "?", type(self).__name__,
                f"variable {name!r} has shape {list(jnp.shape(value))} but this layer computes "
                f"{list(shape)} from its input; the weights do not fit this input shape")
        return value

    def compute_mask(self, inputs: Sequence[Array], masks: Sequence[Array | None]
                     ) -> Array | list[Array | None] | None:
        if not self.supports_masking or not masks:
            return None
        return masks[0]


def spatial_axes(ndim: int, channels_first: bool) -> tuple[int, ...]:
    """The spatial axes of a rank-``ndim`` batch (all but batch and channels)."""
    return tuple(range(2, ndim)) if channels_first else tuple(range(1, ndim - 1))


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


def activation(spec: LayerSpec, key: str = "activation", default: str | None = "linear",
               *, null_means_default: bool = False) -> str:
    """Validate the activation named by ``config[key]`` and return its (raw) name.

    A missing key means ``default``; an explicit ``null`` means linear, as in TF.js
    (``getActivation(null)``; LSTM/GRU test ``=== undefined``), except where TF.js
    tests ``== null`` (SimpleRNN: ``null_means_default``).
    """
    if key not in spec.config:
        value = default
    else:
        value = activations.name_of(spec.config[key])
        if value is None:
            value = default if null_means_default else "linear"
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
