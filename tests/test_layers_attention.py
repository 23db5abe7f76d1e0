"""Keras-only attention layers: variable structure and equivalences.

No TF.js or Keras references exist for these classes in the corpus, so the
tests check the Keras variable layout and equalities with constructions that
are checked elsewhere (``Dense`` against TF.js) or follow from the definition
(a single-head MultiHeadAttention is dot-product Attention between projections).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flaxjs.errors import LayerConfigError
from flaxjs.layers import attention, core, registry  # noqa: F401
from flaxjs.topology.spec import Call, LayerSpec, TensorRef


def _layer(cls, config, name="layer", calls=()):
    return registry.convert(LayerSpec(cls, name, dict(config, name=name), tuple(calls)))


def _x(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape)


def _shapes(tree):
    return jax.tree_util.tree_map(lambda a: tuple(a.shape), tree)


def test_einsum_dense_equals_dense():
    x = _x((2, 3, 5))
    ed = _layer("EinsumDense", {"equation": "abc,cd->abd", "output_shape": [None, 4],
                                "bias_axes": "d", "activation": "relu"})
    v = ed.init(jax.random.key(1), x)
    assert _shapes(v["params"]) == {"kernel": (5, 4), "bias": (4,)}
    dense = _layer("Dense", {"units": 4, "activation": "relu"})
    np.testing.assert_allclose(np.asarray(ed.apply(v, x)), np.asarray(dense.apply(v, x)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("equation,out,bias_axes,in_shape,kernel,bias,y", [
    ("ab,bc->ac", [7], "c", (2, 5), (5, 7), (7,), (2, 7)),
    ("abc,cde->abde", [None, 3, 4], "de", (2, 6, 5), (5, 3, 4), (3, 4), (2, 6, 3, 4)),
    ("...b,bc->...c", [7], "c", (2, 6, 5), (5, 7), (7,), (2, 6, 7)),
    ("abcd,cde->abe", [None, 8], "e", (2, 6, 3, 4), (3, 4, 8), (8,), (2, 6, 8)),
    ("abc,cd->abd", [6, 4], "b", (2, 6, 5), (5, 4), (6, 1), (2, 6, 4)),
])
def test_einsum_dense_shapes(equation, out, bias_axes, in_shape, kernel, bias, y):
    layer = _layer("EinsumDense", {"equation": equation, "output_shape": out,
                                   "bias_axes": bias_axes})
    x = _x(in_shape)
    v = layer.init(jax.random.key(0), x)
    assert _shapes(v["params"]) == {"kernel": kernel, "bias": bias}
    assert layer.apply(v, x).shape == y


def test_attention_uniform_keys_average_values():
    q, v = _x((2, 3, 4)), _x((2, 5, 4), 1)
    keys = jnp.ones((2, 5, 4))
    layer = _layer("Attention", {"use_scale": True})
    params = layer.init(jax.random.key(0), [q, v, keys])
    assert _shapes(params["params"]) == {"scale": ()}
    y = layer.apply(params, [q, v, keys])
    np.testing.assert_allclose(np.asarray(y), np.broadcast_to(np.asarray(v).mean(1, keepdims=True),
                                                              (2, 3, 4)), rtol=1e-5, atol=1e-6)


def test_additive_and_concat_variables():
    q, v = _x((2, 3, 4)), _x((2, 5, 4), 1)
    add = _layer("AdditiveAttention", {"use_scale": True})
    assert _shapes(add.init(jax.random.key(0), [q, v])["params"]) == {"scale": (4,)}
    concat = _layer("Attention", {"score_mode": "concat", "use_scale": True})
    params = concat.init(jax.random.key(0), [q, v])["params"]
    assert _shapes(params) == {"scale": (), "concat_score_weight": ()}
    assert concat.apply({"params": params}, [q, v]).shape == (2, 3, 4)


def test_causal_attention_ignores_future_steps():
    call = Call((TensorRef("q"), TensorRef("v")), {"use_causal_mask": True})
    layer = _layer("Attention", {}, calls=[call])
    x = _x((1, 6, 4))
    changed = x.at[:, 4:].set(_x((1, 2, 4), 3))
    y1, y2 = layer.apply({}, [x, x]), layer.apply({}, [changed, changed])
    np.testing.assert_allclose(np.asarray(y1)[:, :4], np.asarray(y2)[:, :4], rtol=1e-6)
    assert not np.allclose(np.asarray(y1)[:, 4:], np.asarray(y2)[:, 4:])


def test_multi_head_attention_variables_follow_keras():
    q, v = _x((2, 3, 8)), _x((2, 5, 6), 1)
    mha = _layer("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "value_dim": 3})
    params = mha.init(jax.random.key(0), [q, v])["params"]
    assert _shapes(params) == {
        "query": {"kernel": (8, 2, 4), "bias": (2, 4)},
        "key": {"kernel": (6, 2, 4), "bias": (2, 4)},
        "value": {"kernel": (6, 2, 3), "bias": (2, 3)},
        "attention_output": {"kernel": (2, 3, 8), "bias": (8,)},
    }
    assert mha.apply({"params": params}, [q, v]).shape == (2, 3, 8)
    out = _layer("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "output_shape": [5],
                                        "use_bias": False})
    params = out.init(jax.random.key(0), [q, v])["params"]
    assert _shapes(params["attention_output"]) == {"kernel": (2, 4, 5)}


def test_single_head_mha_is_attention_between_projections():
    q, v = _x((2, 3, 8)), _x((2, 5, 6), 1)
    mha = _layer("MultiHeadAttention", {"num_heads": 1, "key_dim": 4})
    params = mha.init(jax.random.key(0), [q, v])["params"]
    proj = {name: jnp.einsum("btd,dhk->btk", x, params[name]["kernel"]) + params[name]["bias"]
            for name, x in (("query", q), ("key", v), ("value", v))}
    attn = _layer("Attention", {}).apply({}, [proj["query"] / 2.0, proj["value"], proj["key"]])
    out = params["attention_output"]
    want = jnp.einsum("btk,kd->btd", attn, out["kernel"][0]) + out["bias"]
    np.testing.assert_allclose(np.asarray(mha.apply({"params": params}, [q, v])),
                               np.asarray(want), rtol=1e-5, atol=1e-6)


def test_mha_attention_axes_treat_other_axes_as_batch():
    x = _x((2, 3, 5, 8))
    mha = _layer("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "attention_axes": [2]})
    params = mha.init(jax.random.key(0), [x, x])
    y = np.asarray(mha.apply(params, [x, x]))
    seq = _layer("MultiHeadAttention", {"num_heads": 2, "key_dim": 4})
    for i in range(3):
        yi = seq.apply(params, [x[:, i], x[:, i]])
        np.testing.assert_allclose(y[:, i], np.asarray(yi), rtol=1e-5, atol=1e-6)
    both = _layer("MultiHeadAttention", {"num_heads": 2, "key_dim": 4})
    flat = np.asarray(seq.apply(params, [x.reshape(2, 15, 8)] * 2)).reshape(2, 3, 5, 8)
    np.testing.assert_allclose(np.asarray(both.apply(params, [x, x])), flat,
                               rtol=1e-5, atol=1e-6)


def test_mha_tensor_kwargs_are_placed_by_name_and_odd_calls_refused():
    q, v, k = _x((2, 4, 8)), _x((2, 5, 3), 1), _x((2, 5, 6), 2)
    config = {"num_heads": 2, "key_dim": 4}
    positional = _layer("MultiHeadAttention", config,
                        calls=[Call((TensorRef("q"), TensorRef("v"), TensorRef("k")))])
    params = positional.init(jax.random.key(0), [q, v, k])
    want = np.asarray(positional.apply(params, [q, v, k]))
    # mha(q, key=k, value=v): the kwarg tensors follow the positional ones in kwarg order
    by_name = _layer("MultiHeadAttention", config, calls=[
        Call((TensorRef("q"), TensorRef("k"), TensorRef("v")), {}, ("key", "value"))])
    np.testing.assert_allclose(np.asarray(by_name.apply(params, [q, k, v])), want, rtol=1e-6)
    # a query alone is self-attention
    alone = _layer("MultiHeadAttention", config, calls=[Call((TensorRef("q"),))])
    own = alone.init(jax.random.key(1), q)
    np.testing.assert_allclose(np.asarray(alone.apply(own, q)),
                               np.asarray(positional.apply(own, [q, q, q])), rtol=1e-6)
    odd = Call((TensorRef("q"), TensorRef("v")), {}, ("bias",))
    with pytest.raises(LayerConfigError, match="unsupported tensor call arguments"):
        _layer("MultiHeadAttention", config, calls=[odd])
    twice = [Call((TensorRef("q"), TensorRef("v"))),
             Call((TensorRef("q"), TensorRef("k"), TensorRef("v")), {}, ("key", "value"))]
    with pytest.raises(LayerConfigError, match="different arguments"):
        _layer("MultiHeadAttention", config, calls=twice)
    masked = Call((TensorRef("x"), TensorRef("y")), {"attention_mask": {"class_name": "x"}})
    with pytest.raises(LayerConfigError, match="attention_mask"):
        _layer("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, calls=[masked])
