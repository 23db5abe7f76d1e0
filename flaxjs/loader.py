"""``flaxjs.load``: a TF.js Layers model source → a ready-to-call :class:`~flaxjs.Model`."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import matching, preprocessing, shape_inference, slot_cache
from .errors import (
    LayerConfigError,
    ModelFormatError,
    UnsupportedLayerError,
    WeightMatchError,
    WeightsError,
)
from .graph import load as graph_load
from .graph.model import GraphModel
from .graph_module import GraphModule
from .io.source import Artifacts, Source, open_source
from .layers import constraints, registry, unconverted
from .layers.base import shapes_only
from .model import Model, ModelInfo
from .topology.parse import model_config_of, parse_model
from .topology.spec import LayerSpec, ModelGraph
from .weights.decode import decode_weights
from .weights.manifest import parse_manifest
from .weights.shards import read_shards


def load(source: Source, *, strict: bool = True,
         custom_layers: Mapping[str, registry.Converter] | None = None,
         weights: Mapping[str, bytes] | None = None, progress: bool | None = None
         ) -> Model | GraphModel:
    """Load a TF.js model into JAX/Flax: a Layers model as a :class:`~flaxjs.Model`, a graph
    model (``format: "graph-model"``, a TensorFlow GraphDef) as a
    :class:`~flaxjs.GraphModel`.

    Args:
      source: a model folder, a path to its model.json (any file name), an
        ``http(s)://`` or ``file://`` URL, or the model JSON in memory (dict,
        ``str`` or ``bytes``) together with ``weights``; or a Keras ``.keras`` or
        ``.h5`` model file (path, URL or bytes; needs ``pip install "flaxjs[keras]"``).
      strict: raise :class:`~flaxjs.errors.WeightMatchError` listing every
        unmatched and every missing weight; with ``False`` they are listed in a
        warning and missing variables keep their initializer values.
      custom_layers: ``{class_name: converter}`` for classes flaxjs does not know.
      weights: for in-memory sources, ``{manifest path: bytes}`` of the shards.
      progress: show download progress bars (default: when stderr is a terminal).

    Returns:
      the :class:`~flaxjs.Model`.

    Example:
      >>> m = flaxjs.load("path/to/model.json")  # doctest: +SKIP
      >>> y = m(x)  # doctest: +SKIP
    """
    from .zoo.urlcache import open_url  # URLs load through the cache (here: no import circle)

    artifacts = open_source(source, weights=weights, progress=progress, opener=open_url)
    return from_artifacts(artifacts, strict=strict, custom_layers=custom_layers)


def keras_version_of(model_json: Mapping[str, Any]) -> str:
    topology = model_json.get("modelTopology") or {}
    version = topology.get("keras_version") if isinstance(topology, Mapping) else None
    if not version and isinstance(model_json.get("generatedBy"), str):
        version = model_json["generatedBy"].replace("keras v", "")
    return str(version or "")


def from_artifacts(artifacts: Artifacts, *, strict: bool = True,
                   custom_layers: Mapping[str, registry.Converter] | None = None
                   ) -> Model | GraphModel:
    """:func:`load` after the source was opened."""
    model_json = artifacts.model_json
    if graph_load.is_graph_model(model_json):
        if custom_layers:
            raise ModelFormatError(f"{artifacts.location}: custom_layers apply to Keras layers; "
                                   "this is a TF.js graph model (a TensorFlow GraphDef)")
        return graph_load.from_artifacts(artifacts, strict=strict)
    model_config = model_config_of(model_json, location=artifacts.location)
    keras_version = keras_version_of(model_json)
    graph = parse_model(model_config, location=artifacts.location, keras_version=keras_version)
    missing_converters = registry.unsupported(
        ((spec.class_name, spec.name) for _, spec in graph.walk()), custom_layers)
    if missing_converters:
        raise UnsupportedLayerError(missing_converters, unconverted.NOT_CONVERTED)
    for _, spec in graph.walk():  # every config field, before any weight is read
        registry.validate(spec, custom_layers)
    if artifacts.arrays is not None:  # a Keras file: its weights are read already
        decoded = artifacts.arrays
    else:
        manifest = parse_manifest(model_json.get("weightsManifest"), source=artifacts.location)
        decoded = decode_weights(manifest, read_shards(artifacts, manifest))
    module = GraphModule(graph, dict(custom_layers) if custom_layers else None)
    if custom_layers:
        slots = expected_slots(module, graph)
    else:
        slots = slot_cache.cached_slots(model_config, keras_version,
                                        lambda: _inferred_or_traced(module, graph))
    result = matching.match(decoded, slots, graph)
    report_match(result, artifacts.location, strict, len(slots))
    refuse_strings(result, decoded, artifacts.location)
    check_dtypes(result, decoded, artifacts.location)
    tree: dict[str, Any] = {}
    if result.missing or result.mismatched:
        tree = jax.tree_util.tree_map(np.asarray, init_variables(module, graph, jax.random.key(0)))
    values = {slot: decoded[name] for slot, name in result.assigned.items()}
    if artifacts.arrays is None:  # a Keras file loads as Keras loads it: as stored
        values = apply_constraints(graph, values)
    for slot, value in values.items():
        _set(tree, (slot.collection, *slot.path), value)
    variables = jax.device_put(tree)
    names = {(s.collection, *s.path): n for s, n in result.assigned.items()}
    info = ModelInfo(location=artifacts.location, model_json=model_json, weight_names=names,
                     metadata=artifacts.metadata)
    user = model_json.get("userDefinedMetadata")
    if isinstance(user, Mapping):  # what flaxjs.save (or the TF.js converter's --metadata) wrote
        if isinstance(user.get("preprocessing"), Mapping):
            info = dataclasses.replace(info, preprocessing=dict(user["preprocessing"]))
        if (isinstance(user.get("labels"), list)
                and preprocessing.labels_from_metadata(artifacts.metadata) is None):
            info = dataclasses.replace(info, labels=tuple(str(v) for v in user["labels"]))
    model = Model(module, variables, graph=graph, info=info)
    model.inference_variables()  # fold BatchNormalization now: the first call is then cheaper
    return model


def init_variables(module: GraphModule, graph: ModelGraph, key: jax.Array) -> dict[str, Any]:
    """``module.init`` on dummy inputs (the initializers of every layer)."""
    args = [jnp.zeros(s.shape, s.dtype)
            for s in shape_inference.dummy_inputs(graph.input_specs)]
    params_key, dropout_key = jax.random.split(key)
    return dict(module.init({"params": params_key, "dropout": dropout_key}, args))


def infer_slots(graph: ModelGraph) -> list[matching.Slot] | None:
    """:func:`expected_slots` from the layers' shape rules, when they all have one (fast)."""
    return shape_inference.infer_slots(
        graph, [tuple(s.shape) for s in shape_inference.dummy_inputs(graph.input_specs)])


