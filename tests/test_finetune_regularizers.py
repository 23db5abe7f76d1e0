"""Weight regularizers in the training loss, against TF.js's ``trainOnBatch``.

``js/train_regularized.js`` builds a model with L1L2 penalties on a Conv2D, a
BatchNormalization (gamma and beta), a Dense, a Dense called twice and a frozen
Dense, saves it, and records TF.js's loss of one SGD(0.1) step, every weight
after it, and ``evaluate``'s loss (which has no penalties).
"""

from __future__ import annotations

import json

import numpy as np
import optax
import pytest

import flaxjs
import tfjs_node
from corpus import TOLERANCE, max_error
from flaxjs import finetune as ft
from flaxjs.errors import LayerConfigError
from flaxjs.finetune import regularizers

needs_tfjs = pytest.mark.skipif(not tfjs_node.available(), reason="node/npm or the oracle missing")


@pytest.fixture(scope="module")
def tfjs_step(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regularized")
    tfjs_node.run_script("train_regularized.js", str(folder))
    result = json.loads((folder / "result.json").read_text())

    def array(entry):
        return np.asarray(entry["values"], np.float32).reshape(entry["shape"])

    batch = (array(result["x"]), array(result["y"]))
    after = {name: array(w) for name, w in result["weights_after"].items()}
    return flaxjs.load(folder), batch, result, after


@needs_tfjs
def test_one_step_with_penalties_matches_tfjs(tfjs_step):
    model, batch, result, after = tfjs_step
    state = ft.TrainState.create(model, optax.sgd(0.1))
    new_state, logs = ft.train_step(state, batch, loss="mean_squared_error")
    assert max_error(np.asarray(logs["loss"]), np.float32(result["train_loss"])) <= TOLERANCE
    names = {name: path for path, name in model.weight_names.items()}
    assert set(after) == set(names)
    for name, want in after.items():
        got = new_state.variables
        for key in names[name]:
            got = got[key]
        assert max_error(np.asarray(got), want) <= TOLERANCE, name


@needs_tfjs
def test_the_penalties_are_what_makes_the_step_match(tfjs_step):
    model, batch, result, after = tfjs_step
    bare = ft.TrainState.create(model, optax.sgd(0.1)).replace(penalties=())
    new_state, logs = ft.train_step(bare, batch, loss="mean_squared_error")
    assert max_error(np.asarray(logs["loss"]), np.float32(result["train_loss"])) > 10 * TOLERANCE
    kernel = np.asarray(new_state.params["dense"]["kernel"])
    assert max_error(kernel, after["dense/kernel"]) > TOLERANCE


@needs_tfjs
def test_evaluation_loss_has_no_penalties_as_in_tfjs(tfjs_step):
    model, batch, result, _ = tfjs_step
    state = ft.TrainState.create(model, optax.sgd(0.1))
    logs = ft.eval_step(state, batch, loss="mean_squared_error")
    assert max_error(np.asarray(logs["loss"]), np.float32(result["eval_loss"])) <= TOLERANCE


@needs_tfjs
def test_shared_layers_count_once_per_call_and_frozen_ones_still_count(tfjs_step):
    model = tfjs_step[0]
    terms = {t.path: t for t in regularizers.penalties(model)}
    assert terms[("shared", "kernel")].count == 2
    assert terms[("shared", "bias")] == regularizers.Penalty(("shared", "bias"), 0.1, 0.0, 2)
    assert ("frozen", "kernel") in terms
    assert terms[("bn", "gamma")].l2 == pytest.approx(0.05)


@pytest.mark.parametrize("value,expected", [
    ({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.0005}}, (0.0, 0.0005)),
    ({"class_name": "L1L2", "config": {"l1": None, "l2": 0.2}}, (0.01, 0.2)),  # TF.js default
    ("l1l2", (0.01, 0.01)),
    ({"class_name": "L2", "config": {"l2": 0.3}}, (0.0, 0.3)),  # Keras-only classes
    ({"class_name": "L1", "config": {}}, (0.01, 0.0)),
    ({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.0}}, None),
])
def test_regularizer_configs(value, expected):
    assert regularizers._rates(value, "layer", "Dense", "kernel_regularizer") == expected


def test_unknown_regularizers_name_the_layer():
    with pytest.raises(LayerConfigError, match="my_dense.*OrthogonalRegularizer"):
        regularizers._rates({"class_name": "OrthogonalRegularizer", "config": {}}, "my_dense",
                            "Dense", "kernel_regularizer")
