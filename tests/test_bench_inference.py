"""``benchmarks/bench_inference.py`` runs (tiny settings, flaxjs only; timings are not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import CORPUS

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_inference.py"
MODEL = CORPUS / "wild" / "tictactoe-dense"


@pytest.mark.skipif(not (MODEL / "model.json").is_file(),
                    reason="../shared/corpus/wild/tictactoe-dense is not present")
def test_bench_inference_quick_prints_the_table(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--model", str(MODEL),
                           "--systems", "flaxjs", "--out", str(tmp_path)],
                          check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert f"### {MODEL.name} (input 18; medians of 1 round(s), min–max in brackets)" in lines
    header = next(line for line in lines if line.startswith("| system |"))
    assert "load ms" in header and "first-call ms" in header and "batch-4 img/s" in header
    row = next(line for line in lines if line.startswith("| flaxjs |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(cells[2:6]) and "failed" not in row and cells[6] == "0"  # diff vs itself
    document = json.loads((tmp_path / "results.json").read_text())
    result = document["results"][MODEL.name][0]
    assert "error" not in result and result["batch"] == 4 and len(result["b1_all"]) == 2
    assert result["bB_row0_vs_b1"] <= 1e-4
    assert (tmp_path / "table.md").read_text().startswith(f"### {MODEL.name}")
