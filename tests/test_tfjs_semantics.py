"""Loader rules checked against TF.js itself on small hand-made model files.

Each test writes a model.json + weights, asks TF.js 4.22 (node) for its outputs,
and compares flaxjs's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import flaxjs
import tfjs_node
from corpus import max_error

pytestmark = pytest.mark.skipif(not tfjs_node.available(), reason="node/npm not available")


def _write(folder, topology, weights):
    folder.mkdir()
    data = b"".join(np.asarray(w, "<f4").tobytes() for _, w in weights)
    (folder / "weights.bin").write_bytes(data)
    manifest = [{"paths": ["weights.bin"], "weights": [
        {"name": n, "shape": list(np.shape(w)), "dtype": "float32"} for n, w in weights]}]
    (folder / "model.json").write_text(json.dumps(
        {"modelTopology": topology, "weightsManifest": manifest, "format": "layers-model"}))
    return folder


def _compare(folder, inputs, tmp_path):
    want = tfjs_node.tfjs_predict(folder, inputs, tmp_path)
    got = flaxjs.load(folder)(*inputs)
    got = got if isinstance(got, list) else [got]
    for g, w in zip(got, want):
        assert max_error(np.asarray(g), w) <= 1e-4


def _dense(name, inbound, units=3):
    return {"class_name": "Dense", "name": name, "inbound_nodes": inbound,
            "config": {"name": name, "units": units, "activation": "tanh", "use_bias": True}}


def test_shared_layer_calls_are_numbered_in_tfjs_application_order(tmp_path):
    # 'shared' lists first a call on 'other' (not built yet) and then a call on the input;
    # TF.js applies the second one first, so it becomes node 0.
    rng = np.random.default_rng(0)
    topology = {"class_name": "Model", "config": {
        "name": "m",
        "layers": [
            {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
             "config": {"name": "x", "batch_input_shape": [None, 3], "dtype": "float32"}},
            _dense("shared", [[["other", 0, 0, {}]], [["x", 0, 0, {}]]]),
            _dense("other", [[["shared", 0, 0, {}]]]),
        ],
        "input_layers": [["x", 0, 0]], "output_layers": [["shared", 1, 0], ["other", 0, 0]]}}
    weights = [("shared/kernel", rng.normal(size=(3, 3))), ("shared/bias", rng.normal(size=3)),
               ("other/kernel", rng.normal(size=(3, 3))), ("other/bias", rng.normal(size=3))]
    folder = _write(tmp_path / "m", topology, weights)
    _compare(folder, [rng.normal(size=(2, 3)).astype(np.float32)], tmp_path)


@pytest.mark.parametrize("cls,extra", [
    ("SimpleRNN", {}), ("GRU", {"recurrent_activation": None}), ("LSTM", {}),
    ("LSTM", {"recurrent_activation": None})])
def test_explicit_null_activation_in_rnns(tmp_path, cls, extra):
    rng = np.random.default_rng(1)
    units, gates = 2, {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[cls]
    layer = {"class_name": cls, "config": {
        "name": "rnn", "units": units, "activation": None, "batch_input_shape": [None, 4, 3],
        **extra}}
    topology = {"class_name": "Sequential", "config": {"name": "s", "layers": [layer]}}
    weights = [("rnn/kernel", rng.normal(size=(3, gates * units))),
               ("rnn/recurrent_kernel", rng.normal(size=(units, gates * units))),
               ("rnn/bias", rng.normal(size=gates * units))]
    folder = _write(tmp_path / "m", topology, weights)
    _compare(folder, [rng.normal(size=(2, 4, 3)).astype(np.float32)], tmp_path)
