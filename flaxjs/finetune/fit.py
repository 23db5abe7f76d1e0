"""``fit``: the common training loop (epochs, batches, validation, progress, history).

It only strings together :func:`train_step`, :func:`eval_step` and
:mod:`flaxjs.parallel`; a research loop can do the same by hand.

Example:
  >>> state, history = fit(state, x_train, y_train, epochs=5, batch_size=32,
  ...                      loss="categorical_crossentropy", metrics=["accuracy"],
  ...                      validation_data=(x_val, y_val))  # doctest: +SKIP
  >>> history.history["val_accuracy"][-1]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from .. import parallel
from ..errors import TrainingError
from . import progress
from .losses import LossFn
from .state import TrainState
from .steps import eval_step, train_step

#: ``callback(epoch, logs, state)``: return a new state to continue with it, ``True`` to stop
#: (a :class:`~flaxjs.finetune.callbacks.Callback` is one, with begin/end hooks too).
CallbackFn = Callable[[int, dict[str, float], TrainState], "TrainState | bool | None"]


class History:
    """Per-epoch metrics, like Keras's ``History``.

    Attributes:
      history: ``{"loss": [...], "accuracy": [...], "val_loss": [...], ...}``.
      epoch: the epoch indices recorded.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> list[float]:
        return self.history[name]

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"<History {len(self.epoch)} epoch(s): {last}>"


def _num_rows(x: Any) -> int:
    rows = {np.shape(a)[0] for a in jax.tree_util.tree_leaves(x)}
    if len(rows) != 1:
        raise ValueError(f"all input and target arrays need the same number of rows, got {rows}")
    return rows.pop()


def array_batches(x: Any, y: Any, batch_size: int, *, shuffle: bool = False,
                  rng: np.random.Generator | None = None, drop_remainder: bool = False
                  ) -> Iterator[tuple[Any, Any]]:
    """``(x, y)`` batches of numpy arrays (``x`` may be a tuple of arrays for several inputs)."""
    n = _num_rows((x, y))
    order = (rng or np.random.default_rng()).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_remainder else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield jax.tree_util.tree_map(lambda a, i=idx: np.asarray(a)[i], (x, y))


def _epoch_source(data: Any, y: Any, batch_size: int, shuffle: bool,
                  rng: np.random.Generator, drop_remainder: bool
                  ) -> tuple[Callable[[], Iterable[Any]], int | None]:
    """A factory of one epoch's batches and their number (if known)."""
    steps: int | None
    if y is not None:
        n = _num_rows((data, y))
        steps = n // batch_size if drop_remainder else math.ceil(n / batch_size)
        return (lambda: array_batches(data, y, batch_size, shuffle=shuffle, rng=rng,
                                      drop_remainder=drop_remainder)), steps
    if callable(data):
        return data, None
    if isinstance(data, Iterator):
        raise TypeError("fit needs a re-iterable data source (a list, a dataset object) or a "
                        "function returning a fresh iterator each epoch, not a one-shot "
                        "iterator/generator")
    try:
        steps = len(data)
    except TypeError:
        steps = None
    return (lambda: data), steps


class _Mean:
    """Running, batch-size-weighted means kept on device until read."""

    def __init__(self) -> None:
        self.sums: dict[str, Any] = {}
        self.count = 0

    def add(self, logs: dict[str, Any], n: int) -> None:
        for name, value in logs.items():
            self.sums[name] = self.sums.get(name, 0.0) + value * n
        self.count += n

    def result(self, prefix: str = "") -> dict[str, float]:
        if not self.count:
            return {}
        return {prefix + k: float(v) / self.count for k, v in self.sums.items()}


def _rows(batch: Any) -> int:
    inputs = batch[0]
    first = jax.tree_util.tree_leaves(inputs)[0]
    return int(np.shape(first)[0])


def evaluate(state: TrainState, x: Any, y: Any = None, *, batch_size: int = 32,
             loss: str | LossFn = "mean_squared_error", metrics: Sequence[str | LossFn] = (),
             mesh: Mesh | None = None) -> dict[str, float]:
    """Mean loss and metrics over a data set in inference mode.

    ``x``/``y`` are numpy arrays, or ``x`` is an iterable of ``(inputs, targets)``
    batches and ``y`` is ``None``.
    """
    mesh = parallel.data_mesh() if mesh is None else mesh
    make, _ = _epoch_source(x, y, batch_size, False, np.random.default_rng(0), False)
    mean = _Mean()
    for batch in make():
        logs = eval_step(state, parallel.shard_batch(batch, mesh), loss=loss, metrics=metrics)
        mean.add(logs, _rows(batch))
    return mean.result()


