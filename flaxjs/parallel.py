"""Data parallelism with ``jax.sharding``: one ``Mesh``, batch split on ``"data"``.

The train state is replicated on every device and each batch is sharded along
its first axis; the jitted steps are unchanged — XLA's SPMD partitioner splits
the forward/backward pass and all-reduces the gradients (and the
BatchNormalization batch statistics, which stay those of the *global* batch).
The same code runs on one CPU, on ``XLA_FLAGS=--xla_force_host_platform_device_count=8``
simulated CPU devices and on a TPU slice.

Multi-host (a TPU pod slice, several GPU hosts): call
``jax.distributed.initialize()`` first thing in every process (on Cloud TPU it
needs no arguments; elsewhere pass ``coordinator_address``, ``num_processes``,
``process_id``), then build the same mesh — ``jax.devices()`` lists every
host's devices. Each process feeds only its own slice of the global batch
(``global_batch // jax.process_count()`` rows, e.g. from
``jax.process_index()``-dependent data sharding); :func:`shard_batch` assembles
the global array with ``jax.make_array_from_process_local_data``. Save
checkpoints from every process with orbax (:mod:`flaxjs.checkpoint`).

Example:
  >>> mesh = data_mesh()                          # every device
  >>> state = replicate(state, mesh)              # doctest: +SKIP
  >>> state, logs = train_step(state, shard_batch((x, y), mesh))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

#: the mesh axis the batch is split along.
DATA = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None, axis: str = DATA) -> Mesh:
    """A one-axis mesh over ``devices`` (default: all devices of all processes)."""
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.array(devices), (axis,))


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding that puts a full copy on every device of ``mesh``."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, axis: str = DATA) -> NamedSharding:
    """The sharding that splits the first axis along ``axis``."""
    return NamedSharding(mesh, PartitionSpec(axis))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Put every array leaf of ``tree`` (e.g. a :class:`TrainState`) on all devices."""
    return jax.device_put(tree, replicated(mesh))


def shard_batch(batch: Any, mesh: Mesh, axis: str = DATA) -> Any:
    """Split every array leaf of ``batch`` along its first axis over ``axis``.

    A leaf whose first dimension the axis size does not divide (a last, short
    batch) is replicated instead: the result is the same, only not split. With
    several processes each passes its local rows and gets the global array.
    """
    size = mesh.shape[axis]
    split = batch_sharding(mesh, axis)
    full = replicated(mesh)
    multi = jax.process_count() > 1

    def place(leaf: Any) -> Any:
        if multi:
            return jax.make_array_from_process_local_data(split, np.asarray(leaf))
        shape = np.shape(leaf)
        if shape and shape[0] % size == 0:
            return jax.device_put(leaf, split)
        return jax.device_put(leaf, full)

    return jax.tree_util.tree_map(place, batch)
