"""Core, noise, activation and merge layers beyond plain inference parity.

* Training: one TF.js SGD step through Dense -> Dropout(rate=0) -> Dense (corpus
  ``dropout_train_step``) is reproduced with ``train=True``; active dropout and
  noise layers are checked for their structure (what values can come out).
* Keras-only classes (Subtract, Identity, ActivityRegularization,
  SpatialDropout2D/3D) and options TF.js refuses or ignores (ELU alpha != 1,
  Keras 3 LeakyReLU/ReLU options, Keras 3 Concatenate axis): equalities with
  TF.js-loadable layers that the corpus checks against TF.js.
* Masks: what Masking, Embedding and the merge layers hand downstream.
"""

from __future__ import annotations

import base64
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flaxjs
from corpus import CORPUS, inputs, reference
from flaxjs.layers import registry
from flaxjs.topology.spec import LayerSpec

TRAIN_CASE = CORPUS / "synthetic" / "dropout_train_step"


def layer(class_name, keras3=False, **config):
    return registry.convert(LayerSpec(class_name, "layer", config, keras3=keras3))


def run(module, x, *, train=False, rng=0, mask=None):
    xs = x if isinstance(x, list) else [x]
    rngs = {"params": jax.random.key(0), "dropout": jax.random.key(rng)}
    arg = x if isinstance(x, list) else xs[0]
    variables = module.init(rngs, arg)
    return np.asarray(module.apply(variables, arg, train=train, mask=mask, rngs=rngs))


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-3, 3, shape).astype(np.float32)


# --- training ---------------------------------------------------------------------


@pytest.mark.skipif(not TRAIN_CASE.is_dir(), reason="corpus not present")
def test_dropout_train_step_matches_tfjs():
    ref = reference(TRAIN_CASE)
    model = flaxjs.load(TRAIN_CASE)
    (x,) = inputs(TRAIN_CASE, ref)
    y_true = np.load(TRAIN_CASE / ref["train_step"]["y"][0])

    def loss(params):
        y = model.apply({**model.variables, "params": params}, x, train=True)
        return jnp.mean(jnp.mean((y - y_true) ** 2, axis=-1))

    value, grads = jax.value_and_grad(loss)(model.variables["params"])
    np.testing.assert_allclose(value, ref["train_step"]["loss_value"][0], rtol=1e-5)
    raw = json.loads((TRAIN_CASE / ref["train_step"]["weights_file"]).read_text())
    for name, w in raw.items():
        layer_name, weight = name.split("/")
        want = np.frombuffer(base64.b64decode(w["data_b64"]), "<f4").reshape(w["shape"])
        got = model.variables["params"][layer_name][weight] - 0.1 * grads[layer_name][weight]
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_dropout_train_inverted_scaling_and_noise_shape():
    x = rand(4, 6, 5) + 10.0  # no zeros in x
    y = run(layer("Dropout", rate=0.4, noise_shape=[None, 1, None]), x, train=True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], (x / 0.6)[kept], rtol=1e-6)
    assert (kept == kept[:, :1, :]).all()  # the same decision along the size-1 axis
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(run(layer("Dropout", rate=0.4), x), x)


@pytest.mark.parametrize("rate", [0.0, 1.0, 1.5])
def test_dropout_rate_outside_open_interval_is_identity_in_training(rate):
    x = rand(3, 4)
    module = layer("Dropout", rate=rate)
    variables = module.init(jax.random.key(0), x)
    # no "dropout" rng needed: nothing is drawn
    np.testing.assert_array_equal(module.apply(variables, x, train=True), x)


@pytest.mark.parametrize("class_name,data_format,shape,spatial", [
    ("SpatialDropout1D", None, (4, 7, 6), (1,)),
    ("SpatialDropout2D", "channels_last", (4, 5, 3, 6), (1, 2)),
    ("SpatialDropout2D", "channels_first", (4, 6, 5, 3), (2, 3)),
    ("SpatialDropout3D", "channels_last", (4, 2, 3, 2, 6), (1, 2, 3)),
])
def test_spatial_dropout_drops_whole_channels(class_name, data_format, shape, spatial):
    config = {"rate": 0.5} | ({"data_format": data_format} if data_format else {})
    module = layer(class_name, **config)
    x = rand(*shape) + 10.0
    np.testing.assert_array_equal(run(module, x), x)
    kept = run(module, x, train=True) != 0
    assert (kept == kept.all(axis=spatial, keepdims=True)).all()
    assert 0 < kept.mean() < 1


