"""The loader's expected variables: shape rules, the traced ``init``, and their disk cache.

Strict loading matches the manifest against the variables the model expects. The
shape rules (:mod:`flaxjs.shape_inference`) must find exactly what tracing
``init`` finds (names, shapes, dtypes, Keras order) on every corpus model they
cover; the parity suite then proves the loaded models against TF.js.
"""

from __future__ import annotations

import json

import pytest
from corpus import CORPUS, cases

import flaxjs
from flaxjs import loader, slot_cache
from flaxjs.graph_module import GraphModule
from flaxjs.io.source import open_source
from flaxjs.topology.parse import model_config_of, parse_model

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

ALL_CASES = [(kind, case) for kind in ("synthetic", "wild", "wild-tfjs-fails")
             for case in cases(kind)]

#: models whose load time issue #3 measures: they must never fall back to tracing.
MUST_INFER = [("wild", "nsfwjs-mobilenet-v2-uint8"), ("wild", "nsfwjs-inception-v3"),
              ("wild", "mobilenet-v1-0.25-224")]


def _graph(kind: str, case: str):
    artifacts = open_source(CORPUS / kind / case)
    config = model_config_of(artifacts.model_json, location=artifacts.location)
    return parse_model(config, location=artifacts.location,
                       keras_version=loader.keras_version_of(artifacts.model_json))


def _traced(graph):
    return loader.expected_slots(GraphModule(graph, None), graph)


@pytest.mark.parametrize("kind,case", ALL_CASES, ids=[f"{k}/{c}" for k, c in ALL_CASES])
def test_shape_rules_find_what_tracing_init_finds(kind, case):
    graph = _graph(kind, case)
    try:
        traced = _traced(graph)
    except flaxjs.FlaxjsError:
        traced = None  # a model the converters refuse: the rules may not accept it either
    inferred = loader.infer_slots(graph)
    if inferred is None:
        return  # a layer without a rule: the loader traces, as above
    assert traced is not None, "shape rules accepted a model that tracing init rejects"
    assert inferred == traced


def test_shape_rules_cover_the_common_real_models():
    covered = [(k, c) for k, c in ALL_CASES if k == "wild" and loader.infer_slots(_graph(k, c))]
    assert len(covered) >= 25, covered
    for kind, case in MUST_INFER:
        assert loader.infer_slots(_graph(kind, case)) is not None, case


def test_layers_without_a_rule_fall_back_to_tracing():
    lstm = next(c for k, c in ALL_CASES if k == "wild" and "lstm" in c)
    assert loader.infer_slots(_graph("wild", lstm)) is None
    channels_first = [c for k, c in ALL_CASES if k == "synthetic" and "channels_first" in c
                      and c.startswith("conv2d")]
    assert channels_first
    for case in channels_first:
        assert loader.infer_slots(_graph("synthetic", case)) is None


@pytest.fixture
def disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAXJS_HOME", str(tmp_path))
    monkeypatch.setenv("FLAXJS_CACHE", "1")
    monkeypatch.setattr(slot_cache, "_MEMORY", {})
    return tmp_path / "slots"


def test_slots_are_cached_on_disk_for_the_next_process(disk_cache, monkeypatch):
    case_dir = CORPUS / "wild" / "mobilenet-v1-0.25-224"
    first = flaxjs.load(case_dir)
    files = list(disk_cache.glob("*.json"))
    assert len(files) == 1 and not list(disk_cache.glob("*.tmp"))
    monkeypatch.setattr(slot_cache, "_MEMORY", {})  # as a new process would start

    def no_compute(*args, **kwargs):
        raise AssertionError("the cached slots were not used")

    monkeypatch.setattr(loader, "infer_slots", no_compute)
    monkeypatch.setattr(loader, "expected_slots", no_compute)
    second = flaxjs.load(case_dir)
    assert second.weight_names == first.weight_names


def test_a_damaged_cache_file_is_recomputed(disk_cache):
    case_dir = CORPUS / "wild" / "mobilenet-v1-0.25-224"
    flaxjs.load(case_dir)
    (path,) = disk_cache.glob("*.json")
    path.write_text("[[\"params\", ")
    slot_cache._MEMORY.clear()
    model = flaxjs.load(case_dir)
    assert len(model.weight_names) == len(json.loads(path.read_text()))


def test_the_disk_cache_can_be_turned_off(disk_cache, monkeypatch):
    monkeypatch.setenv("FLAXJS_CACHE", "0")
    flaxjs.load(CORPUS / "wild" / "mobilenet-v1-0.25-224")
    assert not disk_cache.exists()
