"""Keras-like callbacks for :func:`~flaxjs.finetune.fit`: early stopping, best checkpoints.

``fit`` calls every callback after each epoch as ``callback(epoch, logs, state)``; a
plain function works (return a new state to continue with it, ``True`` to stop). A
:class:`Callback` adds ``on_train_begin(state)`` and ``on_train_end(state)`` (which
may return the state ``fit`` hands back), as Keras's hooks do.

Example:
  >>> stop = EarlyStopping("val_loss", patience=3, restore_best_weights=True)
  >>> best = ModelCheckpoint("ckpt/best.msgpack", "val_accuracy", save_best_only=True)
  >>> state, history = fit(state, x, y, epochs=50, validation_split=0.2,
  ...                      callbacks=[stop, best])  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

from .. import checkpoint
from ..errors import TrainingError
from .state import TrainState

Mode = Literal["auto", "min", "max"]
Verdict = TrainState | bool | None


class Callback:
    """Base class: the hooks ``fit`` calls; each does nothing unless overridden."""

    def on_train_begin(self, state: TrainState) -> None:
        """Before the first epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float], state: TrainState) -> Verdict:
        """After each epoch: a new state to continue with, ``True`` to stop, or ``None``."""
        return None

    def on_train_end(self, state: TrainState) -> TrainState | None:
        """After the last epoch: a state to hand back instead of ``state``, or ``None``."""
        return None

    def __call__(self, epoch: int, logs: dict[str, float], state: TrainState) -> Verdict:
        return self.on_epoch_end(epoch, logs, state)


class _Monitor:
    """A monitored log value and what counts as an improvement (Keras's rules)."""

    def __init__(self, owner: str, monitor: str, mode: Mode, min_delta: float):
        if mode not in ("auto", "min", "max"):
            raise TrainingError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if monitor.endswith(("acc", "accuracy", "auc")) else "min"
        self.owner, self.monitor, self.mode = owner, monitor, mode
        self.min_delta = abs(min_delta)
        self.best = -math.inf if mode == "max" else math.inf

    def value(self, logs: dict[str, float]) -> float:
        if self.monitor not in logs:
            hint = (" (pass validation_data= or validation_split= to fit)"
                    if self.monitor.startswith("val_") else "")
            raise TrainingError(f"{self.owner} monitors {self.monitor!r}, but fit's logs hold "
                                f"{', '.join(sorted(logs)) or 'nothing'}{hint}")
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        """Whether ``value`` beats the best so far by more than ``min_delta`` (and record it)."""
        better = (value - self.min_delta > self.best if self.mode == "max"
                  else value + self.min_delta < self.best)
        if better:
            self.best = value
        return better


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (Keras's ``EarlyStopping``).

    Args:
      monitor: a key of fit's logs (``"val_loss"``, ``"val_accuracy"``, ``"loss"``...).
      patience: epochs without improvement before stopping.
      min_delta: the smallest change that counts as an improvement.
      mode: ``"min"``, ``"max"`` or ``"auto"`` (``max`` for accuracies, else ``min``).
      restore_best_weights: when training ends (stopped or not, as in Keras 3), hand back
        the parameters and statistics of the best epoch (the optimizer state and step
        stay the last ones, as Keras's optimizer does).

    Attributes:
      stopped_epoch: the epoch training stopped at (0 when it ran to the end).
      best_epoch: the epoch with the best ``monitor`` value.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, *, min_delta: float = 0.0,
                 mode: Mode = "auto", restore_best_weights: bool = False):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode: Mode = mode
        self.restore_best_weights = restore_best_weights
        self._reset()

    def on_train_begin(self, state: TrainState) -> None:
        self._reset()

    def _reset(self) -> None:
        self._watch = _Monitor("EarlyStopping", self.monitor, self.mode, self.min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self._best: TrainState | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float], state: TrainState) -> Verdict:
        value = self._watch.value(logs)
        self.wait += 1
        if self._watch.improved(value):
            self.best_epoch, self.wait = epoch, 0
            self._best = state  # JAX arrays are immutable: a reference is a snapshot
            return None
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            return True
        return None

    def on_train_end(self, state: TrainState) -> TrainState | None:
        if self.restore_best_weights and self._best is not None:
            return state.replace(params=self._best.params, batch_stats=self._best.batch_stats)
        return None


class ModelCheckpoint(Callback):
    """Write a checkpoint after each epoch, or only when ``monitor`` improves
    (Keras's ``ModelCheckpoint``), with :func:`flaxjs.save_checkpoint`.

    Args:
      path: the file (or Orbax folder); ``{epoch}`` (1-based) and log keys are
        formatted in, e.g. ``"ckpt/e{epoch:02d}-{val_loss:.3f}.msgpack"``.
      monitor: the log key compared when ``save_best_only``.
      save_best_only: write only when ``monitor`` improved (the file is overwritten).
      mode: ``"min"``, ``"max"`` or ``"auto"``.
      save_weights_only: write the model's variables (``restore_checkpoint(path, model)``
        gives the trained model) instead of the whole ``TrainState`` (to resume training
        with ``restore_checkpoint(path, state)``).
      format: ``"msgpack"`` or ``"orbax"``.

    Attributes:
      written: the paths written, in order.
    """

    def __init__(self, path: str | os.PathLike[str], monitor: str = "val_loss", *,
                 save_best_only: bool = False, mode: Mode = "auto",
                 save_weights_only: bool = False, format: checkpoint.Format = "msgpack"):
        self.path, self.monitor, self.save_best_only = os.fspath(path), monitor, save_best_only
        self.mode: Mode = mode
        self.save_weights_only, self.format = save_weights_only, format
        self._reset()

    def on_train_begin(self, state: TrainState) -> None:
        self._reset()

    def _reset(self) -> None:
        self._watch = _Monitor("ModelCheckpoint", self.monitor, self.mode, 0.0)
        self.written: list[str] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float], state: TrainState) -> Verdict:
        if self.save_best_only and not self._watch.improved(self._watch.value(logs)):
            return None
        path = self.path.format(epoch=epoch + 1, **logs)
        target: Any = state.variables if self.save_weights_only else state
        checkpoint.save_checkpoint(path, target, format=self.format)
        self.written.append(path)
        return None
