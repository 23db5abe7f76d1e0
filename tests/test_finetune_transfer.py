"""Transfer learning on a real pretrained TF.js MobileNet v1 (0.25, ImageNet).

The base is cut at ``conv_pw_13_relu`` and frozen; a GlobalAveragePooling2D + Dense
head learns to tell circles, squares and triangles apart (drawn with Pillow,
random sizes, positions and colours, 64x64 pixels: the base is fully
convolutional up to the cut, so it runs at any input size). Then the top block
is unfrozen and fine-tuned with a lower learning rate. Frozen weights must not
move by a single bit.
"""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

import flaxjs
from corpus import CORPUS
from flaxjs import finetune as ft
from flaxjs import keras as K

PIL = pytest.importorskip("PIL", reason="Pillow draws the training images (pip install pillow)")
from PIL import Image, ImageDraw  # noqa: E402

MOBILENET = CORPUS / "wild" / "mobilenet-v1-0.25-224"
pytestmark = pytest.mark.skipif(not (MOBILENET / "model.json").is_file(),
                                reason="../shared/corpus/wild/mobilenet-v1-0.25-224 is not present")

SIZE = 64
#: the held-out accuracy the frozen-base head must reach (it reaches about 0.97).
MIN_ACCURACY = 0.9


def draw_shapes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images in [-1, 1] (MobileNet v1 preprocessing) and labels 0 circle, 1 square,
    2 triangle."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, SIZE, SIZE, 3), np.float32)
    labels = np.arange(n, dtype=np.int32) % 3
    rng.shuffle(labels)
    for i, label in enumerate(labels):
        background, colour = (tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(2))
        image = Image.new("RGB", (SIZE, SIZE), background)
        pen = ImageDraw.Draw(image)
        r = rng.uniform(0.18, 0.38) * SIZE
        cx, cy = rng.uniform(r, SIZE - r, 2)
        if label == 0:
            pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        elif label == 1:
            pen.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
        images[i] = np.asarray(image, np.float32) / 127.5 - 1.0
    return images, labels


def _bytes(tree) -> dict[str, bytes]:
    return {"/".join(ft.masks.path_names(p)): np.asarray(v).tobytes()
            for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _changed(before, after) -> set[str]:
    a, b = _bytes(before), _bytes(after)
    assert a.keys() == b.keys()
    return {k for k in a if a[k] != b[k]}


@pytest.fixture(scope="module")
def data():
    x, y = draw_shapes(450, seed=0)
    return (x[:300], y[:300]), (x[300:], y[300:])


@pytest.fixture(scope="module")
def head_trained(data):
    (x, y), (xv, yv) = data
    base = flaxjs.load(MOBILENET).truncate("conv_pw_13_relu")
    assert "conv_preds" not in base.params and "conv_pw_13" in base.params
    model = base.freeze().extend([K.GlobalAveragePooling2D(name="pool"),
                                  K.Dense(3, activation="softmax", name="classifier")],
                                 key=jax.random.key(0))
    state = ft.TrainState.create(model, optax.adam(1e-2))
    before = jax.device_get(state.variables)
    state, history = ft.fit(state, x, y, epochs=5, batch_size=50,
                            loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                            validation_data=(xv, yv), verbose=0)
    return model, before, state, history


def test_frozen_base_with_a_new_head_learns_the_task(head_trained):
    model, _, state, history = head_trained
    trainable, total = ft.masks.count(state.params, state.mask)
    assert trainable == 256 * 3 + 3 and total > 200_000
    assert history["val_accuracy"][-1] >= MIN_ACCURACY, history.history
    assert history["loss"][-1] < history["loss"][0]


def test_frozen_weights_do_not_move_by_a_single_bit(head_trained):
    model, before, state, _ = head_trained
    after = jax.device_get(state.variables)
    assert _changed(before["params"], after["params"]) == {"classifier/kernel", "classifier/bias"}
    assert _changed(before["batch_stats"], after["batch_stats"]) == set()


def test_unfreezing_the_top_block_with_a_lower_learning_rate(head_trained, data):
    (x, y), (xv, yv) = data
    model, _, state, _ = head_trained
    tuned = ft.updated_model(model, state).unfreeze("conv_pw_13*")
    lrs = {"classifier": 1e-3, "conv_pw_13*": 1e-4}
    stage2 = ft.TrainState.create(tuned, ft.discriminative(lrs, optax.adam), trainable=lrs)
    before = jax.device_get(stage2.variables)
    stage2, history = ft.fit(stage2, x, y, epochs=1, batch_size=50,
                             loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                             validation_data=(xv, yv), verbose=0)
    after = jax.device_get(stage2.variables)
    assert _changed(before["params"], after["params"]) == {
        "classifier/kernel", "classifier/bias", "conv_pw_13/kernel", "conv_pw_13_bn/gamma",
        "conv_pw_13_bn/beta"}
    assert _changed(before["batch_stats"], after["batch_stats"]) == {
        "conv_pw_13_bn/moving_mean", "conv_pw_13_bn/moving_variance"}
    assert history["val_accuracy"][-1] >= MIN_ACCURACY - 0.1, history.history


def test_zoo_load_with_num_classes_trains(mobilenet_mirror, data):
    """timm's create_model(name, num_classes=N): cut at the card's cut point, frozen base,
    pooling + Dropout + Dense head; it trains, and only the head moves."""
    (x, y), (xv, yv) = data
    model = flaxjs.zoo.load("mobilenet", alpha=0.25, num_classes=3)
    assert model.graph.outputs[0].layer != "conv_preds" and "conv_pw_13" in model.params
    assert model.layer_names[-3:] == ["global_average_pooling2d", "dropout", "dense"]
    assert model.preprocessing is not None  # the card's preprocessing stays
    state = ft.TrainState.create(model, optax.adam(1e-2))
    trainable, _ = ft.masks.count(state.params, state.mask)
    assert trainable == 256 * 3 + 3
    before = jax.device_get(state.variables)
    state, history = ft.fit(state, x[:100], y[:100], epochs=3, batch_size=50,
                            loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                            validation_data=(xv[:50], yv[:50]), verbose=0)
    assert _changed(before["params"], jax.device_get(state.params)) == {
        "dense/kernel", "dense/bias"}
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.6, history.history  # chance: 0.33
    with pytest.raises(flaxjs.FlaxjsError, match="num_classes must be a positive integer"):
        ft.with_new_head(model, 0)
