"""Inference speed of flaxjs against TF.js, Keras 3 on JAX and TF-CPU on the same models.

Layers models run on every system; TF.js graph models (``format: "graph-model"``:
MoveNet, BlazeFace, ...) on flaxjs and TF.js only (they have no Keras topology).

Every measurement runs in its own fresh process (``benchmarks/runners/``), systems
interleaved in the same order in every round, each model fed the same deterministic
input. It prints a markdown table per model (medians over ``--rounds``: load ms,
first-call ms, batch-1 ms, batch-B img/s, max |output - TF.js|) and the ratios of
flaxjs against each baseline, and writes everything to a results folder.
See ``benchmarks/README.md`` for the set-up and what each column means.

Usage::

  python benchmarks/bench_inference.py                        # the nsfwjs models, all systems
  python benchmarks/bench_inference.py --model path/to/model_dir --systems flaxjs,tfjs-wasm
  python benchmarks/bench_inference.py --zoo human_movenet_lightning --systems flaxjs,tfjs-wasm
  python benchmarks/bench_inference.py --baseline-python venv/bin/python --rounds 5
  python benchmarks/bench_inference.py --quick --model DIR    # tiny settings (the test suite)

Not a timed test: the test suite only checks that it runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNNERS = HERE / "runners"
sys.path.insert(0, str(RUNNERS))
import common  # noqa: E402 - benchmarks/runners is not a package

#: the environment as given, before anything here could change it
ENV = dict(os.environ)

SHARED = Path(os.environ.get("FLAXJS_SHARED", ROOT.parent / "shared"))
DEFAULT_MODELS = [SHARED / "corpus" / "wild" / name
                  for name in ("nsfwjs-mobilenet-v2-uint8", "nsfwjs-inception-v3")]
TFJS_VERSION = "4.22.0"
TFJS_PACKAGES = (f"@tensorflow/tfjs@{TFJS_VERSION}",
                 f"@tensorflow/tfjs-backend-wasm@{TFJS_VERSION}")
NO_YNN = "--xla_cpu_experimental_ynn_fusion_type="
GRAPH_NO_KERAS = "a graph model has no Keras topology; the Keras baselines run Layers models only"


@dataclasses.dataclass(frozen=True)
class BenchModel:
    """A model to measure: ``path`` is what the runners get (its folder when the model
    file is the folder's model.json, else the model file itself)."""
    path: Path
    name: str
    graph: bool


@dataclasses.dataclass(frozen=True)
class System:
    key: str
    label: str
    runner: str  # flaxjs | keras | tfjs


SYSTEMS = {s.key: s for s in [
    System("flaxjs", "flaxjs `model(x)`, caches cold", "flaxjs"),
    System("flaxjs-warm", "flaxjs warm cache (2nd process, same caches)", "flaxjs"),
    System("keras3-jax", "Keras 3 on JAX, `jax.jit(stateless_call)`", "keras"),
    System("keras3-jax-noynn", "Keras 3 on JAX, jit, YNNPACK off", "keras"),
    System("tfkeras-tffunction", "TF-CPU + tf-keras, `tf.function`", "keras"),
    System("tfjs-wasm", f"TF.js {TFJS_VERSION} node, wasm backend", "tfjs"),
    System("tfjs-cpu", f"TF.js {TFJS_VERSION} node, cpu backend (pure JS)", "tfjs"),
]}
DEFAULT_SYSTEMS = [k for k in SYSTEMS if k != "tfjs-cpu"]
TFJS_CPU_REPEATS = 3  # the pure-JS backend takes ~1 s (MobileNetV2) to ~10 s per image


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- set-up
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], metavar="DIR",
                    help="TF.js model folder, or its model file (Layers or graph model; "
                    "repeatable)")
    ap.add_argument("--zoo", action="append", default=[], metavar="NAME",
                    help="a flaxjs zoo model, fetched into its cache (repeatable)")
    ap.add_argument("--systems", help=f"comma-separated, from {', '.join(SYSTEMS)} "
                    f"(default: all but tfjs-cpu; --quick: flaxjs)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    ap.add_argument("--repeats", type=int, help="timed batch-1 calls per process (default 20)")
    ap.add_argument("--batch", type=int, help="batch size B of the throughput column "
                    "(default 32; 0 = skip)")
    ap.add_argument("--batch-repeats", type=int, help="timed batch-B calls (default 5)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny settings for tests: rounds 1, repeats 2, batch 4, no quiet wait")
    ap.add_argument("--baseline-python", default=sys.executable,
                    help="interpreter of the Keras/TF baselines (default: this one)")
    ap.add_argument("--compile-cache", metavar="DIR",
                    help="flaxjs's JAX compilation cache (default: a fresh folder per round)")
    ap.add_argument("--tfjs-dir", default=str(Path(ENV.get("XDG_CACHE_HOME") or
                                                   Path.home() / ".cache") /
                                              "flaxjs-bench" / f"tfjs-{TFJS_VERSION}"),
                    help="folder whose node_modules holds TF.js (installed there with npm "
                    "when missing)")
    ap.add_argument("--no-install", action="store_true", help="never run npm")
    ap.add_argument("--reference", choices=["auto", "tfjs-cpu", "tfjs-wasm", "flaxjs"],
                    default="auto", help="whose batch-1 output the diff column compares to "
                    "(auto: TF.js cpu backend when node is available, else flaxjs)")
    ap.add_argument("--quiet-max-busy", type=float, default=10.0,
                    help="wait before each process until the CPUs are at most this %% busy")
    ap.add_argument("--quiet-timeout", type=float, default=120.0,
                    help="longest wait for idle CPUs, seconds (0 = do not wait)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per process, seconds")
    ap.add_argument("--out", help="results folder (default benchmarks/results/inference-<time>)")
    a = ap.parse_args(argv)
    quick = a.quick
    for name, normal, tiny in [("rounds", 3, 1), ("repeats", 20, 2), ("batch", 32, 4),
                               ("batch_repeats", 5, 2)]:
        if getattr(a, name) is None:
            setattr(a, name, tiny if quick else normal)
    if quick and a.quiet_timeout == 120.0:
        a.quiet_timeout = 0.0
    names = a.systems.split(",") if a.systems else (["flaxjs"] if quick else DEFAULT_SYSTEMS)
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        ap.error(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(SYSTEMS)}")
    if "flaxjs-warm" in names and "flaxjs" not in names:
        names.insert(names.index("flaxjs-warm"), "flaxjs")  # it reuses the cold run's caches
    a.systems = [k for k in SYSTEMS if k in names]
    return a


def resolve_models(args: argparse.Namespace) -> list[BenchModel]:
    paths = [Path(m) for m in args.model]
    for name in args.zoo:
        code = ("import sys, flaxjs.zoo as z\n"
                "card = z.card(sys.argv[1])\n"
                "print(z.fetch(sys.argv[1]) / card.model_file)\n")
        done = subprocess.run([sys.executable, "-c", code, name], check=False,
                              capture_output=True, text=True, env=ENV, cwd=ROOT)
        if done.returncode:
            raise SystemExit(f"--zoo {name}: {done.stderr.strip().splitlines()[-1:]}")
        model_file = Path(done.stdout.strip().splitlines()[-1])
        if not model_file.is_file():
            raise SystemExit(f"--zoo {name}: the zoo gave no model file ({model_file})")
        paths.append(model_file.parent if model_file.name == "model.json" else model_file)
    if not paths:
        paths = [m for m in DEFAULT_MODELS if (m / "model.json").is_file()]
        if not paths:
            raise SystemExit("no --model/--zoo given and the default nsfwjs models "
                             f"({DEFAULT_MODELS[0].parent}) are not present")
    models = []
    for m in paths:
        if m.is_file() and m.name == "model.json":
            m = m.parent  # the runners are given the folder, as before
        if not m.exists():
            raise SystemExit(f"{m}: not found")
        try:
            model_json = read_model_json(m)
        except Exception as exc:  # flaxjs's own message says what is wrong
            raise SystemExit(f"{m}: {exc}") from None
        name = m.name if m.is_dir() else m.parent.name
        models.append(BenchModel(m, name, common.is_graph_model(model_json)))
    names = [m.name for m in models]
    if len(set(names)) < len(names):
        raise SystemExit(f"two models have the same folder name: {', '.join(names)}")
    return models


def read_model_json(path: Path) -> dict[str, Any]:
    """The model JSON of a folder or model file (model.json, ``x.json``, nsfwjs's
    ``model.min.js``), with flaxjs's pure reader: JAX is never imported here."""
    return common.flaxjs_pure_modules().source.from_path(str(path)).model_json


def probe_python(python: str) -> dict[str, str | None]:
    """Versions of the baseline packages in ``python`` (None = not installed); no imports."""
    code = ("import importlib.util as u, importlib.metadata as md, json\n"
            "def v(mod, *dists):\n"
            "    if u.find_spec(mod) is None: return None\n"
            "    for d in dists:\n"
            "        try: return md.version(d)\n"
            "        except md.PackageNotFoundError: pass\n"
            "    return '?'\n"
            "print(json.dumps({'keras': v('keras', 'keras'), 'jax': v('jax', 'jax'),\n"
            "  'tensorflow': v('tensorflow', 'tensorflow', 'tensorflow-cpu'),\n"
            "  'tf_keras': v('tf_keras', 'tf-keras'), 'numpy': v('numpy', 'numpy')}))\n")
    try:
        done = subprocess.run([python, "-c", code], check=False, capture_output=True,
                              text=True, env=ENV, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout)


def tfjs_ready(folder: Path, wasm: bool) -> bool:
    def version(package: str) -> str | None:
        meta = folder / "node_modules" / "@tensorflow" / package / "package.json"
        return json.loads(meta.read_text()).get("version") if meta.is_file() else None
    return version("tfjs") == TFJS_VERSION and (not wasm or
                                                version("tfjs-backend-wasm") == TFJS_VERSION)


def install_tfjs(folder: Path) -> str | None:
    """npm-install TF.js and its wasm backend into ``folder``; an error message or None."""
    npm = shutil.which("npm")
    if not npm:
        return "npm not found"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "package.json").is_file():
        (folder / "package.json").write_text(json.dumps(
            {"name": "flaxjs-bench-tfjs", "private": True, "description":
             "TF.js for flaxjs's benchmarks/bench_inference.py"}, indent=1) + "\n")
    log(f"installing {' '.join(TFJS_PACKAGES)} into {folder} with npm ...")
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
                           *TFJS_PACKAGES], check=False, cwd=folder, capture_output=True,
                          text=True, env=ENV)
    if done.returncode:
        return "npm install failed: " + " ".join(done.stderr.strip().splitlines()[-2:])
    return None


