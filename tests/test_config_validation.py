"""Bad layer configs, topologies and sizes are refused before building, naming layer and field.

Driven by the registry: every field a class declares (``register_layer(fields=...)``) is
set, in one of the class's own sample configs, to values of the wrong type or out of
range, and loading must raise a :class:`LayerConfigError` naming the layer and the field;
a required field is also left out. The shared fields (:data:`flaxjs.layers.fields.COMMON`)
are mutated on every class the same way. The samples themselves load in
``test_registry.py``; here they must pass the check unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
from test_registry import model_json

import flaxjs
from flaxjs.errors import (
    LayerConfigError,
    TopologyError,
    UnsupportedLayerError,
    WeightMatchError,
)
from flaxjs.layers import fields, registry, sizes
from flaxjs.layers.traits import Sample
from flaxjs.topology.spec import LayerSpec

#: values of every JSON type and the edges of the numeric ranges; each field must refuse
#: some of them (which, its own ``problem`` says: the tests check the wiring and the messages,
#: the field-type tests below check the rules).
CANDIDATES: list[Any] = ["x", "2", True, None, -1, 0, 1.5, -2.5, math.nan, math.inf, -math.inf,
                         [], [0, 1], [1, "a"], [[-1, 2]], [None], {"a": 1}, 10 ** 400]


def _target(reg: registry.Registration) -> tuple[Sample, tuple[str, ...]]:
    """A sample of ``reg``'s class and the path of that class's config inside it (a cell
    class is exercised inside an RNN's ``cell``)."""
    for sample in reg.samples:
        if sample.class_name in (None, reg.class_name):
            return sample, ()
    sample = reg.samples[0]
    for key, value in sample.config.items():
        if isinstance(value, dict) and value.get("class_name") == reg.class_name:
            return sample, (key, "config")
    raise AssertionError(f"{reg.class_name}: no sample holds the class")


def _mutated(reg: registry.Registration, key: str, value: Any, *, drop: bool = False
             ) -> tuple[dict, str]:
    sample, path = _target(reg)
    config = copy.deepcopy(dict(sample.config))
    inner = config
    for step in path:
        inner = inner[step]
    if drop:
        inner.pop(key, None)
    else:
        inner[key] = value
    field_path = ".".join((*path[:1], key))
    return model_json(sample.class_name or reg.class_name,
                      dataclasses.replace(sample, config=config)), field_path


def _load(doc: dict) -> flaxjs.Model:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flaxjs.load(doc, weights={}, strict=False)


def _refused(doc: dict, field_path: str) -> None:
    with pytest.raises(LayerConfigError) as info:
        _load(doc)
    message = str(info.value)
    assert message.startswith("layer 'layer' ("), message
    assert f"field {field_path!r}" in message, message


DECLARED = [pytest.param(reg, key, field, id=f"{reg.class_name}-{key}")
            for reg in registry.registrations() for key, field in reg.fields.items()]


@pytest.mark.parametrize(("reg", "key", "field"), DECLARED)
def test_declared_field_refuses_bad_values(reg, key, field):
    bad = [v for v in CANDIDATES if field.problem(v) is not None]
    assert len(bad) >= 3, f"{reg.class_name}.{key} refuses almost nothing: {bad}"
    for value in bad:
        _refused(*_mutated(reg, key, value))
    if field.required:
        _refused(*_mutated(reg, key, None, drop=True))


#: one bad value per shared field, set on every class
COMMON_BAD = {"activation": "no_such_activation", "kernel_initializer": 5,
              "bias_constraint": {"class_name": "MaxNorm", "config": {"max_value": "2"}},
              "trainable": "yes", "dtype": "float31", "name": ["layer"]}


@pytest.mark.parametrize("reg", registry.registrations(), ids=lambda r: r.class_name)
def test_shared_fields_refuse_bad_values_on_every_class(reg):
    for key, value in COMMON_BAD.items():
        if key == "name" and _target(reg)[1]:
            continue  # a cell's name is not the layer's
        _refused(*_mutated(reg, key, value))


def test_every_sample_passes_the_check():
    for reg in registry.registrations():
        for sample in reg.samples:
            registry.validate(LayerSpec(sample.class_name or reg.class_name, "layer",
                                        {"name": "layer", **sample.config}))


@pytest.mark.parametrize(("field", "good", "bad"), [
    (fields.POSITIVE_INTS, [1, 3, 2.0, [1, 2]], [0, -1, [0, 1], "2", 1.5, math.nan, True, []]),
    (fields.Int(1), [1, 7, 3.0], [0, [1], "1", math.inf, False, 1.5, 2 ** 31, 10 ** 400]),
    (fields.Int(-1, 5), [-1, 0, 5], [-2, 6]),
    (fields.Float(), [0, -1.5, 3], [math.nan, math.inf, "1", True, [1.0], 10 ** 400]),
    (fields.Ints(0, pairs=True), [1, [1, 2], [[1, 0], [0, 2]]], [-1, [[1, -1]], [[1, 2, 3]]]),
    (fields.Dims(-1), [[3, -1], [None, 4], []], [[-2], 3, ["3"]]),
    (fields.Str("valid", "same"), ["valid", "SAME"], ["full", 1, ["valid"]]),
    (fields.BOOL, [True, False], [1, "true", [True]]),
    (fields.NESTED, [{"class_name": "Dense", "config": {}}, [{"class_name": "LSTMCell"}]],
     [{"config": {}}, "Dense", [{"class_name": 5}], {"class_name": "Dense", "config": "x"}]),
])
def test_field_types(field, good, bad):
    for value in good:
        assert field.problem(value) is None, value
    for value in bad:
        assert field.problem(value) is not None, value


def test_required_field_names_what_it_needs():
    doc, _ = _mutated(registry.registration("Dense"), "units", None, drop=True)
    with pytest.raises(LayerConfigError, match=r"field 'units' is required \(a positive integer"):
        _load(doc)


def test_nested_layer_fields_are_checked_with_their_path():
    reg = registry.registration("Bidirectional")
    sample = reg.samples[0]
    config = copy.deepcopy(dict(sample.config))
    config["layer"]["config"]["units"] = "3"
    with pytest.raises(LayerConfigError, match=r"\(Bidirectional\): field 'layer\.units' must "
                                               r"be a positive integer, got '3'"):
        _load(model_json("Bidirectional", Sample(config, sample.inputs)))


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(("class_name", "config", "inputs", "words"), [
    ("AveragePooling2D", {"pool_size": 10 ** 6}, (2, 5, 4, 3), "pool_size .* does not fit"),
    ("AveragePooling2D", {"pool_size": 10 ** 6, "padding": "same"}, (2, 5, 4, 3),
     "pool_size .* pads the input"),
    ("MaxPooling1D", {"pool_size": 9}, (2, 5, 3), "pool_size .* does not fit"),
    ("Conv2D", {"filters": 2, "kernel_size": 9}, (2, 5, 4, 3), "kernel_size .* does not fit"),
    ("UpSampling2D", {"size": 10 ** 5}, (2, 3, 2, 2), "the output of shape .* over"),
    ("ZeroPadding2D", {"padding": 10 ** 5}, (2, 3, 2, 2), "the output of shape .* over"),
    ("Cropping2D", {"cropping": 3}, (2, 4, 5, 2), "cropping .* leaves nothing"),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "strides": 10 ** 5}, (2, 4, 4, 2),
     "the output of shape .* over"),
    ("Dense", {"units": 2 ** 27}, (2, 5), "variable 'kernel' .* over"),
    ("Embedding", {"input_dim": 2 ** 30, "output_dim": 2}, (2, 5), "variable 'embeddings'"),
])
def test_sizes_that_cannot_work_are_refused_before_compiling(class_name, config, inputs, words):
    with pytest.raises(LayerConfigError, match=rf"layer 'layer' \({class_name}\): {words}"):
        _load(model_json(class_name, Sample(config, (inputs,))))


