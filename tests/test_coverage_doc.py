"""The published coverage table is the registry's own output, and every TF.js class is covered."""

from __future__ import annotations

from pathlib import Path

from flaxjs import coverage

DOC = Path(__file__).resolve().parents[1] / "docs" / "coverage.md"


def test_docs_coverage_is_generated_from_the_registry():
    assert DOC.read_text() == coverage.markdown(), (
        "docs/coverage.md is stale: run `python -m flaxjs.coverage > docs/coverage.md`")


def test_every_tfjs_class_has_a_converter():
    missing = [row[0] for row in coverage.rows() if row[1] == "yes" and row[2] != "yes"]
    assert not missing, f"TF.js classes without a converter: {missing}"
    assert len(coverage.TFJS_CLASSES) == 69