def _inferred_or_traced(module: GraphModule, graph: ModelGraph) -> list[matching.Slot]:
    inferred = infer_slots(graph)
    return inferred if inferred is not None else expected_slots(module, graph)


def expected_slots(module: GraphModule, graph: ModelGraph) -> list[matching.Slot]:
    """The model's variables (shapes only) in Keras creation order, without computing anything.

    ``jax.eval_shape`` returns dicts with sorted keys, so the creation order is
    recorded while tracing.
    """
    order: list[tuple[str, ...]] = []

    def init():
        with shapes_only():
            variables = init_variables(module, graph, jax.random.key(0))
        order.extend(path for path, _ in matching.flatten(variables))
        return variables

    abstract = jax.eval_shape(init)
    return matching.slots_from_tree(graph, abstract, order)


def report_match(result: matching.MatchResult, location: str, strict: bool,
                 total: int) -> None:
    """Raise (strict) or warn about every weight that did not find its variable."""
    lines = []
    if result.unmatched:
        lines.append(f"{len(result.unmatched)} manifest weight(s) have no variable in the model: "
                     + ", ".join(result.unmatched))
    if result.missing:
        lines.append(f"{len(result.missing)} of {total} variable(s) have no weight in the "
                     "manifest: " + ", ".join(s.tfjs_name for s in result.missing))
    if result.mismatched:
        lines.append("shape mismatch: " + ", ".join(
            f"{name} is {list(shape)} in the manifest but {slot.tfjs_name} needs "
            f"{list(slot.shape)}" for name, slot, shape in result.mismatched))
    if result.by_order:
        warnings.warn(f"{location}: matched by order within their layers: " + ", ".join(
            f"{n} -> {s.tfjs_name}" for n, s in result.by_order), stacklevel=3)
    if not lines:
        return
    message = f"{location}: " + "; ".join(lines)
    if strict:
        raise WeightMatchError(
            message + ". Pass strict=False to load anyway (missing variables then keep their "
            "initializer values, with a warning).",
            unmatched=result.unmatched, missing=[s.tfjs_name for s in result.missing],
            mismatched=[n for n, _, _ in result.mismatched])
    warnings.warn(message + "; missing variables keep their initializer values.", stacklevel=3)