def test_the_size_limit_is_far_above_real_layers():
    sizes.check_count("output", (1, 1024, 1024, 128))  # a U-Net's first block at 1024²
    with pytest.raises(flaxjs.errors.LayerFitError):
        sizes.check_count("output", (1, sizes.MAX_ELEMENTS + 1))


# ----------------------------------------------------------------------------- topology


def _two_dense() -> dict:
    doc = model_json("Dense", Sample({"units": 3}, ((2, 5),)))
    layers = doc["modelTopology"]["model_config"]["config"]["layers"]
    layers.append({"class_name": "Dense", "name": "head", "config": {"name": "head", "units": 2},
                   "inbound_nodes": [[["layer", 0, 0, {}]]]})
    doc["modelTopology"]["model_config"]["config"]["output_layers"] = [["head", 0, 0]]
    return doc


def _head_ref(doc: dict) -> list:
    return doc["modelTopology"]["model_config"]["config"]["layers"][-1]["inbound_nodes"][0][0]


def _input_config(doc: dict) -> dict:
    return doc["modelTopology"]["model_config"]["config"]["layers"][0]["config"]


def _set_ref(index: int, value: Any):
    def edit(doc: dict) -> None:
        _head_ref(doc)[index] = value
    return edit


def _set_input(key: str, value: Any):
    def edit(doc: dict) -> None:
        _input_config(doc)[key] = value
    return edit


def _set_layer(key: str, value: Any):
    def edit(doc: dict) -> None:
        doc["modelTopology"]["model_config"]["config"]["layers"][1][key] = value
    return edit


