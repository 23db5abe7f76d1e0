"""``flaxjs.save_checkpoint`` / ``flaxjs.restore_checkpoint``: models, train states, pytrees.

Round trips in both formats, restoring into a target's structure and placement
(shardings too, on simulated devices in a subprocess), atomic writes, and one
error type for everything that can go wrong.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import flaxjs
from corpus import CORPUS
from flaxjs import finetune as ft
from flaxjs import keras as K
from flaxjs.errors import CheckpointError, FlaxjsError

SYN = CORPUS / "synthetic"
needs_corpus = pytest.mark.skipif(not SYN.is_dir(), reason="../shared/corpus is not present")
FORMATS = ["msgpack", pytest.param("orbax", marks=pytest.mark.skipif(
    importlib.util.find_spec("orbax") is None
    or importlib.util.find_spec("orbax.checkpoint") is None,
    reason="orbax-checkpoint is not installed (optional format)"))]


def _load(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flaxjs.load(path, **kw)


def _where(tmp_path, fmt, name="ckpt"):
    return tmp_path / (f"{name}.msgpack" if fmt == "msgpack" else name)


def _same_bits(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(
        np.asarray(u).tobytes() == np.asarray(v).tobytes() for u, v in zip(la, lb))


def _tree():
    return {"step": jnp.int32(7), "w": {"kernel": jnp.arange(6.0).reshape(2, 3)},
            "opt": (jnp.zeros(3), {"mu": jnp.ones(2)}), "empty": {}}


# ---------------------------------------------------------------- round trips
def test_one_api_everywhere():
    assert ft.save_checkpoint is flaxjs.save_checkpoint
    assert ft.restore_checkpoint is flaxjs.restore_checkpoint
    for old in ("save_variables", "load_variables"):
        assert not hasattr(flaxjs, old)
    assert importlib.util.find_spec("flaxjs.export.checkpoint") is None
    assert importlib.util.find_spec("flaxjs.finetune.checkpoint") is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_pytree_round_trip_and_raw_dict(tmp_path, fmt):
    tree = _tree()
    path = flaxjs.save_checkpoint(_where(tmp_path, fmt), tree, format=fmt)
    back = flaxjs.restore_checkpoint(path, jax.tree_util.tree_map(jnp.zeros_like, tree))
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(tree)
    assert isinstance(back["opt"], tuple) and int(back["step"]) == 7
    assert _same_bits(back, tree)
    raw = flaxjs.restore_checkpoint(path)  # no target: the stored nested dict
    assert isinstance(raw, dict) and set(raw) >= {"step", "w", "opt"}
    np.testing.assert_array_equal(raw["w"]["kernel"], tree["w"]["kernel"])


@needs_corpus
@pytest.mark.parametrize("fmt", FORMATS)
def test_model_round_trip_gives_a_model_holding_the_variables(tmp_path, fmt):
    model = _load(SYN / "batchnorm_train_step")
    changed = jax.tree_util.tree_map(lambda x: x + 1, model.variables)
    path = _where(tmp_path, fmt)
    flaxjs.save_checkpoint(path, changed, format=fmt)
    restored = flaxjs.restore_checkpoint(path, model)
    assert isinstance(restored, flaxjs.Model) and restored is not model
    jax.tree_util.tree_map(np.testing.assert_array_equal, restored.variables, changed)
    assert not _same_bits(model.variables, changed), "the target model is left as it was"
    flaxjs.save_checkpoint(path, restored, format=fmt)  # a Model: its variables are written
    assert set(flaxjs.restore_checkpoint(path)) == set(model.variables)


@functools.lru_cache(maxsize=None)
def _classifier():
    base = _load(SYN / "dense_train_step")
    return base.extend([K.BatchNormalization(momentum=0.9), K.Dropout(0.3),
                        K.Dense(3, activation="softmax")], key=jax.random.key(1)).freeze("dense_1")


def _batch(n=32):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n).astype(np.int32)
    x = np.eye(3, 5, dtype=np.float32)[y] * 2 + rng.normal(0, 0.3, (n, 5)).astype(np.float32)
    return x, y


@needs_corpus
@pytest.mark.parametrize("fmt", FORMATS)
def test_train_state_round_trip_resumes_identically(tmp_path, fmt):
    model, batch = _classifier(), _batch()
    state = ft.TrainState.create(model, optax.adam(1e-2), seed=3)
    for _ in range(3):
        state, _ = ft.train_step(state, batch, loss="categorical_crossentropy")
    path = _where(tmp_path, fmt, "state")
    ft.save_checkpoint(path, state, format=fmt)
    restored = ft.restore_checkpoint(path, ft.TrainState.create(model, optax.adam(1e-2)))
    assert int(restored.step) == 3 and _same_bits(restored, state)
    assert restored.tx is not None and restored.trainable == state.trainable
    a, _ = ft.train_step(state, batch, loss="categorical_crossentropy")
    b, _ = ft.train_step(restored, batch, loss="categorical_crossentropy")
    assert _same_bits(a, b)
    flaxjs.save(model, tmp_path / "web", variables=restored)  # straight to TF.js
    assert (tmp_path / "web" / "model.json").is_file()


def test_restored_arrays_are_placed_like_the_target(tmp_path):
    path = flaxjs.save_checkpoint(tmp_path / "c.msgpack", {"a": jnp.arange(4.0), "n": jnp.int32(5)})
    device = jax.devices()[-1]
    target = jax.device_put({"a": jnp.zeros(4), "n": jnp.int32(0)}, device)
    back = flaxjs.restore_checkpoint(path, target)
    assert all(isinstance(x, jax.Array) and x.sharding == target["a"].sharding
               for x in jax.tree_util.tree_leaves(back))
    back = flaxjs.restore_checkpoint(path, {"a": np.zeros(4, np.float32), "n": np.int32(0)})
    assert isinstance(back["a"], np.ndarray), "numpy targets stay on the host"
    np.testing.assert_array_equal(back["a"], np.arange(4.0))


SHARDED_SCRIPT = textwrap.dedent("""
    import sys, jax, jax.numpy as jnp, numpy as np, flaxjs
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    mesh = Mesh(np.array(jax.devices()), ("data",))
    split, whole = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    tree = {"x": jax.device_put(jnp.arange(8.0), split), "y": jax.device_put(jnp.ones(3), whole)}
    for fmt, path in (("msgpack", sys.argv[1] + "/c.msgpack"), ("orbax", sys.argv[1] + "/c")):
        if fmt == "orbax" and len(sys.argv) > 2:
            continue
        flaxjs.save_checkpoint(path, tree, format=fmt)
        target = {"x": jax.device_put(jnp.zeros(8), split),
                  "y": jax.device_put(jnp.zeros(3), whole)}
        back = flaxjs.restore_checkpoint(path, target)
        assert back["x"].sharding == split and back["y"].sharding == whole, fmt
        assert np.array_equal(back["x"], np.arange(8.0)), fmt
        print(fmt, "ok")
