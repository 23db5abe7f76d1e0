"""Decode the concatenated shard bytes into numpy arrays, exactly as TF.js does.

Dequantization is computed in float64 and rounded once to float32 (int32 targets
are rounded like JavaScript's ``Math.round``, half towards +inf), so the decoded
values are bit-identical to TF.js's (``tfjs-core/src/io/io_utils.ts``:
``decodeWeight``); it is computed once per possible code (256 or 65,536) and looked
up. Every array is allocated so that JAX's CPU client adopts it without a copy: the
shard bytes are read once, and only weights that straddle shards are joined.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

import numpy as np

from ..errors import ShardSizeError, WeightsError
from ..hostmem import aligned_empty, frozen, parallel_map
from .manifest import Manifest, WeightEntry

#: dequantized values from which decoding spreads over threads (numpy releases the GIL;
#: the first touch of fresh memory, not arithmetic, is most of the time).
PARALLEL_DECODE_MIN = 1 << 20

#: the most bytes the text of all string weights may take (TF.js sets no limit; flaxjs
#: refuses larger shards before reading them rather than read any size whole).
MAX_STRING_BYTES = 1 << 28

_NUMPY_STORAGE = {
    "float32": "<f4", "int32": "<i4", "bool": "u1", "uint8": "u1",
    "uint16": "<u2", "float16": "<f2", "complex64": "<c8",
}


def _read(entry: WeightEntry, buf: memoryview, offset: int) -> tuple[np.ndarray, int]:
    """The stored values of ``entry`` (a view of ``buf``) and the offset after them."""
    if entry.storage_dtype == "string":
        return _decode_strings(entry, buf, offset)
    raw = np.frombuffer(buf, _NUMPY_STORAGE[entry.storage_dtype], entry.size, offset)
    return raw, offset + raw.nbytes


def _convert(entry: WeightEntry, raw: np.ndarray) -> np.ndarray:
    """The stored values as the weight's dtype and shape."""
    q = entry.quantization
    if entry.storage_dtype == "string":
        return raw
    if q is None and entry.dtype == "bool":
        value = raw.astype(bool)
    elif q is None or q.dtype == "float16":
        # copied out of the shard bytes, which JAX must never share or reuse
        value = aligned_empty(raw.shape, raw.dtype.newbyteorder("=") if q is None
                              else np.float32)
        np.copyto(value, raw)
        frozen(value)
    else:  # every stored code's value, computed once, then looked up
        assert q.scale is not None and q.min is not None  # set for uint8/uint16 when parsed
        codes = np.arange(np.iinfo(raw.dtype).max + 1, dtype=np.float64)
        real = codes * q.scale + q.min
        # Math.round: half rounds up (towards +inf).
        table = np.floor(real + 0.5).astype(np.int32) if entry.dtype == "int32" \
            else real.astype(np.float32)
        value = frozen(np.take(table, raw, out=aligned_empty(raw.shape, table.dtype),
                               mode="clip"))
    return value.reshape(entry.shape)


def _decode_strings(entry: WeightEntry, buf: memoryview, offset: int) -> tuple[np.ndarray, int]:
    out = []
    for _ in range(entry.size):
        if offset + 4 > len(buf):
            raise ShardSizeError(f"weight {entry.name!r}: string data runs past the end of the "
                                 f"shards at byte {offset}")
        n = int.from_bytes(buf[offset:offset + 4], "little")
        offset += 4
        if offset + n > len(buf):
            raise ShardSizeError(f"weight {entry.name!r}: string of {n} bytes runs past the end "
                                 f"of the shards at byte {offset}")
        try:
            out.append(bytes(buf[offset:offset + n]).decode("utf-8"))
        except UnicodeDecodeError as err:
            raise WeightsError(
                f"weight {entry.name!r} (dtype string): element {len(out)} is not UTF-8 "
                f"(byte {offset + err.start} of the weight stream: {err.reason}); the shard "
                "is damaged or does not belong to this manifest") from None
        offset += n
    return np.array(out, dtype=object).reshape(entry.shape), offset


def _short_shard_error(manifest: Manifest, sizes: Sequence[int], entry: WeightEntry,
                       offset: int, needed: int) -> ShardSizeError:
    """Name the short file (the first one smaller than the others of its group) and the
    first weight whose bytes it should hold."""
    total = sum(sizes)
    culprit = len(sizes) - 1
    for i, size in enumerate(sizes[:-1]):
        group = manifest.group_of_path[i]
        same_group = [s for s, g in zip(sizes, manifest.group_of_path, strict=True) if g == group]
        if size == 0 or (size < max(same_group) and manifest.group_of_path[i + 1] == group):
            culprit = i
            break
    if culprit >= 0:
        end_of_culprit = sum(sizes[:culprit + 1])
        position = 0
        for candidate in manifest.entries:
            size = candidate.nbytes or 0
            if position + size > end_of_culprit:
                entry, offset, needed = candidate, position, size
                break
            position += size
    name = manifest.paths[culprit] if manifest.paths else "(no weight files)"
    expected = manifest.total_bytes
    exp = f"{expected} bytes" if expected is not None else f"at least {offset + needed} bytes"
    return ShardSizeError(
        f"weight files too short: the manifest needs {exp} but the {len(sizes)} file(s) hold "
        f"{total} bytes (sizes: {dict(zip(manifest.paths, sizes, strict=True))}); "
        f"likely culprit {name!r}. "
        f"First weight affected: {entry.name!r} at bytes [{offset}, {offset + needed}). "
        "Re-download the model or check that every shard listed in weightsManifest is complete.")


