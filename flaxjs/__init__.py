"""flaxjs: TensorFlow.js Layers models in JAX/Flax."""

__version__ = "0.1.0"

from . import runtime as _runtime  # noqa: E402

_runtime.apply_xla_defaults()

from .errors import FlaxjsError as FlaxjsError  # noqa: E402
from .layers import register_layer as register_layer  # noqa: E402
from .loader import load as load  # noqa: E402
from .model import Model as Model  # noqa: E402
from .runtime import configure as configure  # noqa: E402
from . import zoo as zoo  # noqa: E402
from .export import load_variables as load_variables  # noqa: E402
from .export import save as save  # noqa: E402
from .export import save_variables as save_variables  # noqa: E402
