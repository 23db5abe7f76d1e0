"""What a converter declares about its Keras class besides the module it builds.

Each fact lives on the class's registration (:func:`flaxjs.layers.register_layer`),
next to the converter, and the rest of flaxjs reads it from there:

* :class:`Export` — how :func:`flaxjs.save` writes the class for TF.js 4.22 (a
  config rewrite plus the defaults TF.js assumes), or why it never can;
* :class:`Foldable` — a BatchNormalization right after the layer can be folded into
  its kernel for inference (:mod:`flaxjs.lowering`);
* ``depthwise`` — its CPU lowering makes large loop fusions, so XLA's fusion
  emitters pay off (:func:`flaxjs.runtime.compiler_options`);
* ``batch_coupled`` — its output for one sample may depend on the others (raw TF
  ops can reduce over axis 0), so ``Model.__call__`` never splits the batch;
* :class:`KerasFileLayout` — where a Keras ``.keras`` file stores the class's variables
  apart from the names TF.js gives them (:mod:`flaxjs.io.keras_file`);
* :class:`Sample` — small configs the registry-driven tests build models from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ExportError
from ..topology.spec import LayerSpec


@dataclasses.dataclass(frozen=True)
class ExportContext:
    """What an export rule may need beyond its own config.

    Attributes:
      masked: the model produces masks (Embedding ``mask_zero`` or Masking).
      nested: ``nested(outer, {"class_name", "config"})`` writes a layer or cell held
        inside ``outer``'s config (wrappers, RNN cells) by its own class's rule.
    """

    masked: bool
    nested: Callable[[LayerSpec, Any], dict[str, Any]]


#: rewrites ``config`` (already cleaned of Keras 3 bookkeeping) in place, or raises
#: :func:`refuse` when TF.js would compute something else.
ExportRule = Callable[[LayerSpec, dict[str, Any], ExportContext], None]


@dataclasses.dataclass(frozen=True)
class Export:
    """How ``flaxjs.save`` writes a class for TF.js 4.22.

    Attributes:
      rule: rewrites a config in place (see :data:`ExportRule`); ``None`` writes it as is.
      defaults: keys TF.js reads as these values when absent, written out explicitly so
        configs made by :mod:`flaxjs.keras` builders are complete.
      refusal: set when the class can never be exported; says why.
    """

    rule: ExportRule | None = None
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    refusal: str | None = None


#: the config is written as it is (after the shared clean-up of dtypes, activations...).
AS_IS = Export()


def refused(reason: str) -> Export:
    """An :class:`Export` that always refuses, with ``reason``."""
    return Export(refusal=reason)


def refuse(spec: LayerSpec, why: str) -> ExportError:
    """The error for a layer TF.js cannot load or would compute differently."""
    return ExportError(f"layer {spec.name!r} ({spec.class_name}) cannot be exported to TF.js "
                       f"4.22: {why}")


def is_default(value: Any, default: Any) -> bool:
    """Whether a config value (a number or a per-axis list) is absent or ``default``
    everywhere — for rules that refuse options TF.js would ignore."""
    if value is None:
        return True
    items = value if isinstance(value, (list, tuple)) else [value]
    return all(v == default for v in items)


@dataclasses.dataclass(frozen=True)
class Foldable:
    """A linear layer whose output channels are its kernel's last axis, so a following
    BatchNormalization folds into ``kernel·s`` and ``(bias − mean)·s + beta``.

    Attributes:
      spatial_rank: spatial axes of its input (a BN on axis ``rank + 1`` also normalizes
        the channels); ``None`` when only ``axis=-1`` does (Dense of any rank).
      kernel: the kernel variable's name in files TF.js loads.
      keras3_kernel: its name in Keras 3 files.
    """

    spatial_rank: int | None
    kernel: str = "kernel"
    keras3_kernel: str = "kernel"

    def kernel_of(self, spec: LayerSpec) -> str:
        return self.keras3_kernel if spec.keras3 else self.kernel


@dataclasses.dataclass(frozen=True)
class KerasFileLayout:
    """How a ``.keras`` file stores the class's variables where its names differ from TF.js's.

    Attributes:
      sublayers: a sublayer's attribute name (leading underscores dropped) → the scope of
        its variables in TF.js and flaxjs (MultiHeadAttention's ``query_dense`` →
        ``query``), for files that do not write the sublayer's name (tf-keras, early
        Keras 3).
      repeated: positions among the layer's own stored variables that repeat a sublayer's
        variable (SpectralNormalization's ``self.kernel = self.layer.kernel`` is saved
        twice); not read.
    """

    sublayers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    repeated: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class Sample:
    """A small model to exercise a class: one layer on fresh inputs.

    Attributes:
      config: the layer's snake_case Keras config (``name`` is added).
      inputs: each input's shape with the batch axis (several for merges, attention...).
      dtype: the inputs' dtype (``"int32"`` for ids).
      low, high: the range inputs are drawn from.
      class_name: the class of the layer to build when it is not the registered one
        (a cell class is exercised inside ``RNN``).
      keras3: build it as a Keras 3 file would describe it.
      grad: whether a gradient with respect to the parameters is meaningful (False for
        integer outputs such as ``Discretization``).
      exportable: ``flaxjs.save`` writes it (False: the class's export rule refuses
        these options); ignored for classes that always refuse.
    """

    config: Mapping[str, Any]
    inputs: tuple[tuple[int, ...], ...]
    dtype: str = "float32"
    low: float = -1.0
    high: float = 1.0
    class_name: str | None = None
    keras3: bool = False
    grad: bool = True
    exportable: bool = True


__all__ = ["AS_IS", "Export", "ExportContext", "ExportRule", "Foldable", "KerasFileLayout",
           "Sample", "is_default", "refuse", "refused"]
