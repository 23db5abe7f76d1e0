"""Keras 3.15 layer classes flaxjs deliberately does not convert, with the reason.

The coverage table lists them and a model that uses one fails to load with the
reason in its :class:`~flaxjs.errors.UnsupportedLayerError` (a converter
registered for the class takes precedence). Every other class of
``keras.layers`` in Keras 3.15 that can appear in a saved model has a converter.
"""

from __future__ import annotations

_CODE = ("wraps Python, JAX, PyTorch or SavedModel code; the file holds no computation "
         "flaxjs could run (code from a file is never executed): register a converter")
_LOOKUP = ("vocabulary lookup on string/integer features: Keras 3 keeps an adapted "
           "vocabulary in the .keras assets, not in weights, and string tensors are not "
           "arrays JAX runs; do the lookup in the input pipeline")
_HASH = ("TensorFlow's string hashes (FarmHash / SipHash of the string form) of categorical "
         "features, not reproduced; hash in the input pipeline")

#: class name -> why it is not converted.
NOT_CONVERTED: dict[str, str] = {
    "ContrastLimitedAdaptiveHistogramEqualization": (
        "CLAHE (tiled, clipped histogram equalization, active at inference); not converted "
        "yet: equalize in the input pipeline"),
    "Equalization": ("Keras 3.15 returns its input tensor from a symbolic call, so no "
                     "Functional or Sequential model can hold it ('part of a cycle'); at "
                     "inference it is the identity"),
    "FlaxLayer": _CODE,
    "HashedCrossing": _HASH,
    "Hashing": _HASH,
    "IntegerLookup": _LOOKUP,
    "JaxLayer": _CODE,
    "Lambda": _CODE,
    "MaxNumBoundingBoxes": "pads/truncates bounding-box dictionaries; no tensor computation",
    "StringLookup": _LOOKUP,
    "TextVectorization": _LOOKUP,
    "TFSMLayer": _CODE,
    "TorchModuleWrapper": _CODE,
}
