"""flaxjs: TensorFlow.js models (Layers and graph models) in JAX/Flax.

Importing flaxjs changes nothing in the process: no environment variable is
written and no JAX backend is started (flaxjs's XLA options are passed per
compilation, see :mod:`flaxjs.runtime`; its settings are read when used, see
:mod:`flaxjs.settings`).
"""

from . import zoo as zoo
from ._version import __version__ as __version__
from .checkpoint import restore_checkpoint as restore_checkpoint
from .checkpoint import save_checkpoint as save_checkpoint
from .errors import FlaxjsError as FlaxjsError
from .export import save as save
from .graph import GraphModel as GraphModel
from .layers import register_layer as register_layer
from .loader import load as load
from .model import Model as Model
from .runtime import configure as configure
