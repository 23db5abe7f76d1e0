"""The top-level keys of the written model.json and the sibling ``metadata.json``.

Labels come from the ``metadata`` passed to :func:`flaxjs.save`, else
``model.labels`` (the zoo card's, or ``metadata.json``'s; ``None`` once the
outputs were changed by ``truncate``/``extend``, so stale labels are never
written); preprocessing from ``metadata``, else ``model.preprocessing`` (the zoo
card's) or the original ``userDefinedMetadata``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._version import __version__

FORMAT = "layers-model"
PRODUCER = f"flaxjs v{__version__}"
_LABEL_KEYS = ("labels", "wordLabels", "words")  # Teachable Machine, speech-commands


def _original(model: Any, key: str) -> Any:
    return (model.model_json or {}).get(key) if model.model_json else None


def _keras3(version: str) -> bool:
    return version.replace("keras v", "").split(".")[0].strip() == "3"


def envelope(model: Any, model_config: dict[str, Any]) -> dict[str, Any]:
    """``modelTopology``: the converter's wrapped form ``{keras_version, backend, model_config}``.

    ``keras_version`` is kept from Keras 2 / TF.js sources; a Keras 3 source (whose
    configs were rewritten in TF.js's dialect) or a model built in code gets
    flaxjs's version, so that no reader applies Keras 3 semantics to it.
    """
    original = _original(model, "modelTopology")
    original = original if isinstance(original, Mapping) else {}
    version = str(original.get("keras_version") or "")
    if not version or _keras3(version):
        version = PRODUCER.replace(" v", " ")
    return {"keras_version": version, "backend": str(original.get("backend") or "tensorflow"),
            "model_config": model_config}


def generated_by(model: Any) -> str:
    """The original ``generatedBy`` (the training framework), else flaxjs."""
    value = _original(model, "generatedBy")
    return str(value) if value else PRODUCER


def labels_of(model: Any, extra: Mapping[str, Any] | None) -> list[str] | None:
    """The class labels of the model's outputs, if known."""
    labels = (extra or {}).get("labels")
    if labels is None:
        labels = getattr(model, "labels", None)
    return [str(x) for x in labels] if labels else None


def preprocessing_of(model: Any, extra: Mapping[str, Any] | None) -> Any:
    """How inputs are prepared (the zoo card's ``preprocessing``), if known."""
    original = _original(model, "userDefinedMetadata")
    return ((extra or {}).get("preprocessing") or getattr(model, "preprocessing", None)
            or (original.get("preprocessing") if isinstance(original, Mapping) else None))


def user_defined(model: Any, extra: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``userDefinedMetadata``: the original one, labels, preprocessing, then ``extra``."""
    original = _original(model, "userDefinedMetadata")
    out: dict[str, Any] = dict(original) if isinstance(original, Mapping) else {}
    out.pop("labels", None)  # replaced by the labels known now (none after surgery)
    labels, preprocessing = labels_of(model, extra), preprocessing_of(model, extra)
    if labels:
        out["labels"] = labels
    if preprocessing:
        out["preprocessing"] = dict(preprocessing) if isinstance(preprocessing, Mapping) else (
            preprocessing)
    out.update({k: v for k, v in (extra or {}).items() if k not in ("labels", "preprocessing")})
    return out or None


def sidecar(model: Any, extra: Mapping[str, Any] | None, name: str) -> dict[str, Any] | None:
    """The ``metadata.json`` to write: the model's own with the labels known now, or a
    Teachable-Machine-style ``{modelName, labels}`` when only labels are known."""
    labels = labels_of(model, extra)
    own = dict(model.metadata) if model.metadata else None
    if own is None and not labels:
        return None
    out = own or {}
    present = [k for k in _LABEL_KEYS if k in out]
    for key in present:
        if labels:
            out[key] = labels
        else:
            del out[key]
    if labels and not present:
        out["labels"] = labels
    out.setdefault("modelName", name)
    return out
