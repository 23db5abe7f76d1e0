"""flaxjs matches the in-repo Keras (and TF.js) references in ``tests/references/keras``.

The fixtures are made by ``tools/keras_references/make_references.py`` for converter
classes that no corpus case covers (Keras-only layers, and ``ConvLSTM2DCell`` whose
reference TF.js itself computes). Each case passes when every output satisfies
``max|y - ref| <= 1e-4 * max(1, max|ref|)``, as the corpus parity tests. No ``../shared``
is needed.
"""

from __future__ import annotations

import collections
import json

import pytest

from corpus import KERAS_REFERENCES, check_case, reference

CASES = sorted(p.name for p in KERAS_REFERENCES.iterdir() if (p / "reference.json").is_file())
MODEL_CLASSES = {"Sequential", "Functional", "Model"}


def test_fixtures_present():
    assert len(CASES) >= 20, f"expected the fixtures in {KERAS_REFERENCES}"


@pytest.mark.parametrize("case", CASES)
def test_keras_reference(case):
    check_case(KERAS_REFERENCES / case)


def model_classes(model_json: dict) -> dict[str, int]:
    """Every layer class of a model.json: nested models, wrapped layers and cells included."""
    counts: collections.Counter = collections.Counter()
    topology = model_json["modelTopology"]
    root = topology.get("model_config", topology)

    def layer(entry):
        counts[entry["class_name"]] += 1
        config = entry.get("config") or {}
        if entry["class_name"] in MODEL_CLASSES:
            model(config)
        for key in ("layer", "forward_layer", "backward_layer", "cell", "cells"):
            sub = config.get(key)
            for item in (sub if isinstance(sub, list) else [sub]):
                if isinstance(item, dict) and "class_name" in item:
                    layer(item)

    def model(config):
        for entry in (config["layers"] if isinstance(config, dict) else config):
            layer(entry)

    model(root["config"])
    return dict(counts)


@pytest.mark.parametrize("case", CASES)
def test_layer_classes_match_model_json(case):
    case_dir = KERAS_REFERENCES / case
    ref = reference(case_dir)
    actual = model_classes(json.loads((case_dir / "model.json").read_text()))
    assert ref["layer_classes"] == actual
    assert set(ref["covers"]) <= set(actual), "a class the case claims to cover is missing"
