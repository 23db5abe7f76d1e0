"""TensorFlowOpLayer / TFOpLambda: the op table, constants, and clear refusals.

DepthToSpace inside a real model is checked against Keras by the corpus case
``wild-tfjs-fails/anime4k-prelu-tfoplayer``.
"""

from __future__ import annotations

import base64

import jax
import numpy as np
import pytest

from flaxjs.errors import LayerConfigError, UnsupportedLayerError
from flaxjs.layers import registry, tf_ops  # noqa: F401
from flaxjs.topology.spec import Call, LayerSpec, TensorRef

_NHWC = base64.b64encode(b"NHWC").decode()


def _op_layer(op, attr=None, constants=None, name="tf_op_layer_x"):
    config = {"name": name, "node_def": {"name": name, "op": op, "input": ["a", "b"][:1],
                                         "attr": attr or {}},
              "constants": constants or {}}
    return registry.convert(LayerSpec("TensorFlowOpLayer", name, config))


def _x(shape, seed=0):
    return np.asarray(jax.random.normal(jax.random.key(seed), shape))


def test_depth_to_space_inverts_space_to_depth():
    x = _x((2, 3, 4, 8))
    attr = {"block_size": {"i": "2"}, "data_format": {"s": _NHWC}, "T": {"type": "DT_FLOAT"}}
    up = _op_layer("DepthToSpace", attr).apply({}, x)
    assert up.shape == (2, 6, 8, 2)
    # out[b, 2h+i, 2w+j, c] = in[b, h, w, (2i+j)*C_out + c]
    np.testing.assert_array_equal(np.asarray(up)[:, 1::2, 0::2, :], x[:, :, :, 4:6])
    back = _op_layer("SpaceToDepth", attr).apply({}, up)
    np.testing.assert_array_equal(np.asarray(back), x)


def test_binary_op_with_a_constant_input():
    x = _x((2, 5))
    layer = _op_layer("AddV2", constants={"1": 1.5})
    np.testing.assert_allclose(np.asarray(layer.apply({}, x)), x + 1.5, rtol=1e-6)
    first = _op_layer("Sub", constants={"0": [1.0, 2.0, 3.0, 4.0, 5.0]})
    np.testing.assert_allclose(np.asarray(first.apply({}, x)), np.arange(1.0, 6.0) - x,
                               rtol=1e-6)
    two = _op_layer("Mul")
    np.testing.assert_allclose(np.asarray(two.apply({}, [x, x])), x * x, rtol=1e-6)


def test_reduction_and_reshape_take_constant_arguments():
    x = _x((2, 3, 4))
    mean = _op_layer("Mean", {"keep_dims": {"b": True}}, constants={"1": [1, 2]})
    np.testing.assert_allclose(np.asarray(mean.apply({}, x)), x.mean((1, 2), keepdims=True),
                               rtol=1e-5, atol=1e-6)
    reshape = _op_layer("Reshape", constants={"1": [-1, 12]})
    assert reshape.apply({}, x).shape == (2, 12)
    with pytest.raises(LayerConfigError, match="constants"):
        _op_layer("Reshape")


def test_unknown_op_is_a_clear_error():
    with pytest.raises(LayerConfigError, match="'Einsum' is not supported"):
        _op_layer("Einsum")


def _lambda(function, kwargs, name="tf.math.add"):
    call = Call((TensorRef("input_1"),), kwargs)
    return registry.convert(LayerSpec("TFOpLambda", name, {"name": name, "function": function},
                                      (call,)))


def test_tf_op_lambda_with_constant_arguments():
    x = _x((2, 4))
    layer = _lambda("math.multiply", {"y": 3.0, "name": None})
    np.testing.assert_allclose(np.asarray(layer.apply({}, x)), 3.0 * x, rtol=1e-6)
    relu = _lambda("nn.relu", {"name": None})
    np.testing.assert_array_equal(np.asarray(relu.apply({}, x)), np.maximum(x, 0))
    mean = _lambda("math.reduce_mean", {"axis": -1, "keepdims": True})
    np.testing.assert_allclose(np.asarray(mean.apply({}, x)), x.mean(-1, keepdims=True),
                               rtol=1e-5, atol=1e-6)


def test_tf_op_lambda_refusals():
    with pytest.raises(LayerConfigError, match="tensor arguments"):
        _lambda("math.add", {"y": ["dense_1", 0, 0], "name": None})
    with pytest.raises(LayerConfigError, match="not supported"):
        _lambda("linalg.matmul", {"b": 1.0})


def test_lambda_layers_have_no_converter():
    assert registry.lookup("Lambda") is None
    with pytest.raises(UnsupportedLayerError):
        registry.convert(LayerSpec("Lambda", "lambda", {"function": "4wEAAA..."}))
