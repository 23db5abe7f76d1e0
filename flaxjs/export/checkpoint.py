"""Checkpoints for research loops: variables (or any pytree) to disk and back.

msgpack through ``flax.serialization`` by default (one file, no extra
dependency); ``format="orbax"`` writes an Orbax checkpoint folder when
``orbax-checkpoint`` is installed. Training states (``flaxjs.finetune``'s
``TrainState``) are pytrees too; these functions only care about the tree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from ..errors import FlaxjsError
from ..matching import flatten

FORMATS = ("msgpack", "orbax")


def save_variables(tree: Any, path: str | os.PathLike[str], *, format: str = "msgpack") -> Path:
    """Write a model's variables (or any pytree, e.g. a train state) to ``path``.

    Args:
      tree: a :class:`~flaxjs.Model` (its ``variables`` are written) or a pytree.
      path: a file for msgpack, a folder for Orbax.
      format: ``"msgpack"`` (flax serialization) or ``"orbax"`` (needs ``orbax-checkpoint``).

    Returns:
      the path written.

    Example:
      >>> flaxjs.save_variables(model, "run1/step1000.msgpack")  # doctest: +SKIP
      >>> model = flaxjs.load_variables("run1/step1000.msgpack", model)  # doctest: +SKIP
    """
    state = serialization.to_state_dict(jax.device_get(_tree_of(tree)))  # plain nested dicts
    path = Path(path)
    if format == "msgpack":
        path.parent.mkdir(parents=True, exist_ok=True)
        data = serialization.msgpack_serialize(state)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path
    if format == "orbax":
        ocp = _orbax()
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(path.absolute(), state, force=True)
        return path
    raise FlaxjsError(f"checkpoint format must be one of {', '.join(FORMATS)}, got {format!r}")


def load_variables(path: str | os.PathLike[str], target: Any = None) -> Any:
    """Read a checkpoint written by :func:`save_variables`.

    Args:
      path: the msgpack file or Orbax folder (told apart automatically).
      target: a :class:`~flaxjs.Model` → a copy of it holding the restored variables;
        a pytree → the restored tree with the same structure (dataclasses, optax
        states...); ``None`` → the raw nested dict of arrays.

    Returns:
      the restored model, tree or dict.

    Raises:
      FlaxjsError: the file is missing or its arrays do not fit ``target``.
    """
    path = Path(path)
    if not path.exists():
        raise FlaxjsError(f"no checkpoint at {path}")
    model = target if _is_model(target) else None
    like = _tree_of(target) if target is not None else None
    if path.is_dir():
        ocp = _orbax()
        with ocp.StandardCheckpointer() as checkpointer:
            raw = checkpointer.restore(path.absolute())
    else:
        raw = serialization.msgpack_restore(path.read_bytes())
    if like is None:
        return raw
    _check_fits(serialization.to_state_dict(like), raw, path)
    restored = serialization.from_state_dict(like, raw)
    if model is None:
        return restored
    return model.derive(model.graph, restored, dict_outputs=model.dict_outputs)


def _is_model(value: Any) -> bool:
    from ..model import Model
    return isinstance(value, Model)


def _tree_of(value: Any) -> Any:
    return dict(value.variables) if _is_model(value) else value


def _check_fits(expected: Any, raw: Any, path: Path) -> None:
    """Same leaf paths and shapes (flax would silently take whatever is stored)."""
    if not isinstance(expected, Mapping) or not isinstance(raw, Mapping):
        return
    want = {p: np.shape(v) for p, v in flatten(expected)}
    have = {p: np.shape(v) for p, v in flatten(raw)}
    missing = sorted("/".join(map(str, p)) for p in want.keys() - have.keys())
    extra = sorted("/".join(map(str, p)) for p in have.keys() - want.keys())
    wrong = sorted(f"{'/'.join(map(str, p))} {list(have[p])} (expected {list(s)})"
                   for p, s in want.items() if p in have and have[p] != s)
    if missing or extra or wrong:
        parts = [f"missing {', '.join(missing[:8])}" if missing else "",
                 f"unexpected {', '.join(extra[:8])}" if extra else "",
                 f"wrong shape {', '.join(wrong[:8])}" if wrong else ""]
        raise FlaxjsError(f"checkpoint {path} does not fit: " + "; ".join(p for p in parts if p))


def _orbax() -> Any:
    try:
        import orbax.checkpoint as ocp
    except ImportError:  # pragma: no cover - depends on the environment
        raise FlaxjsError("format='orbax' needs the orbax-checkpoint package "
                          "(pip install orbax-checkpoint); msgpack needs nothing") from None
    return ocp
