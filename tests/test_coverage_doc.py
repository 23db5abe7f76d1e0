"""The published coverage table is the registry's own output, and every class is proven.

Every registered class appears in a reference case: one whose outputs TF.js computed
for classes TF.js loads, Keras's (or TF.js's) for the others. The parity suites
compare flaxjs with each of those cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus import CORPUS, KERAS_REFERENCES
from flaxjs import coverage
import flaxjs
from flaxjs.errors import UnsupportedLayerError
from flaxjs.layers import registry
from flaxjs.layers.unconverted import NOT_CONVERTED

DOC = Path(__file__).resolve().parents[1] / "docs" / "coverage.md"
FOLDERS = [CORPUS, KERAS_REFERENCES.parent]
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


@needs_corpus
def test_docs_coverage_is_generated_from_the_registry_and_the_references():
    assert DOC.read_text() == coverage.markdown(coverage.reference_cases(FOLDERS)), (
        "docs/coverage.md is stale: run `python -m flaxjs.coverage ../shared/corpus "
        "tests/references > docs/coverage.md`")


@needs_corpus
def test_every_registered_class_has_a_reference_case():
    cases = coverage.reference_cases(FOLDERS)
    missing = []
    for reg in registry.registrations():
        found = cases.get(reg.class_name, [])
        if reg.tfjs and not any(c.by == "TF.js" for c in found):
            missing.append(f"{reg.class_name} (TF.js loads it, no TF.js reference)")
        elif not found:
            missing.append(reg.class_name)
    assert not missing, f"classes without a reference case: {missing}"


def test_every_tfjs_class_has_a_converter():
    rows = coverage.rows()
    assert sum(row.tfjs for row in rows) == coverage.TFJS_CLASS_COUNT == 69


def test_reference_cases_are_read_from_model_json(tmp_path):
    case = tmp_path / "refs" / "one"
    case.mkdir(parents=True)
    (case / "reference.json").write_text('{"reference_by": "keras"}')
    (case / "model.json").write_text('{"modelTopology": {"config": {"layers": [{"class_name": '
                                     '"Bidirectional", "config": {"layer": {"class_name": '
                                     '"LSTM"}}}]}}}')
    found = coverage.reference_cases([tmp_path / "refs"])
    assert found == {"Bidirectional": [coverage.Case("refs/one", "Keras")],
                     "LSTM": [coverage.Case("refs/one", "Keras")]}


def test_left_out_keras3_classes_are_listed_and_refused_with_their_reason():
    table = coverage.markdown()
    for name, why in NOT_CONVERTED.items():
        assert registry.registration(name) is None, f"{name} is converted after all"
        assert f"| {name} | {why} |" in table
    model = {"modelTopology": {"keras_version": "3.15.1", "model_config": {
        "class_name": "Sequential", "config": {"name": "m", "layers": [
            {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 3]}},
            {"class_name": "StringLookup", "config": {"name": "lookup"}}]}}}}
    with pytest.raises(UnsupportedLayerError, match=r"StringLookup: lookup \(not converted: "
                                                    r"vocabulary lookup"):
        flaxjs.load(model, weights={})
