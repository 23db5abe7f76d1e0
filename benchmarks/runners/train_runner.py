"""One training measurement of ``bench_train.py``: one system, model and mode, in a fresh process.

``--system flaxjs``: ``flaxjs.load(dir).truncate(cut)``, frozen as the mode says,
``extend`` with GlobalAveragePooling2D + Dense(classes, softmax), ``finetune.train_step``
with adam. ``--system tfkeras``: TF-CPU + tf-keras (Keras 2), ``keras3-jax``: Keras 3
on JAX; both rebuild the model from model.json's Keras config, set every weight by name
from flaxjs's numpy decoder (``keras_runner.assign_weights``), cut it with
``Model(inputs, get_layer(cut).output)``, add the same head, set ``trainable`` as the
mode says, compile adam + sparse categorical cross-entropy and time ``train_on_batch``.

Modes: ``frozen`` (only the head trains; frozen BatchNormalization runs in inference
mode in all three), ``full`` (every layer trains), ``top`` (the head and the layers
matching ``--top`` train). The result JSON holds the per-step seconds after
``--warmup`` steps, the first step (trace + compile) and the process's resident memory:
before the first step and at its peak (``ru_maxrss``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common


def rss_mb() -> float:
    """Current resident set size (``VmRSS``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch(args: Any, channels: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (args.batch, args.size, args.size, channels)).astype(np.float32)
    return x, rng.integers(0, args.classes, args.batch).astype(np.int32)


def time_steps(step: Any, args: Any) -> dict[str, Any]:
    """``step()`` runs one training step and returns once its results are on the host."""
    before = rss_mb()
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    for _ in range(args.warmup - 1):
        step()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"first_step_s": first, "step_s": times, "median_step_s": statistics.median(times),
            "steps_per_s": 1 / statistics.median(times), "rss_before_mb": before,
            "peak_rss_mb": peak_rss_mb()}


def run_flaxjs(args: Any) -> dict[str, Any]:
    import jax
    import optax

    import flaxjs
    from flaxjs import finetune as ft
    from flaxjs import keras as K  # noqa: N812 - the Keras-style namespace

    base = flaxjs.load(args.model).truncate(args.cut)
    if args.mode == "frozen":
        base = base.freeze()
    elif args.mode == "top":
        base = base.freeze().unfreeze(args.top)
    model = base.extend([K.GlobalAveragePooling2D(name="bench_pool"),
                         K.Dense(args.classes, activation="softmax", name="bench_logits")],
                        key=jax.random.key(0))
    state = ft.TrainState.create(model, optax.adam(1e-3))
    data = jax.device_put(batch(args))
    trainable, total = ft.masks.count(state.params, state.mask)

    def step() -> None:
        nonlocal state
        state, logs = ft.train_step(state, data, loss="sparse_categorical_crossentropy")
        float(logs["loss"])
        jax.block_until_ready(state)

    return {"versions": {"jax": jax.__version__, "flaxjs": flaxjs.__version__},
            "trainable_params": trainable, "params": total, **time_steps(step, args)}


def run_keras(args: Any) -> dict[str, Any]:
    import keras_runner
    if args.system == "keras3-jax":
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import jax
        import keras
        versions = {"keras": keras.__version__, "jax": jax.__version__}
    else:
        import tensorflow as tf
        import tf_keras as keras
        versions = {"tf_keras": keras.__version__, "tensorflow": tf.__version__}
    pure = common.flaxjs_pure_modules()
    model_json, shards = common.read_model_folder(args.model)
    weights = pure.decode.decode_weights(pure.manifest.parse_manifest(
        model_json.get("weightsManifest")), shards)
    config = pure.parse.model_config_of(model_json)
    for layer in config["config"]["layers"]:  # the input size asked for (--size)
        if layer["class_name"] == "InputLayer":
            shape = layer["config"].get("batch_input_shape") or layer["config"]["batch_shape"]
            shape[1:3] = [args.size, args.size]
    if args.system == "keras3-jax":
        full = keras.Model.from_config(config["config"])
    else:
        full = keras.models.model_from_json(json.dumps(config))
    keras_runner.assign_weights(full, weights)
    base = keras.Model(full.inputs, full.get_layer(args.cut).output)
    for layer in base.layers:
        layer.trainable = (args.mode == "full" or (args.mode == "top" and any(
            fnmatch.fnmatchcase(layer.name, p) for p in args.top)))
    y = keras.layers.GlobalAveragePooling2D(name="bench_pool")(base.output)
    y = keras.layers.Dense(args.classes, activation="softmax", name="bench_logits")(y)
    model = keras.Model(base.inputs, y)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    x, labels = batch(args)

    def step() -> None:
        float(np.asarray(model.train_on_batch(x, labels)))

    trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    total = int(sum(np.prod(v.shape) for v in model.weights))
    return {"versions": versions, "trainable_params": trainable, "params": total,
            **time_steps(step, args)}


def main() -> int:
    ap = common.argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--system", required=True, choices=["flaxjs", "tfkeras", "keras3-jax"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--cut", required=True)
    ap.add_argument("--mode", required=True, choices=["frozen", "full", "top"])
    ap.add_argument("--top", nargs="*", default=[], help="layer-name patterns of the top block")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    run = run_flaxjs if args.system == "flaxjs" else run_keras
    return common.main_guard(args.out, args.system, lambda: {"mode": args.mode, **run(args)})


if __name__ == "__main__":
    sys.exit(main())
