"""flaxjs: TensorFlow.js Layers models in JAX/Flax."""

__version__ = "0.1.0"

from .errors import FlaxjsError as FlaxjsError  # noqa: E402
from .layers import register_layer as register_layer  # noqa: E402
from .loader import load as load  # noqa: E402
from .model import Model as Model  # noqa: E402
