"""Weight-name matching and loader errors, on TF.js-made models with renamed weights.

Renaming manifest entries keeps the weight bytes, so every successful load must
still reproduce TF.js's reference outputs.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import flaxjs
from corpus import CORPUS, expected_outputs, inputs, max_error, reference
from flaxjs.errors import LayerConfigError, UnsupportedLayerError, WeightMatchError

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

CASE = CORPUS / "synthetic" / "dense_train_step"  # dense_1 [5,4]+[4], dense_2 [4,3]+[3]


def _model_and_shards(case=CASE):
    model = json.loads((case / "model.json").read_text())
    shards = {p: (case / p).read_bytes() for g in model["weightsManifest"] for p in g["paths"]}
    return model, shards


def _renamed(names: dict[str, str]):
    model, shards = _model_and_shards()
    model = copy.deepcopy(model)
    for w in model["weightsManifest"][0]["weights"]:
        w["name"] = names.get(w["name"], w["name"])
    return model, shards


def _assert_tfjs_outputs(m, case=CASE):
    ref = reference(case)
    assert max_error(np.asarray(m(*inputs(case, ref))), expected_outputs(case, ref)[0]) <= 1e-4


@pytest.mark.parametrize("rename", [
    {"dense_1/kernel": "dense_1/kernel:0", "dense_2/bias": "dense_2/bias:0"},
    {"dense_1/kernel": "sequential_1/dense_1/kernel", "dense_2/bias": "sequential_1/dense_2/bias"},
    {"dense_1/kernel": "dense_1_1/kernel", "dense_1/bias": "dense_1_1/bias"},
    {"dense_1/kernel": "dense_1/dense_cell/kernel"},
    {"dense_1/kernel": "layers/dense_1/vars/0", "dense_1/bias": "layers/dense_1/vars/1",
     "dense_2/kernel": "_layer_checkpoint_dependencies/dense_2/vars/0"},
], ids=["colon0", "model-prefix", "drift_1", "cell-scope", "keras3-vars"])
def test_name_variants_load_and_match_tfjs(rename):
    model, shards = _renamed(rename)
    _assert_tfjs_outputs(flaxjs.load(model, weights=shards))


def test_per_layer_order_fallback_warns_and_matches():
    model, shards = _renamed({"dense_2/kernel": "dense_2/W", "dense_2/bias": "dense_2/b"})
    with pytest.warns(UserWarning, match="matched by order"):
        m = flaxjs.load(model, weights=shards)
    _assert_tfjs_outputs(m)
    assert m.weight_names[("params", "dense_2", "kernel")] == "dense_2/W"


def test_strict_lists_every_unmatched_and_missing_weight():
    model, shards = _renamed({"dense_1/kernel": "foo/a", "dense_2/bias": "bar/b"})
    with pytest.raises(WeightMatchError) as err:
        flaxjs.load(model, weights=shards)
    assert err.value.unmatched == ["foo/a", "bar/b"]
    assert err.value.missing == ["dense_1/kernel", "dense_2/bias"]
    assert "foo/a" in str(err.value) and "dense_2/bias" in str(err.value)


def test_non_strict_warns_and_keeps_the_rest():
    model, shards = _renamed({"dense_2/bias": "bar/b"})
    with pytest.warns(UserWarning, match="bar/b"):
        m = flaxjs.load(model, weights=shards, strict=False)
    kernel = np.frombuffer(shards["weights.bin"], "<f4", 12, 96).reshape(4, 3)
    np.testing.assert_array_equal(np.asarray(m.params["dense_2"]["kernel"]), kernel)


def test_shape_mismatch_is_reported():
    model, shards = _model_and_shards()
    model = copy.deepcopy(model)
    spec = model["weightsManifest"][0]["weights"][0]
    spec["shape"] = [4, 5]
    with pytest.raises(WeightMatchError, match=r"dense_1/kernel is \[4, 5\]"):
        flaxjs.load(model, weights=shards)


def test_no_manifest_means_no_silent_initialization():
    model, _ = _model_and_shards()
    model = {k: v for k, v in model.items() if k != "weightsManifest"}
    with pytest.raises(WeightMatchError, match="4 of 4 variable"):
        flaxjs.load(model)


def _with_extra_layers(classes):
    model, shards = _model_and_shards()
    model = copy.deepcopy(model)
    layers = model["modelTopology"]["config"]["layers"]
    for i, cls in enumerate(classes):
        config = {"name": f"extra_{i}", "trainable": True}
        if cls == "Lambda":
            config["function"] = ["4wEAAAAAAAAAAQAAAAQAAABDAAAAcwwAAAB0AGoBAHwAAIMBAFMp", None, None]
        layers.append({"class_name": cls, "config": config})
    return model, shards


def test_unknown_classes_are_listed_together_with_how_to_register():
    model, shards = _with_extra_layers(["Lambda", "MyLayer", "MyLayer"])
    with pytest.raises(UnsupportedLayerError) as err:
        flaxjs.load(model, weights=shards)
    message = str(err.value)
    assert "Lambda: extra_0" in message and "MyLayer: extra_1, extra_2" in message
    assert "custom_layers=" in message and "register_layer" in message


def test_custom_layers_per_call_and_global_registration():
    from flaxjs.layers.core import Activation

    def identity(spec):
        return Activation(activation="linear", name=spec.name)

    model, shards = _with_extra_layers(["Lambda", "MyLayer"])
    m = flaxjs.load(model, weights=shards, custom_layers={"Lambda": identity, "MyLayer": identity})
    _assert_tfjs_outputs(m)
    model, shards = _with_extra_layers(["MyGlobalLayer"])
    with flaxjs.layers.registered():  # registrations made inside are undone at the end
        flaxjs.register_layer("MyGlobalLayer")(identity)
        _assert_tfjs_outputs(flaxjs.load(model, weights=shards))
        with pytest.raises(flaxjs.FlaxjsError, match="already registered"):
            flaxjs.register_layer("MyGlobalLayer")(identity)
    with pytest.raises(UnsupportedLayerError):
        flaxjs.load(model, weights=shards)
    with flaxjs.layers.registered({"MyGlobalLayer": identity}):
        _assert_tfjs_outputs(flaxjs.load(model, weights=shards))


def test_bad_layer_config_names_the_layer():
    model, shards = _model_and_shards()
    model = copy.deepcopy(model)
    model["modelTopology"]["config"]["layers"][1]["config"]["activation"] = "no_such_fn"
    with pytest.raises(LayerConfigError, match="'dense_2'.*no_such_fn"):
        flaxjs.load(model, weights=shards)


def test_dangling_reference_is_a_topology_error():
    from flaxjs.errors import TopologyError
    case = CORPUS / "synthetic" / "lstm_initial_state_inputs"
    model, shards = _model_and_shards(case)
    model = copy.deepcopy(model)
    model["modelTopology"]["config"]["layers"][3]["inbound_nodes"][0][1][0] = "ghost"
    with pytest.raises(TopologyError, match="unknown layer 'ghost'"):
        flaxjs.load(model, weights=shards)
