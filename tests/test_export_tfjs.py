"""Exports load in TF.js 4.22 (node, cpu backend) and compute what flaxjs computes.

Each export is loaded by ``make_reference.js`` (``tf.loadLayersModel`` through
``tf.io.http``, as a browser does), run on its deterministic inputs, and TF.js's
outputs are compared with flaxjs's outputs of the exported model on the same
inputs: ``max|y - tfjs| <= 1e-4 * max(1, max|tfjs|)``.

Quantized exports: TF.js and flaxjs decode the stored codes bit-for-bit alike, so
TF.js's outputs must equal flaxjs's outputs of the *re-loaded* export within the
same tolerance; the quantization error itself is bounded per weight (affine:
``|w_q - w| <= scale / 2``, float16: exact IEEE rounding) and its effect on the
outputs is reported by ``benchmarks/export_sizes.py``.

``FLAXJS_EXPORT_ALL=1`` runs every corpus model instead of the spread below
(``FLAXJS_EXPORT_ALL=wild`` one corpus only). Models TF.js cannot run (Keras-only
classes, GRU reset_after, gelu_new) must be refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings

import jax
import numpy as np
import pytest
import tfjs_node
from corpus import CORPUS, TOLERANCE, TOOLS, cases, max_error, reference

import flaxjs
from flaxjs import keras as K
from flaxjs.errors import ExportError, UnsupportedLayerError
from flaxjs.export import quantize as quant

pytestmark = [
    pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present"),
    pytest.mark.skipif(not tfjs_node.available(), reason="node/npm or the TF.js tools are missing"),
]
MAKE_REFERENCE = TOOLS / "tfjs-reference" / "make_reference.js"

SPREAD = [
    # nested Sequential/Model (Teachable Machine), nested functional, multi-input,
    # RNN with state inputs/outputs, Bidirectional, quantized sources, int32 embeddings
    ("wild", "tm-image-hand-gestures"), ("wild", "mnist-conv-autoencoder-nested"),
    ("wild", "tfjs08-functional-6inputs-concat"), ("wild", "chatbot-lstm-decoder-states"),
    ("wild", "abusive-text-bilstm-uint8"), ("wild", "sentiment-embedding-lstm-uint8"),
    ("wild", "book-recommender-embeddings"), ("wild", "cnn-channels-first-multigroup"),
    ("wild", "sentiment-gru-keras208"), ("wild", "lyrics-char-lstm"),
    ("synthetic", "model_nested_two_levels"), ("synthetic", "model_nested_multi_output"),
    ("synthetic", "model_shared_conv_siamese"), ("synthetic", "model_shared_layer_two_inputs"),
    ("synthetic", "model_multi_input_multi_output"), ("synthetic", "model_output_is_input_reuse"),
    ("synthetic", "lstm_initial_state_inputs"), ("synthetic", "bidirectional_merge_none"),
    ("synthetic", "rnn_stacked_cells_return_state"), ("synthetic", "conv_lstm2d_same_seq"),
    ("synthetic", "embedding_mask_zero_lstm"), ("synthetic", "time_distributed_conv2d"),
    ("synthetic", "quant_mixed_per_weight"), ("synthetic", "quant_uint8_int32_weight"),
    ("synthetic", "weights_two_groups_sharded_quant"), ("synthetic", "weights_int32_embedding"),
    ("synthetic", "separable_conv2d_channels_first_bias"), ("synthetic", "prelu_shared_axes_1_2"),
    # Keras 3 / drifted-name files TF.js cannot load: their exports load
    ("wild-tfjs-fails", "dense-keras38"), ("wild-tfjs-fails", "stock-lstm-keras3"),
    ("wild-tfjs-fails", "conv1d-audio-keras391"),
    ("wild-tfjs-fails", "emotion-mini-xception-separable"),
]


#: corpus models flaxjs runs but TF.js 4.22 cannot: the export must refuse them (reason)
REFUSED = {"anime4k-prelu-tfoplayer": "no class 'TensorFlowOpLayer'",
           "functional-gru-keras215": "reset_after", "activation_gelu_new": "gelu_new",
           "dense_gelu_new": "gelu_new"}


def _known_tfjs_failure(kind: str, case: str) -> str | None:
    """Why TF.js itself cannot reproduce a corpus model (its stored reference says so)."""
    ref = reference(CORPUS / kind / case)
    if ref.get("alt_outputs"):
        return "TF.js's CPU kernel bug recorded in the corpus (alt_outputs): " + str(
            ref.get("quirk", ""))[:120]
    if "predict fails" in str(ref.get("notes", "")):
        return "model.predict fails in TF.js for this layer (corpus: eager reference)"
    return None


def _corpus_params():
    which = os.environ.get("FLAXJS_EXPORT_ALL", "")
    if not which:
        chosen = SPREAD
    else:
        kinds = ["synthetic", "wild", "wild-tfjs-fails"] if which == "1" else which.split(",")
        chosen = [(k, c) for k in kinds for c in cases(k)]
    params = []
    for kind, case in chosen:
        why = (_known_tfjs_failure(kind, case)
               if (CORPUS / kind / case).is_dir() and case not in REFUSED else None)
        marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
        params.append(pytest.param(kind, case, marks=marks, id=f"{kind}/{case}"))
    return params


def _load(source, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flaxjs.load(source, **kw)


def tfjs_run(folder):
    """TF.js's inputs and outputs for the model in ``folder`` (written by make_reference.js)."""
    env = dict(os.environ, NODE_PATH=str(tfjs_node.tool_dir() / "node_modules"))
    done = subprocess.run(["node", str(MAKE_REFERENCE), str(folder)], env=env,
                          capture_output=True, text=True, timeout=1200)
    if done.returncode:
        raise AssertionError(f"TF.js could not load/run the export: {done.stderr[-800:]}")
    ref = json.loads((folder / "reference.json").read_text())
    xs = [np.load(folder / i["file"]) for i in ref["inputs"]]
    ys = [np.load(folder / o["file"]) for o in ref["outputs"]]
    return xs, ys


