"""Loading a zoo model shipped as JavaScript modules: re-parsed every time, or decoded once.

npm packages such as nsfwjs ship model.json as ``model.min.js`` and every shard as a
base64 ``<shard>.min.js`` module. ``zoo.load`` decodes them once into the model's
``.decoded/`` folder and loads that afterwards; this script measures both ways on
the same model in the same process, alternating, and prints the ratio.

    python benchmarks/bench_zoo_load.py                      # nsfwjs InceptionV3 of the corpus
    python benchmarks/bench_zoo_load.py --model DIR --rounds 5
    python benchmarks/bench_zoo_load.py --quick              # tiny settings (what the tests run)

The model folder (model.json + shards) is wrapped as JavaScript modules the way nsfwjs
ships them, served to the zoo from a local folder, under a temporary ``FLAXJS_HOME``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
DEFAULT_MODEL = CORPUS / "wild" / "nsfwjs-inception-v3"
QUICK_MODEL = CORPUS / "synthetic" / "weights_sharded_1000_bytes"


def wrap_as_modules(model: Path, dest: Path) -> None:
    """``model``'s model.json and shards as nsfwjs-style JavaScript modules in ``dest``."""
    dest.mkdir(parents=True)
    text = (model / "model.json").read_text()
    (dest / "model.min.js").write_text("module.exports=" + text)
    for group in json.loads(text)["weightsManifest"]:
        for name in group["paths"]:
            encoded = base64.b64encode((model / name).read_bytes()).decode()
            (dest / f"{name}.min.js").write_text(f'module.exports="{encoded}";')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a model.json folder (default: the "
                        "corpus's nsfwjs InceptionV3)")
    parser.add_argument("--rounds", type=int, default=3, help="loads of each kind (median)")
    parser.add_argument("--quick", action="store_true", help="a tiny model, one round")
    args = parser.parse_args(argv)
    model = args.model or (QUICK_MODEL if args.quick else DEFAULT_MODEL)
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="flaxjs-bench-zoo-") as tmp:
        os.environ["FLAXJS_HOME"] = str(Path(tmp) / "home")
        import flaxjs
        from flaxjs import zoo

        package = Path(tmp) / "package"
        wrap_as_modules(model, package)
        zoo.register({"name": "bench_js", "sources": [{"url": package.as_uri()}],
                      "files": ["model.min.js"], "weights_from_manifest": True})
        start = time.perf_counter()
        zoo.load("bench_js", progress=False)  # fetch (a copy) + decode, and warm JAX up
        first = time.perf_counter() - start
        folder = zoo.fetch("bench_js", progress=False)
        times: dict[str, list[float]] = {"js": [], "decoded": []}
        for _ in range(rounds):
            start = time.perf_counter()
            flaxjs.load(folder / "model.min.js")
            times["js"].append(time.perf_counter() - start)
            start = time.perf_counter()
            zoo.load("bench_js", progress=False)
            times["decoded"].append(time.perf_counter() - start)
    js, dec = statistics.median(times["js"]), statistics.median(times["decoded"])
    print(f"model: {model.name}, {rounds} round(s), median seconds")
    print("| load | s |")
    print("|---|---|")
    print(f"| first zoo.load (copy + decode + load) | {first:.3f} |")
    print(f"| the JavaScript modules, parsed (before) | {js:.3f} |")
    print(f"| zoo.load from the decoded copy | {dec:.3f} |")
    print(f"decoded / parsed: {dec / js:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
