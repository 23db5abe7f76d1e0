"""What ``fit`` shows while it trains, chosen by Keras's ``verbose``.

``0`` nothing; ``1`` a tqdm bar per epoch (an ipywidgets bar in Jupyter/Colab, where
stderr is no terminal; the ``notebook`` extra installs ipywidgets); ``2`` one line per
epoch, for logs and CI. ``"auto"`` is ``1`` on a terminal or in a notebook, else ``2``.
Everything goes to stderr, as tqdm's bars do, so stdout stays the program's.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ..errors import TrainingError


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (Colab included), as ``tqdm.autonotebook`` asks."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def resolve(verbose: int | str) -> int:
    """``0``, ``1`` or ``2`` for fit's ``verbose`` argument."""
    if verbose == "auto":
        return 1 if in_notebook() or sys.stderr.isatty() else 2
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise TrainingError(f"verbose must be 0 (silent), 1 (progress bar), 2 (one line per "
                            f"epoch) or 'auto', got {verbose!r}")
    return int(verbose)


def _bar_class() -> Any:
    """tqdm's notebook widget in a kernel that has ipywidgets, else the text bar."""
    if in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as widget

        return widget
    from tqdm import tqdm as text

    return text


def _format(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class Epoch:
    """Shows one epoch: ``step`` after each batch, ``end`` with the epoch's logs."""

    def __init__(self, verbose: int, epoch: int, epochs: int, steps: int | None):
        self.verbose, self.steps, self.count = verbose, steps, 0
        self.title = f"Epoch {epoch + 1}/{epochs}"
        self.start = time.perf_counter()
        self.bar = None
        if verbose == 1:
            self.bar = _bar_class()(total=steps, desc=self.title, unit="step", leave=True,
                                    dynamic_ncols=True, file=sys.stderr)

    def __enter__(self) -> Epoch:
        return self

    def step(self, running: Callable[[], dict[str, float]]) -> None:
        """One batch done; ``running()`` gives the running means (read only when shown)."""
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in running().items()}, refresh=False)

    def end(self, logs: dict[str, float]) -> None:
        """The epoch's final logs (with validation)."""
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()})
        elif self.verbose == 2:
            took = time.perf_counter() - self.start
            print(f"{self.title} - {self.count} steps - {took:.1f}s - {_format(logs)}",
                  file=sys.stderr, flush=True)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.close()
