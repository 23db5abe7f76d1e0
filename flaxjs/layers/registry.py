"""The converter registry: one function per Keras ``class_name``, with its class's facts.

A converter receives the layer's :class:`~flaxjs.topology.spec.LayerSpec` and
returns a ``flax.linen.Module`` named after the layer (``name=spec.name``) whose
variables carry the Keras weight names. Register with the decorator::

    @flaxjs.register_layer("MyLayer")
    def my_layer(spec):
        return MyModule(units=spec.config["units"], name=spec.name)

for one block of code::

    with flaxjs.layers.registered({"MyLayer": my_layer}):
        model = flaxjs.load("model.json")

or per call with ``flaxjs.load(..., custom_layers={"MyLayer": my_layer})``.

Everything flaxjs knows about a class besides its module — whether TF.js loads
it, how it is exported, the traits lowering and runtime read, the sample
configs the tests build — is declared here with the converter (see
:mod:`flaxjs.layers.traits`), never in a list elsewhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import flax.linen as nn

from ..errors import FlaxjsError, UnsupportedLayerError
from ..topology.spec import MODEL_CLASSES, LayerSpec
from .fields import Field
from .fields import check as check_fields
from .traits import AS_IS, Export, Foldable, KerasFileLayout, Sample, refused
from .unconverted import NOT_CONVERTED

Converter = Callable[[LayerSpec], nn.Module]


@dataclasses.dataclass(frozen=True)
class Registration:
    """A registered converter and the facts about its class.

    Attributes:
      class_name: the Keras ``class_name``.
      converter: builds the layer's module from its spec.
      family: the module it lives in (``conv``, ``recurrent``...), for the coverage table.
      notes: semantics worth knowing, shown in the coverage table.
      tfjs: TF.js 4.22 itself can load the class.
      export: how :func:`flaxjs.save` writes it, or why it cannot.
      foldable: a following BatchNormalization folds into it (see :class:`Foldable`).
      depthwise: its CPU lowering makes large loop fusions (XLA's fusion emitters help).
      batch_coupled: one sample's output may depend on other samples of the batch.
      samples: small configs the registry-driven tests build one-layer models from.
      fields: the types of the config keys the converter reads (see :mod:`.fields`),
        checked before it runs.
      aliases: other ``class_name`` values files give the class (Keras 3 saves
        ``GroupedQueryAttention`` as ``GroupQueryAttention``), converted alike.
      keras_file: where a ``.keras`` file stores its variables apart from TF.js's names.
    """

    class_name: str
    converter: Converter
    family: str
    notes: str = ""
    tfjs: bool = False
    export: Export = AS_IS
    foldable: Foldable | None = None
    depthwise: bool = False
    batch_coupled: bool = False
    samples: tuple[Sample, ...] = ()
    fields: Mapping[str, Field] = dataclasses.field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    keras_file: KerasFileLayout = dataclasses.field(default_factory=KerasFileLayout)


_LOCK = threading.RLock()
_REGISTRY: dict[str, Registration] = {}
#: specs whose config passed :func:`validate` against the registrations of the time
_CHECKED: weakref.WeakSet[LayerSpec] = weakref.WeakSet()


def register_layer(*class_names: str, notes: str = "", tfjs: bool = False,
                   export: Export | None = None, foldable: Foldable | None = None,
                   depthwise: bool = False, batch_coupled: bool = False,
                   samples: Sequence[Sample] = (), fields: Mapping[str, Field] | None = None,
                   aliases: Sequence[str] = (), keras_file: KerasFileLayout | None = None,
                   override: bool = False) -> Callable[[Converter], Converter]:
    """Register a converter for one or more Keras class names.

    Args:
      *class_names: the ``class_name`` values this converter handles.
      notes: semantics worth knowing, shown in the coverage table.
      tfjs: TF.js 4.22 can load the class (built-in converters of TF.js classes say so;
        a class of your own is unknown to TF.js unless your page registers it).
      export: how :func:`flaxjs.save` writes it (default: as is for TF.js classes;
        refused, with the reason, for the others).
      foldable: a following BatchNormalization folds into the layer for inference.
      depthwise: its CPU lowering makes large loop fusions.
      batch_coupled: one sample's output may depend on other samples of the batch
        (``Model.__call__`` then never splits a batch).
      samples: small configs the registry-driven tests build models from.
      fields: ``{config key: Field}``, the types of the keys the converter reads beyond
        the shared ones (:data:`flaxjs.layers.fields.COMMON`); a layer whose config breaks
        them is refused with a :class:`~flaxjs.errors.LayerConfigError` before building.
      aliases: other class names files give the same class (one registration: listed
        once, its samples built once); allowed with a single class name only.
      keras_file: where a ``.keras`` file stores the class's variables, if not as TF.js
        names them (see :class:`~flaxjs.layers.traits.KerasFileLayout`).
      override: replace an existing registration instead of raising.
    """
    if not class_names:
        raise TypeError("register_layer needs at least one class name")
    if aliases and len(class_names) > 1:
        raise TypeError("register_layer takes aliases for a single class name only")

    def decorate(fn: Converter) -> Converter:
        module = inspect.getmodule(fn)
        family = module.__name__.rsplit(".", 1)[-1] if module else "custom"
        with _LOCK:
            for name in (*class_names, *aliases):
                if name in _REGISTRY and not override:
                    raise FlaxjsError(
                        f"a converter for {name!r} is already registered "
                        f"({_REGISTRY[name].family}); pass override=True to replace it")
            _CHECKED.clear()
            for name in class_names:
                reg = Registration(
                    name, fn, family, notes, tfjs, _export_of(name, tfjs, export), foldable,
                    depthwise, batch_coupled, tuple(samples), dict(fields or {}),
                    tuple(aliases), keras_file or KerasFileLayout())
                for key in (name, *aliases):
                    _REGISTRY[key] = reg
        return fn

    return decorate


def _export_of(class_name: str, tfjs: bool, export: Export | None) -> Export:
    if export is not None:
        return export
    if tfjs:
        return AS_IS
    return refused(f"TF.js 4.22 has no class {class_name!r} (Keras-only or custom). Pass "
                   f"custom_classes=[{class_name!r}] if your page registers it with "
                   "tf.serialization.registerClass.")


@contextlib.contextmanager
def registered(converters: Mapping[str, Converter] | None = None, **traits: object
               ) -> Iterator[None]:
    """Registrations that last for a ``with`` block (tests, notebooks, one-off scripts).

    ``converters`` (class name → converter) are registered with ``traits`` (the
    keywords of :func:`register_layer`), replacing built-in ones for the block; any
    :func:`register_layer` call made inside the block is undone at its end too.
    """
    with _LOCK:
        saved = dict(_REGISTRY)
    try:
        for name, fn in (converters or {}).items():
            register_layer(name, override=True, **traits)(fn)  # type: ignore[arg-type]
        yield
    finally:
        with _LOCK:
            _REGISTRY.clear()
            _REGISTRY.update(saved)
            _CHECKED.clear()


def registration(class_name: str) -> Registration | None:
    """The registration of ``class_name``, or None."""
    return _REGISTRY.get(class_name)


def lookup(class_name: str, custom: Mapping[str, Converter] | None = None) -> Converter | None:
    """The converter for ``class_name``: per-call ``custom`` first, then the registry."""
    if custom and class_name in custom:
        return custom[class_name]
    reg = _REGISTRY.get(class_name)
    return reg.converter if reg else None


def traits_of(class_name: str, custom: Mapping[str, Converter] | None = None
              ) -> Registration | None:
    """The registration whose traits apply to ``class_name`` in a model built with the
    per-call ``custom`` converters (None when a custom converter replaces it: its
    traits are unknown)."""
    if custom and class_name in custom:
        return None
    return _REGISTRY.get(class_name)


def validate(spec: LayerSpec, custom: Mapping[str, Converter] | None = None) -> None:
    """Check ``spec.config`` against its class's declared fields (a class a per-call
    ``custom`` converter replaces is left to that converter), or raise
    :class:`~flaxjs.errors.LayerConfigError` naming the layer and the field."""
    reg = traits_of(spec.class_name, custom)
    if reg is not None and spec not in _CHECKED:
        check_fields(spec, reg.fields, _fields_of)
        _CHECKED.add(spec)  # a spec is converted at every trace: check it once


def _fields_of(class_name: str) -> Mapping[str, Field] | None:
    reg = _REGISTRY.get(class_name)
    return reg.fields if reg else None


def convert(spec: LayerSpec, custom: Mapping[str, Converter] | None = None) -> nn.Module:
    """Build the module of one (non-model) layer after :func:`validate`, or raise
    :class:`UnsupportedLayerError`."""
    fn = lookup(spec.class_name, custom)
    if fn is None:
        raise UnsupportedLayerError([(spec.class_name, spec.name)], NOT_CONVERTED)
    validate(spec, custom)
    return fn(spec)


def registrations() -> list[Registration]:
    """Every registration (once, not per alias), sorted by family then class name."""
    with _LOCK:
        return sorted((r for key, r in _REGISTRY.items() if key == r.class_name),
                      key=lambda r: (r.family, r.class_name))


def unsupported(specs: Iterable[tuple[str, str]], custom: Mapping[str, Converter] | None = None
                ) -> list[tuple[str, str]]:
    """The ``(class_name, layer name)`` pairs that have no converter."""
    return [(c, n) for c, n in specs
            if c not in MODEL_CLASSES and c != "InputLayer" and lookup(c, custom) is None]
