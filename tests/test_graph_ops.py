"""Every registered TF graph op against TF.js: one-node graphs from the op's samples.

The references were made by ``tools/graph_op_references/make_references.py``
(TF.js 4.22 ``loadGraphModel`` + ``execute`` on the CPU backend). Each case is
built again from its sample here and must equal the stored model and inputs, so
a sample changed without new references fails.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jax
import numpy as np
import pytest

import flaxjs
from flaxjs.graph.ops import registry, sample_graph

REFERENCES = Path(__file__).parent / "references" / "graph_ops"
REGENERATE = "regenerate with: python tools/graph_op_references/make_references.py --op {op}"
#: registered ops whose behaviour every case exercises, so they have no case of their own.
STRUCTURAL = {"Placeholder": "every case feeds its inputs through Placeholder nodes",
              "Const": "every case with a weight reads it through a Const node",
              "NoOp": "it has no value; it only orders control dependencies"}

CASES = sample_graph.cases(registry.registrations())


def _stored(family: str) -> dict:
    path = REFERENCES / f"{family}.json"
    return json.loads(path.read_text()) if path.exists() else {}


_STORED = {r.family: _stored(r.family) for r in registry.registrations()}


def test_every_op_has_a_case():
    without = sorted(name for r in registry.registrations() for name in r.names
                     if name not in STRUCTURAL
                     and not any((s.op or r.names[0]) == name for s in r.samples))
    assert not without, f"ops without a sample (add one to their registration): {without}"


def test_no_stale_references():
    stale = sorted(case for family, stored in _STORED.items() for case in stored
                   if case not in CASES)
    assert not stale, f"references of samples that no longer exist: {stale}"


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_op_matches_tfjs(case_id: str):
    registration, sample = CASES[case_id]
    stored = _STORED[registration.family].get(case_id)
    op_name = sample.op or registration.names[0]
    assert stored is not None, f"no TF.js reference for {case_id}; " + REGENERATE.format(op=op_name)
    model_json, weights, feeds, outputs = sample_graph.build_case(registration, sample, case_id)
    assert stored["model"] == json.loads(json.dumps(model_json)), \
        "the sample changed since its reference was made; " + REGENERATE.format(op=op_name)
    assert base64.b64decode(stored["weights"]) == weights
    for feed in stored["feeds"]:
        np.testing.assert_array_equal(sample_graph.decode_array(feed), feeds[feed["name"]])
    result = stored["tfjs"]
    assert "error" not in result, f"TF.js failed on this sample: {result['error']}"
    m = flaxjs.load(model_json, weights={"weights.bin": weights})
    got = m.execute(feeds, outputs)
    for y, ref_entry in zip(got, result["outputs"], strict=True):
        ref = sample_graph.decode_array(ref_entry)
        y = np.asarray(y)
        assert list(y.shape) == list(ref.shape), (y.shape, ref.shape)
        kind = {"float32": "f", "int32": "i", "bool": "b", "complex64": "c"}[ref_entry["dtype"]]
        assert y.dtype.kind == kind, f"dtype {y.dtype} but TF.js gives {ref_entry['dtype']}"
        if kind in "ib":
            np.testing.assert_array_equal(y, ref)
        else:
            finite = np.isfinite(ref)
            np.testing.assert_array_equal(y[~finite], ref[~finite])  # inf and NaN where TF.js
            scale = max(1.0, float(np.max(np.abs(ref[finite]), initial=0.0)))
            np.testing.assert_allclose(y[finite], ref[finite], rtol=0, atol=1e-4 * scale)


def _jit_cases() -> list[str]:
    return sorted(c for c, (r, s) in CASES.items()
                  if not r.dynamic and any(isinstance(i, registry.Feed) for i in s.inputs))


@pytest.mark.parametrize("case_id", _jit_cases())
def test_op_is_pure_under_jit_and_grad(case_id: str):
    """``apply`` gives the same values under ``jax.jit``, and float outputs have finite
    gradients with respect to the float inputs and weights."""
    registration, sample = CASES[case_id]
    model_json, weights, feeds, _ = sample_graph.build_case(registration, sample, case_id)
    m = flaxjs.load(model_json, weights={"weights.bin": weights})
    inputs = [feeds[name] for name in m.input_names if name in feeds]
    eager = m.apply(m.variables, *inputs)
    jitted = jax.jit(m.apply)(m.variables, *inputs)
    for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    out = jax.tree_util.tree_leaves(eager)[0]
    if np.asarray(out).dtype != np.float32:
        return
    floats = [i for i, x in enumerate(inputs) if x.dtype == np.float32]

    def loss(variables, xs):
        args = list(inputs)
        for i, x in zip(floats, xs, strict=True):
            args[i] = x
        return jax.numpy.sum(jax.tree_util.tree_leaves(m.apply(variables, *args))[0])

    grads = jax.grad(loss, argnums=(0, 1))(m.variables, [inputs[i] for i in floats])
    for g in jax.tree_util.tree_leaves(grads):
        assert np.all(np.isfinite(np.asarray(g))), case_id


def test_coverage_doc_is_current():
    """docs/graph-ops.md is what ``python -m flaxjs.graph.coverage`` writes today."""
    from flaxjs.graph import coverage

    doc = Path(__file__).parents[1] / "docs" / "graph-ops.md"
    assert doc.read_text() == coverage.table([REFERENCES]), (
        "docs/graph-ops.md is stale: python -m flaxjs.graph.coverage "
        "tests/references/graph_ops > docs/graph-ops.md")
