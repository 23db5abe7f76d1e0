"""A private copy of the TF.js oracle tool with its node_modules, for tests that ask TF.js.

``../shared`` is read-only in CI, so the tool is copied and ``npm ci`` runs in the
copy (cached per user under ``~/.cache/flaxjs-tests`` by the lock file's hash).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from corpus import TOOLS

ORACLE = TOOLS / "tfjs-oracle"
CACHE = Path(os.environ.get("FLAXJS_TEST_CACHE", Path.home() / ".cache" / "flaxjs-tests"))


def available() -> bool:
    return ORACLE.is_dir() and bool(shutil.which("node")) and bool(shutil.which("npm"))


@functools.lru_cache(maxsize=1)
def tool_dir() -> Path:
    """The installed copy of tfjs-oracle (contains node_modules/@tensorflow/tfjs)."""
    lock = (ORACLE / "package-lock.json").read_bytes()
    target = CACHE / f"tfjs-oracle-{hashlib.sha256(lock).hexdigest()[:12]}"
    if (target / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        return target
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(ORACLE, staging, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=staging,
                   check=True, stdout=subprocess.DEVNULL)
    try:
        staging.rename(target)
    except OSError:  # another process won the race
        shutil.rmtree(staging, ignore_errors=True)
    return target


def run_node(script: str, *args: str, cwd: Path | None = None) -> str:
    """Run a JavaScript snippet with the tool's node_modules on the module path."""
    env = dict(os.environ, NODE_PATH=str(tool_dir() / "node_modules"))
    done = subprocess.run(["node", "-e", script, "--", *args], cwd=cwd or tool_dir(), env=env,
                          check=True, capture_output=True, text=True)
    return done.stdout


DECODE_JS = r"""
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const [manifestFile, binFile] = process.argv.slice(1);
const specs = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
const buf = fs.readFileSync(binFile);
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
const out = {};
const tensors = tf.io.decodeWeights(ab, specs);
for (const name of Object.keys(tensors)) {
  const t = tensors[name];
  const data = t.dataSync();
  out[name] = t.dtype === 'string'
      ? {dtype: t.dtype, shape: t.shape, strings: data.map(b => Buffer.from(b).toString('base64'))}
      : {dtype: t.dtype, shape: t.shape,
         b64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')};
}
process.stdout.write(JSON.stringify(out));
"""


def tfjs_decode(specs: list[dict], data: bytes, workdir: Path) -> dict:
    """What ``tf.io.decodeWeights`` gives for ``specs`` over ``data``: name → (dtype, shape,
    bytes), or a list of byte strings in place of the bytes for a string weight."""
    import base64
    (workdir / "specs.json").write_text(json.dumps(specs))
    (workdir / "data.bin").write_bytes(data)
    raw = json.loads(run_node(DECODE_JS, str(workdir / "specs.json"), str(workdir / "data.bin")))
    return {k: (v["dtype"], v["shape"],
                [base64.b64decode(s) for s in v["strings"]] if "strings" in v
                else base64.b64decode(v["b64"])) for k, v in raw.items()}


PREDICT_JS = Path(__file__).parent / "js" / "predict_from_memory.js"


def tfjs_predict(model_dir: Path, inputs: list, workdir: Path) -> list:
    """TF.js's ``predict`` for a model folder (weights given as one buffer) on numpy inputs."""
    import numpy as np
    files = []
    for i, x in enumerate(inputs):
        files.append(str(workdir / f"tfjs_in_{i}.npy"))
        np.save(files[-1], np.ascontiguousarray(x))
    out = workdir / "tfjs_out"
    env = dict(os.environ, NODE_PATH=str(tool_dir() / "node_modules"))
    subprocess.run(["node", str(PREDICT_JS), str(model_dir), str(out), *files], check=True,
                   capture_output=True, env=env)
    return [np.load(out / f"out_{i}.npy") for i in range(len(list(out.glob("out_*.npy"))))]


def run_script(name: str, *args: str) -> None:
    """Run ``tests/js/<name>`` with the tool's node_modules on the module path."""
    env = dict(os.environ, NODE_PATH=str(tool_dir() / "node_modules"))
    subprocess.run(["node", str(Path(__file__).parent / "js" / name), *args], check=True,
                   capture_output=True, env=env)


GRAPH_RUNNER = Path(__file__).resolve().parents[1] / "tools" / "graph_op_references" / \
    "run_cases.js"


def run_graph_cases(specs: dict) -> dict:
    """TF.js's outputs for graph-model cases (``run_cases.js``'s format:
    ``{id: {model, weights, feeds, outputs}}`` → ``{id: {outputs, method} | {error}}``)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cases_file, out_file = Path(tmp, "cases.json"), Path(tmp, "out.json")
        cases_file.write_text(json.dumps(specs))
        env = dict(os.environ, NODE_PATH=str(tool_dir() / "node_modules"))
        subprocess.run(["node", str(GRAPH_RUNNER), str(cases_file), str(out_file)], check=True,
                       env=env)
        return json.loads(out_file.read_text())
