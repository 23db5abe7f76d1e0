"""Normalize the Keras config dialects (Keras 1/2, tf.keras, TF.js, Keras 3) to one form.

The loader works on the raw snake_case JSON but treats values as TF.js does after
its camel-casing (``format.md`` §2.1): e.g. ``"hard_sigmoid"`` and
``"hardSigmoid"`` mean the same thing.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def clean(value: Any) -> Any:
    """Undo serialization wrappers: ``{"type": "ndarray", "value": v}`` and ``TensorShape``."""
    if isinstance(value, Mapping):
        if value.get("type") == "ndarray" and "value" in value and len(value) == 2:
            return clean(value["value"])
        if value.get("class_name") == "TensorShape" and "items" in value:
            return [clean(v) for v in value["items"]]
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def snake(value: str) -> str:
    """``"hardSigmoid"`` → ``"hard_sigmoid"``; already snake_case strings are unchanged."""
    return _CAMEL_BOUNDARY.sub("_", value).lower()


def snake_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """A layer config with camelCase keys (``batchInputShape``) renamed to snake_case.

    TF.js camel-cases every key before reading it, so both spellings mean the same;
    hand-edited files mix them. All-caps keys (NodeDef attributes such as ``T``) are kept.
    """
    out: dict[str, Any] = {}
    for key, value in config.items():
        new = snake(key) if (key != key.lower() and key != key.upper()) else key
        out.setdefault(new, value)
    return out


def camel(value: str) -> str:
    """TF.js's ``toCamelCase``: drop each run of ``_`` and upper-case the next character."""
    return re.sub(r"_+(.)", lambda m: m.group(1).upper(), value)


#: integers a config may hold: TF.js keeps shapes and sizes in int32.
MAX_INT = 2 ** 31 - 1


def is_number(value: Any) -> bool:
    """A finite JSON number: not a bool, not an integer beyond a float's range (NumPy
    scalars count, for configs made in Python)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def is_int(value: Any) -> bool:
    """A JSON integer within int32, or a float with such an integral value (what a JS
    writer may emit for ``2``)."""
    return is_number(value) and float(value).is_integer() and abs(value) <= MAX_INT


#: the dtype names a Keras or TF.js config may give a layer or an input.
DTYPES = frozenset({"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
                    "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string",
                    "complex64"})


def dtype_name(value: Any, default: str = "float32") -> str:
    """The compute dtype of a layer ``dtype`` entry: a string or a (DType)Policy object."""
    if value is None:
        return default
    if isinstance(value, str):
        name = value
    elif isinstance(value, Mapping):
        cfg = value.get("config", {})
        name = cfg.get("name", default) if isinstance(cfg, Mapping) else default
    else:
        return default
    if not isinstance(name, str):
        return default
    if name.startswith("mixed_"):
        return name[len("mixed_"):]
    return name


def variable_dtype(value: Any, default: str = "float32") -> str:
    """The variable dtype of a ``dtype`` entry (``mixed_float16`` keeps float32 variables)."""
    if isinstance(value, Mapping):
        cfg = value.get("config", {})
        name = cfg.get("name", default) if isinstance(cfg, Mapping) else default
        return "float32" if str(name).startswith("mixed_") else str(name)
    return dtype_name(value, default)


def as_tuple(value: Any, n: int, what: str = "value") -> tuple:
    """Expand an int to ``n`` copies; check a list's length (Keras's ``normalize_tuple``)."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            return tuple(value) * n
        if len(value) != n:
            raise ValueError(f"{what} must have {n} elements, got {list(value)}")
        return tuple(value)
    return (value,) * n


def input_shape_of(config: Mapping[str, Any]) -> tuple[int | None, ...] | None:
    """A layer's declared input shape with the batch axis, as TF.js reads it (§3.4)."""
    for key in ("batch_input_shape", "batch_shape"):
        if config.get(key) is not None:
            return tuple(config[key])
    batch = config.get("batch_size")
    if config.get("input_shape") is not None:
        return (batch, *config["input_shape"])
    if config.get("input_dim") is not None:
        return (batch, config["input_dim"])
    if "input_length" in config:
        length = config["input_length"]
        if isinstance(length, (list, tuple)):
            return (batch, *length)
        return (batch, length)
    return None
