"""Cutting, feature extraction and heads, checked against TF.js's outputs of the same tensors."""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np
import pytest

import flaxjs
from corpus import CORPUS, expected_outputs, inputs, max_error, reference
from flaxjs import keras as K

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

MULTI = CORPUS / "synthetic" / "model_multi_input_multi_output"  # outputs head_class, head_reg, dense_1
STATES = CORPUS / "synthetic" / "lstm_return_state"  # outputs lstm_1:0, :1, :2
NESTED = CORPUS / "synthetic" / "model_nested_multi_output"  # inner_two_heads[1][1]


def _case(case):
    ref = reference(case)
    return flaxjs.load(case), inputs(case, ref), expected_outputs(case, ref)


def test_truncate_at_an_intermediate_layer_gives_tfjs_values_and_drops_params():
    model, xs, want = _case(MULTI)
    cut = model.truncate("dense_1")
    needed = [s.name for s in cut.input_specs]
    by_name = dict(zip([s.name for s in model.input_specs], xs))
    assert max_error(np.asarray(cut(*[by_name[n] for n in needed])), want[2]) <= 1e-4
    assert set(cut.params) < set(model.params)
    assert "head_class" not in cut.params


def test_truncate_selects_a_state_output():
    model, xs, want = _case(STATES)
    for k in (1, 2):
        assert max_error(np.asarray(model.truncate(f"lstm_1:{k}")(*xs)), want[k]) <= 1e-4


def test_features_returns_a_dict_in_the_order_asked():
    model, xs, want = _case(MULTI)
    feats = model.features(["dense_1", "head_reg"])
    out = feats(*xs)
    assert list(out) == ["dense_1", "head_reg"]
    assert max_error(np.asarray(out["dense_1"]), want[2]) <= 1e-4
    assert max_error(np.asarray(out["head_reg"]), want[1]) <= 1e-4


def test_capture_returns_intermediate_outputs_alongside():
    model, xs, want = _case(MULTI)
    outputs, captured = model.apply(model.variables, *xs, capture=["dense_1"])
    assert max_error(np.asarray(captured["dense_1"]), want[2]) <= 1e-4
    assert max_error(np.asarray(outputs[0]), want[0]) <= 1e-4


def test_truncate_into_a_nested_model():
    model, xs, want = _case(NESTED)
    inner = model.graph.layer("inner_two_heads").graph
    second_output = inner.outputs[1].layer
    cut = model.truncate(f"inner_two_heads/{second_output}")
    assert max_error(np.asarray(cut(*xs)), want[1]) <= 1e-4


def test_extend_with_builders_keeps_base_names_and_values():
    model, xs, want = _case(MULTI)
    base = model.truncate("dense_1")
    head = base.extend([K.Dense(4, activation="relu"), K.Dropout(0.5), K.Dense(2)],
                       key=jax.random.key(1))
    assert [s.name for s in head.graph.layers[-3:]] == ["dense", "dropout", "dense_2"]
    for name in base.params:
        for w in base.params[name]:
            np.testing.assert_array_equal(head.params[name][w], base.params[name][w])
    needed = [s.name for s in head.input_specs]
    by_name = dict(zip([s.name for s in model.input_specs], xs))
    y, captured = head.apply(head.variables, *[by_name[n] for n in needed], capture=["dense_1"])
    assert y.shape == (2, 2)
    assert max_error(np.asarray(captured["dense_1"]), want[2]) <= 1e-4


def test_extend_with_a_flax_module():
    class Probe(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool = False):
            return nn.Dense(3)(x)

    model, xs, _ = _case(MULTI)
    base = model.truncate("dense_1")
    extended = base.extend(Probe())
    assert "probe" in extended.params and "dense_1" in extended.params
    needed = [s.name for s in extended.input_specs]
    by_name = dict(zip([s.name for s in model.input_specs], xs))
    assert extended(*[by_name[n] for n in needed]).shape == (2, 3)


def test_freeze_and_unfreeze_set_keras_flags_recursively():
    model, _, _ = _case(NESTED)
    frozen = model.freeze()
    assert not any(s.trainable for _, s in frozen.graph.walk() if s.class_name != "InputLayer")
    partly = frozen.unfreeze("dense_*")
    flags = {s.name: s.trainable for _, s in partly.graph.walk()}
    assert all(v for k, v in flags.items() if k.startswith("dense_"))
    assert flags["inner_two_heads"] is False
