"""TF.js graph models: the corpus against TF.js, the model API, transfer learning, export."""

from __future__ import annotations

import base64
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import tfjs_node
from corpus import CORPUS, TOLERANCE, check_case

import flaxjs
from flaxjs import finetune
from flaxjs import keras as K
from flaxjs.errors import ExportError, UnknownNameError, UnsupportedOpError
from flaxjs.graph import GraphModel
from flaxjs.graph.model import InputError
from flaxjs.graph.ops import sample_graph

GRAPH = CORPUS / "graph"
WITH_REFERENCE = sorted(p.name for p in GRAPH.glob("*") if (p / "ref").is_dir()) \
    if GRAPH.is_dir() else []
MNIST = GRAPH / "mnist-cnn-graph-tf220"
DENSE = "StatefulPartitionedCall/sequential_1/dense_1/Relu"
LAST_CONV = "*/conv2d_1_2/*"
FIRST_CONV_KERNEL = "StatefulPartitionedCall/sequential_1/conv2d_1/convolution/ReadVariableOp"

needs_corpus = pytest.mark.skipif(not GRAPH.is_dir(), reason="../shared/corpus/graph is absent")


def test_the_corpus_has_graph_models():
    assert len(WITH_REFERENCE) >= 7 or not GRAPH.is_dir()


@needs_corpus
@pytest.mark.parametrize("case", WITH_REFERENCE)
def test_corpus_graph_model_matches_tfjs(case: str):
    check_case(GRAPH / case)


@needs_corpus
def test_string_input_model_is_refused_naming_the_ops():
    with pytest.raises(UnsupportedOpError) as err:
        flaxjs.load(GRAPH / "rnn-graph-string-input")
    message = str(err.value)
    assert "LookupTableFindV2" in message and "StringSplitV2" in message
    assert "TF.js" in message


@pytest.fixture(scope="module")
def mnist() -> GraphModel:
    if not MNIST.is_dir():
        pytest.skip("../shared/corpus/graph is absent")
    return flaxjs.load(MNIST)


def _images(n: int = 4) -> np.ndarray:
    return np.random.default_rng(0).random((n, 28, 28, 1), np.float32)


def test_structure_and_calling_conventions(mnist: GraphModel):
    assert isinstance(mnist, GraphModel)
    assert mnist.input_names == ["input_layer"] and mnist.output_names == ["Identity"]
    assert mnist.input_specs[0].shape == (None, 28, 28, 1)
    x = _images()
    y = np.asarray(mnist(x))
    np.testing.assert_array_equal(np.asarray(mnist({"input_layer": x})), y)
    np.testing.assert_array_equal(np.asarray(mnist.execute(x)), y)
    dense = mnist.execute({"input_layer": x}, DENSE)
    assert dense.shape == (4, 128)
    both = mnist.execute({"input_layer": x}, [DENSE, "Identity"])
    np.testing.assert_allclose(np.asarray(both[1]), y, rtol=1e-6, atol=1e-6)
    # an intermediate tensor can be fed, as TF.js's execute allows
    fed = mnist.execute({DENSE: np.asarray(dense)}, "Identity")
    np.testing.assert_allclose(np.asarray(fed), y, rtol=1e-5, atol=1e-6)
    text = mnist.summary_text()
    assert "_FusedConv2D" in text and "[1, 24, 24, 8]" in text
    with pytest.raises(InputError, match="add a batch axis"):
        mnist(x[0])
    with pytest.raises(flaxjs.FlaxjsError, match="did you mean"):
        mnist.execute(x, DENSE[:-2])
    with pytest.raises(AttributeError, match="immutable"):
        mnist.spec = None  # type: ignore[misc]


def test_apply_is_pure_jit_grad_vmap(mnist: GraphModel):
    x = _images(3)
    eager = np.asarray(mnist.apply(mnist.variables, x))
    np.testing.assert_allclose(np.asarray(jax.jit(mnist.apply)(mnist.variables, x)), eager,
                               rtol=1e-5, atol=1e-6)
    per_example = jax.vmap(lambda xi: mnist.apply(mnist.variables, xi[None])[0])(x)
    np.testing.assert_allclose(np.asarray(per_example), eager, rtol=1e-5, atol=1e-6)
    grads = jax.grad(lambda v: jnp.sum(mnist.apply(v, x)[:, 3]))(mnist.variables)
    assert set(grads["params"]) == set(mnist.params)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree_util.tree_leaves(grads))


