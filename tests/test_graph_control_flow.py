"""Graph models TF.js runs only with ``executeAsync``: control flow, lists, dynamic shapes.

The per-op cases (loops, conditionals, TensorLists, NMS, ``Where``...) are op samples
checked against TF.js by ``tests/test_graph_ops.py``. Here: a real Keras
Bidirectional LSTM (two TF1 while-loop frames carrying TensorLists, from the corpus)
against TF.js's ``executeAsync`` (references made by
``tools/graph_op_references/control_flow_models.py``), how such models behave under
``jax.jit``/``jax.grad``, and the refusals (string ops, dead outputs, malformed loops).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from corpus import SHARED

import flaxjs
from flaxjs.errors import DynamicOpError, FlaxjsError, UnsupportedOpError
from flaxjs.graph import executor
from flaxjs.graph.graphdef import TensorRef
from flaxjs.graph.ops import registry, sample_graph
from flaxjs.graph.ops.common import GraphOpError
from flaxjs.graph.spec import parse_graph

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = json.loads((ROOT / "tests" / "references" / "graph_control_flow.json").read_text())
CASES = sample_graph.cases(registry.registrations())


def _tool():
    path = ROOT / "tools" / "graph_op_references" / "control_flow_models.py"
    spec = importlib.util.spec_from_file_location("control_flow_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _tool()
RNN_DIR = TOOL.corpus_dir(SHARED)
needs_rnn = pytest.mark.skipif(not RNN_DIR.is_dir(), reason=f"{RNN_DIR} is absent")


def _sample(case_id: str):
    registration, sample = CASES[case_id]
    model_json, weights, feeds, outputs = sample_graph.build_case(registration, sample, case_id)
    return flaxjs.load(model_json, weights={"weights.bin": weights}), feeds, outputs


@pytest.fixture(scope="module")
def rnn():
    model_json, data = TOOL.load_rnn(SHARED)
    return flaxjs.load(model_json, weights={"group1-shard1of1.bin": data})


# ------------------------------------------------------------------ a real model
@needs_rnn
def test_string_preprocessing_is_refused_at_load_naming_every_op():
    """The corpus model reads strings: refused at load (not a cycle error), every string,
    hash-table and ragged op named, with what to do."""
    with pytest.raises(UnsupportedOpError) as err:
        flaxjs.load(RNN_DIR)
    message = str(err.value)
    for op in ("StringLower", "StaticRegexReplace", "StringSplitV2", "LookupTableFindV2",
               "RaggedTensorToTensor"):
        assert op in message and op in err.value.ops
    assert "cycle" not in message
    assert "token ids" in message and "TF.js has no kernel for StringLower" in message


@needs_rnn
@pytest.mark.parametrize("case", sorted(REFERENCES))
def test_bidirectional_lstm_loops_match_tfjs_execute_async(rnn, case: str):
    """Two TF1 while loops with TensorLists (the LSTM's input and output sequences),
    masked steps and padding rows, as TF.js's executeAsync computes them."""
    ref = REFERENCES[case]
    tokens = sample_graph.decode_array(ref["feeds"][0])
    want = sample_graph.decode_array(ref["tfjs"]["outputs"][0])
    assert ref["tfjs"]["method"] == "executeAsync"
    got = np.asarray(rnn(tokens))
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert {n.op for n in executor.dynamic_ops(rnn._plan(rnn.spec.outputs,
                                                         (TOOL.TOKENS,))[0])} >= {
        "Enter", "Merge", "Switch", "NextIteration", "Exit", "LoopCond"}


@needs_rnn
def test_loops_with_a_static_trip_count_unroll_under_jit(rnn):
    """The LSTM's loop condition compares a counter with the sequence length (a shape):
    under jax.jit the loop unrolls, and grad flows through it."""
    tokens = sample_graph.decode_array(REFERENCES["rnn-batch"]["feeds"][0])
    want = sample_graph.decode_array(REFERENCES["rnn-batch"]["tfjs"]["outputs"][0])
    np.testing.assert_allclose(np.asarray(jax.jit(rnn.apply)(rnn.variables, tokens)), want,
                               rtol=0, atol=1e-5)

    def loss(variables):
        return jnp.sum(rnn.apply(variables, tokens)[:, 0])

    grads = jax.grad(loss)(rnn.variables)
    kernel = "StatefulPartitionedCall/sequential/bidirectional/forward_lstm/Read/ReadVariableOp"
    g = np.asarray(grads["params"][kernel])
    assert np.all(np.isfinite(g)) and np.abs(g).max() > 0


# ------------------------------------------------------------------ jit and grad
@pytest.mark.parametrize("case_id, op", [("Where", "Where"),
                                         ("NonMaxSuppressionV3", "NonMaxSuppressionV3"),
                                         ("Exit-data-dependent", "Switch"),
                                         ("Switch-fed", "Switch")])
def test_jit_of_a_dynamic_op_raises_naming_it(case_id: str, op: str):
    """Under jax.jit a value-dependent op (or a branch or loop deciding on a traced value)
    cannot run: DynamicOpError names the node and the op; without jit it runs."""
    m, feeds, outputs = _sample(case_id)
    inputs = [feeds[n] for n in m.input_names if n in feeds]
    with pytest.raises(DynamicOpError, match=rf"\({op}\)") as err:
        jax.jit(m.apply)(m.variables, *inputs)
    assert "executeAsync" in str(err.value) and "without jit" in str(err.value)
    m.apply(m.variables, *inputs)  # eagerly: fine
    m.execute(feeds, outputs)


def test_a_model_with_dynamic_ops_runs_eagerly_when_called():
    m, feeds, _ = _sample("NonMaxSuppressionV5-soft")
    order, jitted = m._plan(m.spec.outputs, tuple(sorted(feeds)))
    assert jitted is None and [n.op for n in executor.dynamic_ops(order)] == [
        "NonMaxSuppressionV5"]
    indices, scores = m.execute(feeds, ["op", "op:1"])
    assert indices.dtype == jnp.int32 and scores.dtype == jnp.float32


def test_loops_are_differentiable_eagerly_and_jitted():
    """A counting loop (static trip count): the same values and gradients eagerly and
    under jit, and gradients through the loop agree with finite differences."""
    m, feeds, outputs = _sample("Enter-counting")
    x = feeds["input_0"]

    def loss(x):
        return jnp.sum(m.execute({"input_0": x}, outputs[0]) ** 2)

    g = jax.grad(loss)(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(loss))(jnp.asarray(x))),
                               np.asarray(g), rtol=1e-5)
    eps = 1e-3
    e = np.zeros_like(x)
    e[0, 1] = eps
    fd = (float(loss(x + e)) - float(loss(x - e))) / (2 * eps)
    assert abs(fd - float(g[0, 1])) < 1e-2 * max(1.0, abs(fd))


