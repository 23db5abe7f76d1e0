"""Converters, one per Keras class, registered on import of each family module."""

from . import core  # noqa: F401
from .registry import register_layer as register_layer
