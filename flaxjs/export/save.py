"""``flaxjs.save``: a :class:`~flaxjs.Model` → a TF.js Layers model folder."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ExportError
from ..graph.model import GraphModel
from ..matching import flatten
from . import drift
from . import graph as graph_export
from . import metadata as meta
from . import quantize as quant
from .files import write_folder
from .topology import write_graph
from .weights import collect, encode, shard

if TYPE_CHECKING:
    from ..finetune.state import TrainState
    from ..model import Model

_SHARD_FILE = re.compile(r"^group\d+-shard\d+of\d+\.bin$")


def save(model: Model | GraphModel | TrainState, folder: str | os.PathLike[str], *,
         variables: Any = None, quantize: str | None = None,
         quantize_only: str | Iterable[str] | None = None, shard_bytes: int = 4 * 2**20,
         metadata: Mapping[str, Any] | None = None, custom_classes: Iterable[str] = (),
         check_drift: bool = True) -> Path:
    """Write ``model`` as a TF.js Layers model (``model.json`` + weight shards), or a
    :class:`~flaxjs.graph.GraphModel` as a TF.js graph model with its current weights.

    ``tf.loadLayersModel`` in TF.js 4.22 loads the folder and computes what
    flaxjs computes. Models with layers TF.js cannot express (Flax heads,
    Keras-only classes, options TF.js would read differently) are refused before
    anything is written.

    A quantized export is lossy: with ``check_drift`` the written folder is loaded back
    and run next to ``model`` on probe inputs, the output change is printed on stderr,
    and a :class:`~flaxjs.export.drift.DriftWarning` says when it is large
    (:mod:`flaxjs.export.drift`).

    Args:
      model: the model (loaded, cut, extended with :mod:`flaxjs.keras` builders...), or
        a fine-tuning ``TrainState`` created from one (its trained ``state.model``).
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
      check_drift: with ``quantize``, measure and print the output change.

    Returns:
      the path of the written ``model.json``.

    Raises:
      ExportError: the model cannot be written so that TF.js reads it as flaxjs does.

    Example:
      >>> base = flaxjs.load("mobilenet/model.json")  # doctest: +SKIP
      >>> model = base.truncate("conv_pw_13_relu").extend(
      ...     [K.GlobalAveragePooling2D(), K.Dense(3, "softmax")])  # doctest: +SKIP
      >>> state = finetune.TrainState.create(model, optax.adam(1e-3))  # doctest: +SKIP
      >>> state, history = finetune.fit(state, x, y)  # doctest: +SKIP
      >>> flaxjs.save(state, "web/model")  # doctest: +SKIP
    """
    if quantize is not None and quantize not in quant.DTYPES:
        raise ExportError(f"quantize must be one of {', '.join(quant.DTYPES)}, got {quantize!r}")
    from ..finetune.state import TrainState

    if isinstance(model, TrainState):
        if variables is not None:
            raise ExportError("save(state, ...) writes the state's variables; pass the model "
                              "to save(model, folder, variables=...) instead")
        model = model.model
    path = _write(model, folder, variables=variables, quantize=quantize,
                  quantize_only=quantize_only, shard_bytes=shard_bytes, metadata=metadata,
                  custom_classes=custom_classes)
    if quantize is not None and check_drift:
        before = model if variables is None else model.with_variables(_as_mapping(variables))
        drift.check(before, path, quantize)
    return path


def _write(model: Model | GraphModel, folder: str | os.PathLike[str], *, variables: Any,
           quantize: str | None, quantize_only: str | Iterable[str] | None, shard_bytes: int,
           metadata: Mapping[str, Any] | None, custom_classes: Iterable[str]) -> Path:
    if isinstance(model, GraphModel):
        if custom_classes:
            raise ExportError("custom_classes apply to Layers models; this is a graph model")
        return graph_export.save_graph(model, folder, variables=variables, quantize=quantize,
                                       quantize_only=quantize_only, shard_bytes=shard_bytes,
                                       metadata=metadata)
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
    sidecar = meta.sidecar(model, metadata, model.graph.name)
    return write_folder(folder, model_json, files, sidecar)


def _manifest_names(model_json: Mapping[str, Any] | None) -> list[str]:
    groups = (model_json or {}).get("weightsManifest") or []
    return [str(w.get("name")) for g in groups if isinstance(g, Mapping)
            for w in g.get("weights", []) if isinstance(w, Mapping)]


def _as_mapping(variables: Any) -> Mapping[str, Any]:
    """``{"params", "batch_stats"}`` of a mapping or of an object with those attributes."""
    if isinstance(variables, Mapping):
        return variables
    params = getattr(variables, "params", None)
    if params is None:
        raise ExportError("variables must be {'params': ..., 'batch_stats': ...} or an "
                          f"object with .params, got {type(variables).__name__}")
    return {"params": params, "batch_stats": getattr(variables, "batch_stats", {})}


def _check_variables(model: Model, variables: Any) -> dict[str, Any]:
    """``variables`` as a dict shaped like ``model.variables`` (same paths and shapes)."""
    if variables is None:
        return dict(model.variables)
    variables = _as_mapping(variables)
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