@pytest.mark.parametrize("case_id", ["TensorListReserve", "TensorListScatterV2",
                                     "TensorArrayV3", "Enter-tensor-list-rnn"])
def test_lists_with_static_indices_run_under_jit_and_grad(case_id: str):
    """TensorList/TensorArray ops are dynamic (a model runs them eagerly, as TF.js only
    with executeAsync), yet with static indices they trace: the same values under
    jax.jit, and gradients flow through the lists."""
    m, feeds, outputs = _sample(case_id)
    floats = {k: v for k, v in feeds.items() if v.dtype == np.float32}

    def first_float(fed):
        values = m.execute({**feeds, **fed}, outputs)
        return next(v for v in values if v.dtype == jnp.float32)

    eager = first_float(floats)
    np.testing.assert_allclose(np.asarray(jax.jit(first_float)(floats)), np.asarray(eager),
                               rtol=1e-6, atol=1e-6)
    grads = jax.grad(lambda fed: jnp.sum(first_float(fed) ** 2))(floats)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads.values())
    assert any(np.abs(np.asarray(g)).max() > 0 for g in grads.values())


# ------------------------------------------------------------------ semantics
def test_a_dead_branch_output_has_no_value():
    """With a false predicate, the true branch of a Switch is dead: asking for a node in
    it is an error (TF.js cannot compute it either); the Merge passes the live side."""
    m, feeds, _ = _sample("Switch-false")
    with pytest.raises(GraphOpError, match="dead Switch output"):
        m.execute(feeds, "cond/t_out")
    np.testing.assert_allclose(np.asarray(m.execute(feeds, "cond/merge")), -feeds["input_0"])
    assert float(m.execute(feeds, "cond/merge_const")) == -10.0


