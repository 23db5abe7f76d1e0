"""Data parallelism: 8 simulated CPU devices give the loss curve of one device.

``--xla_force_host_platform_device_count`` must be set before jax is imported,
so the 8-device run is this file executed as a script in a subprocess. The
model has frozen layers, a trainable BatchNormalization (its batch statistics
are those of the global batch) and Dropout (the masks are drawn for the global
batch, so they do not depend on how it is split).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
SHARED_CORPUS = Path(os.environ.get("FLAXJS_SHARED", HERE.parents[1] / "shared")) / "corpus"
STEPS = 8
GLOBAL_BATCH = 32


def loss_curve(mesh_devices: int | None) -> dict:
    """Train ``STEPS`` steps on a mesh of the first ``mesh_devices`` devices."""
    import jax
    import optax

    import flaxjs
    from corpus import CORPUS
    from flaxjs import finetune as ft
    from flaxjs import keras as K

    jax.config.update("jax_default_matmul_precision", "highest")
    # dense_2 is frozen too: a trainable bias just before a BatchNormalization gets a
    # zero gradient up to rounding, which Adam turns into +-lr steps in random directions.
    base = flaxjs.load(CORPUS / "synthetic" / "dense_train_step").freeze(["dense_1", "dense_2"])
    model = base.extend([K.BatchNormalization(momentum=0.9), K.Dropout(0.25),
                         K.Dense(3, activation="softmax")], key=jax.random.key(1))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS * GLOBAL_BATCH, 5)).astype(np.float32)
    y = (np.argmax(x[:, :3], axis=1)).astype(np.int32)
    devices = jax.devices()[:mesh_devices] if mesh_devices else jax.devices()
    mesh = ft.data_mesh(devices)
    state = ft.replicate(ft.TrainState.create(model, optax.adam(1e-2), seed=7), mesh)
    losses, accs = [], []
    for i in range(STEPS):
        rows = slice(i * GLOBAL_BATCH, (i + 1) * GLOBAL_BATCH)
        batch = ft.shard_batch((x[rows], y[rows]), mesh)
        state, logs = ft.train_step(state, batch, loss="categorical_crossentropy",
                                    metrics=["accuracy"])
        losses.append(float(logs["loss"]))
        accs.append(float(logs["accuracy"]))
    spread = len(batch[0].sharding.device_set)
    _, hist = ft.fit(state, x, y, epochs=2, batch_size=GLOBAL_BATCH, shuffle=True, mesh=mesh,
                     loss="categorical_crossentropy", verbose=0)
    return {"devices": len(devices), "batch_spread_over": spread, "loss": losses,
            "accuracy": accs, "fit_loss": hist["loss"],
            "batch_stats": [np.asarray(v).tolist() for v in
                            jax.tree_util.tree_leaves(state.batch_stats)]}


@pytest.mark.skipif(not (SHARED_CORPUS / "synthetic" / "dense_train_step").is_dir(),
                    reason="../shared/corpus/synthetic is not present")
def test_eight_simulated_devices_match_one_device():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                        " --xla_force_host_platform_device_count=8").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, str(Path(__file__).resolve())], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    many, one_of_many = json.loads(done.stdout.strip().splitlines()[-1])
    here = loss_curve(None)
    assert many["devices"] == 8 and many["batch_spread_over"] == 8
    assert one_of_many["devices"] == 1 and here["devices"] == 1
    for other in (one_of_many, here):
        np.testing.assert_allclose(many["loss"], other["loss"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(many["fit_loss"], other["fit_loss"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(many["batch_stats"], other["batch_stats"], rtol=1e-5,
                                   atol=1e-6)
        assert many["accuracy"] == other["accuracy"]
    assert many["fit_loss"][-1] < many["fit_loss"][0]


if __name__ == "__main__":
    import jax

    if jax.device_count() != 8:
        sys.exit(f"expected 8 simulated devices, got {jax.device_count()}")
    print(json.dumps([loss_curve(None), loss_curve(1)]))
