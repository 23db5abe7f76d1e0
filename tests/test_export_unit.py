"""flaxjs.save without TF.js: config rewriting, refusals, quantization arithmetic, names,
metadata, the ``convert`` command and the size benchmark (TF.js checks: test_export_tfjs.py;
checkpoints: test_checkpoint.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import warnings

import flax.linen as nn
import jax
import numpy as np
import pytest
from corpus import CORPUS, ROOT, inputs, reference

import flaxjs
from flaxjs import keras as K
from flaxjs.errors import ExportError, FlaxjsError
from flaxjs.export import compat
from flaxjs.export import quantize as quant
from flaxjs.cli import main as cli_main
from flaxjs.topology.spec import LayerSpec

SYN = CORPUS / "synthetic"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


def _load(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flaxjs.load(path, **kw)


def _model_json(folder):
    return json.loads((folder / "model.json").read_text())


# ----------------------------------------------------------------------------- quantization
def test_uint8_nudges_min_so_zero_is_exact_and_error_is_half_a_step():
    data = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    for dtype in ("uint8", "uint16"):
        codes, meta = quant.quantize(data, dtype)
        zero_code = -meta["min"] / meta["scale"]
        assert zero_code == round(zero_code)
        assert quant.dequantize(np.array([round(zero_code)]), meta)[0] == 0.0
        err = np.abs(quant.dequantize(codes, meta).astype(np.float64) - data)
        assert err.max() <= meta["scale"] / 2 * (1 + 1e-6) + 1e-7
        assert codes.dtype == np.dtype(dtype)


def test_quantize_constant_positive_and_float16():
    codes, meta = quant.quantize(np.full((3,), 0.25, np.float32), "uint8")
    assert codes.tolist() == [0, 0, 0] and meta["scale"] == 1.0 and meta["min"] == 0.25
    positive = np.array([0.5, 1.0, 2.0], np.float32)
    codes, meta = quant.quantize(positive, "uint8")  # 0 not in range: no nudging
    assert meta["min"] == 0.5 and codes.tolist() == [0, 85, 255]
    half, meta = quant.quantize(positive, "float16")
    assert meta == {"dtype": "float16", "original_dtype": "float32"} and half.dtype == np.float16
    with pytest.raises(ExportError, match="NaN"):
        quant.quantize(np.array([np.nan, 1], np.float32), "uint8")


def test_quantize_patterns_match_manifest_names():
    names = ["conv1/kernel", "conv1/bias", "dense/kernel"]
    assert quant.selected(names, None) == set(names)
    assert quant.selected(names, "*/kernel") == {"conv1/kernel", "dense/kernel"}
    assert quant.selected(names, ["conv*", "nothing"]) == {"conv1/kernel", "conv1/bias"}


# ----------------------------------------------------------------------------- layer configs
def _spec(cls, keras3=False, **config):
    return LayerSpec(cls, config.get("name", "l"), {"name": "l", **config}, keras3=keras3)


def test_keras3_dialect_is_rewritten():
    policy = {"module": "keras", "class_name": "DTypePolicy",
              "config": {"name": "mixed_float16"}, "registered_name": None}
    config = compat.layer_config(_spec(
        "Dense", True, units=2, activation="silu", dtype=policy,
        kernel_initializer={"module": "keras.initializers", "class_name": "LecunNormal",
                            "config": {"seed": None}, "registered_name": None},
        bias_initializer={"class_name": "STFTInitializer", "config": {}},
        kernel_regularizer={"class_name": "L2", "config": {"l2": 0.01}}))
    assert config["activation"] == "swish" and config["dtype"] == "float32"
    assert config["kernel_initializer"] == {"class_name": "LeCunNormal", "config": {"seed": None}}
    # unknown to TF.js: replaced by the default (loaded weights overwrite initial values)
    assert config["bias_initializer"]["class_name"] == "Zeros"
    assert config["kernel_regularizer"] == {"class_name": "L1L2",
                                            "config": {"l1": 0.0, "l2": 0.01}}
    assert "module" not in json.dumps(config)
    conv = compat.layer_config(_spec(
        "Conv2D", False, filters=2, kernel_size=3, kernel_initializer="lecun_normal",
        kernel_constraint={"class_name": "max_norm", "config": {"max_value": 2}}))
    assert conv["kernel_initializer"] == {"class_name": "LeCunNormal", "config": {}}
    assert conv["kernel_constraint"] == {"class_name": "MaxNorm", "config": {"max_value": 2}}
    inp = compat.layer_config(_spec("InputLayer", True, batch_shape=[None, 3], dtype="float32",
                                    optional=False))
    assert inp["batch_input_shape"] == [None, 3] and "batch_shape" not in inp
    leaky = compat.layer_config(_spec("LeakyReLU", True, negative_slope=0.1))
    assert leaky["alpha"] == 0.1 and "negative_slope" not in leaky


@pytest.mark.parametrize("cls,keras3,config,why", [
    ("Activation", True, {"activation": "hard_sigmoid"}, "relu6"),
    ("Activation", False, {"activation": "gelu_new"}, "unknown to TF.js"),
    ("GRU", False, {"units": 2, "reset_after": True}, "reset_after"),
    ("GRU", True, {"units": 2}, "reset_after"),
    ("ELU", False, {"alpha": 0.5}, "alpha"),
    ("Conv2D", False, {"filters": 4, "kernel_size": 3, "groups": 2}, "groups"),
    ("Conv1D", False, {"filters": 4, "kernel_size": 3, "padding": "causal"}, "causal"),
    ("DepthwiseConv2D", True, {"kernel_size": 3, "dilation_rate": 2}, "dilation"),
    ("ReLU", True, {"negative_slope": 0.1}, "negative_slope"),
    ("UpSampling2D", True, {"interpolation": "bilinear"}, "half-pixel"),
    ("Subtract", False, {}, "no class 'Subtract'"),
    ("Bidirectional", False, {"layer": {"class_name": "GRU", "config": {
        "name": "g", "units": 2, "reset_after": True}}}, "reset_after"),
    ("Dense", False, {"units": 2, "kernel_constraint": {"class_name": "Weird"}}, "constraint"),
])
def test_options_tfjs_would_misread_are_refused(cls, keras3, config, why):
    with pytest.raises(ExportError, match=why):
        compat.layer_config(_spec(cls, keras3, **config))


def test_tfjs_readings_are_kept():
    assert compat.layer_config(_spec("Activation", activation="hard_sigmoid"))["activation"] \
        == "hard_sigmoid"
    gru = compat.layer_config(_spec("GRU", units=2))
    assert gru["reset_after"] is False and gru["recurrent_activation"] == "hard_sigmoid"
    dense = compat.layer_config(K.Dense(3, name="d"))  # builder config, filled in
    for key in ("kernel_initializer", "bias_initializer", "use_bias", "dtype", "trainable"):
        assert key in dense
    assert compat.layer_config(_spec("Subtract"), frozenset({"Subtract"}))["name"] == "l"


# ----------------------------------------------------------------------------- whole models
@needs_corpus
def test_a_flax_head_is_refused_and_nothing_is_written(tmp_path):
    model = _load(SYN / "model_sequential_mlp").extend(nn.Dense(2, name="research_head"))
    with pytest.raises(ExportError, match="research_head.*Flax module Dense"):
        flaxjs.save(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@needs_corpus
@pytest.mark.parametrize("case,why", [("functional-gru-keras215", "reset_after"),
                                      ("anime4k-prelu-tfoplayer", "TensorFlowOpLayer")])
def test_keras_models_tfjs_cannot_run_are_refused(tmp_path, case, why):
    with pytest.raises(ExportError, match=why):
        flaxjs.save(_load(CORPUS / "wild-tfjs-fails" / case), tmp_path)


@needs_corpus
def test_variables_from_a_train_state(tmp_path):
    model = _load(SYN / "batchnorm_train_step")
    bumped = jax.tree_util.tree_map(lambda x: x * 2, model.variables)
    state = types.SimpleNamespace(params=bumped["params"], batch_stats=bumped["batch_stats"],
                                  step=3)
    flaxjs.save(model, tmp_path, variables=state)
    jax.tree_util.tree_map(np.testing.assert_array_equal, _load(tmp_path).variables, bumped)


@needs_corpus
def test_variables_must_fit_the_model(tmp_path):
    model = _load(SYN / "model_sequential_mlp")
    bad = jax.tree_util.tree_map(lambda x: x[..., :1], model.variables)
    with pytest.raises(ExportError, match="wrong shape"):
        flaxjs.save(model, tmp_path, variables=bad)
    with pytest.raises(ExportError, match="missing"):
        flaxjs.save(model, tmp_path, variables={"params": {}})


@needs_corpus
def test_sequential_cut_and_extended_stays_sequential(tmp_path):
    model = _load(SYN / "model_sequential_mlp")
    cut = model.truncate(model.layer_names[-2]).extend([K.Dense(2, name="new_head")])
    flaxjs.save(cut, tmp_path)
    config = _model_json(tmp_path)["modelTopology"]["model_config"]
    assert config["class_name"] == "Sequential"
    layers = config["config"]["layers"]
    assert layers[-1]["config"]["name"] == "new_head" and "batch_input_shape" in layers[0]["config"]
    again = _load(tmp_path)
    x = np.random.default_rng(0).random((2, *cut.input_specs[0].shape[1:]), np.float32)
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(cut(x)))


def _shared_out_of_order_json():
    """A shared layer whose first call waits for a layer listed after it: TF.js (and the
    flaxjs parser, which follows it) numbers its calls in execution order, so the call on
    ``x`` becomes node 0."""
    def dense(name, calls):
        return {"name": name, "class_name": "Dense", "config": {"name": name, "units": 4},
                "inbound_nodes": [[[ref, 0, 0, {}]] for ref in calls]}
    layers = [
        {"name": "x", "class_name": "InputLayer", "config": {"name": "x",
                                                               "batch_input_shape": [None, 4]},
         "inbound_nodes": []},
        dense("shared", ["pre", "x"]), dense("pre", ["x"]),
        {"name": "cat", "class_name": "Concatenate", "config": {"name": "cat", "axis": -1},
         "inbound_nodes": [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]},
    ]
    return {"modelTopology": {"class_name": "Model", "config": {
        "name": "m", "layers": layers, "input_layers": [["x", 0, 0]],
        "output_layers": [["cat", 0, 0]]}}}


def test_shared_layer_calls_are_written_in_tfjs_execution_order(tmp_path):
    model = _load(_shared_out_of_order_json(), strict=False)
    flaxjs.save(model, tmp_path)
    layers = _model_json(tmp_path)["modelTopology"]["model_config"]["config"]["layers"]
    by_name = {entry["name"]: entry for entry in layers}
    assert [e[0][0] for e in by_name["shared"]["inbound_nodes"]] == ["x", "pre"]
    assert [r[1] for r in by_name["cat"]["inbound_nodes"][0]] == [0, 1]
    x = np.random.default_rng(0).random((2, 4), np.float32)
    np.testing.assert_array_equal(np.asarray(_load(tmp_path)(x)), np.asarray(model(x)))


def keras3_json():
    """A Keras 3 functional model (call events as args/kwargs, dtype policies, Keras 3 names)."""
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
              "registered_name": None}

    def tensor(layer):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": [None], "dtype": "float32", "keras_history": [layer, 0, 0]}}

    def layer(cls, name, source, **config):
        return {"module": "keras.layers", "class_name": cls, "name": name,
                "config": {"name": name, "trainable": True, "dtype": policy, **config},
                "registered_name": None, "build_config": {"input_shape": [None]},
                "inbound_nodes": [{"args": [tensor(source)], "kwargs": {}}]}
    layers = [
        {"module": "keras.layers", "class_name": "InputLayer", "name": "img",
         "config": {"batch_shape": [None, 6, 6, 2], "dtype": "float32", "sparse": False,
                    "name": "img"}, "registered_name": None, "inbound_nodes": []},
        layer("DepthwiseConv2D", "dw", "img", kernel_size=[3, 3], depth_multiplier=2,
              strides=[1, 1], padding="same", data_format="channels_last",
              dilation_rate=[1, 1], activation="silu", use_bias=True),
        layer("LeakyReLU", "leaky", "dw", negative_slope=0.1),
        layer("GlobalAveragePooling2D", "gap", "leaky", data_format="channels_last",
              keepdims=False),
        layer("Dense", "out", "gap", units=3, activation="softmax", use_bias=True),
    ]
    return {"modelTopology": {"keras_version": "3.8.0", "backend": "tensorflow",
                              "model_config": {"class_name": "Functional", "config": {
                                  "name": "k3", "layers": layers, "input_layers": ["img", 0, 0],
                                  "output_layers": ["out", 0, 0]}}}}


def test_keras3_model_is_written_in_tfjs_terms(tmp_path):
    model = _load(keras3_json(), strict=False)
    flaxjs.save(model, tmp_path)
    written = _model_json(tmp_path)
    assert {w["name"] for w in written["weightsManifest"][0]["weights"]} == {
        "dw/depthwise_kernel", "dw/bias", "out/kernel", "out/bias"}
    layers = {e["name"]: e for e in written["modelTopology"]["model_config"]["config"]["layers"]}
    assert layers["leaky"]["config"]["alpha"] == 0.1
    assert layers["dw"]["config"]["activation"] == "swish"
    assert layers["out"]["inbound_nodes"] == [[["gap", 0, 0, {}]]]
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(_load(tmp_path)(x)), np.asarray(model(x)), atol=1e-6)


@needs_corpus
def test_weights_keep_original_names_order_and_dtypes(tmp_path):
    case = SYN / "weights_int32_embedding"
    model = _load(case)
    flaxjs.save(model, tmp_path, shard_bytes=100)
    written = _model_json(tmp_path)["weightsManifest"]
    original = _model_json(case)["weightsManifest"]
    names = lambda m: [(w["name"], w["dtype"]) for g in m for w in g["weights"]]  # noqa: E731
    assert names(written) == names(original)
    assert "int32" in {d for _, d in names(written)}
    paths = written[0]["paths"]
    assert all(p == f"group1-shard{i + 1}of{len(paths)}.bin" for i, p in enumerate(paths))
    assert all((tmp_path / p).stat().st_size == 100 for p in paths[:-1])


@needs_corpus
def test_quantize_only_matching_weights(tmp_path):
    model = _load(SYN / "model_mobilenet_v1_like")
    flaxjs.save(model, tmp_path, quantize="uint8", quantize_only="*kernel")
    for w in _model_json(tmp_path)["weightsManifest"][0]["weights"]:
        assert ("quantization" in w) == w["name"].endswith("kernel"), w["name"]
        if "quantization" in w:
            assert w["quantization"]["dtype"] == "uint8" and w["dtype"] == "float32"


@needs_corpus
def test_labels_go_to_user_metadata_and_metadata_json(tmp_path):
    tm = CORPUS / "wild" / "tm-image-digits"
    model = _load(tm)
    flaxjs.save(model, tmp_path / "tm")
    labels = json.loads((tm / "metadata.json").read_text())["labels"]
    out = _model_json(tmp_path / "tm")
    assert out["format"] == "layers-model" and out["convertedBy"].startswith("flaxjs")
    assert out["userDefinedMetadata"]["labels"] == labels
    assert json.loads((tmp_path / "tm" / "metadata.json").read_text())["labels"] == labels
    headed = model.truncate("sequential_13").extend([K.Dense(2, name="two")])
    flaxjs.save(headed, tmp_path / "headed")  # new outputs: the digit labels no longer apply
    assert "labels" not in json.loads((tmp_path / "headed" / "metadata.json").read_text())
    assert "labels" not in (_model_json(tmp_path / "headed").get("userDefinedMetadata") or {})
    plain = _load(SYN / "model_sequential_mlp")
    flaxjs.save(plain, tmp_path / "plain")
    assert not (tmp_path / "plain" / "metadata.json").exists()
    flaxjs.save(plain, tmp_path / "named", metadata={"labels": ["a", "b", "c"], "task": "demo"})
    side = json.loads((tmp_path / "named" / "metadata.json").read_text())
    assert side["labels"] == ["a", "b", "c"] and side["modelName"] == plain.name
    assert _model_json(tmp_path / "named")["userDefinedMetadata"]["task"] == "demo"


@needs_corpus
def test_saved_labels_and_preprocessing_come_back_on_load(tmp_path):
    plain = _load(SYN / "model_sequential_mlp")
    prep = {"range": [0, 1], "size": [6]}
    flaxjs.save(plain, tmp_path / "m", metadata={"labels": ["a", "b", "c"],
                                                 "preprocessing": prep})
    (tmp_path / "m" / "metadata.json").unlink()  # only userDefinedMetadata remains
    again = flaxjs.load(tmp_path / "m")
    assert again.labels == ["a", "b", "c"]
    assert again.preprocessing == prep


@needs_corpus
def test_keras3_source_gets_a_tfjs_keras_version(tmp_path):
    flaxjs.save(_load(CORPUS / "wild-tfjs-fails" / "dense-keras38"), tmp_path)
    topology = _model_json(tmp_path)["modelTopology"]
    assert not topology["keras_version"].startswith("3")
    first = topology["model_config"]["config"]["layers"][0]
    assert "batch_input_shape" in first["config"]


# ----------------------------------------------------------------------------- CLI, benchmark
@needs_corpus
def test_cli_convert_quantizes(tmp_path, capsys):
    src = SYN / "model_mobilenet_v1_like"
    assert cli_main(["convert", str(src), str(tmp_path / "q"), "--quantize", "uint8"]) == 0
    assert "uint8" in capsys.readouterr().out
    entries = _model_json(tmp_path / "q")["weightsManifest"][0]["weights"]
    assert all(w.get("quantization", {}).get("dtype") == "uint8" for w in entries)
    ref = reference(src)
    reloaded = _load(tmp_path / "q")
    assert np.isfinite(np.asarray(reloaded(*inputs(src, ref)))).all()
    assert cli_main(["convert", str(CORPUS / "wild-tfjs-fails" / "functional-gru-keras215"),
                     str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("flaxjs convert: error:") and "reset_after" in err
    assert cli_main(["convert", str(src), str(tmp_path / "f16"), "--quantize", "float16",
                     "--quantize-only", "*kernel"]) == 0
    entries = _model_json(tmp_path / "f16")["weightsManifest"][0]["weights"]
    assert {w["name"] for w in entries if "quantization" in w} == {
        w["name"] for w in entries if w["name"].endswith("kernel")}


def test_cli_convert_passes_strict_to_zoo_names_too(tmp_path, monkeypatch):
    from flaxjs import zoo
    from flaxjs.cli import common

    calls = []

    def fake_zoo_load(name, **kwargs):
        calls.append((name, kwargs))
        raise FlaxjsError("stop here")

    monkeypatch.setattr(zoo, "load", fake_zoo_load)
    assert cli_main(["convert", "some_zoo_name", str(tmp_path / "o"), "--no-strict"]) == 1
    assert cli_main(["convert", "some_zoo_name", str(tmp_path / "o")]) == 1
    assert [kw["strict"] for _, kw in calls] == [False, True]
    assert not common.is_location("some_zoo_name")


def test_export_sizes_benchmark_runs_on_a_tiny_model():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "export_sizes.py"),
                           str(SYN / "model_sequential_mlp"), "--dtypes", "uint8,float16"],
                          capture_output=True, text=True, check=True, timeout=600)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 + 3 and "| uint8 |" in done.stdout and "| float32 |" in done.stdout
