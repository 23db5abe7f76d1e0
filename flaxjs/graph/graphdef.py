"""A TF.js graph model's ``modelTopology`` (a TensorFlow ``GraphDef`` in protobuf JSON).

Both JSON dialects the TF.js converter has written are read into the same plain
values: the newer one (dtype names such as ``"DT_FLOAT"``, base64 strings) and the
older one (dtype enum numbers, strings as byte lists, every list field present
and empty, constants inline in ``floatVal``/``intVal``). Dtypes are narrowed the
way TF.js narrows them (``operation_mapper.ts``): int64 and the small integer
types become int32, float64 and half become float32.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ModelFormatError

#: TensorFlow ``DataType`` enum numbers (``types.proto``) → names.
_DTYPE_ENUM = {
    1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8",
    7: "DT_STRING", 8: "DT_COMPLEX64", 9: "DT_INT64", 10: "DT_BOOL", 14: "DT_BFLOAT16",
    17: "DT_UINT16", 18: "DT_COMPLEX128", 19: "DT_HALF", 20: "DT_RESOURCE", 21: "DT_VARIANT",
    22: "DT_UINT32", 23: "DT_UINT64",
}

#: TensorFlow dtype name → the dtype TF.js computes in (``parseDtypeParam`` of TF.js 4.22;
#: the others, int16 and bfloat16 among them, TF.js cannot run).
NARROWED = {
    "DT_FLOAT": "float32", "DT_DOUBLE": "float32", "DT_HALF": "float32",
    "DT_INT32": "int32", "DT_INT64": "int32", "DT_UINT8": "int32", "DT_INT8": "int32",
    "DT_BOOL": "bool", "DT_STRING": "string",
    "DT_COMPLEX64": "complex64", "DT_COMPLEX128": "complex64",
}


@dataclasses.dataclass(frozen=True)
class DType:
    """A ``type`` attribute: the TensorFlow name and the dtype TF.js computes in."""

    tf_name: str

    @property
    def name(self) -> str:
        """``float32``, ``int32``, ``bool``, ``string``, ``complex64``, ``resource``..."""
        return NARROWED.get(self.tf_name, self.tf_name.lower().removeprefix("dt_"))

    @property
    def numpy(self) -> np.dtype:
        """The NumPy dtype of values of this type (object for strings)."""
        name = self.name
        if name in ("float32", "int32", "bool", "complex64"):
            return np.dtype(name)
        if name == "string":
            return np.dtype(object)
        raise ModelFormatError(f"TensorFlow dtype {self.tf_name} has no TF.js counterpart "
                               "(TF.js cannot run it either)")

    @staticmethod
    def of(name: str) -> DType:
        """``DType.of("float32")``: the TensorFlow type of a NumPy dtype name."""
        return DType("DT_" + {"float32": "FLOAT", "float64": "DOUBLE", "float16": "HALF"}.get(
            name, name.upper()))


@dataclasses.dataclass(frozen=True)
class FuncRef:
    """A ``func`` attribute: the name of a ``library.function``."""

    name: str


@dataclasses.dataclass(frozen=True)
class TensorRef:
    """One output of a node: ``node`` (output 0) or ``node:k`` in the GraphDef's inputs."""

    node: str
    index: int = 0

    def __str__(self) -> str:
        return self.node if self.index == 0 else f"{self.node}:{self.index}"

    @staticmethod
    def parse(text: str) -> TensorRef:
        """``"n"``, ``"n:2"`` and, inside functions, ``"n:out_name:2"``."""
        parts = text.rsplit(":", 2) if text.count(":") >= 2 else text.rsplit(":", 1)
        if len(parts) >= 2 and parts[-1].isdigit():
            return TensorRef(parts[0], int(parts[-1]))
        return TensorRef(text, 0)


@dataclasses.dataclass(frozen=True)
class NodeDef:
    """One node of the graph, its attributes decoded to plain Python values."""

    name: str
    op: str
    inputs: tuple[TensorRef, ...]
    control: tuple[str, ...]
    attrs: Mapping[str, Any]

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


