"""The flaxjs exception hierarchy.

Every error raised for bad input is a :class:`FlaxjsError` subclass whose message
names the file, layer, weight or byte range at fault and says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


class FlaxjsError(Exception):
    """Base class of every error flaxjs raises on purpose."""


class SourceError(FlaxjsError):
    """A model source could not be read (missing file, HTTP failure, bad URL)."""


class UnsafePathError(SourceError):
    """A weight path in the manifest would leave the model's folder or URL prefix."""


class ModelFormatError(FlaxjsError):
    """``model.json`` is not a TF.js Layers model or is malformed."""


class TopologyError(ModelFormatError):
    """The Keras topology cannot be turned into a graph (dangling or cyclic references)."""


class WeightsError(FlaxjsError):
    """Weight shards or the weights manifest are missing, short or malformed."""


class ShardSizeError(WeightsError):
    """The concatenated shards are shorter (or longer) than the manifest requires."""


class WeightMatchError(WeightsError):
    """Manifest weights and model variables could not be matched one to one."""

    def __init__(self, message: str, *, unmatched: Sequence[str] = (),
                 missing: Sequence[str] = (), mismatched: Sequence[str] = ()):
        super().__init__(message)
        self.unmatched = list(unmatched)
        self.missing = list(missing)
        self.mismatched = list(mismatched)


class LayerConfigError(FlaxjsError):
    """A layer's configuration is invalid or uses an option flaxjs does not support."""

    def __init__(self, layer: str, class_name: str, message: str):
        super().__init__(f"layer {layer!r} ({class_name}): {message}")
        self.layer = layer
        self.class_name = class_name


class LayerFitError(FlaxjsError):
    """A layer's config does not fit the input it gets: a window or an axis the input does
    not have, a target shape of another size, or a size over
    :data:`flaxjs.layers.sizes.MAX_ELEMENTS`. Raised from shapes while tracing, before XLA
    compiles or allocates anything; a model re-raises it as a :class:`LayerConfigError`
    naming the layer."""


class UnsupportedLayerError(FlaxjsError):
    """The model uses Keras classes that have no registered converter."""

    def __init__(self, layers: Iterable[tuple[str, str]],
                 reasons: Mapping[str, str] | None = None):
        self.layers = sorted({(str(c), str(n)) for c, n in layers})
        by_class: dict[str, list[str]] = {}
        for class_name, name in self.layers:
            by_class.setdefault(class_name, []).append(name)
        why = reasons or {}
        listing = "\n".join(
            f"  {cls}: {', '.join(names)}" + (f" (not converted: {why[cls]})" if cls in why
                                              else "")
            for cls, names in sorted(by_class.items()))
        example = next(iter(sorted(by_class)))
        super().__init__(
            f"no converter for {len(by_class)} Keras class(es) used by this model:\n"
            f"{listing}\n"
            "Register one per call with flaxjs.load(..., custom_layers="
            f"{{{example!r}: make_module}}) or globally with "
            f"@flaxjs.register_layer({example!r}); make_module(spec) receives the "
            "LayerSpec (class_name, name, config) and returns a flax.linen.Module.")


class ExportError(FlaxjsError):
    """A model cannot be written as a TF.js Layers model."""


class PreprocessingError(FlaxjsError):
    """Raw data cannot be turned into a model's input, or an output into labels."""


class ZooError(FlaxjsError):
    """A zoo entry is unknown, or its files could not be fetched or verified."""


class IntegrityError(ZooError):
    """A downloaded file does not match its pinned sha256."""


class OfflineError(ZooError):
    """A file is needed but ``FLAXJS_OFFLINE=1`` forbids the network."""


class CorruptCacheError(ZooError):
    """A bookkeeping file of the zoo cache (the pins file) cannot be read or is malformed."""


class SettingsError(FlaxjsError):
    """A ``FLAXJS_*`` environment variable holds a value flaxjs cannot read."""


class CheckpointError(FlaxjsError):
    """A checkpoint is missing, does not fit its target, or cannot be written or read."""


class TrainingError(FlaxjsError):
    """Training data, targets or callbacks do not fit the model (label width, monitored
    metric, validation split)."""


class UnsupportedOpError(FlaxjsError):
    """A graph model uses TensorFlow ops that flaxjs has no converter for."""

    def __init__(self, ops: Mapping[str, Sequence[str]], *, reason: str = "", location: str = ""):
        self.ops = {op: list(nodes) for op, nodes in sorted(ops.items())}
        listing = "\n".join(f"  {op}: {', '.join(nodes[:3])}"
                            + (f" and {len(nodes) - 3} more" if len(nodes) > 3 else "")
                            for op, nodes in self.ops.items())
        where = f"{location}: " if location else ""
        super().__init__(
            f"{where}no converter for {len(self.ops)} TensorFlow op(s) this graph model needs:\n"
            f"{listing}\n"
            + (reason or "flaxjs.graph.ops.registry lists the ops flaxjs runs; please report "
               "the model so the op can be added."))


class DynamicOpError(FlaxjsError):
    """A graph op whose output shape depends on values was met under ``jax.jit``."""


class InputError(FlaxjsError, TypeError):
    """Inputs given to ``m(x)`` do not fit the model's inputs (count, dtype, rank or a fixed
    size). A ``TypeError`` too, as a wrong argument count always was."""


class UnknownNameError(FlaxjsError, KeyError):
    """A layer, node or pattern names nothing in the model (the message suggests close
    names). A ``KeyError`` too, as a lookup by name always was."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def did_you_mean(name: str, candidates: Iterable[str], *, n: int = 3) -> str:
    """``" (did you mean 'a', 'b'?)"`` for the names of ``candidates`` closest to ``name``
    (difflib), or ``""`` when none is close."""
    import difflib

    pool = list(dict.fromkeys(candidates))
    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.5)
    if not close and name:  # a prefix typed in full ('conv' for 'conv2d_1') is close too
        close = [c for c in pool if c.startswith(name) or name.startswith(c)][:n]
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