def test_gradients_match_finite_differences(mnist: GraphModel):
    """The gradient of the cut model w.r.t. a weight, against central differences in float64
    arithmetic on the float32 model (a few coordinates)."""
    x = _images(2)
    cut = mnist.truncate(DENSE)
    name = "StatefulPartitionedCall/sequential_1/dense_1/BiasAdd/ReadVariableOp"
    probe = np.random.default_rng(1).standard_normal((2, 128)).astype(np.float32)

    def loss(bias):
        params = {**cut.params, name: bias}
        return jnp.sum(cut.apply({"params": params}, x) * probe)

    bias = np.asarray(cut.params[name])
    grad = np.asarray(jax.grad(loss)(jnp.asarray(bias)))
    eps = 1e-2
    for i in (0, 5, 77):
        up, down = bias.copy(), bias.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (float(loss(up)) - float(loss(down))) / (2 * eps)
        assert abs(numeric - grad[i]) <= 1e-2 * max(1.0, abs(grad[i])), (i, numeric, grad[i])


def test_truncate_features_freeze(mnist: GraphModel):
    cut = mnist.truncate(DENSE)
    assert cut.output_names == [DENSE]
    assert len(cut.params) < len(mnist.params)
    feats = mnist.features([DENSE, "Identity"])
    out = feats(_images())
    assert set(out) == {DENSE, "Identity"}
    frozen = mnist.freeze().unfreeze(LAST_CONV)
    assert FIRST_CONV_KERNEL in frozen.frozen
    assert not any("conv2d_1_2" in n for n in frozen.frozen)
    with pytest.raises(UnknownNameError, match="matches no weight node"):
        mnist.freeze("*/no_such_layer/*")


def test_a_head_that_cannot_be_written_is_refused(mnist: GraphModel, tmp_path):
    model = mnist.truncate(DENSE).extend([K.Dense(4), K.BatchNormalization()])
    with pytest.raises(ExportError, match="BatchNormalization"):
        flaxjs.save(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _shapes_task():
    from flaxjs.examples import shapes

    x, y = shapes.draw_shapes(240, 28, seed=3)
    x = (x.mean(-1, keepdims=True) / 255.0).astype(np.float32)
    y = np.eye(6, dtype=np.float32)[y]
    return shapes.split(x, y, 0.25)


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(np.asarray(model(x)), -1) == np.argmax(y, -1)))


def test_fine_tune_head_and_last_conv_of_a_graph_model(mnist: GraphModel):
    """What TF.js cannot do with a graph model: cut, freeze, add a head, train."""
    (xtr, ytr), (xte, yte) = _shapes_task()
    model = mnist.truncate(DENSE).freeze().unfreeze(LAST_CONV).extend(
        [K.Dense(6, activation="softmax")])
    state = finetune.TrainState.create(model, optax.adam(3e-3))
    trainable = {k for k, f in jax.tree_util.tree_leaves_with_path(state.mask) if f}
    assert len(trainable) == 4  # the last conv's kernel and bias, the head's kernel and bias
    before = _accuracy(model, xte, yte)
    state, _ = finetune.fit(state, xtr, ytr, epochs=12, batch_size=30,
                            loss="categorical_crossentropy")
    trained = finetune.updated_model(model, state)
    after = _accuracy(trained, xte, yte)
    assert after >= before + 0.1, (before, after)
    np.testing.assert_array_equal(np.asarray(trained.params[FIRST_CONV_KERNEL]),
                                  np.asarray(model.params[FIRST_CONV_KERNEL]))