def test_noise_layers_identity_at_inference_and_random_in_training():
    x = rand(8, 50)
    for class_name, config in [("GaussianNoise", {"stddev": 0.5}),
                               ("GaussianDropout", {"rate": 0.3}),
                               ("AlphaDropout", {"rate": 0.3})]:
        module = layer(class_name, **config)
        np.testing.assert_array_equal(run(module, x), x)
        y = run(module, x, train=True)
        assert not np.allclose(y, x)
        assert not np.allclose(y, run(module, x, train=True, rng=1))


def test_alpha_dropout_training_values():
    rate, alpha_p = 0.3, -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    x = rand(8, 50)
    y = run(layer("AlphaDropout", rate=rate), x, train=True)
    # TF.js: dropped units become (kept - 1) * alpha_p = -alpha_p (Keras: alpha_p)
    dropped = np.isclose(y, -a * alpha_p + b, atol=1e-6)
    np.testing.assert_allclose(y[~dropped], (a * x + b)[~dropped], rtol=1e-5, atol=1e-6)
    assert 0.1 < dropped.mean() < 0.5


# --- Keras-only classes and refused options ---------------------------------------


@pytest.mark.parametrize("class_name", ["Identity", "ActivityRegularization"])
def test_identity_layers(class_name):
    x = rand(2, 3, 4)
    module = layer(class_name, l1=0.01)
    np.testing.assert_array_equal(run(module, x), x)
    mask = np.array([[True, False, True]] * 2)
    assert module.compute_mask([x], [mask]) is mask
    assert registry.registration(class_name).tfjs is False


def test_subtract_equals_add_of_negation_with_rank_expansion():
    a, b = rand(2, 3, 4), rand(2, 4, seed=1)
    np.testing.assert_allclose(run(layer("Subtract"), [a, b]), run(layer("Add"), [a, -b]))
    np.testing.assert_allclose(run(layer("Subtract"), [b, a]), run(layer("Add"), [b, -a]))
    with pytest.raises(ValueError):
        run(layer("Subtract"), [a, a, a])


def test_elu_alpha_scales_negative_part():
    x = rand(3, 20)
    base = run(layer("ELU"), x)  # alpha 1: checked against TF.js (elu_layer)
    y = run(layer("ELU", alpha=0.5), x)
    np.testing.assert_allclose(y, np.where(x >= 0, base, 0.5 * base), rtol=1e-6)


def test_leaky_relu_negative_slope_only_in_keras3_files():
    x = rand(3, 20)
    want = run(layer("LeakyReLU", alpha=0.05), x)  # checked against TF.js
    np.testing.assert_allclose(run(layer("LeakyReLU", keras3=True, negative_slope=0.05), x), want)
    # TF.js ignores negative_slope: its default alpha 0.3 applies
    np.testing.assert_allclose(run(layer("LeakyReLU", negative_slope=0.05), x),
                               run(layer("LeakyReLU"), x))


def test_relu_keras3_options_reduce_to_tfjs_layers():
    x = rand(3, 40)
    np.testing.assert_allclose(run(layer("ReLU", keras3=True, negative_slope=0.05), x),
                               run(layer("LeakyReLU", alpha=0.05), x), rtol=1e-6)
    np.testing.assert_allclose(run(layer("ReLU", keras3=True, threshold=0.3), x),
                               run(layer("ThresholdedReLU", theta=0.3), x))
    np.testing.assert_allclose(run(layer("ReLU", keras3=True, max_value=0.7), x),
                               run(layer("ReLU", max_value=0.7), x))
    # slope below the threshold, linear above it, clipped at max_value
    y = run(layer("ReLU", keras3=True, negative_slope=0.5, threshold=1.0, max_value=2.0), x)
    lo, mid, hi = x < 1.0, (x >= 1.0) & (x < 2.0), x >= 2.0
    np.testing.assert_allclose(y[lo], 0.5 * (x[lo] - 1.0), rtol=1e-6)
    np.testing.assert_allclose(y[mid], x[mid])
    np.testing.assert_allclose(y[hi], 2.0)
    # TF.js ignores negative_slope and threshold
    np.testing.assert_allclose(run(layer("ReLU", negative_slope=0.5, threshold=1.0), x),
                               run(layer("ReLU"), x))


