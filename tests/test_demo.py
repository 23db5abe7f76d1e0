"""``flaxjs demo --quick`` end to end, as a user runs it (a subprocess), on the real nsfwjs base;
then the reusable pieces it is built from (``Model.tail``, ``with_variables``, ``predict``,
``finetune.transfer_plan``) and the example's own data set and plot.

Quick settings: 360 images of 64x64 pixels, six shape classes. Chance is 1/6; the
quick run reaches about 0.7 held-out accuracy (the full demo about 0.96), so 0.4
leaves room for another CPU's rounding without letting a broken pipeline pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from demo_support import shared_home

pytest.importorskip("PIL", reason="the demo draws its data set with Pillow (pip install pillow)")

MIN_ACCURACY = 0.4


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    home = shared_home(tmp_path_factory)
    out = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, FLAXJS_HOME=str(home), FLAXJS_OFFLINE="1")  # base cached already
    done = subprocess.run(
        [sys.executable, "-m", "flaxjs", "demo", "--quick", "--out", str(out / "run"),
         "--export", str(out / "web")],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout


def test_quick_demo_prints_a_reasonable_held_out_accuracy(quick_run):
    out, stdout = quick_run
    for step in range(1, 7):
        assert f"[{step}/6]" in stdout, stdout
    found = re.findall(r"held-out accuracy (\d\.\d+)", stdout)
    assert found, stdout
    accuracy = float(found[-1])
    assert accuracy >= MIN_ACCURACY, stdout
    results = json.loads((out / "run" / "results.json").read_text())
    assert abs(results["accuracy"] - accuracy) < 1e-3
    assert results["plan"]["cut"] == "out_relu" and results["plan"]["top"], results["plan"]
    history = results["history"]
    epochs = results["settings"]["epochs"] + results["settings"]["fine_tune_epochs"]
    assert all(len(history[k]) == epochs for k in ("loss", "accuracy", "val_loss",
                                                   "val_accuracy"))
    assert history["loss"][-1] < history["loss"][0]


def test_quick_demo_writes_the_training_curves(quick_run):
    out, _ = quick_run
    plot = out / "run" / "training_curves.png"
    data = plot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    from PIL import Image
    with Image.open(plot) as image:
        assert image.size[0] > image.size[1] > 300


def test_quick_demo_exports_a_model_that_reloads_with_the_same_outputs(quick_run):
    import flaxjs
    from flaxjs.examples import shapes

    out, _ = quick_run
    web = out / "web"
    assert (web / "model.json").is_file()
    model = flaxjs.load(web)
    assert model.input_specs[0].shape == (None, 64, 64, 3)
    assert model.labels == list(shapes.CLASSES)
    assert model.layer_names[-3:] == ["pool", "dropout", "classifier"]
    images, labels = shapes.draw_shapes(12, 64, seed=123)
    probs = np.asarray(model(images.astype(np.float32) / 255))  # nsfwjs: x / 255
    assert probs.shape == (12, len(shapes.CLASSES))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


# ---------------------------------------------------------------- the pieces, offline
def test_draw_shapes_is_deterministic_and_balanced():
    from flaxjs.examples import shapes

    x, y = shapes.draw_shapes(60, 48, seed=7)
    x2, y2 = shapes.draw_shapes(60, 48, seed=7)
    assert x.shape == (60, 48, 48, 3) and x.dtype == np.uint8 and y.dtype == np.int32
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert np.bincount(y).tolist() == [10] * len(shapes.CLASSES)
    assert not np.array_equal(x, shapes.draw_shapes(60, 48, seed=8)[0])
    (xt, yt), (xv, yv) = shapes.split(x, y, 0.25)
    assert len(xt) == len(yt) == 45 and len(xv) == len(yv) == 15


def test_tail_and_merge_reproduce_the_full_model():
    """Features of the frozen part + the tail = the full model; trained tail variables
    merged back with ``with_variables(merge=True)`` change exactly the full model's outputs."""
    import jax

    import flaxjs
    from corpus import CORPUS
    from flaxjs import finetune, keras, zoo

    case = CORPUS / "wild" / "mobilenet-v1-0.25-224"
    if not (case / "model.json").is_file():
        pytest.skip("../shared/corpus/wild/mobilenet-v1-0.25-224 is not present")
    card = zoo.card("mobilenet_v1_0.25_224")  # the cut point and top block come from it
    pretrained = flaxjs.load(case).with_info(card=card).with_input_size(64)
    assert pretrained.input_specs[0].shape == (None, 64, 64, 3)
    plan = finetune.transfer_plan(pretrained)
    assert plan == finetune.TransferPlan("conv_pw_13_relu", "conv_pw_12_relu",
                                         ("conv_dw_13", "conv_pw_13"))
    model = pretrained.truncate(plan.cut).freeze().extend(keras.classifier_head(6))
    x = np.random.default_rng(0).uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32)
    frozen = model.truncate(plan.split)
    tail = model.tail(plan.split)
    assert tail.input_specs[0].shape == (None, 2, 2, 256)
    assert set(tail.params) == {"conv_dw_13", "conv_dw_13_bn", "conv_pw_13", "conv_pw_13_bn",
                                "classifier"}
    features = frozen.predict(x, batch_size=3)  # two batches
    np.testing.assert_allclose(features, np.asarray(frozen(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(tail(features)), np.asarray(model(x)), atol=1e-5)
    changed = jax.tree_util.tree_map(lambda v: v + 0.5, tail.variables)
    merged = model.with_variables(changed, merge=True)
    expected = np.asarray(tail.apply(changed, features))
    np.testing.assert_allclose(np.asarray(merged(x)), expected, atol=1e-5)
    assert set(merged.params) == set(model.params)
    with pytest.raises(KeyError, match="no_such_layer"):
        pretrained.tail("no_such_layer")


def test_plot_history_draws_a_png(tmp_path):
    from PIL import Image

    from flaxjs.examples.plot import plot_history

    history = {"loss": [1.2, 0.7, 0.5, 0.3], "accuracy": [0.4, 0.7, 0.8, 0.9],
               "val_loss": [1.1, 0.8, 0.6, 0.5], "val_accuracy": [0.5, 0.6, 0.8, 0.85]}
    path = plot_history(tmp_path / "curves.png", history, fine_tune_start=2, title="t")
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    blue = np.all(pixels == (31, 119, 180), axis=-1).sum()
    orange = np.all(pixels == (255, 127, 14), axis=-1).sum()
    assert blue > 100 and orange > 100  # both curves, in both panels
