"""One Keras baseline measurement (see ``common.py`` for the protocol).

``--impl keras3-jax``: Keras 3 on JAX (``KERAS_BACKEND=jax``), the model rebuilt with
``keras.Model.from_config`` from model.json's Keras config, called as
``jax.jit(model.stateless_call)`` with the variables as arguments.

``--impl tfkeras-tffunction``: TensorFlow + tf-keras (Keras 2),
``tf_keras.models.model_from_json``, called through a ``tf.function`` with a
``[None, H, W, C]`` input signature.

Both set every variable by name from the manifest decoded by flaxjs's decoder (the
exact values TF.js computes, quantized weights included). ``load_ms`` = read
model.json + shards, decode, build, set the weights. Runs in any interpreter with
numpy and the Keras/TF/JAX packages; flaxjs itself is not imported (only its
numpy-only decoder), so ``XLA_FLAGS`` stays as given.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

# Keras 3 renamed DepthwiseConv2D's variable; the manifest has the Keras 2 name.
_ALIASES = {"depthwise_kernel": ("kernel",), "kernel": ("depthwise_kernel",)}


def _short_name(variable: Any) -> str:
    """``kernel`` from Keras 3's ``kernel`` or tf-keras's ``conv1/kernel:0``."""
    return variable.name.split("/")[-1].split(":")[0]


def _leaf_layers(layers: Any) -> list[Any]:
    out = []
    for layer in layers:
        inner = getattr(layer, "layers", None)
        out.extend(_leaf_layers(inner) if inner else [layer])
    return out


def assign_weights(model: Any, weights: dict[str, Any]) -> int:
    """Set every layer's variables from ``{"layer/variable": array}``; all must be used."""
    used: set[str] = set()
    for layer in _leaf_layers(model.layers):
        variables = list(layer.weights)
        if not variables:
            continue
        values = []
        for v in variables:
            short = _short_name(v)
            candidates = [f"{layer.name}/{n}" for n in (short, *_ALIASES.get(short, ()))]
            key = next((k for k in candidates if k in weights), None)
            if key is None:  # a model-name prefix in the manifest ("model/layer/var")
                key = next((k for k in weights for c in candidates
                            if k.endswith("/" + c) and k not in used), None)
            if key is None:
                raise KeyError(f"no manifest weight for {layer.name}/{short}")
            if tuple(weights[key].shape) != tuple(v.shape):
                raise ValueError(f"{key}: manifest shape {weights[key].shape}, "
                                 f"model {tuple(v.shape)}")
            values.append(weights[key])
            used.add(key)
        layer.set_weights(values)
    unused = sorted(set(weights) - used)
    if unused:
        raise ValueError(f"{len(unused)} manifest weights not used, e.g. {unused[:3]}")
    return len(used)


def main() -> int:
    ap = common.runner_args(__doc__)
    ap.add_argument("--impl", required=True, choices=["keras3-jax", "tfkeras-tffunction"])
    ap.add_argument("--system", help="name recorded in the result (default: --impl)")
    args = ap.parse_args()

    def body() -> dict:
        import numpy as np
        pure = common.flaxjs_pure_modules()
        info: dict[str, Any] = {}
        start = time.perf_counter()
        if args.impl == "keras3-jax":
            os.environ.setdefault("KERAS_BACKEND", "jax")
            import jax
            import keras
            info["versions"] = {"keras": keras.__version__, "jax": jax.__version__}
        else:
            import tensorflow as tf
            import tf_keras
            info["versions"] = {"tf_keras": tf_keras.__version__, "tensorflow": tf.__version__}
        info["import_ms"] = (time.perf_counter() - start) * 1e3

        x1, xb, _ = common.read_inputs(args.inputs)
        start = time.perf_counter()
        model_json, shards = common.read_model_folder(args.model)
        manifest = pure.manifest.parse_manifest(model_json.get("weightsManifest"))
        weights = pure.decode.decode_weights(manifest, shards)
        config = pure.parse.model_config_of(model_json)
        decoded = time.perf_counter()
        if args.impl == "keras3-jax":
            inner = copy.deepcopy(config["config"])
            if config["class_name"] == "Sequential":
                if isinstance(inner, list):  # Keras <= 2.1 wrote the bare layer list
                    inner = {"name": "sequential", "layers": inner}
                model = keras.Sequential.from_config(inner)
            else:
                model = keras.Model.from_config(inner)
        else:
            model = tf_keras.models.model_from_json(json.dumps(config))
        built = time.perf_counter()
        info["n_weights"] = assign_weights(model, weights)
        done = time.perf_counter()
        info["load_ms"] = (done - start) * 1e3
        info["load_parts_ms"] = {"read_decode": (decoded - start) * 1e3,
                                 "build": (built - decoded) * 1e3,
                                 "set_weights": (done - built) * 1e3}

        if args.impl == "keras3-jax":
            trainable = [v.value for v in model.trainable_variables]
            frozen = [v.value for v in model.non_trainable_variables]
            single = len(x1) == 1

            @jax.jit
            def forward(trainable, frozen, *xs):
                y, _ = model.stateless_call(trainable, frozen, xs[0] if single else list(xs),
                                            training=False)
                return y

            def run(xs):
                return common.flat_outputs(jax.device_get(forward(trainable, frozen, *xs)))
        else:
            signature = [tf.TensorSpec([None, *x.shape[1:]], tf.as_dtype(x.dtype)) for x in x1]
            single = len(x1) == 1
            fn = tf.function(lambda *xs: model(xs[0] if single else list(xs), training=False),
                             input_signature=signature)

            def run(xs):
                out = fn(*[tf.constant(x) for x in xs])
                return common.flat_outputs(tf.nest.map_structure(lambda t: t.numpy(), out))

        info.update(common.measure(run, x1, xb, args))
        info["np_version"] = np.__version__
        return info

    return common.main_guard(args.out, args.system or args.impl, body)


if __name__ == "__main__":
    sys.exit(main())