def check_systems(args: argparse.Namespace) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """The systems that can run here, why the others cannot, and the versions probed."""
    skipped: dict[str, str] = {}
    info: dict[str, Any] = {}
    wanted = list(args.systems)
    if any(SYSTEMS[k].runner == "keras" for k in wanted):
        versions = probe_python(args.baseline_python)
        info["baseline_python_packages"] = versions
        for key in wanted:
            if key.startswith("keras3"):
                if not versions.get("keras") or not versions.get("jax"):
                    skipped[key] = "keras and jax not installed in the baseline interpreter"
                elif not str(versions["keras"]).startswith("3"):
                    skipped[key] = f"keras {versions['keras']} is not Keras 3"
            elif key == "tfkeras-tffunction" and not (versions.get("tensorflow")
                                                      and versions.get("tf_keras")):
                skipped[key] = "tensorflow and tf-keras not installed in the baseline interpreter"
    needs_tfjs = [k for k in wanted if SYSTEMS[k].runner == "tfjs"]
    if args.reference == "auto":
        args.reference = "tfjs-cpu" if (needs_tfjs or not args.quick) else "flaxjs"
    if args.reference.startswith("tfjs"):
        needs_tfjs.append("reference")
    if needs_tfjs:
        folder = Path(args.tfjs_dir)
        wasm = "tfjs-wasm" in wanted or args.reference == "tfjs-wasm"
        problem = None
        if not shutil.which("node"):
            problem = "node not found"
        elif not tfjs_ready(folder, wasm):
            problem = (f"TF.js {TFJS_VERSION} not installed in {folder}" if args.no_install
                       else install_tfjs(folder))
        if problem:
            for key in needs_tfjs:
                if key != "reference":
                    skipped[key] = problem
            if args.reference.startswith("tfjs"):
                info["reference_note"] = f"no TF.js ({problem}): diffs are against flaxjs"
                args.reference = "flaxjs"
        else:
            done = subprocess.run(["node", "--version"], check=False, capture_output=True,
                                  text=True)
            info["node"] = done.stdout.strip()
    if args.reference == "tfjs-wasm" and "tfjs-wasm" in skipped:
        args.reference = "flaxjs"
    if args.reference == "flaxjs" and "flaxjs" not in wanted:
        args.reference = "none"
    return [k for k in wanted if k not in skipped], skipped, info


