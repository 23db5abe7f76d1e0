"""The fine-tuning flow a newcomer follows: ``fit`` → ``state.model`` → ``flaxjs.save(state)``;
label widths that do not fit the head; ``verbose`` output with and without a terminal;
``validation_split``; ``EarlyStopping`` and ``ModelCheckpoint``."""

from __future__ import annotations

import fcntl
import functools
import io
import os
import pty
import struct
import sys
import termios

import jax
import numpy as np
import optax
import pytest

import flaxjs
from corpus import CORPUS
from flaxjs import finetune as ft
from flaxjs import keras as K
from flaxjs.errors import TrainingError
from flaxjs.finetune import progress

SYN = CORPUS / "synthetic"
pytestmark = pytest.mark.skipif(not (SYN / "dense_train_step").is_dir(),
                                reason="../shared/corpus/synthetic is not present")
LOSS = "categorical_crossentropy"


@functools.cache
def _model():
    """The corpus Dense(tanh) → Dense base with a new 3-class softmax head."""
    base = flaxjs.load(SYN / "dense_train_step")
    return base.extend([K.Dense(3, activation="softmax")], key=jax.random.key(1))


def _blobs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    x = np.eye(3, 5, dtype=np.float32)[y] * 2.0 + rng.normal(0, 0.3, (n, 5)).astype(np.float32)
    return x, y


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(np.asarray(model(x)), -1) == y))


# ---------------------------------------------------------------- item: the trained model
def test_state_model_and_save_state_hold_the_trained_head(tmp_path):
    model = _model()
    x, y = _blobs(64)
    state, _ = ft.fit(ft.TrainState.create(model, optax.adam(5e-2)), x, y, epochs=3,
                      batch_size=16, loss=LOSS, metrics=["accuracy"], verbose=0)
    trained = state.model
    assert isinstance(trained, flaxjs.Model) and trained.graph is model.graph
    assert _accuracy(trained, x, y) >= 0.9 > _accuracy(model, x, y)
    assert ft.evaluate(state, x, y, loss=LOSS, metrics=["accuracy"])["accuracy"] == (
        pytest.approx(_accuracy(trained, x, y)))
    path = flaxjs.save(state, tmp_path / "web")
    exported = flaxjs.load(path)
    assert np.array_equal(np.asarray(exported(x)), np.asarray(trained(x)))
    with pytest.raises(flaxjs.errors.ExportError, match="state's variables"):
        flaxjs.save(state, tmp_path / "other", variables=state.variables)


def test_state_without_a_model_says_how_to_get_one():
    model = _model()
    state = ft.TrainState.new(model.apply, model.variables["params"], optax.sgd(0.1))
    with pytest.raises(TrainingError, match=r"TrainState.create\(model, tx\)"):
        _ = state.model


# ---------------------------------------------------------------- item: label width
def test_one_hot_labels_of_another_width_name_both_widths():
    model = _model()
    x, y = _blobs(32)
    wrong = np.eye(5, dtype=np.float32)[y]
    state = ft.TrainState.create(model, optax.sgd(0.1))
    message = r"targets have width 5 .* model's output has width 3"
    with pytest.raises(TrainingError, match=message):
        ft.fit(state, x, wrong, batch_size=16, loss=LOSS, verbose=0)
    with pytest.raises(TrainingError, match=message):
        ft.evaluate(state, x, wrong, loss=LOSS)
    with pytest.raises(TrainingError, match=r"shape \(16,\) .* shape \(16, 3\)"):
        ft.train_step(state, (x[:16], y[:16].astype(np.float32)), loss="mse")
    # class ids and one-hot targets of the right width both train
    for targets in (y, np.eye(3, dtype=np.float32)[y]):
        ft.train_step(state, (x[:16], targets[:16]), loss=LOSS)


