"""Normalization layers beyond what plain inference parity covers.

* BatchNormalization training: the moving statistics after one TF.js
  ``trainOnBatch`` (corpus case ``batchnorm_train_step``) are reproduced by one
  train-mode forward pass with a mutable ``batch_stats`` collection (the update
  does not depend on the SGD step, only on the batch statistics).
* Frozen BatchNormalization runs in inference mode even with ``train=True``.
* Keras-only layers: structure and equivalences with TF.js-checked layers.
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
from flaxjs.errors import LayerConfigError
from flaxjs.layers import normalization
from flaxjs.topology.spec import LayerSpec

TRAIN_CASE = CORPUS / "synthetic" / "batchnorm_train_step"


def _weights_after_step(case_dir):
    raw = json.loads((case_dir / "ref" / "train_step_weights.json").read_text())
    return {name: np.frombuffer(base64.b64decode(w["data_b64"]), "<f4").reshape(w["shape"])
            for name, w in raw.items()}


@pytest.mark.skipif(not TRAIN_CASE.is_dir(), reason="corpus not present")
def test_batchnorm_train_step_moving_stats_match_tfjs():
    model = flaxjs.load(TRAIN_CASE)
    (x,) = inputs(TRAIN_CASE, reference(TRAIN_CASE))
    _, updated = model.apply(model.variables, x, train=True, mutable=["batch_stats"])
    after = _weights_after_step(TRAIN_CASE)
    stats = updated["batch_stats"]["batch_normalization_1"]
    before = model.variables["batch_stats"]["batch_normalization_1"]
    for name in ("moving_mean", "moving_variance"):
        want = after[f"batch_normalization_1/{name}"]
        assert not np.allclose(np.asarray(before[name]), want)  # the step did change them
        np.testing.assert_allclose(np.asarray(stats[name]), want, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not TRAIN_CASE.is_dir(), reason="corpus not present")
def test_batchnorm_train_forward_matches_tfjs_loss():
    """The train-mode forward (batch statistics) gives TF.js's pre-update loss."""
    ref = reference(TRAIN_CASE)
    model = flaxjs.load(TRAIN_CASE)
    (x,) = inputs(TRAIN_CASE, ref)
    y_true = np.load(TRAIN_CASE / ref["train_step"]["y"][0])
    y = np.asarray(model.apply(model.variables, x, train=True), np.float64)
    loss = np.mean(np.mean((y - y_true) ** 2, axis=-1))
    np.testing.assert_allclose(loss, ref["train_step"]["loss_value"][0], rtol=1e-5)
    y_inf = np.asarray(model.apply(model.variables, x, train=False), np.float64)
    assert not np.allclose(y, y_inf)  # inference uses the moving statistics instead


def _bn(config, name="bn"):
    return normalization.batch_normalization(LayerSpec("BatchNormalization", name, config))


@pytest.mark.parametrize("shape,scale,center", [
    ((6, 5, 7, 3), True, True), ((17, 4, 4, 2), False, True), ((32, 3), True, False),
    ((2, 9, 5), False, False),
])
def test_batchnorm_train_custom_gradient_matches_jax(shape, scale, center):
    """The training path's folded sums and hand-written backward pass against JAX
    differentiating the plain two-pass moments: outputs and every gradient (the batch
    mean and variance outputs' cotangents included) within 1e-5 relative."""
    rng = np.random.default_rng(0)
    x, gamma, beta = (jnp.asarray(rng.uniform(-1, 2, s), jnp.float32)
                      for s in (shape, shape[-1:], shape[-1:]))
    cotangents = tuple(jnp.asarray(rng.uniform(-1, 1, s), jnp.float32)
                       for s in (shape, shape[-1:], shape[-1:]))

    def fast(x, gamma, beta):
        return normalization._batch_norm_train(x, gamma, beta, 1e-3, scale, center)

    def plain(x, gamma, beta):
        mean, var = normalization._moments(x, tuple(range(x.ndim - 1)))
        y = normalization._normalize(x, mean, var, gamma if scale else None,
                                     beta if center else None, 1e-3)
        return y, mean, var

    got, got_vjp = jax.vjp(jax.jit(fast), x, gamma, beta)
    want, want_vjp = jax.vjp(jax.jit(plain), x, gamma, beta)
    for a, b in [*zip(got, want, strict=True),
                 *zip(got_vjp(cotangents), want_vjp(cotangents), strict=True)]:
        scale_of = float(jnp.max(jnp.abs(b)))  # 0: gamma or beta unused, both gradients 0
        assert float(jnp.max(jnp.abs(a - b))) <= 1e-5 * scale_of