# ----------------------------------------------------------------------------- inputs
def input_specs(model_dir: Path) -> list[tuple[str, list[int | None], str]]:
    """(name, shape with batch axis, dtype) of each model input, from the topology.

    Graph models: the inputs of :func:`flaxjs.graph.spec.parse_graph` (the signature's,
    else every placeholder), less any ``PlaceholderWithDefault`` (left to its default
    by both flaxjs and TF.js); ``name`` is the placeholder node's name."""
    pure = common.flaxjs_pure_modules()
    model_json = read_model_json(model_dir)
    if common.is_graph_model(model_json):
        spec = pure.graph_spec.parse_graph(model_json, location=str(model_dir))
        fed = [s for s in spec.inputs if spec.nodes[s.name].op == "Placeholder"]
        for s in fed:
            if s.dtype not in ("float32", "int32", "bool"):
                raise SystemExit(f"{model_dir}: input {s.name!r} is {s.dtype}; the benchmark "
                                 "feeds float32, int32 or bool inputs only")
        return [(s.name, list(s.shape), s.dtype) for s in fed]
    topology = model_json.get("modelTopology") or {}
    version = str(topology.get("keras_version") or "") if isinstance(topology, Mapping) else ""
    graph = pure.parse.parse_model(pure.parse.model_config_of(model_json), keras_version=version)
    return [(s.name, list(s.shape), s.dtype) for s in graph.input_specs]