def fit(state: TrainState, x: Any, y: Any = None, *, epochs: int = 1, batch_size: int = 32,
        loss: str | LossFn = "mean_squared_error", metrics: Sequence[str | LossFn] = (),
        shuffle: bool = True, validation_data: Any = None, validation_split: float = 0.0,
        validation_batch_size: int | None = None, callbacks: Sequence[CallbackFn] = (),
        verbose: int | str = "auto", drop_remainder: bool = False, seed: int = 0,
        mesh: Mesh | None = None) -> tuple[TrainState, History]:
    """Train for ``epochs`` epochs; data-parallel over every device by default.

    The trained model is ``state.model`` (or ``flaxjs.save(state, folder)``): the
    model the state was created from keeps its untrained variables.

    Args:
      state: a :class:`TrainState`.
      x: inputs as numpy arrays (a tuple of arrays for several model inputs), or an
        iterable of ``(inputs, targets[, sample_weights])`` batches (then ``y=None``),
        or a function returning such an iterable for each epoch.
      y: targets when ``x`` holds arrays.
      epochs: passes over the data.
      batch_size: global batch size for array data (split over the devices).
      loss: see :func:`train_step`.
      metrics: e.g. ``["accuracy"]``.
      shuffle: reshuffle array data every epoch (seeded by ``seed``).
      validation_data: ``(x_val, y_val)`` arrays or an iterable of batches, evaluated
        after each epoch (``val_``-prefixed metrics).
      validation_split: hold out this fraction of array data (the last rows, before
        shuffling, as Keras does) as ``validation_data``.
      validation_batch_size: default ``batch_size``.
      callbacks: :class:`~flaxjs.finetune.EarlyStopping`,
        :class:`~flaxjs.finetune.ModelCheckpoint`, any
        :class:`~flaxjs.finetune.Callback`, or functions ``callback(epoch, logs, state)``
        called after each epoch that may return a new state (e.g. after unfreezing) or
        ``True`` to stop.
      verbose: as Keras: ``0`` silent, ``1`` a progress bar (a widget in Jupyter/Colab),
        ``2`` one line per epoch, on stderr; ``"auto"``: ``1`` on a terminal or in a
        notebook, else ``2``.
      drop_remainder: skip the last, short batch of array data (avoids one recompilation).
      seed: shuffling seed.
      mesh: the device mesh (default :func:`~flaxjs.parallel.data_mesh` over all
        devices; one device works the same).

    Returns:
      ``(final state, History)``.

    Raises:
      TrainingError: the targets do not fit the model's output, a monitored metric is
        missing, or ``validation_split`` cannot be applied.
    """
    mesh = parallel.data_mesh() if mesh is None else mesh
    if validation_split:
        (x, y), validation_data = _split(x, y, validation_split, validation_data)
    mode = progress.resolve(verbose)
    rng = np.random.default_rng(seed)
    make, steps = _epoch_source(x, y, batch_size, shuffle, rng, drop_remainder)
    history = History()
    state = parallel.replicate(state, mesh)
    for callback in callbacks:
        begin = getattr(callback, "on_train_begin", None)
        if begin is not None:
            begin(state)
    for epoch in range(epochs):
        mean = _Mean()
        with progress.Epoch(mode, epoch, epochs, steps) as shown:
            for batch in make():
                state, logs = train_step(state, parallel.shard_batch(batch, mesh), loss=loss,
                                         metrics=metrics)
                mean.add(logs, _rows(batch))
                shown.step(mean.result)
            epoch_logs = mean.result()
            if validation_data is not None:
                vx, vy = (validation_data if isinstance(validation_data, tuple)
                          and len(validation_data) == 2 else (validation_data, None))
                epoch_logs.update({f"val_{k}": v for k, v in evaluate(
                    state, vx, vy, batch_size=validation_batch_size or batch_size, loss=loss,
                    metrics=metrics, mesh=mesh).items()})
            shown.end(epoch_logs)
        history.record(epoch, epoch_logs)
        stop = False
        for callback in callbacks:
            verdict = callback(epoch, dict(epoch_logs), state)
            if isinstance(verdict, TrainState):
                state = parallel.replicate(verdict, mesh)
            elif verdict is True:
                stop = True
        if stop:
            break
    for callback in callbacks:
        end = getattr(callback, "on_train_end", None)
        final = end(state) if end is not None else None
        if isinstance(final, TrainState):
            state = parallel.replicate(final, mesh)
    return state, history


def _split(x: Any, y: Any, fraction: float, validation_data: Any
           ) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """``((x_train, y_train), (x_val, y_val))``: the last ``fraction`` of the rows held out."""
    if y is None:
        raise TrainingError("validation_split needs array data (fit(state, x, y, ...)); with "
                            "batches from an iterable pass validation_data= instead")
    if validation_data is not None:
        raise TrainingError("give validation_data or validation_split, not both")
    if not 0.0 < fraction < 1.0:
        raise TrainingError(f"validation_split must be between 0 and 1, got {fraction}")
    n = _num_rows((x, y))
    cut = int(n * (1.0 - fraction))
    if cut in (0, n):
        raise TrainingError(f"validation_split={fraction} of {n} rows leaves "
                            f"{cut} for training and {n - cut} for validation")
    head = jax.tree_util.tree_map(lambda a: np.asarray(a)[:cut], (x, y))
    tail = jax.tree_util.tree_map(lambda a: np.asarray(a)[cut:], (x, y))
    return head, tail
