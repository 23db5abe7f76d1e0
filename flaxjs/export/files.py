"""Writing an exported model's folder: shards, ``metadata.json``, then ``model.json``."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExportError

_SHARD_FILE = re.compile(r"^group\d+-shard\d+of\d+\.bin$")


def write_folder(folder: str | os.PathLike[str], model_json: Mapping[str, Any],
                 files: list[tuple[str, bytes]], sidecar: Mapping[str, Any] | None = None
                 ) -> Path:
    """Write the shards, ``metadata.json`` and, last, ``model.json`` (stale shards removed)."""
    text = _dumps(model_json)
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