def _is_image(shape: Sequence[int | None]) -> bool:
    """An NHWC image input: rank 4 with 1, 3 or 4 channels (MoveNet's int32 pixels)."""
    return len(shape) == 4 and shape[-1] in (1, 3, 4)


def write_inputs(model: BenchModel, folder: Path, batch: int) -> dict[str, Any]:
    """The deterministic inputs: numpy ``default_rng(0)`` uniform [0, 1) (integer inputs:
    0 or 1) in the model's input shape; the batch-1 input is row 0 of the batch input.
    Unknown non-batch dimensions are 64 (image axes) or 20.

    Graph models alike, except: int32 image inputs (rank 4, 1/3/4 channels: MoveNet's
    pixels) are integers in [0, 255]; bool inputs are False/True; scalar inputs have no
    batch axis. A fixed batch size other than B, or a scalar input, means batch-1 only."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = input_specs(model.path)
    no_batch = None
    if any(shape and shape[0] is not None and shape[0] != batch for _, shape, _ in specs):
        fixed = next(shape[0] for _, shape, _ in specs if shape and shape[0] is not None
                     and shape[0] != batch)
        no_batch = f"the model's input has a fixed batch size of {fixed}"
        batch = 0  # a fixed batch size (stateful models, most graph models): batch-1 only
    if model.graph and any(not shape for _, shape, _ in specs) and batch:
        no_batch = "the model has a scalar input (no batch axis)"
        batch = 0
    rng = np.random.default_rng(0)
    items = []
    for k, (name, shape, dtype) in enumerate(specs):
        rank = len(shape)
        dims = [d if d is not None else (64 if rank in (4, 5) and axis < rank - 1 else 20)
                for axis, d in enumerate(shape[1:], start=1)]
        full = (max(batch, 1), *dims) if rank else ()
        if model.graph and dtype == "bool":
            x = rng.integers(0, 2, size=full).astype(bool)
        elif model.graph and dtype == "int32" and _is_image(shape):
            x = rng.integers(0, 256, size=full).astype(np.int32)
        elif dtype in ("int32", "bool"):
            x = rng.integers(0, 2, size=full).astype(np.int32)
        else:
            x = rng.random(full, dtype=np.float32)
        item = {"name": name, "dtype": str(x.dtype), "b1": f"x{k}_b1.bin",
                "shape_b1": [1, *dims] if rank else []}
        (x[:1] if rank else x).tofile(folder / item["b1"])
        if batch:
            item.update(bB=f"x{k}_bB.bin", shape_bB=list(full))
            x.tofile(folder / item["bB"])
        items.append(item)
    spec = {"batch": batch, "inputs": items,
            "generator": "numpy default_rng(0): random(float32) / integers(0, 2)"
            + ("; graph model: int32 images integers(0, 256), bool integers(0, 2)"
               if model.graph else ""),
            "graph_model": model.graph}
    if no_batch:
        spec["no_batch"] = no_batch
    (folder / "inputs.json").write_text(json.dumps(spec, indent=1) + "\n")
    return spec


# ----------------------------------------------------------------------------- processes
def cpu_busy(window: float) -> float:
    """Percent of CPU time not idle over ``window`` seconds, all cores (/proc/stat)."""
    def snap() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # idle + iowait
    total0, idle0 = snap()
    time.sleep(window)
    total1, idle1 = snap()
    return 100.0 * (1.0 - (idle1 - idle0) / max(total1 - total0, 1))


def wait_quiet(max_busy: float, timeout: float) -> dict[str, float] | None:
    """Wait until the CPUs are idle (so another job's burst does not land in a measurement)."""
    if timeout <= 0 or not os.path.exists("/proc/stat"):
        return None
    start = time.monotonic()
    while True:
        busy = cpu_busy(2.0)
        waited = time.monotonic() - start
        if busy <= max_busy or waited >= timeout:
            return {"busy_pct": round(busy, 1), "waited_s": round(waited, 1)}


def runner_command(system: System, args: argparse.Namespace, model: BenchModel, inputs: Path,
                   out: Path, output_file: Path, repeats: int, batch: bool,
                   compile_cache: str | None) -> list[str]:
    common_args = ["--model", str(model.path), "--inputs", str(inputs), "--out", str(out),
                   "--output-file", str(output_file), "--repeats", str(repeats),
                   "--batch-repeats", str(args.batch_repeats)] + ([] if batch else ["--no-batch"])
    if system.runner == "flaxjs":
        cmd = [sys.executable, str(RUNNERS / "flaxjs_runner.py"), "--system", system.key]
        if compile_cache:
            cmd += ["--compile-cache", compile_cache]
        return cmd + common_args
    if system.runner == "keras":
        impl = "keras3-jax" if system.key.startswith("keras3") else "tfkeras-tffunction"
        return [args.baseline_python, str(RUNNERS / "keras_runner.py"), "--impl", impl,
                "--system", system.key, *common_args]
    backend = system.key.split("-", 1)[1]
    return ["node", str(RUNNERS / "tfjs_runner.js"), "--backend", backend, *common_args]


def runner_env(system: System, args: argparse.Namespace, flaxjs_home: str) -> dict[str, str]:
    env = dict(ENV)
    if system.runner == "flaxjs":
        env["FLAXJS_HOME"] = flaxjs_home  # flaxjs's own caches (topology slots) start cold
    elif system.runner == "keras":
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        if system.key.startswith("keras3"):
            env["KERAS_BACKEND"] = "jax"
        if system.key == "keras3-jax-noynn":
            given = [f for f in env.get("XLA_FLAGS", "").split() if "ynn_fusion_type" not in f]
            env["XLA_FLAGS"] = " ".join([*given, NO_YNN])
    else:
        env["NODE_PATH"] = str(Path(args.tfjs_dir) / "node_modules")
    return env


def run_one(system: System, args: argparse.Namespace, model: BenchModel, inputs: Path,
            raw: Path, tag: str, *, repeats: int, batch: bool, compile_cache: str | None,
            flaxjs_home: str) -> dict[str, Any]:
    """One fresh process; its result dict (with ``error`` when it failed)."""
    out = raw / f"{tag}.json"
    output_file = raw / f"{tag}.out.bin"
    quiet = wait_quiet(args.quiet_max_busy, args.quiet_timeout)
    cmd = runner_command(system, args, model, inputs, out, output_file, repeats, batch,
                         compile_cache)
    start = time.monotonic()
    try:
        done = subprocess.run(cmd, check=False, env=runner_env(system, args, flaxjs_home),
                              cwd=ROOT, capture_output=True, text=True, timeout=args.timeout)
        rc, stderr = done.returncode, done.stderr
    except subprocess.TimeoutExpired as exc:
        rc, stderr = None, f"timed out after {exc.timeout:.0f} s"
    wall = time.monotonic() - start
    (raw / f"{tag}.log").write_text(stderr or "")
    try:
        result = json.loads(out.read_text())
    except (OSError, ValueError):
        tail = [line for line in (stderr or "").strip().splitlines() if line.strip()][-1:]
        result = {"system": system.key, "error": f"exit {rc}: {' '.join(tail)[:400]}"}
    result.update(quiet=quiet, wall_s=round(wall, 2), returncode=rc)
    if output_file.is_file():
        result["output_file"] = str(output_file)
    return result


# ----------------------------------------------------------------------------- summary
def fmt(value: float | None, kind: str = "ms") -> str:
    if value is None:
        return "–"
    if kind == "diff":
        return "0" if value == 0 else f"{value:.1e}"
    if kind == "ratio":
        if value < 0.1:
            return f"{value:.2g}×"
        return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def stat(values: list[float], kind: str = "ms") -> str:
    if not values:
        return "–"
    text = fmt(statistics.median(values), kind)
    if len(values) > 1:
        text += f" ({fmt(min(values), kind)}–{fmt(max(values), kind)})"
    return text


def output_of(result: Mapping[str, Any]) -> np.ndarray | None:
    path = result.get("output_file")
    return np.fromfile(path, dtype=np.float32).astype(np.float64) if path else None


def summarize(model: BenchModel, results: list[dict[str, Any]], systems: list[str],
              reference: np.ndarray | None) -> dict[str, Any]:
    """Medians (and ranges) over rounds per system, the diffs and the flaxjs ratios."""
    rows: dict[str, Any] = {}
    for key in systems:
        runs = [r for r in results if r["system"] == key]
        ok = [r for r in runs if "error" not in r]
        row: dict[str, Any] = {"runs": len(runs), "ok": len(ok),
                               "errors": sorted({r["error"] for r in runs if "error" in r})}
        for field in ("import_ms", "load_ms", "first_ms", "b1_ms", "bB_img_s"):
            values = [r[field] for r in ok if r.get(field) is not None]
            row[field] = values
            row[f"{field}_median"] = statistics.median(values) if values else None
        diffs = []
        for r in ok:
            y = output_of(r)
            if reference is not None and y is not None and y.shape == reference.shape:
                diffs.append(float(np.max(np.abs(y - reference))))
        row["maxdiff"] = max(diffs) if diffs else None
        row["methods"] = sorted({r["method"] for r in ok if r.get("method")})
        row["bB_row0_vs_b1"] = max((r["bB_row0_vs_b1"] for r in ok if "bB_row0_vs_b1" in r),
                                   default=None)
        rows[key] = row
    ratios: dict[str, Any] = {}
    for base in systems:
        if SYSTEMS[base].runner == "flaxjs":
            continue
        b = rows[base]
        ratio: dict[str, float | None] = {}
        for mine, suffix in (("flaxjs", ""), ("flaxjs-warm", "_warm")):
            f = rows.get(mine)
            for field in ("load_ms", "first_ms", "b1_ms", "bB_img_s"):
                mv, bv = (f or {}).get(f"{field}_median"), b.get(f"{field}_median")
                ratio[field + suffix] = mv / bv if mv and bv else None
        ratios[base] = ratio
    warm_over_cold = None
    if rows.get("flaxjs-warm", {}).get("first_ms_median") and rows.get("flaxjs", {}).get(
            "first_ms_median"):
        warm_over_cold = rows["flaxjs-warm"]["first_ms_median"] / rows["flaxjs"]["first_ms_median"]
    return {"model": str(model.path), "graph_model": model.graph, "rows": rows, "ratios": ratios,
            "warm_first_over_cold_first": warm_over_cold}


def markdown(model: BenchModel, summary: Mapping[str, Any], spec: Mapping[str, Any],
             args: argparse.Namespace, reference_label: str,
             skipped: Mapping[str, str] | None = None) -> str:
    batch = spec["batch"]
    shapes = ", ".join(("×".join(str(d) for d in item["shape_b1"][1:]) or "scalar")
                       + (f" {item['dtype']}" if model.graph and item["dtype"] != "float32"
                          else "") for item in spec["inputs"])
    batch_col = f"batch-{batch}" if batch else "batch-B (not run)"
    title = (f"### {model.name} (input {shapes}; medians of {args.rounds} round(s), "
             "min–max in brackets)")
    header = (f"| system | what | load ms | first-call ms | batch-1 ms | {batch_col} img/s | "
              f"max abs diff vs {reference_label} |")
    lines = [title, "", header, "|---|---|---|---|---|---|---|"]
    rows = summary["rows"]
    for key, row in rows.items():
        label = SYSTEMS[key].label
        if not row["ok"]:
            lines.append(f"| {key} | {label} | failed: {'; '.join(row['errors'])[:160]} "
                         "| | | | |")
            continue
        throughput = stat(row["bB_img_s"]) if batch and key != "tfjs-cpu" else "–"
        if key == "flaxjs-warm":
            throughput = "–"
        lines.append(f"| {key} | {label} | {stat(row['load_ms'])} | {stat(row['first_ms'])} | "
                     f"{stat(row['b1_ms'])} | {throughput} | {fmt(row['maxdiff'], 'diff')} |")
    failed = {k: row for k, row in rows.items() if row["ok"] and row["errors"]}
    for key, row in failed.items():
        lines.append(f"\n{key}: {row['runs'] - row['ok']} of {row['runs']} runs failed: "
                     f"{'; '.join(row['errors'])[:300]}")
    if summary["ratios"] and "flaxjs" in rows and rows["flaxjs"]["ok"]:
        legend = ("flaxjs / baseline (latency columns: < 1 = flaxjs faster; "
                  "throughput: > 1 = flaxjs faster; warm = the warm-cache process):")
        header = ("| baseline | load | load, warm | first call | first call, warm | batch-1 "
                  f"latency | {batch_col} throughput |")
        lines += ["", legend, "", header, "|---|---|---|---|---|---|---|"]
        for base, r in summary["ratios"].items():
            lines.append(f"| {base} | {fmt(r['load_ms'], 'ratio')} | "
                         f"{fmt(r['load_ms_warm'], 'ratio')} | {fmt(r['first_ms'], 'ratio')} | "
                         f"{fmt(r['first_ms_warm'], 'ratio')} | {fmt(r['b1_ms'], 'ratio')} | "
                         f"{fmt(r['bB_img_s'], 'ratio')} |")
    if summary["warm_first_over_cold_first"]:
        ratio = fmt(summary["warm_first_over_cold_first"], "ratio")
        lines += ["", f"flaxjs warm-cache first call / cold first call: {ratio}"]
    extra = []
    if model.graph:
        methods = [f"{key} `{'`/`'.join(row['methods'])}`" for key, row in rows.items()
                   if row.get("methods")]
        extra.append("Graph model" + (f"; TF.js called {', '.join(methods)}" if methods else ""))
    if spec.get("no_batch") and args.batch:
        extra.append(f"batch-{args.batch} not run: {spec['no_batch']}")
    if skipped:
        extra.append("; ".join(f"{key} skipped ({why})" for key, why in skipped.items()))
    if extra:
        lines += ["", ". ".join(extra) + "."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    models = resolve_models(args)
    keras = [k for k in args.systems if SYSTEMS[k].runner == "keras"]
    graph_only = {}
    if keras and all(m.graph for m in models):  # nothing for the Keras baselines to run
        graph_only = {k: GRAPH_NO_KERAS for k in keras}
        args.systems = [k for k in args.systems if k not in keras]
    systems, skipped, info = check_systems(args)
    skipped = {**graph_only, **skipped}
    # systems that cannot run a model although they run here (Keras on a graph model)
    model_skips = {m: {k: GRAPH_NO_KERAS for k in systems
                       if m.graph and SYSTEMS[k].runner == "keras"} for m in models}
    out = Path(args.out) if args.out else \
        HERE / "results" / time.strftime("inference-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="flaxjs-bench-"))
    log(f"results in {out}; systems: {', '.join(systems) or 'none'}"
        + "".join(f"\n  skipped {k}: {why}" for k, why in skipped.items()))

    specs: dict[BenchModel, dict[str, Any]] = {}
    references: dict[BenchModel, np.ndarray | None] = {}
    reference_info: dict[str, Any] = {}
    for model in models:
        specs[model] = write_inputs(model, out / "inputs" / model.name, args.batch)
        references[model] = None
        if args.reference == "tfjs-cpu":
            raw = out / "raw" / model.name
            raw.mkdir(parents=True, exist_ok=True)
            log(f"[reference] {model.name}: TF.js cpu backend, one batch-1 call")
            result = run_one(SYSTEMS["tfjs-cpu"], args, model, out / "inputs" / model.name /
                             "inputs.json", raw, "reference-tfjs-cpu", repeats=0, batch=False,
                             compile_cache=None, flaxjs_home=str(scratch))
            reference_info[model.name] = result
            references[model] = output_of(result) if "error" not in result else None

    results: dict[BenchModel, list[dict[str, Any]]] = {m: [] for m in models}
    for rnd in range(1, args.rounds + 1):
        for model in models:
            raw = out / "raw" / model.name
            raw.mkdir(parents=True, exist_ok=True)
            home = scratch / f"round{rnd}-{model.name}"
            cache = args.compile_cache or str(home / "xla-cache")
            batch_ok = bool(specs[model]["batch"])
            for key in systems:
                if key in model_skips[model]:
                    continue
                system = SYSTEMS[key]
                repeats = min(args.repeats, TFJS_CPU_REPEATS) if key == "tfjs-cpu" \
                    else args.repeats
                batch = batch_ok and key not in ("tfjs-cpu", "flaxjs-warm")
                result = run_one(system, args, model, out / "inputs" / model.name /
                                 "inputs.json", raw, f"r{rnd}-{key}", repeats=repeats,
                                 batch=batch, compile_cache=cache, flaxjs_home=str(home))
                result["round"] = rnd
                results[model].append(result)
                what = result.get("error") or (
                    f"load {fmt(result.get('load_ms'))} ms, first {fmt(result.get('first_ms'))}"
                    f" ms, b1 {fmt(result.get('b1_ms'))} ms, "
                    f"{fmt(result.get('bB_img_s'))} img/s")
                quiet = result.get("quiet")
                busy = f"; CPU {quiet['busy_pct']:.0f}% busy before" if quiet else ""
                log(f"[round {rnd}/{args.rounds}] {model.name} {key}: {what} "
                    f"({result['wall_s']:.0f} s{busy})")
    shutil.rmtree(scratch, ignore_errors=True)

    reference_label = {"tfjs-cpu": "TF.js cpu", "tfjs-wasm": "TF.js wasm",
                       "flaxjs": "flaxjs", "none": "–"}[args.reference]
    summaries, tables = {}, []
    for model in models:
        reference = references[model]
        if reference is None and args.reference in ("tfjs-wasm", "flaxjs"):
            first = next((r for r in results[model]
                          if r["system"] == args.reference and "error" not in r), None)
            reference = output_of(first) if first else None
        label = reference_label if reference is not None else "– (no reference output)"
        ran = [k for k in systems if k not in model_skips[model]]
        summaries[model.name] = summarize(model, results[model], ran, reference)
        summaries[model.name]["skipped"] = model_skips[model]
        tables.append(markdown(model, summaries[model.name], specs[model], args, label,
                               model_skips[model]))

    flaxjs_flags = next((r.get("xla_flags") for rs in results.values() for r in rs
                         if r["system"] == "flaxjs" and "error" not in r), None)
    notes = [f"- {k}: skipped ({why})" for k, why in skipped.items()]
    if info.get("reference_note"):
        notes.append(f"- {info['reference_note']}")
    if args.reference == "tfjs-cpu":
        notes.append("- diffs: max |output − TF.js cpu-backend output| on the batch-1 input")
    elif args.reference == "flaxjs":
        notes.append("- no TF.js reference: the diff column compares with flaxjs's output")
    notes.append(f"- XLA_FLAGS as given: `{ENV.get('XLA_FLAGS', '')}`"
                 + (f"; in the flaxjs processes after `import flaxjs`: `{flaxjs_flags}`"
                    if flaxjs_flags is not None else ""))
    given = [f"{k}={ENV[k]}" for k in ("FLAXJS_XLA_DEFAULTS", "FLAXJS_MICRO_BATCH",
                                         "TF_ENABLE_ONEDNN_OPTS", "OMP_NUM_THREADS") if k in ENV]
    if given:
        notes.append(f"- environment as given: {', '.join(given)}")
    if args.compile_cache and "flaxjs" in systems:
        notes.append(f"- flaxjs compilation cache: {args.compile_cache} (given; the flaxjs row "
                     "is cold only if it was empty)")
    if "keras3-jax-noynn" in systems:
        notes.append(f"- keras3-jax-noynn: XLA_FLAGS as given plus `{NO_YNN}`")
    if "tfjs-cpu" in systems:
        notes.append(f"- tfjs-cpu: {TFJS_CPU_REPEATS} batch-1 repeats, no batch run (too slow)")
    busy = [r["quiet"]["busy_pct"] for rs in results.values() for r in rs if r.get("quiet")]
    if busy:
        notes.append(f"- CPU busy before each process: median {statistics.median(busy):.0f}%, "
                     f"max {max(busy):.0f}% (waited for ≤ {args.quiet_max_busy:.0f}%, "
                     f"at most {args.quiet_timeout:.0f} s)")
    text = "\n\n".join(tables) + "\n\nNotes:\n" + "\n".join(notes) + "\n"
    print(text)
    (out / "table.md").write_text(text)
    document = {
        "settings": {k: v for k, v in vars(args).items()},
        "skipped": skipped, "info": info, "xla_flags_given": ENV.get("XLA_FLAGS", ""),
        "machine": machine_info(), "inputs": {m.name: specs[m] for m in models},
        "reference": {"source": args.reference, "processes": reference_info},
        "summaries": summaries,
        "results": {m.name: results[m] for m in models},
    }
    (out / "results.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
    log(f"wrote {out / 'table.md'} and {out / 'results.json'}")
    return document


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


if __name__ == "__main__":
    main()