""")


def test_restore_keeps_the_targets_shardings(tmp_path):
    env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "")
                                      + " --xla_force_host_platform_device_count=2").strip(),
               JAX_PLATFORMS="cpu")
    args = [sys.executable, "-c", SHARDED_SCRIPT, str(tmp_path)]
    if importlib.util.find_spec("orbax") is None:
        args.append("no-orbax")
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "msgpack ok" in done.stdout
    assert ("orbax ok" in done.stdout) == (importlib.util.find_spec("orbax") is not None)


# ---------------------------------------------------------------- atomic writes
def test_a_failed_write_leaves_the_old_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "c.msgpack"
    flaxjs.save_checkpoint(path, {"a": jnp.ones(2)})
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(CheckpointError, match="cannot write checkpoint .*No space left"):
        flaxjs.save_checkpoint(path, {"a": jnp.zeros(2)})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.msgpack"]


def test_save_creates_the_folder(tmp_path):
    path = flaxjs.save_checkpoint(tmp_path / "a" / "b" / "c.msgpack", {"a": jnp.ones(1)})
    assert path.is_file() and sorted(p.name for p in path.parent.iterdir()) == ["c.msgpack"]


# ---------------------------------------------------------------- errors
def test_every_failure_is_a_checkpoint_error(tmp_path, monkeypatch):
    assert issubclass(CheckpointError, FlaxjsError)
    with pytest.raises(CheckpointError, match="no checkpoint at .*nothing.msgpack"):
        flaxjs.restore_checkpoint(tmp_path / "nothing.msgpack", {"a": jnp.ones(1)})
    with pytest.raises(CheckpointError, match="format must be one of msgpack, orbax"):
        flaxjs.save_checkpoint(tmp_path / "c", {"a": jnp.ones(1)}, format="pickle")
    assert not (tmp_path / "c").exists()
    garbage = tmp_path / "garbage.msgpack"
    garbage.write_bytes(b"\xc1 not msgpack at all")
    with pytest.raises(CheckpointError, match="garbage.msgpack is not a msgpack checkpoint"):
        flaxjs.restore_checkpoint(garbage)
    with pytest.raises(CheckpointError, match="format must be one of"):
        flaxjs.restore_checkpoint(garbage, format="pickle")
    with pytest.raises(CheckpointError, match="is a folder, not a msgpack"):
        flaxjs.restore_checkpoint(tmp_path, format="msgpack")
    monkeypatch.setitem(sys.modules, "orbax.checkpoint", None)  # as if not installed
    with pytest.raises(CheckpointError, match="pip install orbax-checkpoint"):
        flaxjs.save_checkpoint(tmp_path / "o", {"a": jnp.ones(1)}, format="orbax")
    with pytest.raises(CheckpointError, match="pip install orbax-checkpoint"):
        flaxjs.restore_checkpoint(tmp_path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_checkpoint_that_does_not_fit_is_refused(tmp_path, fmt):
    path = _where(tmp_path, fmt)
    flaxjs.save_checkpoint(path, {"params": {"d": {"kernel": jnp.ones((2, 3))}},
                                  "extra": jnp.ones(1)}, format=fmt)
    target = {"params": {"d": {"kernel": jnp.ones((2, 4)), "bias": jnp.ones(4)}}}
    with pytest.raises(CheckpointError) as err:
        flaxjs.restore_checkpoint(path, target)
    message = str(err.value)
    assert f"checkpoint {path} does not fit" in message
    assert "missing params/d/bias" in message and "unexpected extra" in message
    assert "wrong shape params/d/kernel [2, 3] (expected [2, 4])" in message


@needs_corpus
def test_a_model_checkpoint_does_not_fit_another_model(tmp_path):
    model = _load(SYN / "model_sequential_mlp")
    flaxjs.save_checkpoint(tmp_path / "empty.msgpack", {"params": {}})
    with pytest.raises(CheckpointError, match="does not fit"):
        flaxjs.restore_checkpoint(tmp_path / "empty.msgpack", model)
