"""Export back to TF.js (``flaxjs.save``); research checkpoints are :mod:`flaxjs.checkpoint`."""

from .save import save as save

__all__ = ["save"]
