"""Save and restore a whole :class:`TrainState` (step, params, batch_stats, optimizer, RNG).

The default format is one flax ``serialization`` msgpack file (single host;
sharded arrays are gathered first). With ``backend="orbax"`` (needs
``orbax-checkpoint``) a directory is written by orbax, which every process of a
multi-host run calls together. Restoring needs a *target* state with the same
structure (e.g. a fresh ``TrainState.create(...)``): it provides the static
parts (``apply_fn``, ``tx``, trainable flags) and the device placement.

Example:
  >>> save_checkpoint("run/state.msgpack", state)                     # doctest: +SKIP
  >>> fresh = TrainState.create(model, tx)                             # doctest: +SKIP
  >>> state = restore_checkpoint("run/state.msgpack", fresh)          # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import jax
from flax import serialization

from .state import TrainState

Backend = Literal["msgpack", "orbax"]


def _place_like(target: Any, restored: Any) -> Any:
    """Put restored arrays where the target's arrays live (same shardings)."""

    def place(t: Any, r: Any) -> Any:
        sharding = getattr(t, "sharding", None)
        return jax.device_put(r, sharding) if sharding is not None else jax.device_put(r)

    return jax.tree_util.tree_map(place, target, restored)


def save_checkpoint(path: str | os.PathLike[str], state: TrainState, *,
                    backend: Backend = "msgpack") -> Path:
    """Write ``state``; returns the path written.

    Args:
      path: a file (msgpack) or a directory that must not exist yet (orbax).
      state: the train state (possibly sharded).
      backend: ``"msgpack"`` (flax serialization, single host) or ``"orbax"``.
    """
    path = Path(path)
    if backend == "orbax":
        checkpointer = _orbax().StandardCheckpointer()
        checkpointer.save(path.absolute(), serialization.to_state_dict(state))
        checkpointer.wait_until_finished()
        return path
    if backend != "msgpack":
        raise ValueError(f"unknown checkpoint backend {backend!r} (msgpack or orbax)")
    data = serialization.to_bytes(jax.device_get(state))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def restore_checkpoint(path: str | os.PathLike[str], target: TrainState, *,
                       backend: Backend | None = None) -> TrainState:
    """Read a state written by :func:`save_checkpoint` into the structure of ``target``.

    Args:
      path: what :func:`save_checkpoint` wrote.
      target: a state of the same model and optimizer (its values are replaced).
      backend: ``None`` guesses from the path (a directory → orbax).
    """
    path = Path(path)
    if backend is None:
        backend = "orbax" if path.is_dir() else "msgpack"
    if backend == "orbax":
        template = serialization.to_state_dict(target)
        abstract = jax.tree_util.tree_map(_abstract, template)
        restored = _orbax().StandardCheckpointer().restore(path.absolute(), abstract)
        state = serialization.from_state_dict(target, _fill_empty(template, restored))
    elif backend == "msgpack":
        state = serialization.from_bytes(jax.device_get(target), path.read_bytes())
    else:
        raise ValueError(f"unknown checkpoint backend {backend!r} (msgpack or orbax)")
    return _place_like(target, state)


def _abstract(leaf: Any) -> Any:
    if isinstance(leaf, jax.Array):
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
    return leaf


def _fill_empty(template: Any, restored: Any) -> Any:
    """Orbax drops empty subtrees (``optax.MaskedNode``, ``EmptyState``): put them back."""
    if isinstance(template, dict):
        restored = restored if isinstance(restored, dict) else {}
        return {k: _fill_empty(v, restored.get(k)) for k, v in template.items()}
    return restored


def _orbax() -> Any:
    try:
        import orbax.checkpoint as ocp
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("backend='orbax' needs the orbax-checkpoint package "
                          "(pip install orbax-checkpoint)") from err
    return ocp
