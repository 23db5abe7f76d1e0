"""The ``weightsManifest`` of a model.json: which weights, in which byte order.

TF.js concatenates the shard files of *all* groups in manifest order into one
byte stream and walks all groups' weight entries over it (``tfjs-core/src/io``),
so a weight may start in one file and end in the next.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import WeightsError

#: bytes per element of every storage dtype TF.js (and its Python converter) writes.
ELEMENT_BYTES = {
    "float32": 4, "int32": 4, "bool": 1, "complex64": 8,
    "uint8": 1, "uint16": 2, "float16": 2,
}

QUANTIZED_DTYPES = ("uint8", "uint16", "float16")


@dataclasses.dataclass(frozen=True)
class Quantization:
    """How a weight was compressed: ``q * scale + min`` (uint8/uint16) or float16 bits."""

    dtype: str
    scale: float | None = None
    min: float | None = None


@dataclasses.dataclass(frozen=True)
class WeightEntry:
    """One weight of the manifest: its name, logical dtype and shape, and its encoding."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    quantization: Quantization | None = None
    group: str | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def storage_dtype(self) -> str:
        return self.quantization.dtype if self.quantization else self.dtype

    @property
    def nbytes(self) -> int | None:
        """Bytes taken in the stream; ``None`` for strings (known only by reading)."""
        if self.storage_dtype == "string":
            return None
        return self.size * ELEMENT_BYTES[self.storage_dtype]


@dataclasses.dataclass(frozen=True)
class Manifest:
    """All weight groups: the shard paths in stream order and the entries."""

    paths: tuple[str, ...]
    entries: tuple[WeightEntry, ...]
    group_of_path: tuple[int, ...]

    @property
    def total_bytes(self) -> int | None:
        sizes = [e.nbytes for e in self.entries]
        known = [s for s in sizes if s is not None]
        return sum(known) if len(known) == len(sizes) else None


def _parse_quantization(name: str, raw: Mapping[str, Any], dtype: str) -> Quantization:
    qdtype = raw.get("dtype")
    if qdtype not in QUANTIZED_DTYPES:
        raise WeightsError(f"weight {name!r}: unknown quantization dtype {qdtype!r} "
                           f"(expected one of {', '.join(QUANTIZED_DTYPES)})")
    if qdtype == "float16":
        if dtype != "float32":
            raise WeightsError(f"weight {name!r}: float16 quantization needs dtype float32, "
                               f"got {dtype!r}")
        return Quantization("float16")
    if dtype not in ("float32", "int32"):
        raise WeightsError(f"weight {name!r}: {qdtype} quantization of dtype {dtype!r} "
                           "is not defined (only float32 and int32)")
    try:
        return Quantization(qdtype, float(raw["scale"]), float(raw["min"]))
    except (KeyError, TypeError, ValueError) as err:
        raise WeightsError(f"weight {name!r}: {qdtype} quantization needs numeric "
                           f"'scale' and 'min', got {dict(raw)!r}") from err


def _parse_entry(raw: Any, where: str) -> WeightEntry:
    if not isinstance(raw, Mapping) or "name" not in raw:
        raise WeightsError(f"{where}: a weight entry must be an object with a 'name', got {raw!r}")
    name = str(raw["name"])
    dtype = raw.get("dtype", "float32")
    if dtype not in ELEMENT_BYTES and dtype != "string":
        raise WeightsError(f"weight {name!r}: unsupported dtype {dtype!r}")
    shape = raw.get("shape", [])
    if not isinstance(shape, Sequence) or not all(
            isinstance(d, int) and d >= 0 for d in shape):
        raise WeightsError(f"weight {name!r}: shape must be a list of non-negative ints, "
                           f"got {shape!r}")
    quant = raw.get("quantization")
    return WeightEntry(
        name=name, shape=tuple(shape), dtype=dtype,
        quantization=_parse_quantization(name, quant, dtype) if quant else None,
        group=raw.get("group"))


def parse_manifest(raw: Any, *, source: str = "model.json") -> Manifest:
    """Validate a ``weightsManifest`` list and flatten it into stream order."""
    if raw is None:
        return Manifest((), (), ())
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise WeightsError(f"{source}: weightsManifest must be a list of groups")
    paths: list[str] = []
    groups: list[int] = []
    entries: list[WeightEntry] = []
    for g, group in enumerate(raw):
        if not isinstance(group, Mapping):
            raise WeightsError(f"{source}: weightsManifest[{g}] must be an object")
        group_paths = group.get("paths", [])
        if not isinstance(group_paths, Sequence) or not all(
                isinstance(p, str) for p in group_paths):
            raise WeightsError(f"{source}: weightsManifest[{g}].paths must be a list of strings")
        paths.extend(group_paths)
        groups.extend([g] * len(group_paths))
        for i, w in enumerate(group.get("weights", [])):
            entries.append(_parse_entry(w, f"{source}: weightsManifest[{g}].weights[{i}]"))
    return Manifest(tuple(paths), tuple(entries), tuple(groups))