def test_a_loop_result_is_fed_further_like_any_tensor():
    m, feeds, _ = _sample("Enter-counting")
    x = feeds["input_0"]
    acc = x
    for _ in range(3):
        acc = acc * np.float32(0.5) + x
    np.testing.assert_allclose(np.asarray(m.execute(feeds, "after")), acc * x, rtol=1e-6)
    assert int(m.execute(feeds, "loop/exit_i")) == 3


def _graph(nodes: list[dict], library: list[dict] | None = None) -> dict:
    topology = {"node": nodes, "versions": {}}
    if library:
        topology["library"] = {"function": library}
    return {"format": "graph-model", "modelTopology": topology, "weightsManifest": []}


def _placeholder(name: str, dtype: str = "DT_FLOAT") -> dict:
    return {"name": name, "op": "Placeholder", "attr": {"dtype": {"type": dtype},
                                                        "shape": {"shape": {"dim": []}}}}


def test_a_cycle_that_is_no_loop_is_refused():
    model = _graph([_placeholder("x"),
                    {"name": "a", "op": "AddV2", "input": ["x", "b"]},
                    {"name": "b", "op": "Identity", "input": ["a"]},
                    {"name": "out", "op": "Identity", "input": ["b"]}])
    with pytest.raises(GraphOpError, match=r"cycle through .* no loop"):
        flaxjs.load(model)


def test_string_hash_table_ragged_and_tfdf_ops_are_named_together():
    model = _graph([
        _placeholder("text", "DT_STRING"),
        {"name": "split", "op": "StringSplit", "input": ["text", "text"]},
        {"name": "table", "op": "HashTableV2"},
        {"name": "find", "op": "LookupTableFindV2", "input": ["table", "split:1", "split"]},
        {"name": "ragged", "op": "RaggedTensorToTensor", "input": ["find", "find", "find"]},
        {"name": "forest", "op": "SimpleMLInferenceOpWithHandle", "input": ["ragged"]},
        {"name": "other", "op": "MadeUpOp", "input": ["forest"]}])
    with pytest.raises(UnsupportedOpError) as err:
        flaxjs.load(model)
    message = str(err.value)
    assert set(err.value.ops) == {"StringSplit", "HashTableV2", "LookupTableFindV2",
                                  "RaggedTensorToTensor", "SimpleMLInferenceOpWithHandle",
                                  "MadeUpOp"}
    assert "SimpleMLInferenceOpWithHandle (TF-DF)" in message
    assert "TF.js has no kernel for SimpleMLInferenceOpWithHandle" in message
    assert "MadeUpOp) have no converter yet" in message


def test_a_list_handle_is_not_an_output():
    m, feeds, _ = _sample("TensorListFromTensor")
    with pytest.raises(FlaxjsError, match="TensorList"):
        m.execute(feeds, "list")


def test_function_constants_are_weights_found_by_name():
    """Control flow v2: a function body's Const is looked up among the model's weights
    by its (converter-prefixed) name, as TF.js looks it up in its weight map."""
    f32, i32 = {"type": "DT_FLOAT"}, {"type": "DT_INT32"}
    body = {"signature": {"name": "body", "inputArg": [{"name": "i", "type": "DT_INT32"},
                                                       {"name": "x", "type": "DT_FLOAT"}],
                          "outputArg": [{"name": "i2", "type": "DT_INT32"},
                                        {"name": "x2", "type": "DT_FLOAT"}]},
            "nodeDef": [{"name": "body/two", "op": "Const", "attr": {"dtype": f32}},
                        {"name": "one", "op": "Const", "attr": {"dtype": i32, "value": {
                            "tensor": {"dtype": "DT_INT32", "tensorShape": {},
                                       "intVal": [1]}}}},
                        {"name": "inc", "op": "AddV2", "input": ["i", "one"]},
                        {"name": "mul", "op": "Mul", "input": ["x", "body/two"]}],
            "ret": {"i2": "inc:z:0", "x2": "mul:z:0"}}
    cond = {"signature": {"name": "cond", "inputArg": [{"name": "i", "type": "DT_INT32"},
                                                       {"name": "x", "type": "DT_FLOAT"}],
                          "outputArg": [{"name": "ok", "type": "DT_BOOL"}]},
            "nodeDef": [{"name": "n", "op": "Const", "attr": {"dtype": i32, "value": {
                "tensor": {"dtype": "DT_INT32", "tensorShape": {}, "intVal": [4]}}}},
                {"name": "less", "op": "Less", "input": ["i", "n"]}],
            "ret": {"ok": "less:z:0"}}
    model = _graph([_placeholder("x"), _placeholder("i", "DT_INT32"),
                    {"name": "loop", "op": "StatelessWhile", "input": ["i", "x"],
                     "attr": {"cond": {"func": {"name": "cond"}},
                              "body": {"func": {"name": "body"}}}}], [body, cond])
    spec = parse_graph(model)
    order = executor.execution_order(spec, [TensorRef("loop", 1)], {"x", "i"})
    executor.check_supported(order)
    assert "body/two" in executor.function_constants(spec)
    (out,) = executor.run(order, {"x": np.float32(1.5), "i": np.int32(1),
                                  "body/two": np.float32(2.0)}, [TensorRef("loop", 1)])
    assert float(out) == 1.5 * 2 ** 3
    with pytest.raises(GraphOpError, match="constant of function 'body' has no value"):
        executor.run(order, {"x": np.float32(1.5), "i": np.int32(1)}, [TensorRef("loop", 1)])


