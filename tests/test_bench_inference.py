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


GRAPH_MODEL = CORPUS / "graph" / "tictactoe-graph-tf215"


@pytest.mark.skipif(not (GRAPH_MODEL / "model.json").is_file(),
                    reason="../shared/corpus/graph/tictactoe-graph-tf215 is not present")
def test_bench_inference_quick_graph_model(tmp_path):
    """A TF.js graph model: flaxjs runs it, the Keras baselines are skipped with the reason."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--model", str(GRAPH_MODEL),
                           "--systems", "flaxjs,keras3-jax", "--out", str(tmp_path)],
                          check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert f"### {GRAPH_MODEL.name} (input 9; medians of 1 round(s), min–max in brackets)" in lines
    row = next(line for line in lines if line.startswith("| flaxjs |"))
    assert "failed" not in row and row.rstrip().endswith("| 0 |")
    assert not any(line.startswith("| keras3-jax |") for line in lines)
    assert "Graph model." in lines
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["skipped"]["keras3-jax"].startswith("a graph model has no Keras topology")
    assert document["inputs"][GRAPH_MODEL.name]["graph_model"] is True
    result = document["results"][GRAPH_MODEL.name][0]
    assert "error" not in result and result["batch"] == 4 and len(result["b1_all"]) == 2
    assert result["bB_row0_vs_b1"] <= 1e-4


@pytest.mark.skipif(not (GRAPH_MODEL / "model.json").is_file(),
                    reason="../shared/corpus/graph/tictactoe-graph-tf215 is not present")
def test_bench_inference_reads_graph_inputs_without_jax():
    """The parent process reads input specs with flaxjs's pure modules, never JAX."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import bench_inference as b\n"
            "from pathlib import Path\n"
            "print(b.input_specs(Path(sys.argv[2])), 'jax' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code, str(SCRIPT.parent), str(GRAPH_MODEL)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[('flatten_input', [None, 9], 'float32')] False"
