"""Speed machinery keeps the numbers: micro-batching, BN folding, bfloat16, XLA defaults."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flaxjs
from corpus import CORPUS, expected_outputs, inputs, max_error, reference
from flaxjs import lowering, runtime

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

MOBILENET = CORPUS / "synthetic" / "model_mobilenet_v1_like"
RESNET = CORPUS / "synthetic" / "model_resnet_like"


@pytest.mark.parametrize("case", [MOBILENET, RESNET], ids=lambda p: p.name)
def test_folded_inference_matches_tfjs_and_the_unfolded_graph(case):
    model = flaxjs.load(case)
    _, folds = lowering.plan(model.graph)
    assert folds, "these models have conv -> BatchNormalization pairs to fold"
    ref = reference(case)
    xs = inputs(case, ref)
    folded = np.asarray(model(*xs))
    unfolded = np.asarray(model.apply(model.variables, *xs))
    assert max_error(folded, expected_outputs(case, ref)[0]) <= 1e-4
    assert max_error(folded, unfolded) <= 1e-5
    assert all(f.bn in model.variables["batch_stats"] for f in folds)  # truth untouched


def test_folding_follows_new_variables():
    model = flaxjs.load(RESNET)
    ref = reference(RESNET)
    xs = inputs(RESNET, ref)
    before = np.asarray(model(*xs))
    model.variables = jax.tree_util.tree_map(lambda a: a * 1.01, model.variables)
    after = np.asarray(model(*xs))
    assert max_error(after, np.asarray(model.apply(model.variables, *xs))) <= 1e-5
    assert not np.allclose(before, after)


def test_micro_batches_give_the_whole_batch_result(monkeypatch):
    model = flaxjs.load(MOBILENET)
    x = np.random.default_rng(0).random((7, *model.input_specs[0].shape[1:]), np.float32)
    monkeypatch.setenv("FLAXJS_MICRO_BATCH", "0")
    whole = np.asarray(model(x))
    monkeypatch.setenv("FLAXJS_MICRO_BATCH", "2")
    assert model._micro_batch([x]) == 2
    split = np.asarray(model(x))
    assert split.shape == whole.shape
    assert max_error(split, whole) <= 1e-5


def test_fixed_batch_models_are_not_split():
    model = flaxjs.load(CORPUS / "wild" / "weather-lstm-batchnorm")  # batch fixed at 7
    x = np.zeros((7, 1, 224), np.float32)
    assert model._micro_batch([x]) is None


def test_bfloat16_compute_is_opt_in_and_drift_is_small():
    model = flaxjs.load(MOBILENET)
    ref = reference(MOBILENET)
    xs = inputs(MOBILENET, ref)
    low = model.with_compute_dtype(jnp.bfloat16)
    y32, y16 = np.asarray(model(*xs)), np.asarray(low(*xs))
    assert model.compute_dtype is None and y16.dtype == np.float32
    assert jax.tree_util.tree_leaves(low.variables)[0].dtype == jnp.float32
    drift = float(np.abs(y16 - y32).max())
    assert 0 < drift < 0.05


def test_xla_defaults_apply_before_the_backend_starts_and_respect_the_user():
    code = ("import os, flaxjs, jax; jax.numpy.zeros(1); "
            "print(os.environ.get('XLA_FLAGS', ''))")
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert "--xla_cpu_experimental_ynn_fusion_type=" in out
    env["FLAXJS_XLA_DEFAULTS"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert "ynn" not in out
    env.pop("FLAXJS_XLA_DEFAULTS")
    env["XLA_FLAGS"] = "--xla_cpu_experimental_ynn_fusion_type=dot"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "--xla_cpu_experimental_ynn_fusion_type=dot"


def test_configure_points_jax_at_a_persistent_cache(tmp_path):
    code = ("import flaxjs, jax, sys, numpy as np; "
            "flaxjs.configure(compilation_cache=sys.argv[1]); m = flaxjs.load(sys.argv[2]); "
            "m(np.zeros((1,) + tuple(m.input_specs[0].shape[1:]), np.float32)); "
            "print(jax.config.jax_compilation_cache_dir)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "xla"), str(MOBILENET)],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(tmp_path / "xla")
    assert any((tmp_path / "xla").iterdir()), "the compiled program was written to the cache"
    assert runtime.default_cache_dir().endswith("xla-cache")


def test_fusion_emitters_are_chosen_per_model(monkeypatch):
    dense = flaxjs.load(RESNET)
    depthwise = flaxjs.load(MOBILENET)
    if jax.default_backend() != "cpu":
        pytest.skip("a CPU-only choice")
    assert runtime.compiler_options(dense.graph) == {"xla_cpu_use_fusion_emitters": False}
    assert runtime.compiler_options(depthwise.graph) == {}
    monkeypatch.setenv("FLAXJS_FUSION_EMITTERS", "1")
    assert runtime.compiler_options(dense.graph) == {"xla_cpu_use_fusion_emitters": True}
