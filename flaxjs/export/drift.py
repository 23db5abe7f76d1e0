"""How much a quantized export moves a model's outputs, measured on a probe batch.

Quantization is lossy, and how lossy depends on the model: per-tensor uint8 codes are
harmless for some models and move MobileNet v1 0.25's probabilities by up to 0.1,
changing top-1 classes. :func:`flaxjs.save` therefore runs the model it wrote (decoded exactly
as TF.js decodes it) and the model it was given on the same probe inputs, prints the
difference, and warns (:class:`DriftWarning`) above :data:`TOLERANCE` or when a probe
input's top-1 class changes.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ..shape_inference import dummy_inputs

#: the largest output change, relative to the outputs' largest magnitude, that passes quietly
TOLERANCE = 0.05
#: probe inputs per measurement
ROWS = 8


class DriftWarning(UserWarning):
    """A quantized export computes noticeably different outputs than the model."""


@dataclasses.dataclass(frozen=True)
class Drift:
    """Output change of a quantized export on ``rows`` probe inputs.

    Attributes:
      quantize: the weight dtype written.
      rows: probe inputs compared.
      max_abs: the largest ``|y_export - y|`` over every output value.
      scale: the largest ``|y|`` (what ``max_abs`` is relative to).
      top1_changed: probe inputs whose arg-max class changed (``None`` unless the
        output is one score vector per input).
    """

    quantize: str
    rows: int
    max_abs: float
    scale: float
    top1_changed: int | None

    @property
    def relative(self) -> float:
        return self.max_abs / self.scale if self.scale else self.max_abs

    @property
    def worrying(self) -> bool:
        """Above :data:`TOLERANCE`, or a top-1 class changed."""
        return self.relative > TOLERANCE or bool(self.top1_changed)

    def __str__(self) -> str:
        text = (f"quantize={self.quantize!r}: outputs move by up to {self.max_abs:.3g} "
                f"({self.relative:.2%} of their largest value) on {self.rows} probe inputs")
        if self.top1_changed is not None:
            text += f"; top-1 class changed on {self.top1_changed} of {self.rows}"
        return text


def probe_inputs(model: Any, rows: int = ROWS, seed: int = 0) -> list[np.ndarray]:
    """Seeded inputs for ``model``: floats uniform over its preprocessing's ``range``
    (``[-1, 1]`` when unknown), integer inputs (token ids) zero."""
    rng = np.random.default_rng(seed)
    prep = model.preprocessing if isinstance(model.preprocessing, Mapping) else {}
    low, high = prep.get("range") or (-1.0, 1.0)
    out = []
    for spec in dummy_inputs(model.input_specs):
        shape = (rows, *spec.shape[1:])
        if np.issubdtype(spec.dtype, np.floating):
            out.append(rng.uniform(low, high, shape).astype(spec.dtype))
        else:
            out.append(np.zeros(shape, spec.dtype))
    return out


def measure(before: Any, after: Any, quantize: str, rows: int = ROWS) -> Drift:
    """Compare two models (the given one and its reloaded export) on probe inputs."""
    xs = probe_inputs(before, rows)
    y = [np.asarray(v, np.float64) for v in jax.tree_util.tree_leaves(before(*xs))]
    q = [np.asarray(v, np.float64) for v in jax.tree_util.tree_leaves(after(*xs))]
    max_abs = max((float(np.abs(a - b).max(initial=0.0)) for a, b in zip(y, q, strict=True)),
                  default=0.0)
    scale = max((float(np.abs(a).max(initial=0.0)) for a in y), default=0.0)
    top1 = None
    if len(y) == 1 and y[0].ndim == 2 and y[0].shape[-1] > 1:
        top1 = int(np.sum(y[0].argmax(-1) != q[0].argmax(-1)))
    return Drift(quantize, rows, max_abs, scale, top1)


def check(model: Any, written: Path, quantize: str) -> Drift | None:
    """Load the export at ``written``, measure it against ``model`` and :func:`report`.

    The files are written by then: a model that cannot be reloaded or probed (custom
    layers, inputs the probe cannot fake) gets a printed note instead of an error.
    """
    from ..loader import load

    try:
        result = measure(model, load(written), quantize)
    except Exception as error:  # advisory only: the export itself succeeded
        print(f"flaxjs.save: output drift of quantize={quantize!r} not measured "
              f"({type(error).__name__}: {error})", file=sys.stderr, flush=True)
        return None
    report(result)
    return result


def report(drift: Drift) -> None:
    """Print the drift on stderr; warn when it is :attr:`Drift.worrying`."""
    print(f"flaxjs.save: {drift}", file=sys.stderr, flush=True)
    if drift.worrying:
        warnings.warn(f"{drift}: the exported model computes noticeably different outputs. "
                      "Measure quantize='uint16' or 'float16' (half the size of float32), "
                      "or export without quantize",
                      DriftWarning, stacklevel=4)  # report < check < save < caller
