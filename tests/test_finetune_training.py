"""Losses, Dropout RNG, ``fit`` (data sources, history, callbacks, progress); checkpoints of
a ``TrainState`` are in test_checkpoint.py."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import flaxjs
from corpus import CORPUS
from flaxjs import finetune as ft
from flaxjs import keras as K

pytestmark = pytest.mark.skipif(not (CORPUS / "synthetic").is_dir(),
                                reason="../shared/corpus/synthetic is not present")

SYN = CORPUS / "synthetic"


@functools.lru_cache(maxsize=None)
def _classifier(dropout: float = 0.0):
    """Dense(tanh) → Dense from the corpus, plus a trainable BatchNorm/Dropout/softmax head."""
    base = flaxjs.load(SYN / "dense_train_step")
    return base.extend([K.BatchNormalization(momentum=0.9), K.Dropout(dropout),
                        K.Dense(3, activation="softmax")], key=jax.random.key(1))


def _blobs(n: int = 96, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    centers = np.eye(3, 5, dtype=np.float32) * 2.0
    x = centers[y] + rng.normal(0, 0.3, (n, 5)).astype(np.float32)
    return x, y


# ---------------------------------------------------------------- losses
def test_cross_entropy_on_probabilities_equals_cross_entropy_on_logits():
    logits = jax.random.normal(jax.random.key(0), (6, 4))
    labels = jnp.array([0, 1, 2, 3, 0, 1])
    from_logits = ft.softmax_cross_entropy(logits, labels, from_logits=True)
    from_probs = ft.softmax_cross_entropy(jax.nn.softmax(logits), labels, from_logits=False)
    assert np.allclose(from_logits, from_probs, atol=1e-5)
    one_hot = jax.nn.one_hot(labels, 4)
    assert np.allclose(ft.CrossEntropy(False)(jax.nn.softmax(logits), one_hot), from_probs)
    assert np.allclose(ft.get_loss("softmax_cross_entropy")(logits, labels[:, None]), from_logits)
    assert ft.get_loss("categorical_crossentropy") == ft.CrossEntropy(from_logits=False)


def test_probability_cross_entropy_is_clipped_like_tfjs():
    probs = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    value = ft.softmax_cross_entropy(probs, jnp.array([1, 1]), from_logits=False)
    assert np.isfinite(value).all() and float(value[1]) < 1e-6 < float(value[0])


def test_accuracy_and_mse_shapes():
    out = jnp.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert ft.accuracy(out, jnp.array([1, 0, 0])).tolist() == [1.0, 1.0, 0.0]
    assert ft.accuracy(out, jax.nn.one_hot(jnp.array([1, 1, 1]), 2)).tolist() == [1.0, 0.0, 1.0]
    assert ft.mean_squared_error(out, jnp.zeros_like(out)).shape == (3,)
    with pytest.raises(ValueError, match="unknown loss"):
        ft.get_loss("hinge_of_doom")


def test_sample_weights_follow_tfjs_reduction():
    model = _classifier()
    x, y = _blobs(8)
    state = ft.TrainState.create(model, optax.sgd(0.0))
    w = np.arange(8, dtype=np.float32)
    weighted = ft.eval_step(state, (x, y, w), loss="sparse_categorical_crossentropy")
    per_sample = ft.CrossEntropy()(ft.predict_step(state, x), y)
    assert float(weighted["loss"]) == pytest.approx(float(jnp.mean(per_sample * w)), rel=1e-5)


# ---------------------------------------------------------------- RNG and steps
def test_dropout_uses_a_new_key_every_step_and_is_reproducible():
    model = _classifier(0.5)
    x, y = _blobs(16)

    def losses(seed):
        state = ft.TrainState.create(model, optax.sgd(0.0), seed=seed)
        out = []
        for _ in range(3):
            state, logs = ft.train_step(state, (x, y), loss="categorical_crossentropy")
            out.append(float(logs["loss"]))
        return out

    first = losses(0)
    assert len(set(first)) == 3, "each step draws another Dropout mask"
    assert losses(0) == first
    assert losses(1) != first
    assert float(ft.eval_step(ft.TrainState.create(model, optax.sgd(0.0)), (x, y),
                              loss="categorical_crossentropy")["loss"]) not in first


def test_trainable_batchnorm_updates_its_moving_statistics():
    model = _classifier()
    x, y = _blobs(16)
    state = ft.TrainState.create(model, optax.sgd(0.1))
    new, _ = ft.train_step(state, (x, y), loss="categorical_crossentropy")
    bn = "batch_normalization"
    assert not np.array_equal(new.batch_stats[bn]["moving_mean"],
                              state.batch_stats[bn]["moving_mean"])
    frozen = ft.TrainState.create(model.freeze(bn), optax.sgd(0.1))
    new, _ = ft.train_step(frozen, (x, y), loss="categorical_crossentropy")
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(
        lambda a, b: np.asarray(a).tobytes() == np.asarray(b).tobytes(),
        new.batch_stats, frozen.batch_stats))


def test_make_train_step_equals_train_step():
    model = _classifier(0.5)
    x, y = _blobs(16)
    state = ft.TrainState.create(model, optax.adam(1e-2))
    step = ft.make_train_step("categorical_crossentropy", ["accuracy"], donate=False)
    a, logs_a = step(state, (x, y))
    b, logs_b = ft.train_step(state, (x, y), loss="categorical_crossentropy",
                              metrics=["accuracy"])
    assert float(logs_a["loss"]) == float(logs_b["loss"])
    assert float(logs_a["accuracy"]) == float(logs_b["accuracy"])
    assert np.array_equal(a.params["dense"]["kernel"], b.params["dense"]["kernel"])


# ---------------------------------------------------------------- fit
def test_fit_on_arrays_learns_and_records_history():
    model = _classifier()
    x, y = _blobs(96)
    xv, yv = _blobs(48, seed=1)
    state = ft.TrainState.create(model, optax.adam(3e-2))
    state, history = ft.fit(state, x, y, epochs=4, batch_size=32, loss="categorical_crossentropy",
                            metrics=["accuracy"], validation_data=(xv, yv), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == [0, 1, 2, 3]
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.9
    assert int(state.step) == 4 * 3
    assert "val_accuracy" in repr(history)
    trained = ft.updated_model(model, state)
    logs = ft.evaluate(state, xv, yv, loss="categorical_crossentropy", metrics=["accuracy"])
    assert logs["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    acc = float(np.mean(np.argmax(np.asarray(trained(xv)), -1) == yv))
    assert acc == pytest.approx(logs["accuracy"])


def test_fit_on_iterables_callables_and_callbacks(capsys):
    model = _classifier()
    x, y = _blobs(64)
    batches = list(ft.array_batches(x, y, 16))
    seen = []

    def stop_after_two(epoch, logs, state):
        seen.append((epoch, int(state.step), sorted(logs)))
        return epoch == 1

    state = ft.TrainState.create(model, optax.adam(1e-2))
    state, history = ft.fit(state, batches, epochs=5, loss="categorical_crossentropy",
                            callbacks=[stop_after_two], verbose=0)
    assert [s[:2] for s in seen] == [(0, 4), (1, 8)] and history.epoch == [0, 1]

    def swap_lr(epoch, logs, state):
        return ft.TrainState.create(model, optax.sgd(0.0), variables=state.variables).replace(
            step=state.step)

    state = ft.TrainState.create(model, optax.adam(1e-2))
    state, history = ft.fit(state, lambda: iter(batches), epochs=2, callbacks=[swap_lr],
                            loss="categorical_crossentropy", verbose=1)
    assert "Epoch 2/2" in capsys.readouterr().err
    assert int(state.step) == 8
    with pytest.raises(TypeError, match="re-iterable"):
        ft.fit(state, iter(batches), epochs=2, verbose=0)

