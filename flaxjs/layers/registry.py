"""The converter registry: one function per Keras ``class_name``.

A converter receives the layer's :class:`~flaxjs.topology.spec.LayerSpec` and
returns a ``flax.linen.Module`` named after the layer (``name=spec.name``) whose
variables carry the Keras weight names. Register with the decorator::

    @flaxjs.register_layer("MyLayer")
    def my_layer(spec):
        return MyModule(units=spec.config["units"], name=spec.name)

or per call with ``flaxjs.load(..., custom_layers={"MyLayer": my_layer})``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Mapping

import flax.linen as nn

from ..errors import FlaxjsError, UnsupportedLayerError
from ..topology.spec import MODEL_CLASSES, LayerSpec

Converter = Callable[[LayerSpec], nn.Module]


@dataclasses.dataclass(frozen=True)
class Registration:
    """A registered converter and what the coverage table says about it."""

    class_name: str
    converter: Converter
    family: str
    notes: str
    tfjs: bool  # TF.js 4.22 itself can load this class


_REGISTRY: dict[str, Registration] = {}


def register_layer(*class_names: str, notes: str = "", tfjs: bool = True,
                   override: bool = False) -> Callable[[Converter], Converter]:
    """Register a converter for one or more Keras class names.

    Args:
      *class_names: the ``class_name`` values this converter handles.
      notes: semantics worth knowing, shown in the coverage table.
      tfjs: whether TF.js 4.22 can load the class (False: Keras-only layers).
      override: replace an existing registration instead of raising.
    """
    if not class_names:
        raise TypeError("register_layer needs at least one class name")

    def decorate(fn: Converter) -> Converter:
        module = inspect.getmodule(fn)
        family = module.__name__.rsplit(".", 1)[-1] if module else "custom"
        for name in class_names:
            if name in _REGISTRY and not override:
                raise FlaxjsError(f"a converter for {name!r} is already registered "
                                  f"({_REGISTRY[name].family}); pass override=True to replace it")
            _REGISTRY[name] = Registration(name, fn, family, notes, tfjs)
        return fn

    return decorate


def lookup(class_name: str, custom: Mapping[str, Converter] | None = None) -> Converter | None:
    """The converter for ``class_name``: per-call ``custom`` first, then the registry."""
    if custom and class_name in custom:
        return custom[class_name]
    reg = _REGISTRY.get(class_name)
    return reg.converter if reg else None


def convert(spec: LayerSpec, custom: Mapping[str, Converter] | None = None) -> nn.Module:
    """Build the module of one (non-model) layer, or raise :class:`UnsupportedLayerError`."""
    fn = lookup(spec.class_name, custom)
    if fn is None:
        raise UnsupportedLayerError([(spec.class_name, spec.name)])
    return fn(spec)


def registrations() -> list[Registration]:
    """Every registration, sorted by family then class name."""
    return sorted(_REGISTRY.values(), key=lambda r: (r.family, r.class_name))


def unsupported(specs: Iterable[tuple[str, str]], custom: Mapping[str, Converter] | None = None
                ) -> list[tuple[str, str]]:
    """The ``(class_name, layer name)`` pairs that have no converter."""
    return [(c, n) for c, n in specs
            if c not in MODEL_CLASSES and c != "InputLayer" and lookup(c, custom) is None]
