"""Wrong inputs and misspelt names get a FlaxjsError that says what to do; right ones,
however given (Python lists, other dtypes of the same kind, one list for several
inputs), give TF.js's outputs. Layers models and graph models alike."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import flaxjs
from corpus import CORPUS, expected_outputs, inputs, max_error, reference
from flaxjs.errors import FlaxjsError, InputError, UnknownNameError
from flaxjs.inputs import RawImageWarning

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

CONV = CORPUS / "synthetic" / "conv2d_nobias_1x1"  # [None, 5, 5, 4] float32 -> conv
EMBED = CORPUS / "synthetic" / "embedding_int32_input"  # [None, 5] int32
MULTI = CORPUS / "synthetic" / "model_multi_input_multi_output"  # vec_in [None, 4], seq_in
GRAPH = CORPUS / "graph" / "mnist-cnn-graph-tf220"  # input_layer [-1, 28, 28, 1]
IMAGE = CORPUS / "wild" / "tm-image-digits"  # [None, 224, 224, 3], metadata preprocessing


def _case(case):
    ref = reference(case)
    return flaxjs.load(case), inputs(case, ref), expected_outputs(case, ref)


@pytest.fixture(scope="module")
def conv():
    return _case(CONV)


@pytest.mark.parametrize(("make", "message"), [
    (lambda x: x[0], r"expects \[None, 5, 5, 4\], got \(5, 5, 4\): add a batch axis"),
    (lambda x: x[..., :3], r"got \(2, 5, 5, 3\): 3 channel\(s\) instead of 4"),
    (lambda x: x[:, :4], r"declared for 5x5 images; resize them .*with_input_size"),
    (lambda x: x.transpose(0, 3, 1, 2), r"channels first\? .*transpose"),
    (lambda x: x[:, None], r"5 axes instead of 4"),
    (lambda x: x.astype(np.complex64), r"is float32, got complex64 values"),
    (lambda x: x.astype(str), r"is float32, got <U\d+ values|got str\d* values"),
    (lambda x: [[1.0, 2.0], [3.0]], r"rows must all have the same length"),
    (lambda x: {"conv2d_1_inptu": x}, r"has no input 'conv2d_1_inptu' \(did you mean "
                                      r"'conv2d_1_input'\?\)"),
    (lambda x: {}, r"no value for input\(s\) conv2d_1_input"),
])
def test_a_wrong_input_says_what_to_do(conv, make, message):
    model, (x,), _ = conv
    with pytest.raises(InputError, match=message) as info:
        model(make(x))
    assert "sequential_1" in str(info.value) and "conv2d_1_input" in str(info.value)
    with pytest.raises(InputError, match="got a dict"):  # a dict for one of the inputs
        model({"conv2d_1_input": {"x": x}})


def test_lists_and_other_dtypes_of_the_same_kind_give_tfjs_outputs(conv):
    model, (x,), (want,) = conv
    assert max_error(np.asarray(model(x.tolist())), want) <= 1e-4
    assert max_error(np.asarray(model(x.astype(np.float64))), want) <= 1e-4


def test_integer_inputs():
    model, (ids,), (want,) = _case(EMBED)
    assert max_error(np.asarray(model(ids.astype(np.float32))), want) <= 1e-4  # whole numbers
    assert max_error(np.asarray(model(ids.astype(np.int64).tolist())), want) <= 1e-4
    with pytest.raises(InputError, match=r"is int32 \(e.g. token ids\), got float32 values "
                                         "with fractions"):
        model(ids.astype(np.float32) + 0.5)
    with pytest.raises(InputError, match="add a batch axis"):
        model(ids[0])


def test_several_inputs_as_arguments_or_one_list():
    model, xs, want = _case(MULTI)
    by_list = model(list(xs))
    by_name = model({"seq_in": xs[1], "vec_in": xs[0]})
    for got, named, ref in zip(by_list, by_name, want, strict=True):
        assert max_error(np.asarray(got), ref) <= 1e-4
        np.testing.assert_array_equal(np.asarray(named), np.asarray(got))
    with pytest.raises(InputError, match=r"takes 2 inputs \(vec_in, seq_in\), got one list of 3"):
        model([xs[0], xs[1], xs[1]])
    with pytest.raises(InputError, match=r"takes 2 input\(s\) \(vec_in, seq_in\), got 1"):
        model(xs[0])
    with pytest.raises(TypeError):  # InputError is a TypeError too, as before
        model(*xs, xs[0])
    with pytest.raises(InputError, match="'seq_in' expects"):
        model(xs[0], xs[1][0])


def test_uint8_images_into_a_scaling_model_warn_once_per_model(conv):
    model, (x,), _ = conv
    raw = np.clip(x * 100 + 100, 0, 255).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = np.asarray(model(raw))  # no known preprocessing: the values are meant
    scaled = model.with_info(preprocessing={"kind": "image", "ops": [["div", 255]]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("once", category=RawImageWarning)
        out = np.asarray(scaled(raw))
        scaled(raw)
    assert [w.category for w in caught] == [RawImageWarning]
    assert "m.preprocess" in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the call
    np.testing.assert_array_equal(out, plain)  # it still runs on the values given


def test_graph_model_inputs():
    model, (x,), (want,) = _case(GRAPH)
    assert max_error(np.asarray(model(x.tolist())), want) <= 1e-4
    with pytest.raises(InputError, match="add a batch axis"):
        model(x[0])
    with pytest.raises(InputError, match=r"1 axes instead of 4|add a batch axis"):
        model(x[0, 0, 0])
    with pytest.raises(InputError, match="complex64"):
        model(x.astype(np.complex64))


def test_misspelt_layer_names_suggest_close_ones(conv):
    model = flaxjs.load(MULTI)
    for call in (model.truncate, model.get_layer, model.layer,
                 lambda n: model.features([n]), model.tail):
        with pytest.raises(UnknownNameError, match=r"no layer 'dense_l' \(did you mean "
                                                   r"'dense_1'"):
            call("dense_l")
    with pytest.raises(KeyError):  # still a KeyError, as before
        model.truncate("dense_l")
    with pytest.raises(UnknownNameError, match="no nested model 'dense_1'"):
        model.truncate("dense_1/x")
    assert model.get_layer("dense_1").name == "dense_1"


def test_patterns_that_match_nothing_raise():
    model = flaxjs.load(IMAGE)
    names = model.layer_names
    with pytest.raises(UnknownNameError, match=r"pattern 'Conv_l' matches no layer .*did you "
                                               r"mean 'Conv_1'"):
        model.unfreeze("Conv_l")
    with pytest.raises(UnknownNameError, match=r"pattern 'blok_\*' matches no layer"):
        model.freeze("blok_*")
    with pytest.raises(UnknownNameError, match="'nope'"):
        model.freeze(["Conv_1", "nope"])
    # patterns that match still work, on a full path or its last part
    assert any(not s.trainable for _, s in model.freeze("Conv_1").graph.walk())
    nested = [n for n in names if model.layer(n).graph is not None]
    assert nested and model.freeze(f"{nested[0]}/*") is not None


def test_graph_model_names():
    model = flaxjs.load(GRAPH)
    with pytest.raises(FlaxjsError, match="did you mean"):
        model.truncate(model.node_names[-1][:-1] + "x")
    with pytest.raises(UnknownNameError, match="matches no weight node"):
        model.freeze("no_such_weight*")


def test_summary_prints_and_returns_none(conv, capsys):
    model, _, _ = conv
    assert model.summary() is None
    printed = capsys.readouterr().out
    assert printed == model.summary_text() + "\n" and "conv2d_1 (Conv2D)" in printed
    lines: list[str] = []
    assert model.summary(print_fn=lines.append) is None and lines == [model.summary_text()]
    graph = flaxjs.load(GRAPH)
    assert graph.summary() is None and "Conv2D" in capsys.readouterr().out


def test_decode_nests_by_the_batch_axis(conv):
    model = flaxjs.load(IMAGE)
    probs = np.full((1, len(model.labels)), 0.01, np.float32)
    probs[0, 3] = 0.9
    one = model.decode(probs, top=2)
    assert len(one) == 1 and one[0][0] == (model.labels[3], pytest.approx(0.9))
    two = model.decode(np.concatenate([probs, probs]), top=2)
    assert len(two) == 2 and two[0] == one[0]
    assert model.decode(probs[0], top=2) == one[0]  # [K]: one list of pairs


def test_a_misspelt_nested_layer_name_suggests_the_nested_layer():
    model = flaxjs.load(IMAGE)
    with pytest.raises(UnknownNameError, match=r"no layer 'Conv_l' \(did you mean 'Conv_1'"):
        model.truncate("Conv_l")


def test_a_graph_model_with_a_head_checks_its_inputs_before_jit():
    from flaxjs import keras as K

    model, (x,), _ = _case(GRAPH)
    dense = "StatefulPartitionedCall/sequential_1/dense_1/Relu"
    headed = model.truncate(dense).extend([K.Dense(3, name="new_head")])
    want = np.asarray(headed(x))
    assert want.shape == (len(x), 3)
    np.testing.assert_array_equal(np.asarray(headed(x.tolist())), want)
    with pytest.raises(InputError, match="add a batch axis"):
        headed(x[0])


def test_bfloat16_inputs_are_cast(conv):
    import jax.numpy as jnp

    model, (x,), _ = conv
    low = jnp.asarray(x, jnp.bfloat16)
    np.testing.assert_array_equal(np.asarray(model(low)),
                                  np.asarray(model(np.asarray(low, np.float32))))
