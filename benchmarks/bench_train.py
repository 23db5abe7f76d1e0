"""Training steps/s of flaxjs against TF-CPU (tf-keras) and Keras 3 on JAX, same run.

Each model is cut at a feature layer and gets GlobalAveragePooling2D + Dense(10,
softmax), adam(1e-3), sparse categorical cross-entropy, one fixed batch. Three modes:

* ``frozen``: the base frozen, only the head trains;
* ``full``: every layer trains (batch statistics, the whole backward pass);
* ``top``: the head and the model's last block train.

Every (model, mode, system) runs in a fresh process (``runners/train_runner.py``):
``--warmup`` steps, then the median of ``--steps`` timed steps; rounds are
interleaved (each round runs every system once per model and mode) and the table
shows the median over rounds. The processes also record their resident memory
before the first step and at the peak. Not a timed test: the suite runs it tiny.

Usage::

  python benchmarks/bench_train.py --baseline-python $VENV/bin/python   # all models
  python benchmarks/bench_train.py --models mobilenet_v1 --modes full --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WILD = Path(os.environ.get("FLAXJS_SHARED", ROOT.parent / "shared")) / "corpus" / "wild"
RUNNER = ROOT / "benchmarks" / "runners" / "train_runner.py"

#: name -> (folder, feature layer to cut at, input size, the last block's layer patterns)
MODELS: dict[str, tuple[Path, str, int, tuple[str, ...]]] = {
    "mobilenet_v1": (WILD / "mobilenet-v1-0.25-224", "conv_pw_13_relu", 224,
                     ("conv_dw_13*", "conv_pw_13*")),
    "nsfwjs_mobilenet_v2": (WILD / "nsfwjs-mobilenet-v2-uint8", "out_relu", 224,
                            ("block_16_*", "Conv_1*")),
    "nsfwjs_inception_v3": (WILD / "nsfwjs-inception-v3", "mixed10", 299,
                            ("conv2d_8[6-9]", "conv2d_9[0-4]", "batch_normalization_8[6-9]",
                             "batch_normalization_9[0-4]")),
}
SYSTEMS = ("flaxjs", "tfkeras", "keras3-jax")
MODES = ("frozen", "full", "top")


def measure(system: str, model: str, mode: str, args: argparse.Namespace, out: Path
            ) -> dict[str, Any]:
    folder, cut, size, top = MODELS[model]
    python = sys.executable if system == "flaxjs" else args.baseline_python
    cmd = [python, str(RUNNER), "--system", system, "--model", args.model_dir or str(folder),
           "--cut", args.cut or cut, "--mode", mode, "--top", *top, "--batch", str(args.batch),
           "--size", str(args.size or size), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--out", str(out)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if not out.is_file():
        return {"system": system, "error": (proc.stderr.strip().splitlines() or ["no result"])[-1]}
    result = json.loads(out.read_text())
    result["wall_s"] = time.perf_counter() - start
    return result


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in results if "error" not in r]
    if not ok:
        return {"error": results[0].get("error", "failed") if results else "not run"}
    sps = [r["steps_per_s"] for r in ok]
    return {"steps_per_s": statistics.median(sps), "min": min(sps), "max": max(sps),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in ok),
            "rss_before_mb": statistics.median(r["rss_before_mb"] for r in ok),
            "first_step_s": statistics.median(r["first_step_s"] for r in ok),
            "trainable_params": ok[0].get("trainable_params"), "rounds": len(ok)}


def table(summary: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace) -> str:
    lines = [f"batch {args.batch}, medians of {args.steps} steps after {args.warmup} warm-ups, "
             f"median over {args.rounds} interleaved round(s) (min-max in brackets)", "",
             "| model | mode | system | steps/s | flaxjs / system | peak RSS MiB (before "
             "the first step) | first step s |", "|---|---|---|---|---|---|---|"]
    for key, by_system in summary.items():
        model, mode = key.split("/")
        ours = by_system.get("flaxjs", {}).get("steps_per_s")
        for system, s in by_system.items():
            if "error" in s:
                why = [line for line in s["error"].splitlines() if line.strip()][-1].strip()
                lines.append(f"| {model} | {mode} | {system} | skipped: {why[:100]} | | | |")
                continue
            ratio = "" if system == "flaxjs" or not ours else f"**{ours / s['steps_per_s']:.2f}x**"
            lines.append(f"| {model} | {mode} | {system} | {s['steps_per_s']:.2f} "
                         f"({s['min']:.2f}-{s['max']:.2f}) | {ratio} | {s['peak_rss_mb']:,.0f} "
                         f"({s['rss_before_mb']:,.0f}) | {s['first_step_s']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help=f"from {', '.join(MODELS)}")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--baseline-python", default=sys.executable,
                    help="interpreter with tensorflow + tf-keras / keras 3 + jax")
    ap.add_argument("--model-dir", help="another TF.js model folder (with --models one name, "
                    "whose cut and size it replaces when --cut/--size are given)")
    ap.add_argument("--cut")
    ap.add_argument("--size", type=int)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", help="write every raw result and the summary here")
    args = ap.parse_args(argv)
    models, modes = args.models.split(","), args.modes.split(",")
    systems = args.systems.split(",")
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for model in models:
                for mode in modes:
                    for system in systems:
                        out = Path(tmp) / f"{r}-{model}-{mode}-{system}.json"
                        result = measure(system, model, mode, args, out)
                        raw.setdefault(f"{model}/{mode}", {}).setdefault(system, []).append(
                            result)
                        print(f"round {r + 1} {model} {mode} {system}: "
                              f"{result.get('steps_per_s', result.get('error'))}", flush=True)
    summary = {key: {system: summarize(rs) for system, rs in by_system.items()}
               for key, by_system in raw.items()}
    text = table(summary, args)
    print(text)
    result = {"summary": summary, "raw": raw, "table": text, "settings": vars(args)}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
