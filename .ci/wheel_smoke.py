"""Smoke test of the built wheel in a clean venv (.ci/run runs it there, from a temp folder):
the package, its data files and console script work without the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import flaxjs
from flaxjs import zoo
from flaxjs.examples import transfer_learning  # noqa: F401  (the examples ship too)

assert "site-packages" in flaxjs.__file__, f"flaxjs imported from {flaxjs.__file__}"

# a one-layer Sequential model as TF.js writes it, given in memory with its weight bytes
kernel = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
bias = np.float32([0.5, -1.0, 2.0])
model = flaxjs.load({
    "format": "layers-model",
    "modelTopology": {"class_name": "Sequential", "keras_version": "tfjs-layers 4.22.0",
                      "config": {"name": "smoke", "layers": [{"class_name": "Dense", "config": {
                          "name": "dense", "units": 3, "activation": "linear",
                          "use_bias": True, "batch_input_shape": [None, 2],
                          "dtype": "float32"}}]}},
    "weightsManifest": [{"paths": ["w.bin"], "weights": [
        {"name": "dense/kernel", "shape": [2, 3], "dtype": "float32"},
        {"name": "dense/bias", "shape": [3], "dtype": "float32"}]}],
}, weights={"w.bin": kernel.tobytes() + bias.tobytes()})
x = np.float32([[1, 2], [-3, 0.5]])
np.testing.assert_allclose(np.asarray(model(x)), x @ kernel + bias, rtol=1e-6)
np.testing.assert_allclose(np.asarray(model(x.tolist())), x @ kernel + bias, rtol=1e-6)

assert "mobilenet_v1_1.0_224" in zoo.list(), "the zoo cards are missing from the wheel"
assert zoo.card("mobilenet").preprocessing["kind"] == "image"

script = shutil.which("flaxjs", path=str(Path(sys.executable).parent))
assert script, "the flaxjs console script is not installed"
done = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
assert "predict" in done.stdout and "convert" in done.stdout
print(f"wheel smoke test passed: flaxjs {flaxjs.__version__} from {Path(flaxjs.__file__).parent}")
