"""Checkpoints: a model's variables, a ``TrainState`` or any pytree to disk and back.

One pair of functions, path first like flax and orbax. ``format="msgpack"`` (the
default) writes one file through ``flax.serialization`` (single host: sharded
arrays are gathered first; written to a temporary file and renamed, so a crash
never leaves half a checkpoint under ``path``). ``format="orbax"`` writes an Orbax
checkpoint folder (needs ``orbax-checkpoint``; every process of a multi-host run
calls it together; Orbax commits atomically itself).

Restoring into a *target* gives its structure back (dataclasses, optax states, the
static parts of a ``TrainState`` such as ``apply_fn`` and ``tx``) with the arrays
placed like the target's (same devices and shardings), after checking that the
stored leaf paths and shapes are exactly the target's: flax would otherwise take
whatever is stored.

Example:
  >>> flaxjs.save_checkpoint("run/step100.msgpack", model)              # doctest: +SKIP
  >>> model = flaxjs.restore_checkpoint("run/step100.msgpack", model)   # doctest: +SKIP
  >>> flaxjs.save_checkpoint("run/state", state, format="orbax")        # doctest: +SKIP
  >>> state = flaxjs.restore_checkpoint("run/state", TrainState.create(model, tx))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import jax
import numpy as np
from flax import serialization

from .errors import CheckpointError
from .matching import flatten

Format = Literal["msgpack", "orbax"]
FORMATS: tuple[str, ...] = ("msgpack", "orbax")


def save_checkpoint(path: str | os.PathLike[str], target: Any, *,
                    format: Format = "msgpack") -> Path:
    """Write ``target`` to ``path``; returns the path written.

    Args:
      path: a file for msgpack (its folder is created), a folder for Orbax
        (replaced if it exists).
      target: a :class:`~flaxjs.Model` (its ``variables`` are written), a
        ``flaxjs.finetune.TrainState`` or any pytree of arrays.
      format: ``"msgpack"`` (flax serialization, one file) or ``"orbax"``.

    Raises:
      CheckpointError: an unknown format, orbax missing, or the file cannot be written.
    """
    _check_format(format)
    path = Path(path)
    tree = _tree_of(target)
    if format == "orbax":
        ocp = _orbax()
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(path.absolute(), serialization.to_state_dict(tree), force=True)
        return path
    data = serialization.msgpack_serialize(serialization.to_state_dict(jax.device_get(tree)))
    _write_atomically(path, data)
    return path


def restore_checkpoint(path: str | os.PathLike[str], target: Any = None, *,
                       format: Format | None = None) -> Any:
    """Read what :func:`save_checkpoint` wrote.

    Args:
      path: the msgpack file or Orbax folder.
      target: a :class:`~flaxjs.Model` → a copy of it holding the restored variables;
        a ``TrainState`` or other pytree → the restored tree with its structure, the
        arrays placed like its arrays; ``None`` → the raw nested dict of arrays.
      format: ``None`` tells them apart (a folder is Orbax, a file msgpack).

    Raises:
      CheckpointError: no checkpoint at ``path``, it cannot be read, it does not fit
        ``target``, an unknown format, or orbax missing.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: check the path (save_checkpoint "
                              "writes a file for msgpack, a folder for orbax)")
    if format is None:
        format = "orbax" if path.is_dir() else "msgpack"
    _check_format(format)
    like = _tree_of(target) if target is not None else None
    template = serialization.to_state_dict(like) if like is not None else None
    raw = _restore_orbax(path, template) if format == "orbax" else _restore_msgpack(path)
    if like is None:
        return raw
    _check_fits(template, raw, path)
    restored = _place_like(like, serialization.from_state_dict(like, raw))
    if _is_model(target):
        return target.derive(target.graph, restored, dict_outputs=target.dict_outputs)
    return restored


# ---------------------------------------------------------------- helpers
def _check_format(format: Any) -> None:
    if format not in FORMATS:
        raise CheckpointError(f"checkpoint format must be one of {', '.join(FORMATS)}, "
                              f"got {format!r}")


def _is_model(value: Any) -> bool:
    from .model import Model
    return isinstance(value, Model)


def _tree_of(value: Any) -> Any:
    """What is stored for ``value``: a model's variables, else the value itself."""
    return dict(value.variables) if _is_model(value) else value


