"""``benchmarks/bench_zoo_load.py`` runs (tiny settings; timings are not tested)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zoo_fixtures import SHARDED

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_zoo_load.py"


@pytest.mark.skipif(not (SHARDED / "model.json").is_file(), reason="the corpus is not present")
def test_bench_zoo_load_quick_prints_the_table():
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick"], check=False,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == f"model: {SHARDED.name}, 1 round(s), median seconds"
    rows = {line.split("|")[1].strip(): float(line.split("|")[2]) for line in lines
            if line.startswith("| ") and not line.startswith("| load")}
    assert set(rows) == {"first zoo.load (copy + decode + load)",
                         "the JavaScript modules, parsed (before)",
                         "zoo.load from the decoded copy"}
    assert all(seconds > 0 for seconds in rows.values())
    assert lines[-1].startswith("decoded / parsed: ") and lines[-1].endswith("x")