def check_stream_size(manifest: Manifest, sizes: Sequence[int]) -> None:
    """Raise when shards of ``sizes`` bytes cannot hold exactly the manifest's weights.

    Called with the files' ``stat`` sizes before any is read (so a sparse 16 GiB file
    is refused unread) and again by :func:`decode_weights`. String weights take 4
    bytes per element plus their text, known only by reading; their text may take
    :data:`MAX_STRING_BYTES` at most.
    """
    expected = manifest.total_bytes
    total = sum(sizes)
    if expected is None:
        least = sum(e.nbytes if e.nbytes is not None else 4 * e.size for e in manifest.entries)
        if not least <= total <= least + MAX_STRING_BYTES:
            raise ShardSizeError(
                f"weight files hold {total} bytes but the manifest's weights take between "
                f"{least} and {least + MAX_STRING_BYTES} bytes (string weights included; "
                f"files: {dict(zip(manifest.paths, sizes, strict=True))}). The manifest and "
                "shards do not belong together.")
        return
    if total == expected:
        return
    if total < expected:
        offset = 0
        for entry in manifest.entries:
            needed = entry.nbytes or 0
            if offset + needed > total:
                raise _short_shard_error(manifest, sizes, entry, offset, needed)
            offset += needed
    raise _trailing_bytes_error(manifest, sizes, expected)


def _trailing_bytes_error(manifest: Manifest, sizes: Sequence[int], used: int) -> ShardSizeError:
    total = sum(sizes)
    return ShardSizeError(
        f"weight files hold {total} bytes but the manifest describes only {used}; "
        f"{total - used} trailing bytes after the last weight "
        f"(files: {dict(zip(manifest.paths, sizes, strict=True))}). The manifest and "
        "shards do not belong together.")


def decode_weights(manifest: Manifest, shards: Sequence[bytes]) -> dict[str, np.ndarray]:
    """Decode every non-optimizer weight; a duplicated name keeps the last entry (as TF.js).

    Args:
      manifest: the parsed manifest.
      shards: the bytes of ``manifest.paths``, in the same order.

    Returns:
      ``{manifest name: array}`` in manifest order.
    """
    if len(shards) != len(manifest.paths):
        raise WeightsError(f"expected {len(manifest.paths)} weight files, got {len(shards)}")
    sizes = [len(s) for s in shards]
    check_stream_size(manifest, sizes)
    stream = _Stream(shards)
    offset = 0
    stored: list[tuple[WeightEntry, np.ndarray]] = []
    for entry in manifest.entries:
        needed = entry.nbytes
        if needed is not None and offset + needed > stream.size:
            raise _short_shard_error(manifest, sizes, entry, offset, needed)
        if needed is None:  # strings: their length is only known while reading them
            raw, end = _read(entry, stream.rest(offset), 0)
            end += offset
        else:
            buf, start = stream.window(offset, needed)
            raw, end = _read(entry, buf, start)
            end += offset - start
        offset = end
        if entry.group != "optimizer":
            stored.append((entry, raw))
    if offset != stream.size:
        raise _trailing_bytes_error(manifest, sizes, offset)
    converted = sum(raw.size for entry, raw in stored if entry.quantization is not None)
    values = parallel_map(lambda item: _convert(*item), stored,
                          threads=converted >= PARALLEL_DECODE_MIN)
    out: dict[str, np.ndarray] = {}
    for (entry, _), value in zip(stored, values, strict=True):
        out.pop(entry.name, None)
        out[entry.name] = value
    return out


class _Stream:
    """The shards as one byte stream without joining them: a weight inside one shard is
    read in place, and only one that straddles shard boundaries is copied together."""

    def __init__(self, shards: Sequence[bytes]):
        self.shards = [memoryview(s) for s in shards]
        self.starts = list(itertools.accumulate((len(s) for s in shards), initial=0))
        self.size = self.starts[-1]

    def window(self, offset: int, length: int) -> tuple[memoryview, int]:
        """A buffer holding bytes ``[offset, offset + length)`` and where they start in it."""
        if not length:
            return memoryview(b""), 0
        i = self._shard_at(offset)
        start = offset - self.starts[i]
        if start + length <= len(self.shards[i]):
            return self.shards[i], start
        return self._join(offset, offset + length), 0

    def rest(self, offset: int) -> memoryview:
        """Every byte from ``offset`` on (joined: only for string weights)."""
        return self._join(offset, self.size)

    def _join(self, offset: int, end: int) -> memoryview:
        """Bytes ``[offset, end)`` copied out of the shards that hold them."""
        if not self.shards:
            return memoryview(b"")
        first, last = self._shard_at(offset), self._shard_at(max(end - 1, offset))
        return memoryview(b"".join(self.shards[k][max(offset - self.starts[k], 0):
                                                  end - self.starts[k]]
                                   for k in range(first, last + 1)))

    def _shard_at(self, offset: int) -> int:
        return min(bisect.bisect_right(self.starts, offset) - 1, len(self.shards) - 1)
