"""Converters, one per Keras class, registered on import of each family module."""

from . import (  # noqa: F401
    advanced_activations,
    attention,
    conv,
    core,
    merge,
    noise,
    normalization,
    pooling,
    preprocessing,
    recurrent,
    reshaping,
    tf_ops,
    wrappers,
)
from .registry import register_layer as register_layer
from .registry import registered as registered