def test_frozen_batchnorm_ignores_train():
    module = _bn({"axis": -1, "trainable": False, "momentum": 0.5})
    x = jax.random.normal(jax.random.key(0), (4, 3))
    variables = module.init(jax.random.key(1), x)
    variables = {"params": variables["params"],
                 "batch_stats": {"moving_mean": jnp.array([0.5, -1.0, 2.0]),
                                 "moving_variance": jnp.array([2.0, 0.5, 1.5])}}
    y_inf = module.apply(variables, x, train=False)
    y_train, updated = module.apply(variables, x, train=True, mutable=["batch_stats"])
    np.testing.assert_array_equal(np.asarray(y_inf), np.asarray(y_train))
    np.testing.assert_array_equal(np.asarray(updated["batch_stats"]["moving_mean"]),
                                  np.asarray(variables["batch_stats"]["moving_mean"]))


def test_batchnorm_variables_and_axis_forms():
    x = jnp.zeros((2, 3, 4, 5))
    for axis, dim in ((1, 3), ([3], 5), (-1, 5), ([-2], 4)):
        v = _bn({"axis": axis}).init(jax.random.key(0), x)
        assert list(v["params"]) == ["gamma", "beta"]
        assert list(v["batch_stats"]) == ["moving_mean", "moving_variance"]
        assert v["params"]["gamma"].shape == (dim,)
    v = _bn({"center": False, "scale": False}).init(jax.random.key(0), x)
    assert "params" not in v
    with pytest.raises(LayerConfigError):
        _bn({"axis": [1, 2]})


def test_batchnorm_init_does_not_update_stats():
    module = _bn({})
    x = jax.random.normal(jax.random.key(0), (4, 3)) + 5.0
    v = module.init(jax.random.key(1), x, train=True)
    np.testing.assert_array_equal(np.asarray(v["batch_stats"]["moving_mean"]), np.zeros(3))


def _spec(cls, config, name="layer"):
    return LayerSpec(cls, name, config)


def test_group_normalization_one_group_per_channel_is_instance_norm():
    """groups == channels: per-sample, per-channel statistics over the spatial axes."""
    x = jax.random.normal(jax.random.key(0), (2, 5, 6, 4)) * 3.0 + 1.0
    gn = normalization.group_normalization(_spec("GroupNormalization", {"groups": 4}))
    v = gn.init(jax.random.key(1), x)
    assert v["params"]["gamma"].shape == (4,) and v["params"]["beta"].shape == (4,)
    y = np.asarray(gn.apply(v, x))
    ln = normalization.layer_normalization(_spec("LayerNormalization", {"axis": [1, 2],
                                                                         "scale": False,
                                                                         "center": False}))
    want = ln.apply({}, x)
    np.testing.assert_allclose(y, np.asarray(want), atol=1e-5)


def test_group_normalization_one_group_is_layer_norm_over_all_axes():
    x = jax.random.normal(jax.random.key(0), (2, 3, 8)) * 2.0 - 1.0
    gn = normalization.group_normalization(_spec("GroupNormalization", {"groups": 1}))
    v = gn.init(jax.random.key(1), x)
    v = {"params": {"gamma": jnp.linspace(0.5, 2.0, 8), "beta": jnp.linspace(-1.0, 1.0, 8)}}
    ln = normalization.layer_normalization(_spec("LayerNormalization", {"axis": [1, 2],
                                                                         "scale": False,
                                                                         "center": False}))
    want = np.asarray(ln.apply({}, x)) * np.linspace(0.5, 2.0, 8) + np.linspace(-1.0, 1.0, 8)
    np.testing.assert_allclose(np.asarray(gn.apply(v, x)), want, atol=1e-5)


def test_unit_normalization_unit_norm():
    x = jax.random.normal(jax.random.key(0), (3, 7))
    un = normalization.unit_normalization(_spec("UnitNormalization", {"axis": -1}))
    y = np.asarray(un.apply({}, x))
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(y * np.linalg.norm(np.asarray(x), axis=-1, keepdims=True),
                               np.asarray(x), rtol=1e-5, atol=1e-6)


def test_normalization_adapted_weights_and_invert():
    x = jax.random.normal(jax.random.key(0), (4, 3, 2))
    layer = normalization.normalization(_spec("Normalization", {"axis": [-1]}))
    v = layer.init(jax.random.key(1), x)
    assert {k: s.shape for k, s in v["batch_stats"].items()} == {
        "mean": (2,), "variance": (2,), "count": ()}
    stats = {"mean": jnp.array([1.0, -2.0]), "variance": jnp.array([4.0, 0.25]),
             "count": jnp.array(10, jnp.int32)}
    y = layer.apply({"batch_stats": stats}, x)
    np.testing.assert_allclose(np.asarray(y), (np.asarray(x) - [1.0, -2.0]) / [2.0, 0.5],
                               rtol=1e-6)
    inv = normalization.normalization(_spec("Normalization", {"axis": -1, "invert": True}))
    np.testing.assert_allclose(np.asarray(inv.apply({"batch_stats": stats}, y)), np.asarray(x),
                               rtol=1e-5, atol=1e-6)
    fixed = normalization.normalization(_spec("Normalization", {
        "axis": -1, "mean": [1.0, -2.0], "variance": [4.0, 0.25]}))
    assert fixed.init(jax.random.key(0), x) == {}
    np.testing.assert_allclose(np.asarray(fixed.apply({}, x)), np.asarray(y), rtol=1e-6)