def _write_atomically(path: Path, data: bytes) -> None:
    """``data`` to a temporary file beside ``path``, then renamed over it (or removed)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise CheckpointError(f"cannot write checkpoint {path}: {err}") from err
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(name, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        if isinstance(err, OSError):
            raise CheckpointError(f"cannot write checkpoint {path}: {err}") from err
        raise


def _restore_msgpack(path: Path) -> Any:
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a msgpack checkpoint file (an orbax "
                              "checkpoint? pass format='orbax' or format=None)")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from err
    try:
        return serialization.msgpack_restore(data)
    except Exception as err:  # msgpack raises its own types (ExtraData, ValueError, ...)
        raise CheckpointError(f"{path} is not a msgpack checkpoint written by "
                              f"save_checkpoint: {type(err).__name__}: {err}") from err


def _restore_orbax(path: Path, template: Any) -> Any:
    """The raw tree, restored in the template's dtypes and shardings when it fits."""
    ocp = _orbax()
    with ocp.StandardCheckpointer() as checkpointer:
        if template is None:
            return checkpointer.restore(path.absolute())
        stored = checkpointer.metadata(path.absolute())
        stored = getattr(stored, "item_metadata", stored)  # StepMetadata in orbax >= 0.11
        stored = getattr(stored, "tree", stored)
        _check_fits(template, stored, path)
        abstract = jax.tree_util.tree_map(_abstract, template)
        restored = checkpointer.restore(path.absolute(), abstract)
    return _fill_empty(template, restored)


def _abstract(leaf: Any) -> Any:
    if isinstance(leaf, jax.Array):
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
    return leaf


def _fill_empty(template: Any, restored: Any) -> Any:
    """Orbax may drop empty subtrees (``optax.MaskedNode``, ``EmptyState``): put them back."""
    if isinstance(template, dict):
        restored = restored if isinstance(restored, dict) else {}
        return {k: _fill_empty(v, restored.get(k)) for k, v in template.items()}
    return restored


def _place_like(target: Any, restored: Any) -> Any:
    """Restored arrays where the target's arrays live (same shardings); other leaves as read."""

    def place(t: Any, r: Any) -> Any:
        if isinstance(t, jax.Array):
            return jax.device_put(r, t.sharding)
        return r

    return jax.tree_util.tree_map(place, target, restored)


def _shape(leaf: Any) -> tuple[int, ...]:
    shape = getattr(leaf, "shape", None)  # arrays and orbax's ArrayMetadata
    return tuple(shape) if shape is not None else np.shape(leaf)


def _check_fits(expected: Any, raw: Any, path: Path) -> None:
    """Same leaf paths and shapes (flax would silently take whatever is stored)."""
    if not isinstance(expected, Mapping) or not isinstance(raw, Mapping):
        if isinstance(expected, Mapping) != isinstance(raw, Mapping):
            raise CheckpointError(f"checkpoint {path} does not fit: it holds a "
                                  f"{type(raw).__name__}, the target a "
                                  f"{type(expected).__name__}")
        return
    want = {p: _shape(v) for p, v in flatten(expected)}
    have = {p: _shape(v) for p, v in flatten(raw)}
    missing = sorted("/".join(map(str, p)) for p in want.keys() - have.keys())
    extra = sorted("/".join(map(str, p)) for p in have.keys() - want.keys())
    wrong = sorted(f"{'/'.join(map(str, p))} {list(have[p])} (expected {list(s)})"
                   for p, s in want.items() if p in have and have[p] != s)
    if missing or extra or wrong:
        parts = [f"missing {', '.join(missing[:8])}" if missing else "",
                 f"unexpected {', '.join(extra[:8])}" if extra else "",
                 f"wrong shape {', '.join(wrong[:8])}" if wrong else ""]
        raise CheckpointError(f"checkpoint {path} does not fit: "
                              + "; ".join(p for p in parts if p)
                              + ". Restore it into the model or state it was saved from, "
                                "or pass target=None for the raw arrays")


def _orbax() -> Any:
    try:
        import orbax.checkpoint as ocp
    except ImportError:  # pragma: no cover - depends on the environment
        raise CheckpointError("format='orbax' needs the orbax-checkpoint package "
                              "(pip install orbax-checkpoint); msgpack needs nothing") from None
    return ocp
