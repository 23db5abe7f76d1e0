"""Make the Keras-file fixtures in ``tests/references/keras_files/`` (dev tool, not shipped).

Each case is a small Keras model saved as Keras itself saves it, so that
``flaxjs.load("model.keras")`` / ``flaxjs.load("model.h5")`` are checked against Keras:

* ``keras3`` cases: Keras 3 ``model.save("model.keras")`` (zip: config.json,
  metadata.json, model.weights.h5) and ``model.save("model.h5")`` (Keras 3's legacy HDF5);
* ``tf_keras`` cases: tf-keras 2 ``model.save("model.h5")``.

``not-tfjs/`` holds files of other formats that ``flaxjs.load`` must recognise and refuse
with what to do: a TensorFlow SavedModel's ``saved_model.pb``, a TFLite flatbuffer, a
Keras 3 weights-only ``save_weights`` file (no architecture), and ``lambda.keras``, whose
``Lambda`` layer holds Python bytecode that would create the file ``LAMBDA_RAN`` in the
working folder if anything ran it.

Weights and inputs follow ``tools/keras_references`` (``randomize``: every variable from
``numpy.random.default_rng(1)``; inputs from ``default_rng(0)``, batch 2, float inputs
uniform in [-1, 1), integer inputs uniform in [0, vocabulary)). ``ref/out_K.npy`` is
``model(x, training=False)``. Before writing, each saved file is loaded back with Keras
and must give bit-identical outputs, and the sanity checks of ``tools/keras_references``
run (finite, not constant, batch rows independent).

Usage (from the repository root, with the TensorFlow/Keras virtualenv of
``tools/keras_references/README.md``)::

    "$VENV"/bin/python tools/keras_files_references/make.py            # every case
    "$VENV"/bin/python tools/keras_files_references/make.py CASE ...    # some
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "keras_references"))

import numpy as np  # noqa: E402
from make_references import (  # noqa: E402  (sets the TF/Keras environment first)
    BATCH,
    INPUT_SEED,
    WEIGHT_SEED,
    as_stored,
    generator_string,
    keras_module,
    randomize,
    run,
    sanity,
)

OUT = os.path.join(ROOT, "tests", "references", "keras_files")
CASES: dict[str, tuple[str, str, object]] = {}  # name -> (flavor, notes, build(k))


def case(name: str, flavor: str, notes: str):
    def deco(fn):
        CASES[name] = (flavor, notes, fn)
        return fn
    return deco


# --------------------------------------------------------------------------- cases
@case("sequential-conv-bn-dense", "keras3",
      "Sequential: Conv2D (relu, same) -> BatchNormalization -> DepthwiseConv2D -> "
      "MaxPooling2D -> Conv2D without bias -> Flatten -> Dense (softmax)")
def _seq(k):
    L = k.layers
    return k.Sequential([
        k.Input((6, 6, 3)), L.Conv2D(4, 3, padding="same", activation="relu"),
        L.BatchNormalization(), L.DepthwiseConv2D(3, padding="same"), L.MaxPooling2D(),
        L.Conv2D(3, 1, use_bias=False), L.Flatten(), L.Dense(4, activation="softmax"),
    ], name="seq_conv")


@case("functional-text-rnn", "keras3",
      "Functional on int tokens: Embedding -> Bidirectional(LSTM, sequences) -> "
      "MultiHeadAttention (self) -> TimeDistributed(Dense) -> GRU -> Dense; variables under "
      "sub-objects: RNN cells, Bidirectional halves, attention projections")
def _text(k):
    L = k.layers
    tokens = k.Input((7,), dtype="int32", name="tokens")
    x = L.Embedding(12, 4)(tokens)
    x = L.Bidirectional(L.LSTM(3, return_sequences=True))(x)
    x = L.MultiHeadAttention(2, 3)(x, x)
    x = L.TimeDistributed(L.Dense(4, activation="tanh"))(x)
    x = L.GRU(3)(x)
    return k.Model(tokens, L.Dense(2)(x), name="text_rnn")


@case("stacked-rnn-cells", "keras3",
      "RNN over [LSTMCell, GRUCell] (StackedRNNCells: a list of cells, stored under keys "
      "made from class names) -> SimpleRNN")
def _stacked(k):
    L = k.layers
    x_in = k.Input((5, 3))
    x = L.RNN([L.LSTMCell(4), L.GRUCell(3)], return_sequences=True)(x_in)
    return k.Model(x_in, L.SimpleRNN(2)(x), name="stacked_cells")


@case("nested-models", "keras3",
      "Functional with a nested Sequential (Dense, BatchNormalization, Dense) and a nested "
      "Functional, each called once")
def _nested(k):
    return _nested_model(k)


@case("tf-keras-nested-rnn", "tf_keras",
      "tf-keras 2: Functional on int tokens: Embedding -> Conv1D -> BatchNormalization -> "
      "nested Sequential (Bidirectional(LSTM), LSTM) -> nested Functional (Dense) -> Dense")
def _tf_keras(k):
    L = k.layers
    tokens = k.Input((7,), dtype="int32", name="tokens")
    x = L.Embedding(12, 4)(tokens)
    x = L.Conv1D(5, 3, padding="same")(x)
    x = L.BatchNormalization()(x)
    rnn = k.Sequential([k.Input((7, 5)), L.Bidirectional(L.LSTM(3, return_sequences=True)),
                        L.LSTM(2)], name="rnn_seq")
    head_in = k.Input((2,))
    head = k.Model(head_in, L.Dense(3, activation="relu")(head_in), name="head")
    return k.Model(tokens, L.Dense(2)(head(rnn(x))), name="tf_keras_rnn")


@case("tf-keras-nested-models", "tf_keras", "tf-keras 2 version of nested-models")
def _tf_keras_nested(k):
    return _nested_model(k)


def _nested_model(k):
    L = k.layers
    inner = k.Sequential([k.Input((5,)), L.Dense(4), L.BatchNormalization(),
                          L.Dense(4, activation="tanh")], name="inner_seq")
    fin = k.Input((4,))
    inner_fn = k.Model(fin, L.Dense(3)(fin), name="inner_fn")
    x_in = k.Input((6,))
    return k.Model(x_in, L.Dense(2)(inner_fn(inner(L.Dense(5)(x_in)))), name="nested")


# --------------------------------------------------------------------------- making
def inputs_of(model) -> list[np.ndarray]:
    """Float inputs uniform in [-1, 1); integer inputs (token ids) below the Embedding size."""
    rng = np.random.default_rng(INPUT_SEED)
    vocab = min((layer.input_dim for layer in _all_layers(model)
                 if hasattr(layer, "input_dim")), default=10)
    xs = []
    for t in model.inputs:
        shape = (BATCH, *(int(d) for d in t.shape[1:]))
        if "int" in str(t.dtype):
            xs.append(rng.integers(0, vocab, shape).astype(np.int32))
        else:
            xs.append((-1 + 2 * rng.random(shape)).astype(np.float32))
    return xs


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def files_of(flavor: str) -> list[str]:
    return ["model.keras", "model.h5"] if flavor == "keras3" else ["model.h5"]


def make(name: str, out_root: str) -> None:
    flavor, notes, build = CASES[name]
    k = keras_module(flavor)
    k.backend.clear_session()  # layer names (dense, dense_1, ...) restart for every case
    k.utils.set_random_seed(WEIGHT_SEED)
    model = build(k)
    randomize(model, flavor, np.random.default_rng(WEIGHT_SEED))
    xs = inputs_of(model)
    ys = run(model, xs)
    sanity(model, xs, ys)
    folder = os.path.join(out_root, name)
    with tempfile.TemporaryDirectory() as tmp:
        for file in files_of(flavor):
            model.save(os.path.join(tmp, file))
            loaded = (k.saving.load_model if flavor == "keras3" else k.models.load_model)(
                os.path.join(tmp, file), compile=False)
            for a, b in zip(ys, run(loaded, xs), strict=True):
                assert np.array_equal(a, b), f"{name}/{file}: Keras's reload differs"
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(os.path.join(folder, "ref"))
        for file in files_of(flavor):
            shutil.copy(os.path.join(tmp, file), os.path.join(folder, file))
    specs_in, specs_out = [], []
    for i, x in enumerate(xs):
        np.save(os.path.join(folder, "ref", f"in_{i}.npy"), x)
        specs_in.append({"file": f"ref/in_{i}.npy", "name": model.inputs[i].name,
                         "shape": list(x.shape), "dtype": str(x.dtype)})
    for i, y in enumerate(ys):
        y = as_stored(y)
        np.save(os.path.join(folder, "ref", f"out_{i}.npy"), y)
        specs_out.append({"file": f"ref/out_{i}.npy", "name": f"output_{i}",
                          "shape": list(y.shape), "dtype": str(y.dtype)})
    reference = {
        "format": "flaxjs-reference/1",
        "source": {"generator": "tools/keras_files_references/make.py", "case": name},
        "reference_by": "keras", "generator": generator_string(flavor),
        "files": files_of(flavor), "notes": notes,
        "weights": "randomize() of tools/keras_references, numpy.random.default_rng(1)",
        "inference": "model(x, training=False), batch of 2",
        "inputs": specs_in, "outputs": specs_out,
    }
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(reference, f, indent=2)
        f.write("\n")
    print(f"{name}: {', '.join(files_of(flavor))}")


def make_other_formats(out_root: str) -> None:
    """``not-tfjs/``: a tiny SavedModel (its .pb only), its TFLite conversion, and Keras
    weights without a model."""
    import tensorflow as tf
    k = keras_module("keras3")
    folder = os.path.join(out_root, "not-tfjs")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(folder, "saved_model"))

    class Matmul(tf.Module):
        def __init__(self):
            self.w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2))

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def __call__(self, x):
            return tf.matmul(x, self.w)

    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(Matmul(), tmp)
        shutil.copy(os.path.join(tmp, "saved_model.pb"), os.path.join(folder, "saved_model"))
        tflite = tf.lite.TFLiteConverter.from_saved_model(tmp).convert()
    with open(os.path.join(folder, "model.tflite"), "wb") as f:
        f.write(tflite)
    model = k.Sequential([k.Input((3,)), k.layers.Dense(2)])
    model.save_weights(os.path.join(folder, "weights-only.weights.h5"))
    with tempfile.TemporaryDirectory() as tmp:  # building the model calls the lambda once
        here = os.getcwd()
        os.chdir(tmp)
        try:
            lam = k.layers.Lambda(lambda x: x * float(open("LAMBDA_RAN", "w").close() or 2))
            k.Sequential([k.Input((3,)), lam, k.layers.Dense(2)]).save(
                os.path.join(folder, "lambda.keras"))
        finally:
            os.chdir(here)
    print("not-tfjs: saved_model/saved_model.pb, model.tflite, weights-only.weights.h5, "
          "lambda.keras")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"cases to make (default all: {list(CASES)})")
    parser.add_argument("--out", default=OUT, help="output folder")
    args = parser.parse_args()
    for name in args.cases or CASES:
        make(name, args.out)
    if not args.cases:
        make_other_formats(args.out)


if __name__ == "__main__":
    main()
