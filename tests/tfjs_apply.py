"""Ask TF.js (node, tfjs 4.22 from the oracle tool) for the output of single layers.

Each case is one Keras layer config; its weights come from the flaxjs module's
own ``init`` and are handed to TF.js with ``layer.setWeights``, so both sides
compute with the same numbers. All cases of a test module go in one node run.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

import tfjs_node
from flaxjs.layers import registry
from flaxjs.topology.config import camel
from flaxjs.topology.spec import LayerSpec

APPLY_JS = r"""
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const cases = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const out = cases.map(c => {
  const layer = tf.layers[c.ctor](c.config);
  const x = tf.tensor(c.x.data, c.x.shape, 'float32');
  layer.apply(x);
  layer.setWeights(c.weights.map(w => tf.tensor(w.data, w.shape, 'float32')));
  const y = layer.apply(x);
  return {shape: y.shape, data: Array.from(y.dataSync())};
});
process.stdout.write(JSON.stringify(out));
"""

_STRING_VALUES = {"data_format", "padding", "interpolation", "activation"}


def available() -> bool:
    return tfjs_node.available()


def module_for(class_name: str, config: dict, keras3: bool = False):
    return registry.convert(LayerSpec(class_name, "layer", dict(config), keras3=keras3))


def init_params(module, x, seed: int = 0) -> dict:
    variables = module.init(jax.random.key(seed), x)
    return {k: np.asarray(v) for k, v in variables.get("params", {}).items()}


def tfjs_outputs(cases: list[tuple[str, dict, np.ndarray, dict]], workdir: Path
                 ) -> list[np.ndarray]:
    """TF.js outputs for ``(class_name, snake_case config, x, params)`` cases."""
    payload = []
    for class_name, config, x, params in cases:
        cfg = {camel(k): (camel(v) if k in _STRING_VALUES and isinstance(v, str) else v)
               for k, v in config.items()}
        ctor = class_name[0].lower() + class_name[1:]
        ctor = ctor if ctor == "cropping2D" else ctor.replace("D", "d")
        payload.append({"ctor": ctor,
                        "config": cfg,
                        "x": {"shape": list(x.shape), "data": x.ravel().tolist()},
                        "weights": [{"shape": list(w.shape), "data": w.ravel().tolist()}
                                    for w in params.values()]})
    path = workdir / "cases.json"
    path.write_text(json.dumps(payload))
    raw = json.loads(tfjs_node.run_node(APPLY_JS, str(path)))
    return [np.asarray(r["data"], np.float32).reshape(r["shape"]) for r in raw]
