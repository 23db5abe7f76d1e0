"""Quantized exports measure how far they move the outputs: ``flaxjs.save`` and
``flaxjs convert`` print it, and warn when it is large (MobileNet v1 0.25 with uint8)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import flaxjs
from corpus import CORPUS
from flaxjs.cli import main
from flaxjs.export import drift

MOBILENET = CORPUS / "wild" / "mobilenet-v1-0.25-224"
SMALL = CORPUS / "synthetic" / "model_mobilenet_v1_like"


@pytest.mark.skipif(not (MOBILENET / "model.json").is_file(), reason="corpus not present")
def test_uint8_mobilenet_warns_and_the_line_matches_a_reload(tmp_path, capsys):
    model = flaxjs.load(MOBILENET)
    with pytest.warns(drift.DriftWarning, match="top-1 class changed"):
        path = flaxjs.save(model, tmp_path / "q8", quantize="uint8")
    line = capsys.readouterr().err
    assert line.startswith("flaxjs.save: quantize='uint8': outputs move by up to ")
    # the printed number is the difference a reload of the written files computes
    xs = drift.probe_inputs(model)
    moved = np.abs(np.asarray(flaxjs.load(path)(*xs)) - np.asarray(model(*xs))).max()
    assert f"up to {moved:.3g} " in line
    assert moved > 0.05  # the finding: uint8 is lossy on this model


@pytest.mark.skipif(not (SMALL / "model.json").is_file(), reason="corpus not present")
def test_lossless_and_mild_exports(tmp_path, capsys):
    model = flaxjs.load(SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error", drift.DriftWarning)
        flaxjs.save(model, tmp_path / "f32")
        assert capsys.readouterr().err == ""  # nothing quantized, nothing measured
        flaxjs.save(model, tmp_path / "q16", quantize="uint16")
    assert "quantize='uint16': outputs move by up to" in capsys.readouterr().err
    flaxjs.save(model, tmp_path / "quiet", quantize="uint8", check_drift=False)
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(not (SMALL / "model.json").is_file(), reason="corpus not present")
def test_convert_prints_the_drift(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", drift.DriftWarning)
        assert main(["--no-compile-cache", "convert", str(SMALL), str(tmp_path / "out"),
                     "--quantize", "float16"]) == 0
    out = capsys.readouterr()
    assert "flaxjs.save: quantize='float16': outputs move by up to" in out.err
    assert "wrote" in out.out


def test_drift_verdicts():
    quiet = drift.Drift("uint16", 8, max_abs=1e-4, scale=1.0, top1_changed=0)
    assert not quiet.worrying and "top-1 class changed on 0 of 8" in str(quiet)
    assert drift.Drift("uint8", 8, 0.001, 1.0, top1_changed=1).worrying
    assert drift.Drift("uint8", 8, 0.2, 1.0, top1_changed=None).worrying


@pytest.mark.skipif(not (SMALL / "model.json").is_file(), reason="corpus not present")
def test_a_model_that_cannot_be_probed_is_still_written(tmp_path, capsys, monkeypatch):
    def no_probe(model, rows=drift.ROWS, seed=0):
        raise flaxjs.FlaxjsError("no probe for this input")

    monkeypatch.setattr(drift, "probe_inputs", no_probe)
    path = flaxjs.save(flaxjs.load(SMALL), tmp_path / "q", quantize="uint8")
    assert path.is_file()
    assert capsys.readouterr().err == ("flaxjs.save: output drift of quantize='uint8' not "
                                       "measured (FlaxjsError: no probe for this input)\n")
