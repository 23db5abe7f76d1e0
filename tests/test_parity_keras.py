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

import tfjs_node
from corpus import (KERAS_REFERENCES, TOLERANCE, check_case, expected_outputs, inputs, max_error,
                    reference)

CASES = sorted(p.name for p in KERAS_REFERENCES.iterdir() if (p / "reference.json").is_file())
MODEL_CLASSES = {"Sequential", "Functional", "Model"}
KERAS_CASES = [c for c in CASES if reference(KERAS_REFERENCES / c)["reference_by"] == "keras"]

#: the Keras-referenced cases TF.js 4.22 itself loads (tf-keras files of TF.js classes; it
#: cannot read Keras 3 files, nor Bidirectional's backward_layer or Keras-only classes).
TFJS_LOADS = ["nested-models-tf-keras"]


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


@pytest.mark.parametrize("case", KERAS_CASES)
def test_keras_files_beside_the_tfjs_folder(case):
    """``model.keras`` and ``model.h5`` (Keras's own saves) sit beside the TF.js files, with
    what Keras's own reload of them gave."""
    case_dir = KERAS_REFERENCES / case
    files = reference(case_dir)["keras_files"]
    assert sorted(files) == ["model.h5", "model.keras"]
    for name in files:
        assert (case_dir / name).stat().st_size > 0
    assert (case_dir / "model.keras").read_bytes()[:2] == b"PK"
    assert (case_dir / "model.h5").read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"


@pytest.mark.skipif(not tfjs_node.available(), reason="node/npm or the TF.js tools are missing")
@pytest.mark.parametrize("case", TFJS_LOADS)
def test_tfjs_agrees_with_the_keras_reference(case, tmp_path):
    case_dir = KERAS_REFERENCES / case
    ref = reference(case_dir)
    got = tfjs_node.tfjs_predict(case_dir, inputs(case_dir, ref), tmp_path)
    want = expected_outputs(case_dir, ref)
    assert len(got) == len(want)
    errors = [max_error(y, w) for y, w in zip(got, want, strict=True)]
    assert max(errors) <= TOLERANCE, errors