def test_flat_targets_of_a_one_unit_output_get_their_last_axis():
    """Keras adds the axis: ``(N,)`` targets of an ``(N, 1)`` output mean ``(N, 1)``."""
    base = flaxjs.load(SYN / "dense_train_step")
    model = base.extend([K.Dense(1)], key=jax.random.key(2))
    x, _ = _blobs(16)
    t = np.linspace(-1, 1, 16).astype(np.float32)
    state = ft.TrainState.create(model, optax.sgd(0.1))
    flat = ft.eval_step(state, (x, t), loss="mse")["loss"]
    column = ft.eval_step(state, (x, t[:, None]), loss="mse")["loss"]
    assert float(flat) == float(column)


# ---------------------------------------------------------------- item: verbose
def _fit_output(stream, monkeypatch, **kwargs) -> str:
    monkeypatch.setattr(sys, "stderr", stream)
    x, y = _blobs(32)
    ft.fit(ft.TrainState.create(_model(), optax.sgd(0.1)), x, y, epochs=2, batch_size=16,
           loss=LOSS, **kwargs)
    stream.flush()
    return stream.getvalue() if isinstance(stream, io.StringIO) else ""


def test_verbose_auto_draws_a_bar_on_a_terminal(monkeypatch):
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    with os.fdopen(follower, "w", encoding="utf-8") as tty:
        assert tty.isatty()
        _fit_output(tty, monkeypatch)
    chunks = []
    os.set_blocking(leader, False)
    try:
        while True:
            chunks.append(os.read(leader, 65536))
    except (BlockingIOError, OSError):
        pass
    os.close(leader)
    text = b"".join(chunks).decode()
    assert "\r" in text and "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "2/2" in text and "loss=" in text  # tqdm's counter and postfix


def test_verbose_auto_prints_one_line_per_epoch_without_a_terminal(monkeypatch):
    text = _fit_output(io.StringIO(), monkeypatch, validation_data=_blobs(8, 1))
    lines = text.splitlines()
    assert len(lines) == 2 and "\r" not in text
    for i, line in enumerate(lines):
        assert line.startswith(f"Epoch {i + 1}/2 - 2 steps - ")
        assert " - loss: " in line and " - val_loss: " in line


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_verbose_chooses_as_in_keras(monkeypatch, verbose):
    text = _fit_output(io.StringIO(), monkeypatch, verbose=verbose)
    assert (text == "") == (verbose == 0)
    assert ("\r" in text) == (verbose == 1)
    if verbose == 2:
        assert [line.split(" - ")[0] for line in text.splitlines()] == ["Epoch 1/2", "Epoch 2/2"]


