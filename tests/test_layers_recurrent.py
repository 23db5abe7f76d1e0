"""Recurrent layers beyond what inference parity covers.

TF.js parity (synthetic, wild and oracle corpora) checks SimpleRNN, GRU, LSTM,
RNN with cells and stacks, ConvLSTM2D, masks, go_backwards, states; the Keras
reset-after GRU and Keras 3 LSTM are checked against Keras in
``wild-tfjs-fails``. Here: the Keras-only ConvLSTM1D/3D as equivalences with the
TF.js-checked ConvLSTM2D, the Keras 3 state order of stacked cells, training
dropout, and jit/grad through the scan.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flaxjs.layers import registry
from flaxjs.topology.spec import LayerSpec


def _module(class_name, name, keras3=False, **config):
    return registry.convert(LayerSpec(class_name, name, dict(config, name=name), keras3=keras3))


def _init(module, *args, **kwargs):
    return module.init({"params": jax.random.key(0), "dropout": jax.random.key(1)}, *args,
                       **kwargs)


CONV_BASE = dict(filters=3, activation="tanh", recurrent_activation="hard_sigmoid",
                 return_sequences=True, return_state=True)


@pytest.mark.parametrize("opts", [
    dict(padding="valid", strides=1, dilation_rate=1),
    dict(padding="same", strides=2, dilation_rate=1),
    dict(padding="same", strides=1, dilation_rate=2, go_backwards=True),
    dict(padding="valid", strides=1, dilation_rate=1, data_format="channels_first"),
])
def test_conv_lstm1d_equals_conv_lstm2d_with_unit_height(opts):
    first = opts.get("data_format") == "channels_first"
    x1 = jax.random.normal(jax.random.key(2), (2, 4, 3, 7) if first else (2, 4, 7, 3))
    x2 = x1[:, :, :, None, :] if first else x1[:, :, None]
    two = _module("ConvLSTM2D", "c", kernel_size=[1, 3], **CONV_BASE,
                  **{k: ([1, v] if type(v) is int else v) for k, v in opts.items()})
    one = _module("ConvLSTM1D", "c", kernel_size=3, **CONV_BASE, **opts)
    params = _init(two, x2)["params"]
    p1 = {k: (v[0] if k != "bias" else v) for k, v in params.items()}
    ys2 = two.apply({"params": params}, x2)
    ys1 = one.apply({"params": p1}, x1)
    # the unit height axis: after time and (channels_first) channels
    seq_axis, state_axis = (3, 2) if first else (2, 1)
    np.testing.assert_allclose(ys1[0], jnp.squeeze(ys2[0], seq_axis), rtol=1e-5, atol=1e-6)
    for a, b in zip(ys1[1:], ys2[1:]):
        np.testing.assert_allclose(a, jnp.squeeze(b, state_axis), rtol=1e-5, atol=1e-6)


def test_conv_lstm3d_equals_conv_lstm2d_with_unit_depth():
    x2 = jax.random.normal(jax.random.key(3), (2, 3, 6, 5, 2))
    x3 = x2[:, :, None]
    two = _module("ConvLSTM2D", "c", kernel_size=[3, 3], padding="same", **CONV_BASE)
    three = _module("ConvLSTM3D", "c", kernel_size=[1, 3, 3], padding="same", **CONV_BASE)
    params = _init(two, x2)["params"]
    p3 = {k: (v[None] if k != "bias" else v) for k, v in params.items()}
    ys2 = two.apply({"params": params}, x2)
    ys3 = three.apply({"params": p3}, x3)
    assert ys3[0].shape == (2, 3, 1, 6, 5, 3)
    np.testing.assert_allclose(ys3[0][:, :, 0], ys2[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(ys3[1:], ys2[1:]):
        np.testing.assert_allclose(a[:, 0], b, rtol=1e-5, atol=1e-6)


def _stacked(keras3):
    cells = [{"class_name": "LSTMCell", "config": {"units": 4, "recurrent_activation": "sigmoid"}},
             {"class_name": "GRUCell", "config": {"units": 3, "recurrent_activation": "sigmoid",
                                                  "reset_after": False}}]
    return _module("RNN", "rnn", keras3=keras3, return_state=True,
                   cell={"class_name": "StackedRNNCells", "config": {"cells": cells}})


def test_stacked_cells_state_order_tfjs_reversed_keras3_forward():
    x = jax.random.normal(jax.random.key(4), (2, 5, 3))
    tfjs, keras = _stacked(False), _stacked(True)
    variables = _init(tfjs, x)
    assert list(variables["params"]) == ["RNNCell_0", "RNNCell_1"]
    out_t, *states_t = tfjs.apply(variables, x)
    out_k, *states_k = keras.apply(variables, x)
    assert [s.shape[-1] for s in states_t] == [3, 4, 4]  # [h2, h1, c1]
    assert [s.shape[-1] for s in states_k] == [4, 4, 3]  # [h1, c1, h2]
    np.testing.assert_allclose(out_t, out_k)
    np.testing.assert_allclose(states_t[0], states_k[2])
    # initial states in each convention give the same result
    h = [jax.random.normal(jax.random.key(i), s.shape) for i, s in enumerate(states_k)]
    y_k = keras.apply(variables, [x, *h])[0]
    y_t = tfjs.apply(variables, [x, h[2], h[0], h[1]])[0]
    np.testing.assert_allclose(y_k, y_t)


@pytest.mark.parametrize("class_name", ["SimpleRNN", "GRU", "LSTM"])
def test_dropout_only_in_training(class_name):
    x = jax.random.normal(jax.random.key(5), (3, 6, 4))
    plain = _module(class_name, "r", units=5, return_sequences=True)
    dropped = _module(class_name, "r", units=5, return_sequences=True, dropout=0.5,
                      recurrent_dropout=0.3)
    variables = _init(plain, x)
    y = plain.apply(variables, x)
    np.testing.assert_allclose(dropped.apply(variables, x), y)
    rngs = {"dropout": jax.random.key(7)}
    y1 = dropped.apply(variables, x, train=True, rngs=rngs)
    y2 = dropped.apply(variables, x, train=True, rngs=rngs)
    np.testing.assert_allclose(y1, y2)
    assert np.abs(np.asarray(y1) - np.asarray(y)).max() > 1e-3
    # without dropout configured, training changes nothing
    np.testing.assert_allclose(plain.apply(variables, x, train=True), y)


def test_input_dropout_mask_is_shared_by_all_steps():
    # SimpleRNN, linear, recurrent kernel zero: y_t = (x_t * m) W with one mask m per call.
    x = jnp.ones((2, 4, 6))
    layer = _module("SimpleRNN", "r", units=3, activation="linear", use_bias=False,
                    return_sequences=True, dropout=0.5)
    params = dict(_init(layer, x)["params"])
    params["recurrent_kernel"] = jnp.zeros_like(params["recurrent_kernel"])
    y = layer.apply({"params": params}, x, train=True, rngs={"dropout": jax.random.key(3)})
    np.testing.assert_allclose(y, jnp.broadcast_to(y[:, :1], y.shape))


def test_jit_and_grad_through_the_scan():
    x = jax.random.normal(jax.random.key(6), (2, 7, 3))
    layer = _module("LSTM", "l", units=4, go_backwards=True)
    variables = _init(layer, x)
    mask = jnp.array([[1, 1, 1, 0, 0, 0, 0], [1] * 7])

    def loss(params):
        return jnp.sum(layer.apply({"params": params}, x, mask=mask) ** 2)

    grads = jax.jit(jax.grad(loss))(variables["params"])
    assert set(grads) == {"kernel", "recurrent_kernel", "bias"}
    assert all(bool(jnp.isfinite(g).all()) for g in grads.values())


def test_mask_list_and_compute_mask():
    x = jax.random.normal(jax.random.key(8), (2, 5, 3))
    mask = jnp.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = _module("GRU", "g", units=2, return_sequences=True, return_state=True,
                    recurrent_activation="sigmoid")
    variables = _init(layer, x)
    y, h = layer.apply(variables, x, mask=mask)
    y2, _ = layer.apply(variables, x, mask=[mask, None])
    np.testing.assert_allclose(y, y2)
    # masked steps repeat the last valid output; the final state is that output
    np.testing.assert_allclose(y[0, 2:], jnp.broadcast_to(y[0, 1], (3, 2)))
    np.testing.assert_allclose(h[0], y[0, 1])
    assert layer.compute_mask([x], [mask])[0] is mask
    assert layer.compute_mask([x], [mask])[1:] == [None]


@pytest.mark.parametrize("class_name,config,n_states", [
    ("LSTMCell", {"units": 3, "recurrent_activation": "hard_sigmoid"}, 2),
    ("GRUCell", {"units": 3, "recurrent_activation": "sigmoid", "reset_after": False}, 1),
    ("SimpleRNNCell", {"units": 3}, 1),
])
def test_cell_as_a_layer_is_one_rnn_step(class_name, config, n_states):
    x = jax.random.normal(jax.random.key(9), (2, 4))
    states = [jax.random.normal(jax.random.key(i), (2, 3)) for i in range(n_states)]
    cell = _module(class_name, "c", **config)
    layer = _module(class_name.replace("Cell", ""), "c", return_state=True, **config)
    variables = _init(cell, [x, *states])
    assert list(variables["params"]) == ["kernel", "recurrent_kernel", "bias"]
    outs = cell.apply(variables, [x, *states])
    want = layer.apply(variables, [x[:, None], *states])
    assert len(outs) == len(want) == 1 + n_states
    for a, b in zip(outs, want):
        np.testing.assert_allclose(a, b, rtol=1e-6)
