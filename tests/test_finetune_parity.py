"""One SGD(0.1) step with mean squared error against TF.js's ``trainOnBatch`` on the same model.

The references (``ref/train_step_weights.json``) hold every weight and moving
statistic after TF.js's step; ``loss_value`` is the loss before the update.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import optax
import pytest

import flaxjs
from corpus import CORPUS, TOLERANCE, max_error, reference
from flaxjs import finetune as ft

CASES = ["dense_train_step", "conv2d_train_step", "batchnorm_train_step", "dropout_train_step"]

pytestmark = pytest.mark.skipif(not (CORPUS / "synthetic").is_dir(),
                                reason="../shared/corpus/synthetic is not present")


def _weights_after(case_dir) -> dict[str, np.ndarray]:
    table = json.loads((case_dir / "ref" / "train_step_weights.json").read_text())
    return {name: np.frombuffer(base64.b64decode(w["data_b64"]), "<f4").reshape(w["shape"])
            for name, w in table.items()}


def _lookup(variables, path):
    node = variables
    for key in path:
        node = node[key]
    return np.asarray(node)


def _tfjs_step(case: str):
    case_dir = CORPUS / "synthetic" / case
    ref = reference(case_dir)
    step = ref["train_step"]
    assert step["optimizer"] == "sgd" and step["loss"] == "meanSquaredError"
    model = flaxjs.load(case_dir)
    xs = [np.load(case_dir / f) for f in step["x"]]
    ys = [np.load(case_dir / f) for f in step["y"]]
    state = ft.TrainState.create(model, optax.sgd(step["learning_rate"]))
    return model, state, (tuple(xs), ys[0]), step, _weights_after(case_dir)


@pytest.mark.parametrize("case", CASES)
def test_one_sgd_step_matches_tfjs(case):
    model, state, batch, step, after = _tfjs_step(case)
    new_state, logs = ft.train_step(state, batch, loss="mean_squared_error")

    assert max_error(np.asarray(logs["loss"]), np.float32(step["loss_value"][0])) <= TOLERANCE
    names = {name: path for path, name in model.weight_names.items()}
    assert set(after) == set(names), "every TF.js weight has a flaxjs variable"
    for name, want in after.items():
        got = _lookup(new_state.variables, names[name])
        assert max_error(got, want) <= TOLERANCE, name
    moved = [name for name in step["weights_changed"]
             if not np.array_equal(_lookup(state.variables, names[name]),
                                   _lookup(new_state.variables, names[name]))]
    assert moved, "the step updated the weights"
    assert int(new_state.step) == 1


def test_frozen_batchnorm_keeps_its_statistics_and_weights_bit_for_bit():
    case_dir = CORPUS / "synthetic" / "batchnorm_train_step"
    model = flaxjs.load(case_dir).freeze("batch_normalization_1")
    ref = reference(case_dir)["train_step"]
    x, y = np.load(case_dir / ref["x"][0]), np.load(case_dir / ref["y"][0])
    state = ft.TrainState.create(model, optax.sgd(0.1))
    new_state, _ = ft.train_step(state, (x, y), loss="mse")
    bn = "batch_normalization_1"
    for collection in ("params", "batch_stats"):
        for key, before in state.variables[collection][bn].items():
            after = new_state.variables[collection][bn][key]
            assert np.asarray(before).tobytes() == np.asarray(after).tobytes(), (collection, key)
    for layer in ("dense_1", "dense_2"):
        assert not np.array_equal(state.params[layer]["kernel"], new_state.params[layer]["kernel"])


def test_frozen_batchnorm_runs_in_inference_mode_while_training():
    case_dir = CORPUS / "synthetic" / "batchnorm_train_step"
    model = flaxjs.load(case_dir)
    frozen = model.freeze("batch_normalization_1")
    ref = reference(case_dir)["train_step"]
    x, y = np.load(case_dir / ref["x"][0]), np.load(case_dir / ref["y"][0])
    state = ft.TrainState.create(frozen, optax.sgd(0.0))
    _, logs = ft.train_step(state, (x, y), loss="mse")
    inference = ft.eval_step(state, (x, y), loss="mse")
    assert float(logs["loss"]) == pytest.approx(float(inference["loss"]), rel=1e-6)
    trainable = ft.TrainState.create(model, optax.sgd(0.0))
    assert float(ft.train_step(trainable, (x, y), loss="mse")[1]["loss"]) == pytest.approx(
        ref["loss_value"][0], rel=1e-5)
