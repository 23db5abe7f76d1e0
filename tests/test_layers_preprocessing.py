"""Preprocessing layers the corpus does not cover: Keras-only layers and edge behaviours.

TF.js-loadable behaviour (Rescaling, Resizing, CenterCrop, CategoryEncoding,
RandomWidth with factor 0) is checked against TF.js by the corpus cases.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from flaxjs.errors import LayerConfigError
from flaxjs.layers import pooling, preprocessing, registry  # noqa: F401
from flaxjs.topology.spec import LayerSpec


def _layer(cls, config, name="layer"):
    return registry.convert(LayerSpec(cls, name, dict(config, name=name)))


def _image(shape=(2, 8, 6, 3), seed=0):
    return np.asarray(jax.random.uniform(jax.random.key(seed), shape, minval=-1.0, maxval=1.0))


@pytest.mark.parametrize("cls,config", [
    ("RandomFlip", {"mode": "horizontal"}),
    ("RandomRotation", {"factor": 0.2}),
    ("RandomZoom", {"height_factor": 0.1}),
    ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.2}),
    ("RandomContrast", {"factor": 0.3}),
    ("RandomBrightness", {"factor": 0.3}),
    ("RandomHeight", {"factor": 0.3}),
    ("RandomWidth", {"factor": [-0.2, 0.4]}),
])
def test_random_augmentation_is_identity_at_inference(cls, config):
    x = _image()
    layer = _layer(cls, config)
    assert layer.init(jax.random.key(0), x) == {}
    np.testing.assert_array_equal(np.asarray(layer.apply({}, x)), x)
    np.testing.assert_array_equal(np.asarray(layer.apply({}, x, train=True)), x)


def test_random_width_fixed_factor_resizes_like_resizing_without_align_corners():
    """lo == hi gives TF.js's deterministic width round(float32(1 + lo) * W)."""
    x = _image((2, 4, 5, 2))
    y = _layer("RandomWidth", {"factor": [0.5, 0.5]}).apply({}, x)
    assert y.shape == (2, 4, 8, 2)  # round(1.5 * 5) = 8 (JS rounds halves up)
    resized = _layer("Resizing", {"height": 4, "width": 8, "crop_to_aspect_ratio": True})
    np.testing.assert_allclose(np.asarray(y), np.asarray(resized.apply({}, x)), atol=1e-6)
    same = _layer("RandomWidth", {"factor": [0, 0]}).apply({}, x)
    np.testing.assert_array_equal(np.asarray(same), x)


def test_random_crop_same_size_is_identity_and_halving_is_average_pooling():
    x = _image((2, 8, 6, 3))
    same = _layer("RandomCrop", {"height": 8, "width": 6})
    np.testing.assert_array_equal(np.asarray(same.apply({}, x)), x)
    # Same aspect ratio, half the size: half-pixel bilinear samples the middle of each 2x2 block.
    half = _layer("RandomCrop", {"height": 4, "width": 3}).apply({}, x)
    pool = _layer("AveragePooling2D", {"pool_size": [2, 2]}).apply({}, x)
    np.testing.assert_allclose(np.asarray(half), np.asarray(pool), atol=1e-6)


def test_random_crop_crops_to_the_target_aspect_ratio():
    x = _image((1, 10, 4, 1))
    y = _layer("RandomCrop", {"height": 4, "width": 4}).apply({}, x)
    # the largest centred square window of a 10x4 image is rows 3..6
    np.testing.assert_array_equal(np.asarray(y), x[:, 3:7])


def test_discretization_matches_the_keras_docstring_example():
    layer = _layer("Discretization", {"bin_boundaries": [0.0, 1.0, 2.0]})
    x = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]], np.float32)
    np.testing.assert_array_equal(np.asarray(layer.apply({}, x)),
                                  [[0, 2, 3, 1], [1, 3, 2, 1]])
    hot = _layer("Discretization", {"bin_boundaries": [0.0, 1.0, 2.0], "output_mode": "one_hot"})
    assert hot.apply({}, x[0]).shape == (4, 4)
    with pytest.raises(LayerConfigError):
        _layer("Discretization", {"num_bins": 4})


def test_category_encoding_modes_and_refusals():
    ids = np.array([[0, 2, 2], [3, 3, 1]], np.float32)
    count = _layer("CategoryEncoding", {"num_tokens": 4, "output_mode": "count"})
    multi = _layer("CategoryEncoding", {"num_tokens": 4, "output_mode": "multiHot"})
    y_count, y_multi = np.asarray(count.apply({}, ids)), np.asarray(multi.apply({}, ids))
    np.testing.assert_array_equal(y_multi, np.minimum(y_count, 1))
    np.testing.assert_array_equal(y_count.sum(-1), [3, 3])
    ints = _layer("CategoryEncoding", {"num_tokens": 4, "output_mode": "int"})
    assert ints.apply({}, ids).dtype == np.int32
    with pytest.raises(LayerConfigError):
        _layer("CategoryEncoding", {"num_tokens": 4, "output_mode": "tf_idf"})


def test_rescaling_per_channel_scale():
    x = _image((2, 3, 3, 2))
    y = _layer("Rescaling", {"scale": [2.0, 0.5], "offset": 1.0}).apply({}, x)
    np.testing.assert_allclose(np.asarray(y), x * [2.0, 0.5] + 1.0, rtol=1e-6)


def test_resizing_refuses_what_it_cannot_reproduce():
    with pytest.raises(LayerConfigError):
        _layer("Resizing", {"height": 4, "width": 4, "interpolation": "bicubic"})
    with pytest.raises(LayerConfigError):
        _layer("Resizing", {"height": 4, "width": 4, "pad_to_aspect_ratio": True})


def test_resize_jits():
    x = _image((1, 5, 7, 2))
    f = jax.jit(lambda v: preprocessing.resize(v, (9, 3), "bilinear", align_corners=True))
    assert f(x).shape == (1, 9, 3, 2)
