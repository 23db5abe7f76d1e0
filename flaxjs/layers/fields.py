"""Declared types of layer config fields, and the one check that runs them before building.

A converter declares the fields it reads once, on its registration::

    @register_layer("Dense", fields={"units": Int(1, required=True)})

and the keys every class shares by meaning (``*_initializer``, ``*_constraint``,
``activation``, ``trainable``, ``dtype``...) are declared once here, in
:data:`COMMON`. :func:`check` runs before a layer's converter (and
``flaxjs.load`` runs it over the whole graph before reading any weight), so a
converter reads checked values and every bad one is a
:class:`~flaxjs.errors.LayerConfigError` naming the layer and the field::

    layer 'conv1' (Conv2D): field 'strides' must be positive integers, got [0, 1]

Values are JSON values: an integral float (``2.0``, what a JS writer may emit) is an
integer, integers stay within int32 (as TF.js's shapes), a bool is never a number, and
NaN or infinity is never a valid number.
A ``null`` is the default unless the field is ``required``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import LayerConfigError
from ..topology import config as cfg
from ..topology.config import is_int, is_number
from ..topology.spec import LayerSpec
from . import activations, constraints, initializers

#: ``problem(value)``: what is wrong with a (non-null) value, as "must be ...", or None.
Problem = Callable[[Any], "str | None"]


@dataclasses.dataclass(frozen=True)
class Field:
    """One config key's type.

    Attributes:
      what: what a valid value is, completing "field 'x' must be ...".
      test: whether a non-null value is valid.
      required: the key must be present and not null.
      explain: for rules a module owns, says what is wrong with a value (see
        :func:`Delegated`).
      nested: the value holds layers whose own fields are checked too (:data:`NESTED`).
    """

    what: str
    test: Callable[[Any], bool]
    required: bool = False
    explain: Problem | None = None
    nested: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is invalid ("is required", "must be ..."), or None when it is valid."""
        if value is None:
            return f"is required ({self.what})" if self.required else None
        if self.explain is not None:
            return self.explain(value)
        return None if self.test(value) else f"must be {self.what}"

    def needed(self) -> Field:
        """This field, required."""
        return dataclasses.replace(self, required=True)


#: a JSON list (a tuple in a config made in Python, e.g. by :mod:`flaxjs.keras`)
_SEQ = (list, tuple)


def _bounded(test: Callable[[Any], bool], lo: float | None, hi: float | None
             ) -> Callable[[Any], bool]:
    return lambda v: test(v) and (lo is None or v >= lo) and (hi is None or v <= hi)


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f" >= {lo:g}"
    return f" <= {hi:g}" if hi is not None else ""


def _int_words(lo: int | None, plural: bool) -> str:
    s = "s" if plural else ""
    if lo in (0, 1):
        return f"{'positive' if lo else 'non-negative'} integer{s}"
    return f"integer{s}{_range(lo, None)}"


def Int(lo: int | None = None, hi: int | None = None, *, required: bool = False) -> Field:
    """An integer in ``[lo, hi]``."""
    words = f"a {_int_words(lo, False)}" if hi is None and lo in (0, 1) else \
        f"an integer{_range(lo, hi)}"
    return Field(words, _bounded(is_int, lo, hi), required)


def Ints(lo: int | None = None, *, required: bool = False, pairs: bool = False,
         empty: bool = False) -> Field:
    """An integer or a list of them, each ``>= lo`` (per-axis sizes, axes); ``pairs``:
    entries may also be ``[before, after]`` lists (padding, cropping); ``empty``: the list
    may be empty (no axes)."""
    one = _bounded(is_int, lo, None)

    def entry(v: Any) -> bool:
        return one(v) or (pairs and isinstance(v, _SEQ) and len(v) == 2 and all(map(one, v)))

    def test(v: Any) -> bool:
        return one(v) or (isinstance(v, _SEQ) and (empty or bool(v)) and all(map(entry, v)))

    words = _int_words(lo, True) + (" or [before, after] pairs" if pairs else "")
    return Field(words, test, required)


def Float(lo: float | None = None, hi: float | None = None, *, required: bool = False
          ) -> Field:
    """A finite number in ``[lo, hi]``."""
    return Field(f"a finite number{_range(lo, hi)}", _bounded(is_number, lo, hi), required)


def Floats(*, required: bool = False) -> Field:
    """A finite number or a non-empty (nested) list of them: per-channel values, ranges,
    an array such as a Normalization layer's ``mean``."""
    def test(v: Any, depth: int = 0) -> bool:
        return is_number(v) or (isinstance(v, _SEQ) and bool(v) and depth < 8
                                and all(test(e, depth + 1) for e in v))

    return Field("a finite number or a (nested) list of them", test, required)


def Str(*choices: str, required: bool = False) -> Field:
    """A string; one of ``choices`` (compared as TF.js does, any case and spelling) when given."""
    if not choices:
        return Field("a string", lambda v: isinstance(v, str), required)
    allowed = {cfg.snake(c) for c in choices}
    return Field("one of " + ", ".join(repr(c) for c in choices),
                 lambda v: isinstance(v, str) and cfg.snake(v) in allowed, required)


