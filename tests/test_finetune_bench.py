"""``benchmarks/bench_train.py`` runs (tiny settings; the timings themselves are not tested)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from corpus import CORPUS

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"
MOBILENET = CORPUS / "wild" / "mobilenet-v1-0.25-224"


@pytest.mark.skipif(not (MOBILENET / "model.json").is_file(),
                    reason="../shared/corpus/wild/mobilenet-v1-0.25-224 is not present")
def test_bench_train_runs_with_tiny_settings(capsys):
    spec = importlib.util.spec_from_file_location("bench_train", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(["--model", str(MOBILENET), "--cut", "conv_pw_1_relu", "--batch", "2",
                         "--size", "32", "--steps", "1", "--warmup", "1", "--json"])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["cut"] == "conv_pw_1_relu"
    for key in ("inference", "frozen", "full"):
        assert result["steps_per_s"][key] > 0
    assert result["full_over_frozen_time"] > 0 and result["frozen_over_inference_time"] > 0
    assert 0 < result["trainable_params"]["frozen"] < result["trainable_params"]["full"]
