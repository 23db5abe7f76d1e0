"""Train steps per second with the base frozen versus fully fine-tuned, and an inference step.

The model is a pretrained TF.js MobileNet cut at ``--cut`` plus a
GlobalAveragePooling2D + Dense head. Three jitted steps run on the same batch:

* ``inference``: ``predict_step`` (forward only, inference mode);
* ``frozen``: ``train_step`` with the base frozen (``model.freeze()``: only the head
  is differentiated; frozen BatchNormalization layers run in inference mode);
* ``full``: ``train_step`` with every layer trainable (batch statistics, full backward).

It prints steps/s, ``full/frozen`` (how much faster a frozen base trains) and
``frozen/inference`` (the overhead of training a head over running the base;
the target is <= 1.3). Not a timed test: the test suite runs it with tiny settings.

Usage::

  python benchmarks/bench_train.py                      # batch 32, 224x224, on jax's default device
  python benchmarks/bench_train.py --batch 64 --size 160 --steps 50 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path(os.environ.get("FLAXJS_SHARED", ROOT.parent / "shared")) / "corpus" / \
    "wild" / "mobilenet-v1-0.25-224"


def _time(fns: dict[str, Any], states: dict[str, Any], steps: int, warmup: int
          ) -> dict[str, float]:
    """Median seconds per call of ``state = fn(state)`` for each named step.

    The steps are timed in interleaved rounds, so that a machine whose load changes
    during the run (shared CI runners) slows them alike. (The much heavier full
    fine-tuning step is timed on its own: right after it, the next step pays for
    freeing its buffers.)
    """
    for name, fn in fns.items():
        for _ in range(warmup):
            states[name] = jax.block_until_ready(fn(states[name]))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(steps):
        for name, fn in fns.items():
            start = time.perf_counter()
            states[name] = jax.block_until_ready(fn(states[name]))
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def run(model_path: str | os.PathLike[str] = DEFAULT_MODEL, *, cut: str = "conv_pw_13_relu",
        batch: int = 32, size: int = 224, classes: int = 10, steps: int = 20, warmup: int = 3,
        seed: int = 0) -> dict[str, Any]:
    """Measure the three steps; returns a dict of timings and ratios."""
    import flaxjs
    from flaxjs import finetune as ft
    from flaxjs import keras as K  # noqa: N812 - the Keras-style namespace

    base = flaxjs.load(model_path).truncate(cut)
    head = [K.GlobalAveragePooling2D(name="pool"), K.Dense(classes, activation="softmax",
                                                           name="logits")]
    key = jax.random.key(seed)
    full_model = base.extend(head, key=key)
    frozen_model = base.freeze().extend(head, key=key)
    rng = np.random.default_rng(seed)
    channels = base.input_specs[0].shape[-1] or 3
    x = rng.uniform(-1, 1, (batch, size, size, channels)).astype(np.float32)
    y = rng.integers(0, classes, batch).astype(np.int32)
    data = jax.device_put((x, y))
    loss = "sparse_categorical_crossentropy"

    frozen = ft.TrainState.create(frozen_model, optax.adam(1e-3))
    full = ft.TrainState.create(full_model, optax.adam(1e-3))

    def infer(state: Any) -> Any:
        ft.predict_step(state, data[0]).block_until_ready()
        return state

    def train(state: Any) -> Any:
        return ft.train_step(state, data, loss=loss)[0]

    timed = _time({"inference": infer, "frozen": train}, {"inference": frozen, "frozen": frozen},
                  steps, warmup)
    t_infer, t_frozen = timed["inference"], timed["frozen"]
    t_full = _time({"full": train}, {"full": full}, steps, warmup)["full"]
    n_frozen, n_total = ft.masks.count(frozen.params, frozen.mask)
    return {
        "device": str(jax.devices()[0].device_kind), "devices": jax.device_count(),
        "model": Path(model_path).name, "cut": cut, "batch": batch, "size": size,
        "trainable_params": {"frozen": n_frozen, "full": n_total},
        "steps_per_s": {"inference": 1 / t_infer, "frozen": 1 / t_frozen, "full": 1 / t_full},
        "full_over_frozen_time": t_full / t_frozen,
        "frozen_over_inference_time": t_frozen / t_infer,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="TF.js model folder or URL")
    parser.add_argument("--cut", default="conv_pw_13_relu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.model, cut=args.cut, batch=args.batch, size=args.size,
                 classes=args.classes, steps=args.steps, warmup=args.warmup)
    if args.json:
        print(json.dumps(result))
    else:
        sps = result["steps_per_s"]
        print(f"{result['model']} cut at {result['cut']}, batch {result['batch']} x "
              f"{result['size']}x{result['size']}, {result['devices']} x {result['device']}")
        print(f"  inference step      {sps['inference']:9.2f} steps/s")
        print(f"  train, base frozen  {sps['frozen']:9.2f} steps/s "
              f"({result['trainable_params']['frozen']:,} trainable params)")
        print(f"  train, full         {sps['full']:9.2f} steps/s "
              f"({result['trainable_params']['full']:,} params)")
        print(f"  frozen is {result['full_over_frozen_time']:.2f}x faster than full fine-tuning")
        print(f"  frozen train step = {result['frozen_over_inference_time']:.2f}x an inference "
              "step (target <= 1.3)")
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
