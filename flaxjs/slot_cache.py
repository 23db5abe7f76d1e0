"""A persistent cache of each topology's expected variables (names, shapes, order).

Learning them takes the layers' shape rules a few milliseconds
(:mod:`flaxjs.shape_inference`), but a model with a layer that has no rule needs a
trace of ``module.init`` (150-400 ms for a 300-layer model), longer than TF.js takes
to load the whole model. The result depends only on the topology and on flaxjs's
own code, so it is kept on disk, keyed by both, like JAX's compilation cache: the
next load of the same model skips the work, in ``$FLAXJS_HOME/slots``
(:mod:`flaxjs.settings`); ``FLAXJS_CACHE=0`` turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import settings
from .matching import Slot

_FORMAT = 1


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """Changes whenever any flaxjs source file changes (converters decide the variables)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def _folder() -> Path | None:
    """``$FLAXJS_HOME/slots``, or ``None`` when ``FLAXJS_CACHE`` is off."""
    return settings.slots_dir() if settings.slot_cache() else None


def _key(model_config: Mapping[str, Any], keras_version: str) -> str:
    text = json.dumps([_FORMAT, _code_fingerprint(), keras_version, model_config],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _encode(slots: list[Slot]) -> list[list[Any]]:
    return [[s.collection, list(s.models), s.layer, list(s.sub), list(s.shape),
             np.dtype(s.dtype).name, s.index] for s in slots]


def _decode(rows: list[list[Any]]) -> list[Slot]:
    return [Slot(c, tuple(m), layer, tuple(sub), tuple(shape), np.dtype(dtype), index)
            for c, m, layer, sub, shape, dtype, index in rows]


_MEMORY: dict[str, list[Slot]] = {}


def cached_slots(model_config: Mapping[str, Any], keras_version: str,
                 compute: Callable[[], list[Slot]]) -> list[Slot]:
    """``compute()``'s result for this topology, from memory, disk, or computed and stored."""
    key = _key(model_config, keras_version)
    if key in _MEMORY:
        return _MEMORY[key]
    folder = _folder()
    path = folder / f"{key}.json" if folder else None
    if path is not None and path.is_file():
        try:
            slots = _decode(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            slots = None
        if slots is not None:
            _MEMORY[key] = slots
            return slots
    slots = compute()
    _MEMORY[key] = slots
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False,
                                             suffix=".tmp") as f:
                json.dump(_encode(slots), f)
            os.replace(f.name, path)
        except OSError:
            pass  # a read-only home only costs speed
    return slots
