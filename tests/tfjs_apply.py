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
import pytest

import tfjs_node
from corpus import TOLERANCE, max_error
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


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    """Uniform [-1, 1) float32 test data."""
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def live_outputs(live: list[tuple[str, dict, tuple[int, ...]]], workdir: Path, *,
                 with_weights: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """flaxjs's and TF.js's outputs for ``(class_name, config, input shape)`` cases.

    Inputs are :func:`rand` data; with ``with_weights`` each layer's own ``init`` gives
    the weights (biases shifted off zero) and TF.js receives the same ones.
    """
    cases, ours = [], []
    for i, (cls, cfg, shape) in enumerate(live):
        x = rand(*shape, seed=i)
        module = module_for(cls, cfg)
        params = {}
        if with_weights:
            params = {k: v + 0.1 * (k == "bias") for k, v in init_params(module, x, seed=i).items()}
        ours.append(np.asarray(module.apply({"params": params} if params else {}, x)))
        cases.append((cls, cfg, x, params))
    return ours, tfjs_outputs(cases, workdir)


def edge_case_tests(live: list[tuple[str, dict, tuple[int, ...]]], *, with_weights: bool = False):
    """The module-scoped ``live`` fixture and the test comparing each case with TF.js.

    Usage in a test module: ``live, test_edge_cases_match_tfjs = edge_case_tests(LIVE)``.
    """

    @pytest.fixture(scope="module", name="live")
    def fixture(tmp_path_factory):
        if not available():
            pytest.skip("node/npm not available")
        return live_outputs(live, tmp_path_factory.mktemp("tfjs"), with_weights=with_weights)

    @pytest.mark.parametrize("index", range(len(live)),
                             ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(live)])
    def test(live, index):
        ours, theirs = live
        assert max_error(ours[index], theirs[index]) <= TOLERANCE

    return fixture, test
