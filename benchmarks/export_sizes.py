"""Export sizes and accuracy drift of quantized TF.js exports.

For each model, ``flaxjs.save`` writes it as float32 and quantized (uint16,
uint8, uint8 for kernels only, float16 by default; ``DTYPE:PATTERN`` quantizes
only the weights whose names match, as ``quantize_only``); each export is
loaded back with ``flaxjs.load`` (which decodes weights bit-for-bit as TF.js
does) and run on the same batch.
The table gives the weight bytes, the ratio to float32, the largest weight error
(``max|w_q - w|``; affine quantization keeps it within ``scale / 2`` of each
weight's range) and the largest output difference to the float32 export
(absolute, and relative to ``max|y|``), plus how often the arg-max changes.

Not a timed test: the test suite runs it on a tiny model.

Usage::

  python benchmarks/export_sizes.py   # nsfwjs MobileNetV2 + MobileNet v1 (corpus)
  python benchmarks/export_sizes.py path/to/model --dtypes uint8,float16 --batch 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("FLAXJS_SHARED", ROOT.parent / "shared")) / "corpus" / "wild"
DEFAULT_MODELS = [CORPUS / "nsfwjs-mobilenet-v2-uint8", CORPUS / "mobilenet-v1-0.25-224"]


def _inputs(model: Any, folder: Path, batch: int) -> list[np.ndarray]:
    """The corpus reference inputs when present, else uniform [0, 1) (ints: [0, 10))."""
    ref = folder / "reference.json"
    if ref.is_file():
        spec = json.loads(ref.read_text())
        return [np.load(folder / i["file"]) for i in spec["inputs"]]
    rng = np.random.default_rng(0)
    out = []
    for s in model.input_specs:
        shape = [batch] + [d if d is not None else 20 for d in s.shape[1:]]
        if "int" in s.dtype:
            out.append(rng.integers(0, 10, shape).astype(np.int32))
        else:
            out.append(rng.random(shape, dtype=np.float32))
    return out


def _outputs(model: Any, xs: list[np.ndarray]) -> list[np.ndarray]:
    y = model(*xs)
    return [np.asarray(v, np.float64) for v in (y if isinstance(y, list) else [y])]


def _weights(model: Any) -> dict[tuple[str, ...], np.ndarray]:
    from flaxjs.matching import flatten
    return {p: np.asarray(v) for p, v in flatten(model.variables)}


def measure(folder: str | os.PathLike[str], dtypes: list[str], batch: int = 2) -> list[dict]:
    """One row per export of the model in ``folder`` (float32 first)."""
    import flaxjs
    folder = Path(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = flaxjs.load(folder)
    xs = _inputs(model, folder, batch)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = base_y = base_w = None
        for i, spec in enumerate([None, *dtypes]):
            dtype, _, pattern = (spec or "").partition(":")
            out = Path(tmp) / str(i)
            flaxjs.save(model, out, quantize=dtype or None, quantize_only=pattern or None,
                        check_drift=False)  # this script measures the drift itself
            size = sum(p.stat().st_size for p in out.glob("*.bin"))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = flaxjs.load(out)
            y, w = _outputs(loaded, xs), _weights(loaded)
            if spec is None:
                base, base_y, base_w = size, y, w
            dy = max(float(np.abs(a - b).max(initial=0.0)) for a, b in zip(y, base_y, strict=False))
            scale = max(float(np.abs(b).max(initial=0.0)) for b in base_y) or 1.0
            dw = max((float(np.abs(w[k].astype(np.float64) - base_w[k]).max(initial=0.0))
                      for k in w if w[k].dtype.kind == "f"), default=0.0)
            flips = float(np.mean([np.mean(a.argmax(-1) != b.argmax(-1))
                                   for a, b in zip(y, base_y, strict=False)]))
            rows.append({"model": folder.name, "export": spec or "float32", "bytes": size,
                         "ratio": size / base if base else 1.0, "max_dw": dw, "max_dy": dy,
                         "rel_dy": dy / scale, "argmax_changed": flips})
    return rows


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = ["| model | export | weight bytes | vs float32 | max abs weight error | "
             "max abs output diff | relative | arg-max changed |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['export']} | {r['bytes']:,} | {r['ratio']:.3f} | "
                     f"{r['max_dw']:.3g} | {r['max_dy']:.3g} | {r['rel_dy']:.3g} | "
                     f"{r['argmax_changed']:.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="model folders (default: corpus models)")
    parser.add_argument("--dtypes", default="uint16,uint8,uint8:*kernel,float16",
                        help="comma-separated; DTYPE:PATTERN quantizes matching weights only")
    parser.add_argument("--batch", type=int, default=2, help="batch when no reference inputs")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead")
    args = parser.parse_args(argv)
    import jax
    jax.config.update("jax_default_matmul_precision", "highest")
    models = args.models or [str(p) for p in DEFAULT_MODELS if p.is_dir()]
    if not models:
        parser.error("no model folder given and the corpus is not there")
    rows = [r for m in models for r in measure(m, args.dtypes.split(","), args.batch)]
    print(json.dumps(rows, indent=1) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
