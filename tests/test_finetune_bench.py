"""``benchmarks/bench_train.py`` runs (tiny settings; the timings themselves are not tested)."""

from __future__ import annotations

import importlib.util
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
    # this interpreter has no tensorflow: the baseline's row says why it was skipped
    result = bench.main(["--models", "mobilenet_v1", "--model-dir", str(MOBILENET),
                         "--cut", "conv_pw_1_relu", "--size", "32", "--batch", "2",
                         "--steps", "1", "--warmup", "1", "--rounds", "1",
                         "--modes", "frozen,full", "--systems", "flaxjs,tfkeras"])
    printed = capsys.readouterr().out
    frozen, full = (result["summary"][f"mobilenet_v1/{m}"]["flaxjs"] for m in ("frozen", "full"))
    assert frozen["steps_per_s"] > 0 and full["peak_rss_mb"] >= full["rss_before_mb"] > 0
    assert 0 < frozen["trainable_params"] < full["trainable_params"]
    assert "tensorflow" in result["summary"]["mobilenet_v1/full"]["tfkeras"]["error"]
    assert "| mobilenet_v1 | full | tfkeras | skipped: " in printed
