"""Reading a model's weight files in manifest order, with errors that name what is missing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import ShardSizeError, SourceError, UnsafePathError
from ..io.paths import check_relative
from ..io.source import Artifacts
from .decode import check_stream_size
from .manifest import Manifest

T = TypeVar("T")


def read_shards(artifacts: Artifacts, manifest: Manifest) -> list[bytes]:
    """Every shard in stream order; a missing one names the weights it would hold.

    Paths are checked first, then the files' sizes against the manifest (where the
    source knows them without reading), and only then is anything read.
    """
    for path in manifest.paths:  # refuse unsafe paths before reading anything
        check_relative(path, model=artifacts.location)
    sizes: list[int] = []
    for i in range(len(manifest.paths)):
        size = _attempt(artifacts, manifest, i, sum(sizes), artifacts.shard_size)
        if size is None:
            break
        sizes.append(size)
    else:
        check_stream_size(manifest, sizes)
    shards: list[bytes] = []
    total, start = manifest.total_bytes, 0
    for i in range(len(manifest.paths)):
        limit = None if total is None else max(total - start, 0)
        shards.append(_attempt(artifacts, manifest, i, start, artifacts.read_shard, limit))
        start += len(shards[-1])
    return shards


def _attempt(artifacts: Artifacts, manifest: Manifest, i: int, start: int,
             action: Callable[..., T], *args: Any) -> T:
    """``action(path, *args)`` of the ``i``-th shard; a failure names the file and first
    weight."""
    path = manifest.paths[i]
    try:
        return action(path, *args)
    except UnsafePathError:
        raise
    except SourceError as err:
        first = _first_weight_at(manifest, start)
        total = manifest.total_bytes
        raise ShardSizeError(
            f"weight file {path!r} ({i + 1} of {len(manifest.paths)}) of "
            f"{artifacts.location} could not be read: {err}. The manifest needs "
            f"{total if total is not None else 'an unknown number of'} bytes in total; "
            f"the files before it hold {start}. First weight affected: {first!r}. "
            "Re-download the model with all its weight files.") from err


def _first_weight_at(manifest: Manifest, offset: int) -> str | None:
    position = 0
    for entry in manifest.entries:
        size = entry.nbytes or 0
        if position + size > offset or (size == 0 and position >= offset):
            return entry.name
        position += size
    return None
