"""Reading the reference corpora in ``../shared/corpus`` (TF.js or Keras outputs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FLAXJS_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "corpus"
TOOLS = SHARED / "tools"
KERAS_REFERENCES = ROOT / "tests" / "references" / "keras"
"""In-repo fixtures made by ``tools/keras_references/make_references.py`` (Keras or TF.js)."""


def cases(kind: str) -> list[str]:
    """Case folder names of one corpus (``synthetic``, ``wild``, ``wild-tfjs-fails``)."""
    folder = CORPUS / kind
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "reference.json").is_file())


def reference(case_dir: Path) -> dict:
    return json.loads((case_dir / "reference.json").read_text())


def inputs(case_dir: Path, ref: dict) -> list[np.ndarray]:
    return [np.load(case_dir / spec["file"]) for spec in ref["inputs"]]


def expected_outputs(case_dir: Path, ref: dict) -> list[np.ndarray]:
    """The outputs flaxjs must produce: TF.js's, or the Keras ``alt_outputs`` for TF.js bugs."""
    outs = [np.load(case_dir / spec["file"]) for spec in ref["outputs"]]
    for alt in ref.get("alt_outputs") or []:
        outs[alt.get("output_index", 0)] = np.load(case_dir / alt["file"])
    return outs


def max_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max|y - ref| / max(1, max|ref|)``: the parity measure of the test suite."""
    actual = np.asarray(actual)
    if actual.shape != expected.shape:
        raise AssertionError(f"shape {actual.shape} != reference shape {expected.shape}")
    if expected.size == 0:
        return 0.0
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    if np.isnan(diff).any():
        same_nan = np.isnan(actual) == np.isnan(expected)
        if not same_nan.all():
            return float("inf")
        diff = np.nan_to_num(diff)
    return float(diff.max() / max(1.0, float(np.abs(expected.astype(np.float64)).max())))


TOLERANCE = 1e-4


def check_case(case_dir: Path) -> None:
    """Load a reference case with flaxjs and compare every output with the reference."""
    import flaxjs

    ref = reference(case_dir)
    model = flaxjs.load(case_dir)
    outputs = model(*inputs(case_dir, ref))
    outputs = outputs if isinstance(outputs, list) else [outputs]
    expected = expected_outputs(case_dir, ref)
    assert len(outputs) == len(expected)
    errors = {f"{i}:{spec['name']}": max_error(np.asarray(y), want)
              for i, (y, want, spec) in enumerate(zip(outputs, expected, ref["outputs"]))}
    bad = {k: f"{v:.3g}" for k, v in errors.items() if not v <= TOLERANCE}
    assert not bad, f"outputs over tolerance (relative error): {bad}"
