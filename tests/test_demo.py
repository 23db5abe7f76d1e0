"""``flaxjs demo --quick`` end to end, as a user runs it (a subprocess), on the real nsfwjs base.

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
    from flaxjs import demo

    out, _ = quick_run
    web = out / "web"
    assert (web / "model.json").is_file()
    model = flaxjs.load(web)
    assert model.input_specs[0].shape == (None, 64, 64, 3)
    assert model.labels == list(demo.CLASSES)
    assert model.layer_names[-3:] == ["pool", "dropout", "classifier"]
    images, labels = demo.draw_shapes(12, 64, seed=123)
    probs = np.asarray(model(images.astype(np.float32) / 255))  # nsfwjs: x / 255
    assert probs.shape == (12, len(demo.CLASSES))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


# ---------------------------------------------------------------- the pieces, offline
def test_draw_shapes_is_deterministic_and_balanced():
    from flaxjs import demo

    x, y = demo.draw_shapes(60, 48, seed=7)
    x2, y2 = demo.draw_shapes(60, 48, seed=7)
    assert x.shape == (60, 48, 48, 3) and x.dtype == np.uint8 and y.dtype == np.int32
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert np.bincount(y).tolist() == [10] * len(demo.CLASSES)
    assert not np.array_equal(x, demo.draw_shapes(60, 48, seed=8)[0])
    (xt, yt), (xv, yv) = demo.split(x, y, 0.25)
    assert len(xt) == len(yt) == 45 and len(xv) == len(yv) == 15


def test_tail_and_merge_reproduce_the_full_model():
    """Features of the frozen part + the tail = the full model; trained tail variables
    dropped back with merge_variables change exactly the full model's outputs."""
    import jax

    import flaxjs
    from corpus import CORPUS
    from flaxjs import demo

    case = CORPUS / "wild" / "mobilenet-v1-0.25-224"
    if not (case / "model.json").is_file():
        pytest.skip("../shared/corpus/wild/mobilenet-v1-0.25-224 is not present")
    pretrained = demo.with_input_size(flaxjs.load(case), 64)
    assert pretrained.input_specs[0].shape == (None, 64, 64, 3)
    plan = demo.plan_for(pretrained, "conv_pw_13_relu")
    assert plan == demo.Plan("conv_pw_13_relu", "conv_pw_12_relu", ("conv_dw_13", "conv_pw_13"))
    model = pretrained.truncate(plan.cut).freeze().extend(demo.head(6))
    x = np.random.default_rng(0).uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32)
    frozen = model.truncate(plan.split)
    tail = demo.tail(model, plan.split)
    assert tail.input_specs[0].shape == (None, 2, 2, 256)
    assert set(tail.params) == {"conv_dw_13", "conv_dw_13_bn", "conv_pw_13", "conv_pw_13_bn",
                                "classifier"}
    np.testing.assert_allclose(np.asarray(tail(demo.features(frozen, x))), np.asarray(model(x)),
                               atol=1e-5)
    changed = jax.tree_util.tree_map(lambda v: v + 0.5, tail.variables)
    merged = demo.merge_variables(model, changed)
    expected = np.asarray(tail.apply(changed, demo.features(frozen, x)))
    np.testing.assert_allclose(np.asarray(merged(x)), expected, atol=1e-5)
    assert set(merged.params) == set(model.params)


def test_plot_history_draws_a_png(tmp_path):
    from PIL import Image

    from flaxjs import demo

    history = {"loss": [1.2, 0.7, 0.5, 0.3], "accuracy": [0.4, 0.7, 0.8, 0.9],
               "val_loss": [1.1, 0.8, 0.6, 0.5], "val_accuracy": [0.5, 0.6, 0.8, 0.85]}
    path = demo.plot_history(tmp_path / "curves.png", history, fine_tune_start=2, title="t")
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    blue = np.all(pixels == (31, 119, 180), axis=-1).sum()
    orange = np.all(pixels == (255, 127, 14), axis=-1).sum()
    assert blue > 100 and orange > 100  # both curves, in both panels
