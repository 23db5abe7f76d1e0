"""Random graph ops whose values TF.js draws from ``Math.random`` (``RandomUniform``
always, the others with seed 0), so no reference can pin them: their shape, dtype, range
and distribution. Seeded ``RandomStandardNormal``, ``TruncatedNormal``, ``Multinomial``
and ``RandomUniformInt`` match TF.js value for value in ``test_graph_ops.py``."""

from __future__ import annotations

import numpy as np
import pytest

from flaxjs.graph.graphdef import DType, NodeDef
from flaxjs.graph.ops import creation

_F32 = DType.of("float32")


def _node(op: str, name: str = "noise", **attrs) -> NodeDef:
    return NodeDef(name, op, (), (), {"seed": 0, "seed2": 0, **attrs})


def test_unseeded_normal_shape_dtype_and_distribution():
    x = creation.random_standard_normal(_node("RandomStandardNormal", dtype=_F32),
                                        np.array([200, 50], np.int32))
    assert x.shape == (200, 50) and x.dtype == np.float32
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
    assert float(np.abs(x).max()) > 3  # not truncated


def test_unseeded_values_are_fixed_per_node_and_differ_across_nodes():
    """A pure function cannot draw fresh values per call: each node draws the same values
    on every call (alea seeded with its name), different from another node's."""
    shape = np.array([64], np.int32)
    a1 = creation.random_standard_normal(_node("RandomStandardNormal", "a", dtype=_F32), shape)
    a2 = creation.random_standard_normal(_node("RandomStandardNormal", "a", dtype=_F32), shape)
    b = creation.random_standard_normal(_node("RandomStandardNormal", "b", dtype=_F32), shape)
    np.testing.assert_array_equal(a1, a2)
    assert not np.allclose(a1, b)


def test_truncated_normal_stays_within_two_deviations():
    x = creation.truncated_normal(_node("TruncatedNormal", dtype=_F32),
                                  np.array([100, 100], np.int32))
    assert x.shape == (100, 100) and x.dtype == np.float32
    assert float(x.min()) >= -2 and float(x.max()) <= 2
    assert abs(float(x.mean())) < 0.05 and 0.8 < float(x.std()) < 0.9  # std of N(0,1) | 2σ


@pytest.mark.parametrize("seed", [0, 1234])
def test_uniform_shape_dtype_and_range(seed):
    x = creation.random_uniform(_node("RandomUniform", seed=seed, dtype=_F32),
                                np.array([100, 100], np.int32))
    assert x.shape == (100, 100) and x.dtype == np.float32
    assert float(x.min()) >= 0 and float(x.max()) < 1
    assert abs(float(x.mean()) - 0.5) < 0.02
    counts = np.histogram(x, bins=10, range=(0, 1))[0]
    assert counts.min() > 800


def test_uniform_int_is_zero_as_in_tfjs():
    """TF.js reads minval/maxval from attributes TF graphs do not have: all values are 0."""
    x = creation.random_uniform_int(_node("RandomUniformInt"), np.array([5, 4], np.int32),
                                    np.array(-3, np.int32), np.array(9, np.int32))
    assert x.shape == (5, 4) and x.dtype == np.int32
    np.testing.assert_array_equal(x, 0)


def test_unseeded_multinomial_follows_the_probabilities():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], np.float32))
    x = np.asarray(creation.multinomial(_node("Multinomial", T=_F32), logits,
                                        np.array(4000, np.int32)))
    assert x.shape == (2, 4000) and x.dtype == np.int32
    assert x.min() >= 0 and x.max() <= 2
    freq = np.stack([np.bincount(row, minlength=3) / row.size for row in x])
    np.testing.assert_allclose(freq, np.exp(logits), atol=0.03)
