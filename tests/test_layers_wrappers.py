"""TimeDistributed and Bidirectional beyond what inference parity covers.

Parity (``time_distributed_*``, ``bidirectional_*`` and the oracle corpora) checks
outputs and variable names against TF.js; here: variable placement for wrapped
layers with non-trainable state, mask bookkeeping, initial states, and errors.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flaxjs.errors import LayerConfigError
from flaxjs.layers import registry
from flaxjs.topology.spec import LayerSpec


def _wrapper(class_name, name, inner_class, inner_config, **config):
    layer = {"class_name": inner_class, "config": inner_config}
    return registry.convert(LayerSpec(class_name, name, dict(config, name=name, layer=layer)))


def test_time_distributed_keeps_inner_variables_at_wrapper_level():
    x = jax.random.normal(jax.random.key(0), (2, 3, 4))
    td = _wrapper("TimeDistributed", "td", "BatchNormalization", {"name": "bn", "axis": -1})
    variables = td.init(jax.random.key(1), x)
    assert set(variables["params"]) == {"gamma", "beta"}
    assert set(variables["batch_stats"]) == {"moving_mean", "moving_variance"}
    bn = registry.convert(LayerSpec("BatchNormalization", "td", {"axis": -1}))
    stats = {"moving_mean": jnp.arange(4.0), "moving_variance": jnp.full((4,), 2.0)}
    variables = {"params": variables["params"], "batch_stats": stats}
    y = td.apply(variables, x)
    for t in range(3):
        np.testing.assert_allclose(y[:, t], bn.apply(variables, x[:, t]), rtol=1e-6)


def test_time_distributed_rnn_inner():
    x = jax.random.normal(jax.random.key(2), (2, 3, 5, 4))
    td = _wrapper("TimeDistributed", "td", "LSTM",
                  {"name": "lstm", "units": 2, "recurrent_activation": "sigmoid"})
    variables = td.init(jax.random.key(1), x)
    assert list(variables["params"]) == ["kernel", "recurrent_kernel", "bias"]
    assert td.apply(variables, x).shape == (2, 3, 2)


LSTM = {"name": "lstm", "units": 2, "recurrent_activation": "hard_sigmoid",
        "return_sequences": True, "return_state": True}


def test_bidirectional_merge_none_with_states_and_masks():
    x = jax.random.normal(jax.random.key(3), (2, 4, 3))
    bi = _wrapper("Bidirectional", "bi", "LSTM", LSTM, merge_mode=None)
    variables = bi.init(jax.random.key(1), x)
    assert list(variables["params"]) == ["forward_lstm", "backward_lstm"]
    outs = bi.apply(variables, x)
    assert [o.shape for o in outs] == [(2, 4, 2)] * 2 + [(2, 2)] * 4
    mask = jnp.ones((2, 4), bool)
    assert bi.compute_mask([x], [mask]) == [mask, mask, None, None, None, None]
    # the backward output is reversed to input order; its final h is the first step
    np.testing.assert_allclose(outs[1][:, 0], outs[4], rtol=1e-6)


def test_bidirectional_initial_states_split_half_half():
    x = jax.random.normal(jax.random.key(4), (2, 4, 3))
    bi = _wrapper("Bidirectional", "bi", "LSTM", LSTM, merge_mode="concat")
    fwd = registry.convert(LayerSpec("LSTM", "forward_lstm", dict(LSTM)))
    variables = bi.init(jax.random.key(1), x)
    states = [jax.random.normal(jax.random.key(i), (2, 2)) for i in range(4)]
    y = bi.apply(variables, [x, *states])
    want = fwd.apply({"params": variables["params"]["forward_lstm"]}, [x, *states[:2]])
    np.testing.assert_allclose(y[0][..., :2], want[0], rtol=1e-6)
    np.testing.assert_allclose(y[1], want[1], rtol=1e-6)
    assert not np.allclose(y[0], bi.apply(variables, x)[0])


def test_wrapper_errors():
    with pytest.raises(LayerConfigError):
        _wrapper("Bidirectional", "bi", "LSTM", LSTM, merge_mode="max")
    with pytest.raises(LayerConfigError):
        _wrapper("Bidirectional", "bi", "Dense", {"name": "d", "units": 2})
    with pytest.raises(LayerConfigError):
        registry.convert(LayerSpec("TimeDistributed", "td", {"name": "td"}))
