"""The ``weightsManifest`` of a model.json: which weights, in which byte order.

TF.js concatenates the shard files of *all* groups in manifest order into one
byte stream and walks all groups' weight entries over it (``tfjs-core/src/io``),
so a weight may start in one file and end in the next.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
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


#: the highest rank a weight may have (TF.js's own tensors stop far below).
MAX_RANK = 64

_STORAGE = (*ELEMENT_BYTES, "string")


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range
        return False


def _is_dim(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Checker:
    """Validates one manifest object's fields; every error names the object and the field."""

    def __init__(self, raw: Mapping[str, Any], where: str):
        self.raw, self.where = raw, where

    def field(self, key: str, ok: Callable[[Any], bool], expected: str, default: Any) -> Any:
        value = self.raw.get(key, default)
        if not ok(value):
            raise WeightsError(f"{self.where}, field {key!r}: expected {expected}, got "
                               f"{_show(value)}; the weightsManifest is damaged, re-convert "
                               "or re-download the model")
        return value


def _parse_quantization(name: str, raw: Mapping[str, Any], dtype: str,
                        check: _Checker) -> Quantization:
    qdtype = check.field("quantization", lambda q: q.get("dtype") in QUANTIZED_DTYPES,
                         f"an object whose dtype is one of {', '.join(QUANTIZED_DTYPES)}",
                         None)["dtype"]
    if qdtype == "float16":
        if dtype != "float32":
            raise WeightsError(f"weight {name!r}: float16 quantization needs dtype float32, "
                               f"got {dtype!r}")
        return Quantization("float16")
    if dtype not in ("float32", "int32"):
        raise WeightsError(f"weight {name!r}: {qdtype} quantization of dtype {dtype!r} "
                           "is not defined (only float32 and int32)")
    fields = _Checker(raw, f"{check.where}, quantization")
    scale = fields.field("scale", _is_number, "a finite number", None)
    low = fields.field("min", _is_number, "a finite number", None)
    return Quantization(qdtype, float(scale), float(low))


def _parse_entry(raw: Any, where: str) -> WeightEntry:
    if not isinstance(raw, Mapping):
        raise WeightsError(f"{where}: a weight entry must be an object with a 'name', "
                           f"got {_show(raw)}")
    name = _Checker(raw, where).field("name", lambda v: isinstance(v, str), "a string", None)
    check = _Checker(raw, f"{where} (weight {name!r})")
    dtype = check.field("dtype", lambda v: isinstance(v, str) and v in _STORAGE,
                        f"one of {', '.join(_STORAGE)}", "float32")
    shape = check.field("shape", lambda v: _is_list(v) and len(v) <= MAX_RANK
                        and all(_is_dim(d) for d in v),
                        f"a list of at most {MAX_RANK} non-negative ints", [])
    quant = check.field("quantization", lambda v: v is None or isinstance(v, Mapping),
                        "an object", None)
    group = check.field("group", lambda v: v is None or isinstance(v, str), "a string", None)
    return WeightEntry(
        name=name, shape=tuple(shape), dtype=dtype,
        quantization=_parse_quantization(name, quant, dtype, check) if quant else None,
        group=group)


def parse_manifest(raw: Any, *, source: str = "model.json") -> Manifest:
    """Validate a ``weightsManifest`` list (every field's type, in one pass) and flatten it
    into stream order."""
    if raw is None:
        return Manifest((), (), ())
    if not _is_list(raw):
        raise WeightsError(f"{source}: weightsManifest must be a list of groups, "
                           f"got {_show(raw)}")
    paths: list[str] = []
    groups: list[int] = []
    entries: list[WeightEntry] = []
    for g, group in enumerate(raw):
        where = f"{source}: weightsManifest[{g}]"
        if not isinstance(group, Mapping):
            raise WeightsError(f"{where} must be an object, got {_show(group)}")
        check = _Checker(group, where)
        group_paths = check.field("paths", lambda v: _is_list(v) and all(
            isinstance(p, str) for p in v), "a list of strings", [])
        weights = check.field("weights", _is_list, "a list of weight entries", [])
        paths.extend(group_paths)
        groups.extend([g] * len(group_paths))
        for i, w in enumerate(weights):
            entries.append(_parse_entry(w, f"{where}.weights[{i}]"))
    return Manifest(tuple(paths), tuple(entries), tuple(groups))