def _bytes(value: Any, where: str) -> bytes:
    if isinstance(value, list):  # old dialect: a list of byte values
        return bytes(int(v) & 0xFF for v in value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise ModelFormatError(f"{where}: string attribute {value!r} is not base64") from None
    raise ModelFormatError(f"{where}: string attribute of type {type(value).__name__}")


def _text(value: Any, where: str) -> str:
    return _bytes(value, where).decode("utf-8", errors="replace")


def dtype_of(value: Any, where: str) -> DType:
    """A ``type`` value: a name (``"DT_FLOAT"``) or, in the old dialect, an enum number."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        name = _DTYPE_ENUM.get(int(value))
        if name is None:
            raise ModelFormatError(f"{where}: unknown TensorFlow dtype number {value}")
        return DType(name)
    if isinstance(value, str) and value.startswith("DT_"):
        return DType(value)
    raise ModelFormatError(f"{where}: unknown TensorFlow dtype {value!r}")


def shape_of(value: Any, where: str) -> tuple[int | None, ...] | None:
    """A ``TensorShapeProto``: ``None`` for unknown rank, ``None`` for each unknown dim."""
    if not isinstance(value, Mapping):
        raise ModelFormatError(f"{where}: a shape must be an object, got {value!r}")
    if value.get("unknownRank"):
        return None
    dims = []
    for dim in value.get("dim") or []:
        size = int(dim.get("size", 0)) if isinstance(dim, Mapping) else int(dim)
        dims.append(None if size < 0 else size)
    return tuple(dims)


def tensor_of(value: Mapping[str, Any], where: str) -> tuple[DType, tuple[int, ...], Any]:
    """A ``TensorProto``: its dtype, shape and inline values (``None`` when there are none)."""
    dtype = dtype_of(value.get("dtype", "DT_FLOAT"), where)
    shape = tuple(d or 0 for d in (shape_of(value.get("tensorShape") or {}, where) or ()))
    fields = {"DT_FLOAT": "floatVal", "DT_DOUBLE": "doubleVal", "DT_HALF": "halfVal",
              "DT_INT32": "intVal", "DT_INT16": "intVal", "DT_INT8": "intVal",
              "DT_UINT8": "intVal", "DT_UINT16": "intVal", "DT_INT64": "int64Val",
              "DT_BOOL": "boolVal", "DT_STRING": "stringVal"}
    raw = value.get(fields.get(dtype.tf_name, ""))
    content = value.get("tensorContent")
    if content:
        storage = {"DT_FLOAT": "<f4", "DT_DOUBLE": "<f8", "DT_INT32": "<i4", "DT_INT64": "<i8",
                   "DT_UINT8": "u1", "DT_INT8": "i1", "DT_INT16": "<i2", "DT_UINT16": "<u2",
                   "DT_BOOL": "u1", "DT_HALF": "<f2"}.get(dtype.tf_name)
        if storage is None:
            raise ModelFormatError(f"{where}: tensorContent of dtype {dtype.tf_name}")
        flat = np.frombuffer(_bytes(content, where), storage)
        return dtype, shape, flat.astype(dtype.numpy).reshape(shape)
    if not raw:
        return dtype, shape, None
    if dtype.name == "string":
        flat = np.array([_text(v, where) for v in raw], dtype=object)
    elif dtype.tf_name == "DT_HALF":  # halfVal holds the float16 bit patterns
        flat = np.array([int(v) for v in raw], np.uint16).view(np.float16).astype(np.float32)
    else:
        flat = np.array([float(v) if dtype.name == "float32" else
                         (bool(v) if dtype.name == "bool" else int(v)) for v in raw],
                        dtype.numpy)
    size = int(np.prod(shape))
    if flat.size == size:
        return dtype, shape, flat.reshape(shape)
    if flat.size == 1 or size == 0:  # TensorFlow repeats the last value
        return dtype, shape, np.full(shape, flat.reshape(-1)[-1] if flat.size else 0, flat.dtype)
    padded = np.concatenate([flat, np.full(size - flat.size, flat[-1], flat.dtype)])
    return dtype, shape, padded[:size].reshape(shape)


def attr_value(value: Any, where: str) -> Any:
    """One ``AttrValue`` as a Python value: int, float, bool, str, DType, shape, list..."""
    if not isinstance(value, Mapping):
        raise ModelFormatError(f"{where}: an attribute must be an object, got {value!r}")
    if "list" in value:
        items = value["list"] or {}
        for key in ("i", "f", "b", "s", "type", "shape", "tensor", "func"):
            if items.get(key):
                return [_scalar(key, v, where) for v in items[key]]
        return []
    for key in ("i", "f", "b", "s", "type", "shape", "tensor", "func", "placeholder"):
        if key in value:
            return _scalar(key, value[key], where)
    return None


def _scalar(key: str, v: Any, where: str) -> Any:
    if key == "i":
        return int(v)
    if key == "f":
        return float(v)
    if key == "b":
        return bool(v)
    if key == "s":
        return _text(v, where)
    if key == "type":
        return dtype_of(v, where)
    if key == "shape":
        return shape_of(v, where)
    if key == "tensor":
        return tensor_of(v, where)
    if key == "func":
        return FuncRef(str(v.get("name", "")) if isinstance(v, Mapping) else str(v))
    return v


def parse_node(raw: Any, where: str) -> NodeDef:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) \
            or not isinstance(raw.get("op"), str):
        raise ModelFormatError(f"{where}: every node needs a string 'name' and 'op', got "
                               f"{str(raw)[:200]}")
    name = raw["name"]
    inputs, control = [], []
    for text in raw.get("input") or []:
        if not isinstance(text, str):
            raise ModelFormatError(f"{where}: node {name!r} has a non-string input {text!r}")
        if text.startswith("^"):
            control.append(text[1:])
        else:
            inputs.append(TensorRef.parse(text))
    attrs_raw = raw.get("attr") or {}
    if not isinstance(attrs_raw, Mapping):
        raise ModelFormatError(f"{where}: node {name!r} has a non-object 'attr'")
    attrs = {k: attr_value(v, f"{where}: node {name!r} attribute {k!r}")
             for k, v in attrs_raw.items()}
    return NodeDef(name, raw["op"], tuple(inputs), tuple(control), attrs)


def parse_nodes(raw: Any, where: str) -> dict[str, NodeDef]:
    """The ``node`` list of a GraphDef as ``{name: NodeDef}`` (names must be unique)."""
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise ModelFormatError(f"{where}: 'node' must be a list")
    nodes: dict[str, NodeDef] = {}
    for i, item in enumerate(raw):
        node = parse_node(item, f"{where} node {i}")
        if node.name in nodes:
            raise ModelFormatError(f"{where}: two nodes are named {node.name!r}")
        nodes[node.name] = node
    return nodes


def attr_json(value: Any) -> dict[str, Any]:
    """A Python value as a protobuf-JSON ``AttrValue`` in the newer dialect (what
    :func:`attr_value` reads back): bool, int, float, str, :class:`DType` or a list."""
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, str):
        return {"s": base64.b64encode(value.encode()).decode()}
    if isinstance(value, DType):
        return {"type": value.tf_name}
    if isinstance(value, FuncRef):
        return {"func": {"name": value.name}}
    if isinstance(value, (list, tuple)):
        if not value:
            return {"list": {}}
        key = next(iter(attr_json(value[0])))
        return {"list": {key: [attr_json(v)[key] for v in value]}}
    raise TypeError(f"cannot write attribute value {value!r}")


def const_node(name: str, value: np.ndarray) -> dict[str, Any]:
    """A ``Const`` node whose value is in the weights manifest (as the converter writes it)."""
    dtype = DType.of(value.dtype.name).tf_name
    dims = [{"size": str(d)} for d in value.shape]
    return {"name": name, "op": "Const", "attr": {
        "dtype": {"type": dtype}, "value": {"tensor": {"dtype": dtype, "tensorShape": {
            "dim": dims}}}}}
