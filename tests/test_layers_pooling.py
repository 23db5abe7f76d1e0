"""Pooling beyond the corpus: edge cases asked from TF.js live, Keras-only classes/options.

TF.js's 3-D ``same`` padding is not clamped at 0 (pool smaller than stride:
windows shift by one cell), 1-D pooling ignores ``data_format``, the global
poolings ignore ``keepdims`` and GlobalAveragePooling1D the mask; Keras 3 files
(which TF.js cannot load) get the Keras meaning, checked by equalities here.
"""

from __future__ import annotations

import numpy as np
import pytest

import tfjs_apply
from tfjs_apply import module_for, rand

LIVE = [
    ("MaxPooling3D", dict(pool_size=1, strides=2, padding="same"), (2, 2, 3, 4, 2)),
    ("AveragePooling3D", dict(pool_size=1, strides=2, padding="same"), (2, 2, 3, 4, 2)),
    ("AveragePooling3D", dict(pool_size=[1, 2, 3], strides=[3, 2, 2], padding="same"),
     (1, 5, 4, 7, 2)),
    ("MaxPooling3D", dict(pool_size=[2, 1, 1], strides=[1, 3, 2], padding="same",
                          data_format="channels_first"), (1, 2, 3, 5, 4)),
    ("AveragePooling2D", dict(pool_size=1, strides=2, padding="same"), (1, 4, 5, 2)),
    ("MaxPooling1D", dict(pool_size=4, strides=3, padding="same"), (2, 10, 3)),
    ("AveragePooling1D", dict(pool_size=3, strides=1, padding="causal"), (2, 7, 3)),
    ("AveragePooling1D", dict(pool_size=2, data_format="channels_first"), (2, 6, 4)),
    ("GlobalMaxPooling2D", dict(data_format="channels_first"), (2, 3, 4, 5)),
]



def apply(module, x, mask=None):
    return np.asarray(module.apply({}, x, mask=mask))


live, test_edge_cases_match_tfjs = tfjs_apply.edge_case_tests(LIVE)


def test_keras3_pooling1d_honours_channels_first():
    x = rand(2, 3, 8)
    cfg = dict(pool_size=3, strides=2, padding="same", data_format="channels_first")
    last = module_for("AveragePooling1D", dict(cfg, data_format="channels_last"))
    got = apply(module_for("AveragePooling1D", cfg, keras3=True), x)
    np.testing.assert_allclose(got, np.swapaxes(apply(last, np.swapaxes(x, 1, 2)), 1, 2))


def test_keras3_3d_same_padding_is_clamped():
    """TF (Keras 3 references) clamps ``same`` padding at 0: the first cell of each window."""
    x = rand(1, 2, 4, 3, 2)
    cfg = dict(pool_size=1, strides=2, padding="same")
    np.testing.assert_array_equal(apply(module_for("MaxPooling3D", cfg, keras3=True), x),
                                  x[:, ::2, ::2, ::2])
    np.testing.assert_array_equal(apply(module_for("MaxPooling3D", cfg), x),
                                  x[:, 1::2, 1::2, ::2])  # TF.js: total -1 → shifted by one


@pytest.mark.parametrize("cls,reduce", [("GlobalAveragePooling3D", np.mean),
                                        ("GlobalMaxPooling3D", np.max)])
@pytest.mark.parametrize("cf", [False, True])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_3d(cls, reduce, cf, keepdims):
    x = rand(2, 3, 4, 5, 6)
    axes = (2, 3, 4) if cf else (1, 2, 3)
    module = module_for(cls, dict(data_format="channels_first" if cf else "channels_last",
                                  keepdims=keepdims))
    np.testing.assert_allclose(apply(module, x), reduce(x, axis=axes, keepdims=keepdims),
                               rtol=1e-5, atol=1e-6)


def test_global_pooling_keepdims_ignored_by_tfjs_honoured_by_keras3():
    x = rand(2, 4, 5, 3)
    cfg = dict(keepdims=True)
    assert apply(module_for("GlobalAveragePooling2D", cfg), x).shape == (2, 3)
    assert apply(module_for("GlobalAveragePooling2D", cfg, keras3=True), x).shape == (2, 1, 1, 3)


def test_global_average_pooling1d_mask_only_for_keras3():
    x = rand(2, 5, 3)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    tfjs = module_for("GlobalAveragePooling1D", {})
    np.testing.assert_allclose(apply(tfjs, x, mask), x.mean(1), rtol=1e-6)
    keras3 = module_for("GlobalAveragePooling1D", {}, keras3=True)
    want = np.stack([x[0, :3].mean(0), x[1].mean(0)])
    np.testing.assert_allclose(apply(keras3, x, mask), want, rtol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("mode", ["valid", "same"])
def test_pooling_is_differentiable(kind, mode):
    """A frozen base with MaxPooling must pass gradients to the layers before it (the max
    reducer is differentiated only with a concrete init value)."""
    import jax

    from flaxjs.layers.pooling import pool_nd

    x = rand(1, 5, 5, 2)
    grad = jax.grad(lambda v: pool_nd(v, kind, (2, 2), (2, 2), mode).sum())(x)
    assert grad.shape == x.shape and np.isfinite(np.asarray(grad)).all()
    assert float(np.asarray(grad).sum()) > 0
    jitted = jax.jit(jax.grad(lambda v: pool_nd(v, kind, (2, 2), (2, 2), mode).sum()))(x)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(grad))