def _tfjs_outputs(folder, feeds: dict, outputs: list[str]) -> list[np.ndarray]:
    model_json = json.loads((folder / "model.json").read_text())
    data = b"".join((folder / p).read_bytes()
                    for g in model_json["weightsManifest"] for p in g["paths"])
    cases = {"saved": {"model": model_json, "weights": base64.b64encode(data).decode(),
                       "feeds": [{"name": k, **sample_graph.encode_array(v)}
                                 for k, v in feeds.items()],
                       "outputs": outputs}}
    result = tfjs_node.run_graph_cases(cases)["saved"]
    assert "error" not in result, result
    return [sample_graph.decode_array(o) for o in result["outputs"]]


@pytest.mark.skipif(not tfjs_node.available(), reason="node/npm or the TF.js tool is absent")
def test_saved_fine_tuned_graph_model_loads_in_tfjs(mnist: GraphModel, tmp_path):
    (xtr, ytr), _ = _shapes_task()
    target = np.zeros((len(ytr), 10), np.float32)
    target[:, :6] = ytr
    state = finetune.TrainState.create(mnist.freeze().unfreeze("*/dense_1_2/*"),
                                       optax.adam(1e-2))
    state, _ = finetune.fit(state, xtr, target, epochs=1, batch_size=30,
                            loss="categorical_crossentropy")
    trained = finetune.updated_model(mnist, state)
    assert not np.array_equal(np.asarray(trained.params[
        "StatefulPartitionedCall/sequential_1/dense_1_2/Cast/ReadVariableOp"]), np.asarray(
        mnist.params["StatefulPartitionedCall/sequential_1/dense_1_2/Cast/ReadVariableOp"]))
    x = _images(3)
    headed = trained.truncate(DENSE).extend([K.Dropout(0.5), K.Dense(6, activation="softmax")])
    for model, name in [(trained, "whole"), (trained.truncate(DENSE), "cut"), (headed, "head")]:
        folder = tmp_path / name
        flaxjs.save(model, folder)
        again = flaxjs.load(folder)
        ours = np.asarray(model(x))
        np.testing.assert_allclose(np.asarray(again(x)), ours, rtol=0, atol=1e-6)
        (ref,) = _tfjs_outputs(folder, {"input_layer": x}, [again.output_names[0]])
        assert ref.shape == ours.shape
        assert float(np.max(np.abs(ref - ours))) <= TOLERANCE * max(1.0, float(
            np.abs(ref).max()))


@pytest.mark.skipif(not tfjs_node.available(), reason="node/npm or the TF.js tool is absent")
def test_saved_v2_loop_keeps_its_function_constants(tmp_path):
    """The constants of ``While`` bodies live in the weights manifest under the functions'
    names: an export must write them, or neither flaxjs nor TF.js can run the loop."""
    from flaxjs.graph.ops import registry

    registration, sample = sample_graph.cases(registry.registrations())["While-counting"]
    model_json, weights, feeds, outputs = sample_graph.build_case(registration, sample,
                                                                   "While-counting")
    # as the TF converter writes it: the body's constant under a name of its own, stored
    # in the manifest (the sample's body reads the top graph's same-named const_3)
    (body,) = [f for f in model_json["modelTopology"]["library"]["function"]
               if f["signature"]["name"] == "body_fn"]
    for node in body["nodeDef"]:
        node["name"] = "body_fn/const_3" if node["name"] == "const_3" else node["name"]
        node["input"] = ["body_fn/const_3" if i == "const_3" else i for i in node["input"]]
    (group,) = model_json["weightsManifest"]
    group["weights"].append({"name": "body_fn/const_3", "shape": [], "dtype": "int32"})
    weights += np.int32(2).tobytes()
    m = flaxjs.load(model_json, weights={"weights.bin": weights})
    flaxjs.save(m, tmp_path / "loop")
    again = flaxjs.load(tmp_path / "loop")
    ours = [np.asarray(y) for y in m.execute(feeds, outputs)]
    for y, want in zip(again.execute(feeds, outputs), ours, strict=True):
        np.testing.assert_array_equal(np.asarray(y), want)
    for ref, want in zip(_tfjs_outputs(tmp_path / "loop", feeds, outputs), ours, strict=True):
        np.testing.assert_allclose(ref, want, rtol=0, atol=TOLERANCE * max(1.0, float(
            np.abs(want).max())))