@pytest.mark.parametrize(("edit", "words"), [
    (_set_ref(1, "0"), "indices of a reference must be non-negative integers"),
    (_set_ref(1, [0]), "indices of a reference must be non-negative integers"),
    (_set_ref(2, -1), "indices of a reference must be non-negative integers"),
    (_set_ref(2, math.nan), "indices of a reference must be non-negative integers"),
    (_set_ref(1, 4), "reference nodes that do not exist"),
    (_set_ref(2, 3), "refers to output 3 of layer 'layer', which has 1 output"),
    (_set_input("batch_input_shape", 5), "input shape must be a list"),
    (_set_input("batch_input_shape", [None, -5]), "input shape must be a list of positive"),
    (_set_input("batch_input_shape", [None, 0]), "input shape must be a list of positive"),
    (_set_input("batch_input_shape", [None, "5"]), "input shape must be a list of positive"),
    (_set_input("dtype", "float31"), "dtype float31 is not one of"),
    (_set_input("dtype", ["float32"]), "is not one of"),
    (_set_layer("config", "units=3"), "config of layer class Dense must be an object"),
    (_set_layer("config", [3]), "config of layer class Dense must be an object"),
    (_set_layer("class_name", 5), "'class_name' must be a string"),
    (_set_layer("name", ["layer"]), "the name of a Dense layer must be a string"),
])
def test_malformed_topology_is_a_topology_error(edit, words):
    doc = _two_dense()
    edit(doc)
    with pytest.raises(TopologyError, match=re.escape(words)):
        _load(doc)


def test_input_layer_tensor_index_out_of_range():
    doc = _two_dense()
    layers = doc["modelTopology"]["model_config"]["config"]["layers"]
    layers[1]["inbound_nodes"] = [[["in_0", 0, 1, {}]]]
    with pytest.raises(TopologyError, match="output 1 of input layer 'in_0'"):
        _load(doc)


def test_unsupported_layer_error_lists_mixed_names():
    err = UnsupportedLayerError([("Foo", "a"), (5, "b"), ("Foo", 7)])  # type: ignore[list-item]
    assert err.layers == [("5", "b"), ("Foo", "7"), ("Foo", "a")]


# ----------------------------------------------------------------------------- weights


def _with_weights(config: dict, weights: list[tuple[str, list[int], str, np.ndarray]]
                  ) -> tuple[dict, dict[str, bytes]]:
    doc = model_json("Dense", Sample(config, ((2, 5),)))
    doc["weightsManifest"] = [{"paths": ["w.bin"], "weights": [
        {"name": n, "shape": s, "dtype": d} for n, s, d, _ in weights]}]
    return doc, {"w.bin": b"".join(v.tobytes() for *_, v in weights)}


def test_integer_weight_for_a_float_variable_is_refused_naming_it():
    doc, shards = _with_weights({"units": 3}, [
        ("layer/kernel", [5, 3], "int32", np.ones((5, 3), np.int32)),
        ("layer/bias", [3], "float32", np.zeros(3, np.float32))])
    with pytest.raises(WeightMatchError, match="layer/kernel is int32 but layer/kernel is "
                                               "float32"):
        flaxjs.load(doc, weights=shards)


def test_constraint_axis_out_of_range_names_layer_and_weight():
    doc, shards = _with_weights(
        {"units": 3, "kernel_constraint": {"class_name": "MaxNorm", "config": {"axis": 7}}},
        [("layer/kernel", [5, 3], "float32", np.ones((5, 3), np.float32)),
         ("layer/bias", [3], "float32", np.zeros(3, np.float32))])
    with pytest.raises(LayerConfigError, match=r"layer 'layer' \(Dense\): the constraint of "
                                               r"weight 'kernel': axis 7 is out of range"):
        flaxjs.load(doc, weights=shards)


def test_nesting_depth_is_bounded():
    inner: dict = {"class_name": "Dense", "config": {"units": 3}}
    for _ in range(100):
        inner = {"class_name": "TimeDistributed", "config": {"layer": inner}}
    with pytest.raises(LayerConfigError, match="nests layers more than 32 levels deep"):
        registry.validate(LayerSpec("TimeDistributed", "t", inner["config"]))


def test_configs_made_in_python_may_use_tuples_and_numpy_scalars():
    from flaxjs import keras
    registry.validate(keras.Conv2D(np.int64(4), (3, 3), strides=(2, 2)))
    registry.validate(keras.Reshape((7, -1)))


@pytest.mark.parametrize("shape", [1.5, True, [None, 0], [None, math.inf]])
def test_sequential_first_layer_input_shape_is_checked(shape):
    doc = {"format": "layers-model", "weightsManifest": [{"paths": [], "weights": []}],
           "modelTopology": {"model_config": {"class_name": "Sequential", "config": {
               "name": "seq", "layers": [{"class_name": "Dense", "config": {
                   "name": "d", "units": 2, "batch_input_shape": shape}}]}}}}
    with pytest.raises(TopologyError, match="layer 'd': the input shape must be a list"):
        _load(doc)


@pytest.mark.parametrize(("class_name", "config", "inputs", "words"), [
    ("Reshape", {"target_shape": [5, 5]}, ((2, 6),), "target_shape [5, 5] cannot hold"),
    ("LayerNormalization", {"axis": 5}, ((2, 6),), "axis [5] is out of range"),
    ("Dot", {"axes": 4}, ((2, 6), (2, 6)), "axes [4] is out of range"),
    ("Rescaling", {"scale": [1.0, 2.0]}, ((2, 5),), "scale of shape [2] does not broadcast"),
])
def test_axes_and_shapes_the_input_lacks_are_refused(class_name, config, inputs, words):
    with pytest.raises(LayerConfigError, match=re.escape(f"layer 'layer' ({class_name}): "
                                                         + words)):
        _load(model_json(class_name, Sample(config, inputs)))