def _outputs(y):
    return [np.asarray(v) for v in (y if isinstance(y, list) else [y])]


def assert_tfjs_matches(folder, flax_fn):
    xs, want = tfjs_run(folder)
    got = _outputs(flax_fn(*xs))
    assert len(got) == len(want)
    for i, (y, ref) in enumerate(zip(got, want)):
        err = max_error(y, ref)
        assert err <= TOLERANCE, f"output {i}: TF.js and flaxjs differ by {err:.3g}"


@pytest.mark.parametrize("kind,case", _corpus_params())
def test_corpus_export_runs_in_tfjs(tmp_path, kind, case):
    try:
        model = _load(CORPUS / kind / case)
    except UnsupportedLayerError as err:
        pytest.skip(str(err).splitlines()[0])
    if case in REFUSED:
        with pytest.raises(ExportError, match=REFUSED[case]):
            flaxjs.save(model, tmp_path)
        assert not (tmp_path / "model.json").exists()
        return
    flaxjs.save(model, tmp_path)
    assert_tfjs_matches(tmp_path, model)


def _noisy(variables, seed=1):
    """Emulate fine-tuning: perturb every float weight (variances stay positive)."""
    leaves, tree = jax.tree_util.tree_flatten(variables)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    out = []
    for leaf, key in zip(leaves, keys):
        if np.asarray(leaf).dtype == np.float32:
            leaf = leaf * (1 + 0.05 * jax.random.normal(key, leaf.shape, leaf.dtype))
        out.append(leaf)
    return jax.tree_util.tree_unflatten(tree, out)


def test_truncated_model_with_a_new_fine_tuned_head(tmp_path):
    base = _load(CORPUS / "wild" / "mobilenet-v1-0.25-224")
    model = base.truncate("conv_pw_13_relu").freeze().extend(
        [K.GlobalAveragePooling2D(), K.Dropout(0.2), K.Dense(16, activation="relu"),
         K.BatchNormalization(), K.Dense(3, activation="softmax", name="classes")])
    tuned = _noisy(model.variables)
    flaxjs.save(model, tmp_path, variables=tuned, metadata={"labels": ["a", "b", "c"]})
    assert_tfjs_matches(tmp_path, lambda *xs: model.apply(tuned, *xs))
    names = [w["name"] for w in json.loads((tmp_path / "model.json").read_text())
             ["weightsManifest"][0]["weights"]]
    assert "classes/kernel" in names and "batch_normalization/moving_mean" in names