def Dims(lo: int = 1, *, required: bool = False) -> Field:
    """A list of sizes, each an integer ``>= lo`` or null (unknown)."""
    one = _bounded(is_int, lo, None)
    return Field(f"a list of {_int_words(lo, True)} or nulls",
                 lambda v: isinstance(v, _SEQ) and all(d is None or one(d) for d in v), required)


def Delegated(what: str, problem: Problem, *, required: bool = False) -> Field:
    """A field whose module knows its rules (initializers, constraints, activations, dtypes):
    ``problem(value)`` says what is wrong, or None."""
    return Field(what, lambda v: problem(v) is None, required, problem)


#: a ``{class_name, config}`` layer (or a list of them) held in the config (wrapped layers,
#: RNN cells): checked against its own class's fields.
NESTED = Field("a {class_name, config} layer or a non-empty list of them",
               lambda v: _nested_entries(v) is not None, nested=True)

BOOL = Field("true or false", lambda v: isinstance(v, bool))
POSITIVE_INTS = Ints(1)
RATE = Float()  # TF.js clamps dropout rates to [0, 1]; NaN or a string would not clamp


def _dtype_problem(value: Any) -> str | None:
    name = cfg.dtype_name(value, "") if isinstance(value, (str, Mapping)) else None
    if name in cfg.DTYPES:
        return None
    return f"must be a dtype ({', '.join(sorted(cfg.DTYPES))}) or a dtype policy"


#: keys every class reads the same way, by exact name or (keys starting with ``*``) suffix.
COMMON: dict[str, Field] = {
    "name": Str(),
    "trainable": BOOL,
    "dtype": Delegated("a dtype", _dtype_problem),
    "activation": Delegated("an activation", activations.problem),
    "recurrent_activation": Delegated("an activation", activations.problem),
    "*_initializer": Delegated("an initializer", initializers.problem),
    "*_constraint": Delegated("a constraint", constraints.problem),
    "use_bias": BOOL,
}


def _common(key: str) -> Field | None:
    field = COMMON.get(key)
    if field is None and "_" in key:
        field = COMMON.get("*_" + key.rsplit("_", 1)[1])
    return field


def _nested_entries(value: Any) -> list[Mapping[str, Any]] | None:
    items = value if isinstance(value, _SEQ) else [value]
    ok = bool(items) and all(isinstance(v, Mapping) and isinstance(v.get("class_name"), str)
             and isinstance(v.get("config", {}) or {}, Mapping) for v in items)
    return list(items) if ok else None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


#: the declared fields of a class (None when it has no registration)
FieldsOf = Callable[[str], "Mapping[str, Field] | None"]


def check(spec: LayerSpec, declared: Mapping[str, Field], fields_of: FieldsOf) -> None:
    """Raise :class:`LayerConfigError` for the first field of ``spec.config`` that is invalid.

    Args:
      spec: the layer.
      declared: its class's fields (on top of :data:`COMMON`).
      fields_of: the declared fields of another class, for nested layers and cells.
    """
    if not isinstance(spec.config, Mapping):
        raise LayerConfigError(spec.name, spec.class_name, "its config must be an object, got "
                               + _short(spec.config))
    message = _first_problem(spec.config, declared, fields_of, "")
    if message is not None:
        raise LayerConfigError(spec.name, spec.class_name, message)


def _first_problem(config: Mapping[str, Any], declared: Mapping[str, Field],
                   fields_of: FieldsOf, prefix: str) -> str | None:
    for key, field in declared.items():
        if field.required and config.get(key) is None:
            return f"field {prefix + key!r} {field.problem(None)}"
    for key, value in config.items():
        rule = declared.get(key) or _common(key)
        if rule is None:
            continue
        problem = rule.problem(value)
        if problem is not None:
            return f"field {prefix + key!r} {problem}, got {_short(value)}"
        if rule.nested and value is not None:
            found = _nested_problem(value, fields_of, f"{prefix}{key}")
            if found is not None:
                return found
    return None


#: how deep wrapped layers and cells may nest (Keras models nest two or three levels)
MAX_NESTING = 32


def _nested_problem(value: Any, fields_of: FieldsOf, path: str) -> str | None:
    if path.count(".") >= MAX_NESTING:
        return f"field {path!r} nests layers more than {MAX_NESTING} levels deep"
    entries = _nested_entries(value) or []
    for i, entry in enumerate(entries):
        where = f"{path}[{i}]" if isinstance(value, _SEQ) else path
        inner = fields_of(entry["class_name"])
        if inner is None:
            continue  # an unknown class: its converter (or the RNN cell reader) says so
        found = _first_problem(cfg.snake_keys(entry.get("config") or {}), inner, fields_of,
                               f"{where}.")
        if found is not None:
            return found
    return None


__all__ = ["BOOL", "COMMON", "NESTED", "POSITIVE_INTS", "RATE", "Delegated", "Dims", "Field",
           "Float", "Floats", "Int", "Ints", "Str", "check", "is_int", "is_number"]