def test_notebooks_get_the_bar(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress.resolve("auto") == 2
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    assert progress.resolve("auto") == 1
    from tqdm import notebook, std

    has_widgets = {"ipywidgets": True}
    monkeypatch.setattr(progress.importlib.util, "find_spec",
                        lambda name: object() if has_widgets.get(name) else None)
    assert progress._bar_class() is notebook.tqdm
    has_widgets.clear()  # a kernel without ipywidgets gets the text bar, not an error
    assert progress._bar_class() is std.tqdm
    with pytest.raises(TrainingError, match="verbose must be"):
        progress.resolve(3)


# ---------------------------------------------------------------- item: validation and callbacks
def test_validation_split_holds_out_the_last_rows():
    model = _model()
    x, y = _blobs(40)
    seen = {}

    def keep(epoch, logs, state):
        seen["logs"], seen["state"] = logs, state

    ft.fit(ft.TrainState.create(model, optax.adam(1e-2)), x, y, batch_size=8, loss=LOSS,
           validation_split=0.25, callbacks=[keep], verbose=0)
    held_out = ft.evaluate(seen["state"], x[30:], y[30:], loss=LOSS)
    assert seen["logs"]["val_loss"] == pytest.approx(held_out["loss"])
    assert int(seen["state"].step) == 30 // 8 + 1
    with pytest.raises(TrainingError, match="not both"):
        ft.fit(seen["state"], x, y, validation_split=0.2, validation_data=(x, y), verbose=0)
    with pytest.raises(TrainingError, match="array data"):
        ft.fit(seen["state"], [(x, y)], validation_split=0.2, verbose=0)


def _states(n: int):
    """``n`` distinct states (their head bias set to the epoch number)."""
    state = ft.TrainState.create(_model(), optax.sgd(0.1))
    out = []
    for i in range(n):
        params = jax.tree_util.tree_map(lambda a, i=i: a * 0 + i, state.params)
        out.append(state.replace(params=params, step=state.step + i))
    return out


def test_early_stopping_follows_keras():
    """As Keras 3's EarlyStopping (checked with keras 3 on TensorFlow): on val_loss
    [1.0, 0.5, 0.7, 0.8] with patience 2 it stops after epoch 3 (0-based) and restores
    epoch 1's weights at the end of training, stopped early or not."""
    states = _states(5)
    stop = ft.EarlyStopping("val_loss", patience=2, restore_best_weights=True)
    stop.on_train_begin(states[0])
    verdicts = [stop(i, {"val_loss": v}, states[i])
                for i, v in enumerate([1.0, 0.5, 0.7, 0.8])]
    assert verdicts == [None, None, None, True]
    assert (stop.stopped_epoch, stop.best_epoch) == (3, 1)
    restored = stop.on_train_end(states[3])
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(
        lambda a, b: bool(np.array_equal(a, b)), restored.params, states[1].params))
    assert int(restored.step) == int(states[3].step)  # optimizer progress stays, as Keras's
    patient = ft.EarlyStopping("val_loss", patience=5, restore_best_weights=True)
    patient.on_train_begin(states[0])
    for i, v in enumerate([1.0, 0.5, 0.7]):
        assert patient(i, {"val_loss": v}, states[i]) is None
    assert patient.stopped_epoch == 0  # Keras 3 restores the best at the end all the same
    assert int(patient.on_train_end(states[2]).params["dense"]["bias"][0]) == 1
    rising = ft.EarlyStopping("val_accuracy", patience=1, min_delta=0.05)
    assert [rising(i, {"val_accuracy": v}, states[0])
            for i, v in enumerate([0.5, 0.53, 0.6])] == [None, True, None]


def test_early_stopping_inside_fit_and_a_missing_metric():
    x, y = _blobs(32)
    stop = ft.EarlyStopping("loss", patience=1)
    frozen = ft.TrainState.create(_model(), optax.sgd(0.0))  # the loss never improves
    _, history = ft.fit(frozen, x, y, epochs=10, batch_size=16, loss=LOSS, callbacks=[stop],
                        verbose=0)
    assert history.epoch == [0, 1] and stop.stopped_epoch == 1
    with pytest.raises(TrainingError, match=r"monitors 'val_loss'.*validation_split"):
        ft.fit(frozen, x, y, batch_size=16, loss=LOSS, verbose=0,
               callbacks=[ft.EarlyStopping()])


def test_model_checkpoint_keeps_the_best(tmp_path):
    states = _states(3)
    best = ft.ModelCheckpoint(tmp_path / "best.msgpack", "val_accuracy", save_best_only=True,
                              save_weights_only=True)
    every = ft.ModelCheckpoint(tmp_path / "e{epoch:02d}-{loss:.1f}.msgpack", "loss")
    for cb in (best, every):
        cb.on_train_begin(states[0])
        for i, acc in enumerate([0.5, 0.8, 0.7]):
            cb(i, {"loss": 1.0 - acc, "val_accuracy": acc}, states[i])
    assert best.written == [str(tmp_path / "best.msgpack")] * 2
    restored = flaxjs.restore_checkpoint(tmp_path / "best.msgpack", _model())
    assert np.array_equal(restored.params["dense"]["kernel"], states[1].params["dense"]["kernel"])
    assert [os.path.basename(p) for p in every.written] == [
        "e01-0.5.msgpack", "e02-0.2.msgpack", "e03-0.3.msgpack"]
    resumed = flaxjs.restore_checkpoint(every.written[2], states[0])
    assert int(resumed.step) == int(states[2].step)
