"""Export back to TF.js (``flaxjs.save``) and research checkpoints
(``flaxjs.save_variables`` / ``flaxjs.load_variables``)."""

from .checkpoint import load_variables as load_variables
from .checkpoint import save_variables as save_variables
from .save import save as save

__all__ = ["load_variables", "save", "save_variables"]
