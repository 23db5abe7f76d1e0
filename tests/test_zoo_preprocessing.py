"""``model.preprocess`` / ``model.decode``: resizing as TF.js does it, labels from metadata.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

import flaxjs
import tfjs_node
from corpus import CORPUS
from flaxjs.errors import PreprocessingError
from flaxjs import preprocessing as prep
from zoo_fixtures import TM_DIGITS

RESIZE_JS = r"""
const tf = require('@tensorflow/tfjs');
tf.setBackend('cpu');
const fs = require('fs');
const cases = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const out = cases.map(c => {
  let x = tf.tensor(c.data, c.shape, 'int32').toFloat();
  if (c.norm === 'mobilenet') x = x.sub(tf.scalar(127.5)).div(tf.scalar(127.5));
  if (c.norm === 'nsfwjs') x = x.div(tf.scalar(255));
  const y = tf.image.resizeBilinear(x, c.size, c.alignCorners, c.halfPixelCenters);
  return Array.from(y.dataSync());
});
process.stdout.write(JSON.stringify(out));
"""

CASES = [  # (image shape, size, align_corners, half_pixel_centers, card-style normalization)
    ((1, 7, 9, 3), (4, 5), False, False, None),
    ((1, 7, 9, 3), (13, 11), False, False, None),
    ((1, 7, 9, 3), (13, 11), True, False, None),
    ((1, 6, 5, 1), (3, 8), False, True, None),
    ((2, 10, 12, 3), (224, 224), True, False, "mobilenet"),
    ((1, 31, 17, 3), (24, 24), True, False, "nsfwjs"),
]
NORM_OPS = {"mobilenet": [["sub", 127.5], ["div", 127.5]], "nsfwjs": [["div", 255]]}


@pytest.mark.skipif(not tfjs_node.available(), reason="node/npm or the TF.js oracle tool missing")
def test_resize_and_image_pipelines_match_tfjs(tmp_path):
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, shape).astype(np.uint8) for shape, *_ in CASES]
    spec = [{"data": im.ravel().tolist(), "shape": list(im.shape), "size": list(size),
             "alignCorners": ac, "halfPixelCenters": hp, "norm": norm}
            for im, (_, size, ac, hp, norm) in zip(images, CASES)]
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(spec))
    expected = json.loads(tfjs_node.run_node(RESIZE_JS, str(path)))
    for im, want, (shape, size, ac, hp, norm) in zip(images, expected, CASES):
        want = np.asarray(want, np.float32).reshape(shape[0], *size, shape[3])
        if norm is None:
            got = prep.resize_bilinear(im, size, align_corners=ac, half_pixel_centers=hp)
        else:  # the zoo card's image pipeline (ops first, then resize), as the JS packages
            got = prep.preprocess_images(im, {"size": list(size), "channels": shape[3],
                                              "align_corners": ac, "order": "ops-then-resize",
                                              "ops": NORM_OPS[norm]})
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


def test_resize_same_size_is_identity_and_corners_align():
    x = np.random.default_rng(0).random((1, 5, 6, 2)).astype(np.float32)
    assert np.array_equal(prep.resize_bilinear(x, (5, 6)), x)
    y = prep.resize_bilinear(x, (9, 11), align_corners=True)
    for r, c in ((0, 0), (-1, -1), (0, -1), (-1, 0)):
        np.testing.assert_allclose(y[0, r, c], x[0, r, c], rtol=1e-6)


def test_image_inputs_pil_gray_rgba_batches():
    spec = {"kind": "image", "size": [8, 8], "channels": 3, "ops": [["div", 255]]}
    rgb = np.full((10, 12, 3), 255, np.uint8)
    assert prep.preprocess(rgb, spec).shape == (1, 8, 8, 3)
    assert prep.preprocess([rgb, rgb[:5]], spec).shape == (2, 8, 8, 3)
    assert prep.preprocess(np.stack([rgb, rgb]), spec).shape == (2, 8, 8, 3)
    rgba = np.concatenate([rgb, np.zeros((10, 12, 1), np.uint8)], -1)
    np.testing.assert_allclose(prep.preprocess(rgba, spec), 1.0, rtol=1e-6)
    gray = np.full((10, 12), 255, np.uint8)
    np.testing.assert_allclose(prep.preprocess(gray, spec), 1.0, rtol=1e-6)
    one = {**spec, "channels": 1}
    assert prep.preprocess(rgb, one).shape == (1, 8, 8, 1)
    assert prep.preprocess(np.zeros((3, 10, 12), np.uint8), one).shape == (3, 8, 8, 1)
    crop = prep.preprocess(np.zeros((10, 30, 3), np.uint8), {**spec, "crop": "center"})
    assert crop.shape == (1, 8, 8, 3)
    image = pytest.importorskip("PIL.Image")
    pil = image.fromarray(rgb)
    np.testing.assert_array_equal(prep.preprocess(pil, spec), prep.preprocess(rgb, spec))
    assert prep.preprocess(pil, one).shape == (1, 8, 8, 1)


def test_center_crop_keeps_the_middle():
    image = np.zeros((4, 8, 1), np.uint8)
    image[:, 2:6] = 255
    out = prep.preprocess(image, {"kind": "image", "channels": 1, "crop": "center",
                                  "size": [4, 4], "ops": []})
    assert np.all(out == 255)


def test_text_like_the_sentiment_example():
    metadata = {"word_index": {"good": 1, "movie": 2, "rare": 500}, "index_from": 3,
                "max_len": 5, "vocabulary_size": 100}
    out = prep.preprocess(["Good movie!", "a good, good, good movie. rare"], {"kind": "text"},
                          metadata=metadata)
    # front padding with 0, unknown and out-of-vocabulary words -> 2, front truncation
    assert out.tolist() == [[0, 0, 0, 4, 5], [4, 4, 4, 5, 2]]


def test_znorm_per_example():
    x = np.random.default_rng(1).normal(3, 5, (2, 4, 6, 1)).astype(np.float32)
    y = prep.preprocess(x, {"kind": "znorm"}, input_shape=(None, 4, 6, 1))
    np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(1, 2, 3)), 1, atol=1e-4)
    assert prep.preprocess(x[0], {"kind": "znorm"}, input_shape=(None, 4, 6, 1)).shape[0] == 1


def test_decode():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    labels = ["a", "b", "c"]
    assert prep.decode(probs[0], labels, top=2) == [("b", 0.6), ("c", 0.3)]
    assert prep.decode(probs[:1], labels, top=1) == [[("b", 0.6)]]  # a batch of one
    assert [r[0][0] for r in prep.decode(probs, labels, top=1)] == ["b", "a"]
    logits = prep.decode(np.log(probs[0]), labels, output="logits")
    assert [label for label, _ in logits] == ["b", "c", "a"]
    np.testing.assert_allclose([s for _, s in logits], [0.6, 0.3, 0.1])
    background = prep.decode(np.array([0.9, 0.05, 0.05]), ["x", "y"], label_offset=1)
    assert [label for label, _ in background] == ["x", "y"]
    assert prep.decode(np.array([[0.8]]), ["neg", "pos"], output="sigmoid")[0][0][0] == "pos"
    assert prep.decode(np.array([0.2, 0.7]), None)[0] == ("1", 0.7)
    with pytest.raises(PreprocessingError, match="3 classes .* 2 labels"):
        prep.decode(probs, ["a", "b"])
    with pytest.raises(PreprocessingError, match="features"):
        prep.decode(probs, labels, output="features")


def test_spec_from_metadata():
    tm = prep.spec_from_metadata({"packageName": "@teachablemachine/image", "labels": ["a"],
                                  "imageSize": 96})
    assert tm["size"] == [96, 96] and tm["crop"] == "center"
    assert tm["ops"] == [["div", 127], ["sub", 1]]
    assert prep.spec_from_metadata({"wordLabels": ["a"]})["kind"] == "znorm"
    assert prep.spec_from_metadata({"word_index": {}, "max_len": 3})["kind"] == "text"
    assert prep.spec_from_metadata({"something": 1}) is None
    with pytest.raises(PreprocessingError, match="no preprocessing is known"):
        prep.preprocess(np.zeros((2, 2)), None, metadata={"x": 1})


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_flaxjs_load_attaches_teachable_machine_labels_and_preprocessing():
    model = flaxjs.load(TM_DIGITS)
    metadata = json.loads((TM_DIGITS / "metadata.json").read_text())
    assert model.labels == metadata["labels"] and model.card is None
    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    x = model.preprocess(image)
    assert x.shape == (1, 224, 224, 3) and x.min() >= -1 and x.max() <= 255 / 127 - 1 + 1e-6
    [top] = model.decode(model(x), top=3)  # one list per image
    assert len(top) == 3 and {label for label, _ in top} <= set(metadata["labels"])
    frozen = model.freeze()  # same outputs: labels and preprocessing carry over
    assert frozen.labels == model.labels and frozen.decode(frozen(x), top=3) == [top]
    cut = model.truncate("sequential_13")  # new outputs: the labels no longer apply
    assert cut.labels is None
    np.testing.assert_array_equal(cut.preprocess(image), x)
    model = model.with_info(labels=["custom"] * 10)
    assert model.decode(model(x), top=1)[0][0][0] == "custom"


def test_images_for_an_int32_input_are_truncated_to_int32():
    """MoveNet's card: pixels in [0, 255], resized, then ``tf.cast(x, "int32")``."""
    image = np.random.default_rng(0).integers(0, 256, (30, 40, 3)).astype(np.uint8)
    spec = {"kind": "image", "size": [16, 16], "channels": 3, "ops": [], "dtype": "int32"}
    x = prep.preprocess(image, spec, input_shape=(1, 16, 16, 3), dtype="int32")
    floats = prep.preprocess(image, {**spec, "dtype": "float32"}, input_shape=(1, 16, 16, 3))
    assert x.dtype == np.int32 and x.shape == (1, 16, 16, 3)
    np.testing.assert_array_equal(x, np.trunc(floats).astype(np.int32))
    assert prep.preprocess(image, {k: v for k, v in spec.items() if k != "dtype"},
                           input_shape=(1, 16, 16, 3), dtype="int32").dtype == np.int32