def test_cut_inside_a_nested_model_with_a_new_head(tmp_path):
    base = _load(CORPUS / "wild" / "tm-image-digits")
    inner = next(s.name for _, s in base.graph.walk() if s.name == "out_relu")
    model = base.truncate(inner).extend([K.GlobalMaxPooling2D(), K.Dense(4, name="digits")])
    tuned = _noisy(model.variables, seed=2)
    flaxjs.save(model, tmp_path, variables=tuned)
    assert_tfjs_matches(tmp_path, lambda *xs: model.apply(tuned, *xs))


def test_shared_layer_called_out_of_list_order(tmp_path):
    from test_export_unit import _shared_out_of_order_json
    model = _load(_shared_out_of_order_json(), strict=False)
    flaxjs.save(model, tmp_path)
    assert_tfjs_matches(tmp_path, model)


def test_keras3_model_runs_in_tfjs(tmp_path):
    from test_export_unit import keras3_json
    model = _load(keras3_json(), strict=False)
    flaxjs.save(model, tmp_path)
    assert_tfjs_matches(tmp_path, model)


def _weights(folder):
    model_json = json.loads((folder / "model.json").read_text())
    return model_json["weightsManifest"][0]["weights"]


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
def test_quantized_exports_decode_identically_in_tfjs(tmp_path, dtype):
    src = CORPUS / "synthetic" / "model_mobilenet_v1_like"
    model = _load(src)
    flaxjs.save(model, tmp_path, quantize=dtype)
    again = _load(tmp_path)
    assert_tfjs_matches(tmp_path, again)
    from flaxjs.matching import flatten
    original = {"/".join(p[1:]): np.asarray(v) for p, v in flatten(model.variables)}
    decoded = {"/".join(p[1:]): np.asarray(v) for p, v in flatten(again.variables)}
    for entry in _weights(tmp_path):
        w, wq = original[entry["name"]], decoded[entry["name"]]
        q = entry["quantization"]
        if dtype == "float16":
            np.testing.assert_array_equal(wq, w.astype(np.float16).astype(np.float32))
        else:
            assert np.abs(wq.astype(np.float64) - w).max() <= q["scale"] / 2 * (1 + 1e-6) + 1e-7


def test_quantization_matches_the_converter_and_tfjs_decoding(tmp_path):
    """Codes, min and scale equal the oracle's mirror of the converter's quantization.py,
    and TF.js's decodeWeights gives exactly :func:`quant.dequantize`'s values."""
    rng = np.random.default_rng(3)
    arrays = {"normal": rng.normal(size=300), "positive": rng.random(200) + 0.5,
              "negative": -rng.random(50) - 1, "with_zero": np.r_[rng.normal(size=99), 0.0],
              "constant": np.full(7, -0.3)}
    script = r"""
const {affineQuantize} = require(process.argv[1]);
const data = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const out = {};
for (const [name, [dtype, values]] of Object.entries(data)) {
  const {q, min, scale} = affineQuantize(Float32Array.from(values), dtype);
  out[name] = {q: Array.from(q), min, scale};
}
process.stdout.write(JSON.stringify(out));
"""
    data = {f"{n}_{d}": (d, a.astype(np.float32).tolist())
            for n, a in arrays.items() for d in ("uint8", "uint16")}
    (tmp_path / "data.json").write_text(json.dumps(data))
    oracle = json.loads(tfjs_node.run_node(
        script, str(tfjs_node.tool_dir() / "lib" / "util.js"), str(tmp_path / "data.json")))
    specs, chunks, expected = [], [], {}
    for key, (dtype, values) in data.items():
        codes, meta = quant.quantize(np.asarray(values, np.float32), dtype)
        assert codes.tolist() == oracle[key]["q"], key
        assert meta["min"] == oracle[key]["min"] and meta["scale"] == oracle[key]["scale"], key
        specs.append({"name": key, "shape": [len(values)], "dtype": "float32",
                      "quantization": meta})
        chunks.append(codes.tobytes())
        expected[key] = quant.dequantize(codes, meta)
    decoded = tfjs_node.tfjs_decode(specs, b"".join(chunks), tmp_path)
    for key, (_, _, raw) in decoded.items():
        assert raw == expected[key].tobytes(), key