def refuse_strings(result: matching.MatchResult, decoded: Mapping[str, np.ndarray],
                   location: str) -> None:
    """A string weight matched to a layer variable (which holds numbers) is a damaged
    manifest; refuse it here rather than let ``jax.device_put`` fail on Python objects."""
    for slot, name in result.assigned.items():
        if decoded[name].dtype == object:
            raise WeightsError(
                f"{location}: weight {name!r} has dtype string in the weightsManifest, but "
                f"the layer variable {slot.tfjs_name} it belongs to holds numbers "
                f"({np.dtype(slot.dtype).name}); fix the weight's 'dtype' field or re-convert "
                "the model")


def apply_constraints(graph: ModelGraph, values: dict[matching.Slot, np.ndarray]
                      ) -> dict[matching.Slot, np.ndarray]:
    """TF.js applies each variable's constraint when it writes the loaded value.

    Keras does not, and TF.js cannot load Keras 3 files: their weights load as stored.
    """
    rules: dict[tuple[str, ...], list[tuple[str, Mapping[str, Any]]]] = {}
    specs: dict[tuple[str, ...], LayerSpec] = {}
    for prefix, spec in graph.walk():
        found = [] if spec.keras3 else list(constraints.constraints_of(spec.config))
        if found:
            layer_key = (*prefix, spec.name)
            rules[layer_key], specs[layer_key] = found, spec
    if not rules:
        return values
    out = dict(values)
    for slot, value in values.items():
        for weight, constraint in rules.get(slot.layer_key, ()):
            if slot.sub[-1] == weight and value.dtype == np.float32:
                try:
                    out[slot] = constraints.apply(constraint, out[slot])
                except ValueError as err:  # an axis the weight does not have
                    spec = specs[slot.layer_key]
                    raise LayerConfigError(spec.name, spec.class_name,
                                           f"the constraint of weight {weight!r}: {err}") from None
    return out


def check_dtypes(result: matching.MatchResult, decoded: Mapping[str, np.ndarray],
                 location: str) -> None:
    """Refuse integer or bool weights for float variables (TF.js's ``assign`` refuses them
    too), before they reach a float op."""
    wrong = [f"{name} is {decoded[name].dtype} but {slot.tfjs_name} is {np.dtype(slot.dtype)}"
             for slot, name in result.assigned.items()
             if np.issubdtype(np.dtype(slot.dtype), np.floating)
             and not np.issubdtype(decoded[name].dtype, np.floating)]
    if wrong:
        raise WeightMatchError(f"{location}: weight dtypes do not fit their variables: "
                               + "; ".join(wrong) + ". Fix the dtypes in the weights manifest.",
                               mismatched=[w.split(" ", 1)[0] for w in wrong])


def _set(tree: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value