def test_execution_order_keeps_its_interface():
    """``execution_order`` gives a list of nodes (each after its inputs outside loops),
    which ``check_supported``, ``dynamic_ops`` and ``run`` take, as model.py uses them."""
    m, feeds, outputs = _sample("NextIteration-nested")
    refs = [m.spec.tensor(o) for o in outputs]
    order = executor.execution_order(m.spec, refs, set(m.constants) | set(feeds))
    assert isinstance(order, list) and all(hasattr(n, "op") for n in order)
    executor.check_supported(order)
    assert {n.op for n in executor.dynamic_ops(order)} == {
        "Enter", "Merge", "Switch", "LoopCond", "NextIteration", "Exit"}
    got = executor.run(order, {**m.constants, **m.params, **feeds}, refs)
    want = m.execute(feeds, outputs)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ------------------------------------------------------------------ jitted stages
@needs_rnn
def test_the_part_before_the_loops_runs_as_one_jitted_stage(rnn, monkeypatch):
    """An eager run jits the nodes that need no dynamic value (embedding lookup, masks,
    initial states) and runs the loops op by op; the values are those of an all-eager
    run."""
    tokens = sample_graph.decode_array(REFERENCES["rnn-batch"]["feeds"][0])
    staged = np.asarray(rnn(tokens))
    order, _ = rnn._plan(rnn.spec.outputs, (TOOL.TOKENS,))
    (stage,) = order.stages.values()
    assert stage is not None and not stage.failed and len(stage.nodes) >= 40
    assert {"GatherV2", "NotEqual", "Fill"} <= {n.op for n in stage.nodes}
    assert not any(n.op in executor.CONTROL_FLOW or n.op.startswith("TensorList")
                   for n in stage.nodes)
    monkeypatch.setattr(executor, "STAGE_MIN_NODES", 10**9)
    model_json, data = TOOL.load_rnn(SHARED)
    unstaged = flaxjs.load(model_json, weights={"group1-shard1of1.bin": data})
    np.testing.assert_allclose(np.asarray(unstaged(tokens)), staged, rtol=0, atol=1e-6)


def test_a_stage_that_cannot_be_traced_runs_op_by_op(monkeypatch):
    """A shape read from a fed value cannot be traced: that stage runs eagerly instead."""
    monkeypatch.setattr(executor, "STAGE_MIN_NODES", 1)
    model = _graph([_placeholder("x"), _placeholder("shape", "DT_INT32"),
                    {"name": "reshaped", "op": "Reshape", "input": ["x", "shape"]},
                    {"name": "where", "op": "Where", "input": ["reshaped"]}])
    m = flaxjs.load(model)
    x = np.array([0.0, 1.0, 0.0, 2.0], np.float32)
    got = m.execute({"x": x, "shape": np.array([2, 2], np.int32)}, "where")
    np.testing.assert_array_equal(np.asarray(got), [[0, 1], [1, 1]])
    order, _ = m._plan((TensorRef("where"),), ("shape", "x"))
    assert order.stages[(TensorRef("where"),)].failed


def test_an_input_left_out_is_named_before_a_loop_runs():
    m, _, outputs = _sample("Enter-counting")
    with pytest.raises(GraphOpError, match=r"input_0.*not given a value"):
        m.execute({}, outputs)
