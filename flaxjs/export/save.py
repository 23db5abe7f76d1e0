"""``flaxjs.save``: a :class:`~flaxjs.Model` → a TF.js Layers model folder."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ExportError
from ..matching import flatten
from . import metadata as meta
from . import quantize as quant
from .topology import write_graph
from .weights import collect, encode, shard

if TYPE_CHECKING:
    from ..model import Model

_SHARD_FILE = re.compile(r"^group\d+-shard\d+of\d+\.bin$")


def save(model: Model, folder: str | os.PathLike[str], *, variables: Any = None,
         quantize: str | None = None, quantize_only: str | Iterable[str] | None = None,
         shard_bytes: int = 4 * 2**20, metadata: Mapping[str, Any] | None = None,
         custom_classes: Iterable[str] = ()) -> Path:
    """Write ``model`` as a TF.js Layers model (``model.json`` + weight shards).

    ``tf.loadLayersModel`` in TF.js 4.22 loads the folder and computes what
    flaxjs computes. Models with layers TF.js cannot express (Flax heads,
    Keras-only classes, options TF.js would read differently) are refused before
    anything is written.

    Args:
      model: the model (loaded, cut, extended with :mod:`flaxjs.keras` builders...).
      folder: the output folder (created; stale ``group*-shard*.bin`` files removed).
      variables: the values to write, e.g. fine-tuned ones: ``{"params", "batch_stats"}``
        or an object with ``params`` / ``batch_stats`` attributes (a ``TrainState``);
        default ``model.variables``.
      quantize: ``"uint8"``, ``"uint16"`` or ``"float16"`` to store float32 weights
        quantized, exactly as the TF.js converter does.
      quantize_only: shell-style patterns of weight names to quantize (default all),
        e.g. ``["conv*/kernel", "dense*/kernel"]``.
      shard_bytes: the size of each shard file (the converter's 4 MiB by default).
      metadata: extra ``userDefinedMetadata`` entries; ``labels`` and ``preprocessing``
        here override the ones known from the model.
      custom_classes: class names your page registers itself
        (``tf.serialization.registerClass``); written as they are.

    Returns:
      the path of the written ``model.json``.

    Raises:
      ExportError: the model cannot be written so that TF.js reads it as flaxjs does.

    Example:
      >>> base = flaxjs.load("mobilenet/model.json")  # doctest: +SKIP
      >>> model = base.truncate("conv_pw_13_relu").extend(
      ...     [K.GlobalAveragePooling2D(), K.Dense(3, "softmax")])  # doctest: +SKIP
      >>> # ... fine-tune: state = TrainState(...) updated by training steps ...
      >>> flaxjs.save(model, "web/model", variables=state, quantize="uint8")  # doctest: +SKIP
    """
    if quantize is not None and quantize not in quant.DTYPES:
        raise ExportError(f"quantize must be one of {', '.join(quant.DTYPES)}, got {quantize!r}")
    values = _check_variables(model, variables)
    written = write_graph(model.graph, custom_classes=custom_classes)
    original_order = _manifest_names(model.model_json)
    weights = collect(model.graph, values, written.layer_keys, original_names=model.weight_names,
                      original_order=original_order)
    entries, data = encode(weights, quantize, quantize_only)
    files = shard(data, shard_bytes)
    model_json: dict[str, Any] = {
        "format": meta.FORMAT, "generatedBy": meta.generated_by(model),
        "convertedBy": meta.PRODUCER,
        "modelTopology": meta.envelope(model, written.model_config),
        "weightsManifest": [{"paths": [name for name, _ in files], "weights": entries}],
    }
    user = meta.user_defined(model, metadata)
    if user:
        model_json["userDefinedMetadata"] = user
    text = _dumps(model_json)
    sidecar = meta.sidecar(model, metadata, model.graph.name)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    keep = {name for name, _ in files}
    for old in out.iterdir():
        if _SHARD_FILE.match(old.name) and old.name not in keep:
            old.unlink()
    for name, chunk in files:
        (out / name).write_bytes(chunk)
    if sidecar is not None:
        (out / "metadata.json").write_text(_dumps(sidecar), encoding="utf-8")
    path = out / "model.json"
    path.write_text(text, encoding="utf-8")
    return path


def _manifest_names(model_json: Mapping[str, Any] | None) -> list[str]:
    groups = (model_json or {}).get("weightsManifest") or []
    return [str(w.get("name")) for g in groups if isinstance(g, Mapping)
            for w in g.get("weights", []) if isinstance(w, Mapping)]


def _check_variables(model: Model, variables: Any) -> dict[str, Any]:
    """``variables`` as a dict shaped like ``model.variables`` (same paths and shapes)."""
    if variables is None:
        return dict(model.variables)
    if not isinstance(variables, Mapping):
        params = getattr(variables, "params", None)
        if params is None:
            raise ExportError("variables must be {'params': ..., 'batch_stats': ...} or an "
                              f"object with .params, got {type(variables).__name__}")
        variables = {"params": params, "batch_stats": getattr(variables, "batch_stats", {})}
    expected = {p: np.shape(v) for p, v in flatten(model.variables)}
    given = {p: np.shape(v) for p, v in flatten({k: v for k, v in variables.items() if v})}
    missing = sorted("/".join(p) for p in expected if p not in given)
    wrong = sorted(f"{'/'.join(p)} {list(given[p])} (model: {list(s)})"
                   for p, s in expected.items() if p in given and given[p] != s)
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing[:10]))
    if wrong:
        problems.append("wrong shape " + ", ".join(wrong[:10]))
    if problems:
        raise ExportError("variables do not fit the model: " + "; ".join(problems))
    return dict(variables)


def _dumps(value: Any) -> str:
    def default(obj: Any) -> Any:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(f"{type(obj).__name__} is not JSON data")
    try:
        return json.dumps(value, default=default, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ExportError(f"the model's config cannot be written as JSON: {err}") from None