def test_concatenate_negative_axis():
    a, b = rand(2, 3, 4), rand(2, 3, 4, seed=1)
    # TF.js (checked: concatenate_axis_minus2_equal_shapes): the last axis
    np.testing.assert_array_equal(run(layer("Concatenate", axis=-2), [a, b]),
                                  np.concatenate([a, b], -1))
    # Keras 3 files (TF.js cannot load them): the configured axis
    np.testing.assert_array_equal(run(layer("Concatenate", keras3=True, axis=-2), [a, b]),
                                  run(layer("Concatenate", axis=1), [a, b]))


def test_dot_rejects_rank_4():
    with pytest.raises(NotImplementedError):
        run(layer("Dot", axes=-1), [rand(2, 3, 4, 5), rand(2, 3, 4, 5)])


# --- masks -------------------------------------------------------------------------


def test_softmax_mask_suppresses_masked_positions():
    x = rand(2, 5)
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
    y = run(layer("Softmax", axis=-1), x, mask=mask)
    assert (y[~mask] < 1e-30).all()
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-6)
    assert layer("Softmax").axis == 1  # TF.js default when the key is missing


def test_masking_and_embedding_masks():
    x = rand(2, 4, 3)
    x[0, 1] = 0.0
    masking = layer("Masking", mask_value=0.0)
    np.testing.assert_array_equal(masking.compute_mask([x], [None]),
                                  [[True, False, True, True], [True] * 4])
    ids = np.array([[0.5, 1.0, 0.0, 3.9]], np.float32)
    emb = layer("Embedding", input_dim=5, output_dim=2, mask_zero=True)
    assert emb.supports_masking
    # TF.js compares the raw (float) input with 0, before the int32 cast
    np.testing.assert_array_equal(emb.compute_mask([ids], [None]), [[True, True, False, True]])
    assert not layer("Embedding", input_dim=5, output_dim=2).supports_masking


def test_embedding_truncates_and_flags_out_of_range_ids():
    module = layer("Embedding", input_dim=5, output_dim=2)
    ids = np.array([[0.9, 1.5, 4.99, -0.5]], np.float32)
    variables = module.init(jax.random.key(0), ids)
    table = np.asarray(variables["params"]["embeddings"])
    np.testing.assert_array_equal(module.apply(variables, ids), table[[[0, 1, 4, 0]]])
    bad = np.asarray(module.apply(variables, np.array([[5, -1, 2]], np.int32)))
    assert np.isnan(bad[0, :2]).all() and not np.isnan(bad[0, 2]).any()
    int_module = layer("Embedding", input_dim=5, output_dim=2, dtype="int32")
    int_vars = int_module.init(jax.random.key(0), ids)
    assert int_vars["params"]["embeddings"].dtype == jnp.int32


def test_merge_masks_follow_tfjs():
    xs = [rand(2, 3, 4, seed=i) for i in range(3)]
    m = [np.array([[True, True, False]] * 2), np.array([[True, False, True]] * 2),
         np.array([[False, False, False]] * 2)]
    add = layer("Add")
    out = np.asarray(add.compute_mask(xs, m))
    # leading axis added, last mask ignored
    np.testing.assert_array_equal(out, (m[0] & m[1])[None])
    assert add.compute_mask(xs, [None, None, None]) is None
    assert layer("Dot", axes=-1).compute_mask(xs[:2], m[:2]) is None
    # Subtract (Keras only): Keras's AND of the masks
    np.testing.assert_array_equal(layer("Subtract").compute_mask(xs[:2], m[:2]), m[0] & m[1])


def test_concatenate_mask():
    a, b = rand(2, 3, 4), rand(2, 3, 2, seed=1)
    mask = np.array([[True, False, True], [False, True, True]])
    concat = layer("Concatenate", axis=-1)
    np.testing.assert_array_equal(concat.compute_mask([a, b], [mask, None]), mask)
    assert concat.compute_mask([a, b], [None, None]) is None
