"""Reading a model's weight files in manifest order, with errors that name what is missing."""

from __future__ import annotations

from ..errors import ShardSizeError, SourceError, UnsafePathError
from ..io.paths import check_relative
from ..io.source import Artifacts
from .manifest import Manifest


def read_shards(artifacts: Artifacts, manifest: Manifest) -> list[bytes]:
    """Every shard in stream order; a missing one names the weights it would hold."""
    for path in manifest.paths:  # refuse unsafe paths before reading anything
        check_relative(path, model=artifacts.location)
    shards: list[bytes] = []
    for i, path in enumerate(manifest.paths):
        try:
            shards.append(artifacts.read_shard(path))
        except UnsafePathError:
            raise
        except SourceError as err:
            start = sum(len(s) for s in shards)
            first = _first_weight_at(manifest, start)
            total = manifest.total_bytes
            raise ShardSizeError(
                f"weight file {path!r} ({i + 1} of {len(manifest.paths)}) of "
                f"{artifacts.location} could not be read: {err}. The manifest needs "
                f"{total if total is not None else 'an unknown number of'} bytes in total; "
                f"the files before it hold {start}. First weight affected: {first!r}. "
                "Re-download the model with all its weight files.") from err
    return shards


def _first_weight_at(manifest: Manifest, offset: int) -> str | None:
    position = 0
    for entry in manifest.entries:
        size = entry.nbytes or 0
        if position + size > offset or (size == 0 and position >= offset):
            return entry.name
        position += size
    return None
