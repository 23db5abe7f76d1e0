"""One flaxjs measurement: ``flaxjs.load(dir)`` then ``model(x)`` (see ``common.py``).

``--compile-cache DIR`` points JAX's persistent compilation cache at DIR through
``flaxjs.configure`` (when this flaxjs has it); the cache entries present before and
after the run are counted, so the table can tell a cold first call from a warm one.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

sys.path.insert(1, str(common.REPO))  # this checkout's flaxjs, installed or not


def _count_files(folder: str | None) -> int | None:
    if not folder or not os.path.isdir(folder):
        return None
    return sum(len(files) for _, _, files in os.walk(folder))


def main() -> int:
    ap = common.runner_args(__doc__)
    ap.add_argument("--compile-cache", help="JAX persistent compilation cache folder")
    ap.add_argument("--system", default="flaxjs", help="name recorded in the result")
    args = ap.parse_args()

    def body() -> dict:
        start = time.perf_counter()
        import jax
        import numpy as np

        import flaxjs
        import_ms = (time.perf_counter() - start) * 1e3
        info = {"flaxjs_version": flaxjs.__version__, "jax_version": jax.__version__,
                "import_ms": import_ms, "compile_cache": None,
                "cache_files_before": _count_files(args.compile_cache)}
        configure = getattr(flaxjs, "configure", None)
        if configure is None:
            info["note"] = "flaxjs has no configure(): compilation cache not used"
        elif args.compile_cache:
            configure(compilation_cache=args.compile_cache)
            info["compile_cache"] = args.compile_cache
        runtime = getattr(flaxjs, "runtime", None)
        if runtime is not None and hasattr(runtime, "micro_batch"):
            info["micro_batch"] = runtime.micro_batch()
        if runtime is not None and hasattr(runtime, "default_compiler_options"):
            # flaxjs's XLA options, passed per compilation (XLA_FLAGS is left as given)
            info["compiler_options"] = runtime.default_compiler_options()

        x1, xb, _ = common.read_inputs(args.inputs)
        start = time.perf_counter()
        model = flaxjs.load(args.model)
        jax.block_until_ready(model.variables)
        info["load_ms"] = (time.perf_counter() - start) * 1e3

        def run(xs):
            return common.flat_outputs(model(*[np.asarray(x) for x in xs]))

        info.update(common.measure(run, x1, xb, args))
        info["cache_files_after"] = _count_files(args.compile_cache)
        info["device"] = str(jax.devices()[0])
        return info

    return common.main_guard(args.out, args.system, body)


if __name__ == "__main__":
    sys.exit(main())
