"""What every Python runner of ``bench_inference.py`` shares: inputs, timing, results.

Standard library + numpy only, so that it runs in any interpreter (the baselines may
run in a venv without flaxjs's dependencies). A runner measures one system in one
fresh process and writes one JSON result; ``bench_inference.py`` starts the processes
and builds the tables.

Protocol (the same in ``tfjs_runner.js``):

* ``load_ms``: model.json + shards -> a model ready to call (imports are timed apart,
  as ``import_ms``);
* ``first_ms``: the first batch-1 call of the process (trace + compile + run);
* ``b1_ms``: median of ``--repeats`` further batch-1 calls;
* ``bB_img_s``: batch / median of ``--batch-repeats`` batch-B calls after one warm-up.

Every timed call starts from the host (numpy) input and ends when the outputs are
host (numpy) arrays.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
import traceback
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def runner_args(description: str) -> argparse.ArgumentParser:
    """The options every runner takes (runner-specific ones are added by the caller)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", required=True,
                    help="TF.js model folder (model.json), or its model file")
    ap.add_argument("--inputs", required=True, help="inputs.json written by bench_inference.py")
    ap.add_argument("--out", required=True, help="result JSON to write")
    ap.add_argument("--output-file", help="write the batch-1 outputs here (float32, raw)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--batch-repeats", type=int, default=5)
    ap.add_argument("--no-batch", action="store_true", help="skip the batch-B measurement")
    return ap


def flaxjs_pure_modules() -> types.SimpleNamespace:
    """flaxjs's numpy-only modules (topology parser, weight decoder, graph-model parser,
    model-file reader) without ``import flaxjs``.

    ``flaxjs/__init__`` imports JAX, flax and optax (older flaxjs versions also edited
    ``XLA_FLAGS``); a baseline process must keep its environment and modules as given,
    and may not have flaxjs's dependencies. The
    package is therefore registered as a bare namespace pointing at the source tree
    and only pure submodules are imported (``flaxjs.graph`` too: its ``__init__``
    imports the JAX executor). Never call this in a process that imports flaxjs itself.
    """
    for name, folder in (("flaxjs", REPO / "flaxjs"), ("flaxjs.graph", REPO / "flaxjs" / "graph")):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
    return types.SimpleNamespace(
        parse=importlib.import_module("flaxjs.topology.parse"),
        decode=importlib.import_module("flaxjs.weights.decode"),
        manifest=importlib.import_module("flaxjs.weights.manifest"),
        graph_spec=importlib.import_module("flaxjs.graph.spec"),
        source=importlib.import_module("flaxjs.io.source"),
    )


def is_graph_model(model_json: Mapping[str, Any]) -> bool:
    """A TF.js graph model (a GraphDef): ``format`` says so, older files only have
    ``modelTopology.node`` (the rule of ``flaxjs.graph.load.is_graph_model``)."""
    if model_json.get("format") == "graph-model":
        return True
    topology = model_json.get("modelTopology")
    return isinstance(topology, Mapping) and isinstance(topology.get("node"), list)


def read_model_folder(folder: str) -> tuple[dict[str, Any], list[bytes]]:
    """model.json and every shard file, in manifest order (what TF.js concatenates).

    ``folder`` is a model folder holding model.json, or else (a folder with another
    model file, a model file such as ``movenet.json`` or nsfwjs's ``model.min.js``) read
    with flaxjs's own pure reader (:func:`flaxjs_pure_modules`)."""
    root = Path(folder)
    if (root / "model.json").is_file():
        model_json = json.loads((root / "model.json").read_bytes())
        shards = [(root / path).read_bytes()
                  for group in model_json.get("weightsManifest") or [] for path in group["paths"]]
        return model_json, shards
    artifacts = flaxjs_pure_modules().source.from_path(str(root))
    shards = [artifacts.read_shard(path)
              for group in artifacts.model_json.get("weightsManifest") or []
              for path in group["paths"]]
    return artifacts.model_json, shards


def read_inputs(path: str) -> tuple[list[np.ndarray], list[np.ndarray] | None, dict[str, Any]]:
    """(batch-1 inputs, batch-B inputs or None, the inputs.json description)."""
    spec = json.loads(Path(path).read_text())
    folder = Path(path).parent

    def read(item: Mapping[str, Any], which: str) -> np.ndarray:
        data = np.fromfile(folder / item[which], dtype=item["dtype"])
        return data.reshape(item[f"shape_{which}"])

    b1 = [read(item, "b1") for item in spec["inputs"]]
    bb = [read(item, "bB") for item in spec["inputs"]] if spec.get("batch") else None
    return b1, bb, spec


def flat_outputs(outputs: Any) -> list[np.ndarray]:
    """Every output as a host numpy array (one model output, a list, or a dict by key)."""
    if isinstance(outputs, Mapping):
        return [np.asarray(outputs[k]) for k in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(y) for y in outputs]
    return [np.asarray(outputs)]


def time_ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1e3, result


def measure(run: Callable[[Sequence[np.ndarray]], list[np.ndarray]], x1: list[np.ndarray],
            xb: list[np.ndarray] | None, args: argparse.Namespace) -> dict[str, Any]:
    """First call, batch-1 latency and batch-B throughput of ``run`` (numpy in, numpy out)."""
    first_ms, y1 = time_ms(lambda: run(x1))
    b1 = [time_ms(lambda: run(x1))[0] for _ in range(args.repeats)]
    res: dict[str, Any] = {
        "first_ms": first_ms, "b1_all": b1, "b1_ms": statistics.median(b1) if b1 else None,
        "output_shapes": [list(y.shape) for y in y1],
    }
    if args.output_file:
        np.concatenate([y.astype(np.float32).ravel() for y in y1]).tofile(args.output_file)
        res["output_file"] = args.output_file
    if xb is not None and not args.no_batch:
        batch = int(xb[0].shape[0])
        warm_ms, yb = time_ms(lambda: run(xb))
        tb = [time_ms(lambda: run(xb))[0] for _ in range(args.batch_repeats)]
        res.update(batch=batch, bB_first_ms=warm_ms, bB_all=tb, bB_ms=statistics.median(tb),
                   bB_img_s=batch / (statistics.median(tb) / 1e3),
                   # the batch's row 0 is the batch-1 input: both must give the same output
                   bB_row0_vs_b1=max(float(np.max(np.abs(b[:1].astype(np.float64) - a)))
                                     for a, b in zip(y1, yb, strict=True)))
    return res


def machine_state() -> dict[str, Any]:
    """Load average and Linux CPU pressure (share of the last 10 s some task waited for a CPU)."""
    state: dict[str, Any] = {}
    try:
        state["loadavg1"] = os.getloadavg()[0]
    except OSError:
        pass
    try:
        with open("/proc/pressure/cpu") as f:
            state["psi_cpu_some_avg10"] = float(f.readline().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        pass
    return state


def write_result(path: str, result: Mapping[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")


def main_guard(out: str, system: str, body: Callable[[], dict[str, Any]]) -> int:
    """Run ``body``; write its result, or the error (so the table can say what failed)."""
    start_state = machine_state()
    try:
        result = body()
    except Exception as exc:  # reported in the table, not hidden
        traceback.print_exc()
        write_result(out, {"system": system, "error": f"{type(exc).__name__}: {exc}"[:500],
                           "state_start": start_state})
        return 1
    result = dict(result, system=system, state_start=start_state, state_end=machine_state(),
                  python=sys.version.split()[0], xla_flags=os.environ.get("XLA_FLAGS", ""))
    write_result(out, result)
    return 0
