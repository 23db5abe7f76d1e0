"""Speed machinery keeps the numbers: micro-batching, BN folding, bfloat16, XLA options
(passed per compilation, never through the environment), the compilation cache."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flaxjs
from corpus import CORPUS, expected_outputs, inputs, max_error, reference
from flaxjs import heap, lowering, runtime, settings

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
YNN = "xla_cpu_experimental_ynn_fusion_type"

MOBILENET = CORPUS / "synthetic" / "model_mobilenet_v1_like"
RESNET = CORPUS / "synthetic" / "model_resnet_like"


@needs_corpus
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


@needs_corpus
def test_folding_follows_an_in_place_edit_of_the_variables():
    model = flaxjs.load(RESNET)
    ref = reference(RESNET)
    xs = inputs(RESNET, ref)
    before = np.asarray(model(*xs))
    bn = next(f.bn for f in lowering.plan(model.graph)[1])
    stats = model.variables["batch_stats"][bn]
    stats["moving_mean"] = stats["moving_mean"] + 0.5  # a folded BatchNormalization's input
    after = np.asarray(model(*xs))
    assert max_error(after, np.asarray(model.apply(model.variables, *xs))) <= 1e-5
    assert not np.allclose(before, after)
    model.variables["params"] = jax.tree_util.tree_map(lambda a: a * 1.01, model.params)
    again = np.asarray(model(*xs))
    assert max_error(again, np.asarray(model.apply(model.variables, *xs))) <= 1e-5
    assert not np.allclose(after, again)


@needs_corpus
def test_the_model_is_immutable_and_with_methods_return_new_models():
    model = flaxjs.load(RESNET)
    xs = inputs(RESNET, reference(RESNET))
    want = np.asarray(model(*xs))
    for name, value in (("variables", {}), ("compute_dtype", jnp.bfloat16), ("labels", ["a"]),
                        ("graph", None)):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(model, name, value)
    low = model.with_compute_dtype(jnp.bfloat16)
    assert np.asarray(low(*xs)).dtype == np.float32 and low.compute_dtype == jnp.bfloat16
    assert not np.array_equal(np.asarray(low(*xs)), want)  # computed in bfloat16
    np.testing.assert_array_equal(np.asarray(model(*xs)), want)  # the original is untouched
    assert model.with_info(labels=["a", "b"]).labels == ["a", "b"] and model.labels is None


@needs_corpus
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


@needs_corpus
def test_fixed_batch_models_are_not_split():
    model = flaxjs.load(CORPUS / "wild" / "weather-lstm-batchnorm")  # batch fixed at 7
    x = np.zeros((7, 1, 224), np.float32)
    assert model._micro_batch([x]) is None


@needs_corpus
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


IMPORT_CHECK = """
import os, sys
before = dict(os.environ)
import flaxjs, flaxjs.finetune, flaxjs.cli.convert
from jax._src import xla_bridge
assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())
assert not xla_bridge.backends_are_initialized(), "import started a JAX backend"
print("quiet")
"""


@pytest.mark.parametrize("xla_flags", [None, "--xla_cpu_enable_fast_math=false"])
def test_import_leaves_the_environment_alone_and_starts_no_backend(xla_flags):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0 and done.stdout.strip() == "quiet", done.stderr[-2000:]


@pytest.fixture
def cpu_defaults(monkeypatch):
    """flaxjs's XLA defaults on, no user XLA_FLAGS opinion, a clean record of refusals."""
    if jax.default_backend() != "cpu":
        pytest.skip("flaxjs's XLA options are CPU-only")
    monkeypatch.delenv("FLAXJS_XLA_DEFAULTS", raising=False)
    monkeypatch.delenv("FLAXJS_FUSION_EMITTERS", raising=False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setattr(runtime, "_REJECTED", set())


def test_default_options_follow_the_setting_and_the_users_xla_flags(cpu_defaults, monkeypatch):
    assert runtime.default_compiler_options() == {YNN: ""}
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=dot")
    assert runtime.default_compiler_options() == {}
    monkeypatch.delenv("XLA_FLAGS")
    for off in ("0", "false", "OFF", ""):
        monkeypatch.setenv("FLAXJS_XLA_DEFAULTS", off)
        assert runtime.default_compiler_options() == {}
    monkeypatch.setenv("FLAXJS_XLA_DEFAULTS", "yes")
    assert runtime.default_compiler_options() == {YNN: ""}


@needs_corpus
def test_a_models_call_compiles_with_the_options_unless_told_not_to(cpu_defaults, monkeypatch):
    ref = reference(MOBILENET)
    xs = inputs(MOBILENET, ref)
    model = flaxjs.load(MOBILENET)
    assert model._predict.compiler_options is None, "decided at the first call, not at load"
    y = np.asarray(model(*xs))
    assert max_error(y, expected_outputs(MOBILENET, ref)[0]) <= 1e-4
    assert model._predict.compiler_options == runtime.compiler_options(model.graph)
    assert model._predict.compiler_options[YNN] == ""
    for name, value in (("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=dot"),
                        ("FLAXJS_XLA_DEFAULTS", "0")):
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            fresh = flaxjs.load(MOBILENET)
            assert YNN not in runtime.compiler_options(fresh.graph)
            assert max_error(np.asarray(fresh(*xs)), y) <= 1e-5
            assert YNN not in fresh._predict.compiler_options


def test_an_option_jaxlib_does_not_know_is_dropped_once_with_one_warning(cpu_defaults,
                                                                         monkeypatch):
    monkeypatch.setattr(runtime, "CPU_COMPILER_OPTIONS", {"xla_flaxjs_no_such_option": ""})
    first = runtime.jit(lambda x: x * 2)
    with pytest.warns(RuntimeWarning, match="xla_flaxjs_no_such_option") as caught:
        assert float(first(jnp.float32(3))) == 6.0
    assert len(caught) == 1 and "does not know the XLA option" in str(caught[0].message)
    assert first.compiler_options == {}
    assert "xla_flaxjs_no_such_option" in runtime._REJECTED
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rest of the process: silently without it
        second = runtime.jit(lambda x: x + 1, static_argnames=())
        assert float(second(jnp.float32(3))) == 4.0
        assert float(first(jnp.float32(4))) == 8.0
    assert second.compiler_options == {}


def test_a_users_own_unknown_option_is_not_swallowed(cpu_defaults):
    mine = runtime.jit(lambda x: x, compiler_options={"xla_flaxjs_user_typo": ""})
    with pytest.raises(RuntimeError, match="No such compile option: 'xla_flaxjs_user_typo'"):
        mine(jnp.float32(1))
    assert "xla_flaxjs_user_typo" not in runtime._REJECTED


def test_the_wrapper_passes_the_options_and_keeps_jit_arguments(cpu_defaults):
    def f(x, n):
        return x * n

    jitted = runtime.jit(f, static_argnames=("n",))
    assert jitted.__name__ == "f" and jitted.compiler_options is None
    assert float(jitted(jnp.float32(2), n=3)) == 6.0
    assert jitted.compiler_options == {YNN: ""}
    ours = runtime.jit(lambda x: x, compiler_options={"xla_cpu_use_fusion_emitters": True})
    ours(jnp.float32(1))
    assert ours.compiler_options == {YNN: "", "xla_cpu_use_fusion_emitters": True}


@needs_corpus
def test_finetune_steps_compile_with_the_models_options(cpu_defaults, monkeypatch):
    from flaxjs import finetune as ft
    from flaxjs.finetune import steps

    optax = pytest.importorskip("optax")
    monkeypatch.delenv("FLAXJS_FUSION_EMITTERS", raising=False)
    for case, own in ((CORPUS / "synthetic" / "model_sequential_mlp",
                       {YNN: "", "xla_cpu_use_fusion_emitters": False}), (MOBILENET, {YNN: ""})):
        model = flaxjs.load(case)
        assert model.xla_options == own, "dense graphs drop the fusion emitters"
        state = ft.TrainState.create(model, optax.sgd(0.1))
        x = np.zeros((2, *model.input_specs[0].shape[1:]), np.float32)
        y = np.asarray(model(x))
        ft.train_step(state, (x, y))
        ft.eval_step(state, (x, y))
        ft.predict_step(state, x)
        key = steps._options_of(state)
        for jitted in (steps._train_jit(key), steps._eval_jit(key), steps._predict_jit(key)):
            assert jitted.compiler_options == own
        step = ft.make_train_step(model=model)
        step(state, (x, y))
        assert step.compiler_options == own
    plain = ft.make_train_step()
    plain(state, (x, y))
    assert plain.compiler_options == {YNN: ""}


@needs_corpus
def test_configure_points_jax_at_a_persistent_cache(tmp_path):
    code = ("import flaxjs, jax, sys, numpy as np; "
            "flaxjs.configure(compilation_cache=sys.argv[1]); m = flaxjs.load(sys.argv[2]); "
            "m(np.zeros((1,) + tuple(m.input_specs[0].shape[1:]), np.float32)); "
            "print(jax.config.jax_compilation_cache_dir)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "xla"), str(MOBILENET)],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(tmp_path / "xla")
    assert any((tmp_path / "xla").iterdir()), "the compiled program was written to the cache"
    assert settings.xla_cache_dir() == settings.home() / "xla-cache"


@needs_corpus
def test_fusion_emitters_are_chosen_per_model(cpu_defaults, monkeypatch):
    dense = flaxjs.load(RESNET)
    depthwise = flaxjs.load(MOBILENET)
    assert runtime.compiler_options(dense.graph) == {YNN: "", "xla_cpu_use_fusion_emitters": False}
    assert runtime.compiler_options(depthwise.graph) == {YNN: ""}
    monkeypatch.setenv("FLAXJS_FUSION_EMITTERS", "1")
    assert runtime.compiler_options(dense.graph) == {YNN: "", "xla_cpu_use_fusion_emitters": True}
    monkeypatch.setenv("FLAXJS_FUSION_EMITTERS", "off")
    assert runtime.compiler_options(depthwise.graph)["xla_cpu_use_fusion_emitters"] is False


@pytest.mark.skipif(heap._malloc_trim() is None, reason="the C library has no malloc_trim")
def test_the_heap_is_trimmed_after_each_compilation_only(monkeypatch):
    calls = []
    real = heap.trim
    monkeypatch.setattr(heap, "trim", lambda: calls.append(1) or real())
    monkeypatch.delenv("FLAXJS_TRIM_HEAP", raising=False)
    step = runtime.jit(lambda x: jnp.tanh(x) * 3)
    step(np.ones(3, np.float32))
    assert heap.install() and len(calls) == 1, "one compilation, one trim"
    step(np.ones(3, np.float32))
    assert len(calls) == 1, "a cached call compiles nothing"
    monkeypatch.setenv("FLAXJS_TRIM_HEAP", "0")
    step(np.ones(4, np.float32))
    assert len(calls) == 1, "FLAXJS_TRIM_HEAP=0 turns it off"
