"""Imports every op family so that its converters are registered."""

from . import (  # noqa: F401
    arithmetic,
    basic_math,
    conv,
    graph,
    matrices,
    normalization,
    reduction,
    slice_join,
    transformation,
)
