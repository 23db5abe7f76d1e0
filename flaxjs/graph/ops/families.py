"""Imports every op family so that its converters are registered."""

from . import (  # noqa: F401
    arithmetic,
    basic_math,
    control,
    conv,
    creation,
    dynamic,
    evaluation,
    graph,
    image,
    logical,
    matrices,
    normalization,
    reduction,
    slice_join,
    sparse,
    spectral,
    transformation,
)
