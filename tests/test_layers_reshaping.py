"""Padding, cropping and up-sampling beyond the corpus.

Bilinear up-sampling with uneven factors and channels_first are asked from TF.js
live; the Keras-only 1-D/3-D classes must equal the 2-D layers (checked against
TF.js) applied to reshaped inputs; Keras 3 bilinear is the half-pixel resize.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import tfjs_apply
from corpus import max_error
from tfjs_apply import module_for, rand

LIVE = [
    ("UpSampling2D", dict(size=[3, 4], interpolation="bilinear"), (2, 3, 5, 2)),
    ("UpSampling2D", dict(size=[5, 2], interpolation="bilinear", data_format="channels_first"),
     (1, 2, 3, 4)),
    ("UpSampling2D", dict(size=[3, 1], data_format="channels_first"), (1, 2, 3, 4)),
    ("ZeroPadding2D", dict(padding=[[0, 2], [3, 1]], data_format="channels_first"), (1, 2, 3, 4)),
    ("ZeroPadding2D", dict(padding=[2, 1]), (1, 3, 4, 2)),
    ("Cropping2D", dict(cropping=[[2, 0], [1, 3]]), (1, 5, 6, 2)),
]



def apply(module, x):
    return np.asarray(module.apply({}, x))


live, test_edge_cases_match_tfjs = tfjs_apply.edge_case_tests(LIVE)


@pytest.mark.parametrize("cls,cfg,cfg2", [
    ("ZeroPadding1D", dict(padding=[1, 3]), dict(padding=[[1, 3], [0, 0]])),
    ("ZeroPadding1D", dict(padding=2), dict(padding=[[2, 2], [0, 0]])),
    ("Cropping1D", dict(cropping=[2, 1]), dict(cropping=[[2, 1], [0, 0]])),
    ("Cropping1D", {}, dict(cropping=[[1, 1], [0, 0]])),
    ("UpSampling1D", dict(size=3), dict(size=[3, 1])),
])
def test_1d_layers_equal_2d_layers_of_width_one(cls, cfg, cfg2):
    x = rand(2, 7, 3)
    two = module_for(cls.replace("1D", "2D"), cfg2)
    np.testing.assert_array_equal(apply(module_for(cls, cfg), x),
                                  apply(two, x[:, :, None])[:, :, 0])


@pytest.mark.parametrize("cf", [False, True])
def test_3d_layers_equal_2d_layers_per_slice(cf):
    x = rand(2, 4, 5, 6, 3)
    fmt = dict(data_format="channels_first" if cf else "channels_last")
    if cf:
        x = np.moveaxis(x, -1, 1)
    d_axis = 2 if cf else 1

    def per_slice(cls2, cfg2, y):
        slices = [apply(module_for(cls2, dict(cfg2, **fmt)), np.take(y, i, axis=d_axis))
                  for i in range(y.shape[d_axis])]
        return np.stack(slices, axis=d_axis)

    pad = apply(module_for("ZeroPadding3D", dict(padding=[[0, 0], [1, 2], [3, 0]], **fmt)), x)
    np.testing.assert_array_equal(pad, per_slice("ZeroPadding2D", dict(padding=[[1, 2], [3, 0]]),
                                                 x))
    crop = apply(module_for("Cropping3D", dict(cropping=[[0, 0], [1, 2], [2, 1]], **fmt)), x)
    np.testing.assert_array_equal(crop, per_slice("Cropping2D", dict(cropping=[[1, 2], [2, 1]]),
                                                  x))
    up = apply(module_for("UpSampling3D", dict(size=[1, 2, 3], **fmt)), x)
    np.testing.assert_array_equal(up, per_slice("UpSampling2D", dict(size=[2, 3]), x))
    up_d = apply(module_for("UpSampling3D", dict(size=[2, 1, 1], **fmt)), x)
    np.testing.assert_array_equal(up_d, np.repeat(x, 2, axis=d_axis))
    assert apply(module_for("ZeroPadding3D", fmt), x).shape == (
        (2, 3, 6, 7, 8) if cf else (2, 6, 7, 8, 3))


def test_keras3_bilinear_is_half_pixel_resize():
    x = rand(1, 3, 4, 2)
    got = apply(module_for("UpSampling2D", dict(size=[2, 3], interpolation="bilinear"),
                           keras3=True), x)
    np.testing.assert_allclose(got, np.asarray(jax.image.resize(x, (1, 6, 12, 2), "bilinear")),
                               rtol=1e-6)
    legacy = apply(module_for("UpSampling2D", dict(size=[2, 3], interpolation="bilinear")), x)
    assert max_error(legacy, got) > 1e-3  # TF.js's legacy coordinates differ
