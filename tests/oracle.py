"""Random models from the TF.js oracle (``../shared/tools/tfjs-oracle``), made on demand.

``FLAXJS_ORACLE_DIR`` points at folders already generated (``os.pathsep``-separated);
otherwise, when node and npm are present, the oracle (a private copy, see
``tfjs_node``) runs ``--random FLAXJS_ORACLE_CASES --seed S`` for each seed in
``FLAXJS_ORACLE_SEEDS`` into a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import tfjs_node

DEFAULT_SEEDS = "11"
DEFAULT_CASES = 40


def _generate(out: Path) -> list[Path]:
    if not tfjs_node.available():
        return []
    tool = tfjs_node.tool_dir()
    folders = []
    count = os.environ.get("FLAXJS_ORACLE_CASES", str(DEFAULT_CASES))
    for seed in os.environ.get("FLAXJS_ORACLE_SEEDS", DEFAULT_SEEDS).split(","):
        target = out / f"seed{seed.strip()}"
        subprocess.run(["node", "gen.js", str(target), "--random", count, "--seed", seed.strip()],
                       cwd=tool, check=True, stdout=subprocess.DEVNULL)
        folders.append(target)
    return folders


def oracle_cases() -> list[Path]:
    """Case folders of the random oracle (empty when it cannot run here)."""
    given = os.environ.get("FLAXJS_ORACLE_DIR")
    roots = ([Path(p) for p in given.split(os.pathsep) if p] if given
             else _generate(Path(tempfile.mkdtemp(prefix="flaxjs-oracle-cases-"))))
    found = []
    for root in roots:
        found.extend(sorted(p for p in root.iterdir() if (p / "reference.json").is_file()))
    return found
