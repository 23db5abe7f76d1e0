"""TF.js's value vocabulary: classes, dtypes, activations, initializers, regularizers.

Keras 3 bookkeeping keys are dropped and dtype-policy objects flattened; names
TF.js resolves differently (``silu``, ``LecunNormal``, ``L2``) are rewritten to
the TF.js spelling with the same meaning; anything TF.js would misread raises
:class:`~flaxjs.errors.ExportError` naming the layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..layers.traits import refuse
from ..topology import config as cfg
from ..topology.spec import LayerSpec

#: activation names TF.js 4.22 resolves after camel-casing (``gelu_new`` does not).
TFJS_ACTIVATIONS = frozenset({"linear", "relu", "relu6", "elu", "selu", "sigmoid",
                              "hard_sigmoid", "softplus", "softsign", "tanh", "softmax",
                              "log_softmax", "gelu", "mish", "swish"})
_ACTIVATION_ALIASES = {"silu": "swish", "relu_max_6": "relu6"}
_TENSOR_DTYPES = ("float32", "int32", "bool", "string", "complex64")
_INITIALIZERS = {"Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal",
                 "Identity", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal",
                 "HeUniform", "LeCunNormal", "LeCunUniform", "Orthogonal"}
#: snake_case spellings (class or string identifier) → TF.js class (Keras writes ``Lecun``).
_INITIALIZER_NAMES = {cfg.snake(n): n for n in _INITIALIZERS} | {
    "lecun_normal": "LeCunNormal", "lecun_uniform": "LeCunUniform", "zero": "Zeros",
    "one": "Ones", "orthogonal_initializer": "Orthogonal", "identity_initializer": "Identity"}
_CONSTRAINTS = {"max_norm": "MaxNorm", "unit_norm": "UnitNorm", "non_neg": "NonNeg",
                "min_max_norm": "MinMaxNorm"}
_KERAS3_EXTRAS = ("module", "registered_name", "build_config", "compile_config",
                  "shared_object_id")


def clean(value: Any, spec: LayerSpec, key: str = "") -> Any:
    """Drop Keras 3 bookkeeping, flatten dtype policies, check names TF.js resolves."""
    if key == "dtype":
        return tensor_dtype(value)
    if isinstance(value, Mapping):
        return {k: clean(v, spec, k) for k, v in value.items() if k not in _KERAS3_EXTRAS}
    if isinstance(value, list):
        return [clean(v, spec, key) for v in value]
    return value


def tensor_dtype(value: Any) -> str:
    """A TF.js dtype string for a Keras dtype or policy (mixed precision keeps float32
    variables, which is what flaxjs computes with)."""
    name = cfg.variable_dtype(value)
    if name in _TENSOR_DTYPES:
        return name
    if "int" in name:
        return "int32"
    return "float32"


def fix_nested_objects(spec: LayerSpec, config: dict[str, Any]) -> None:
    """Activations, initializers, regularizers and constraints TF.js resolves."""
    for key in list(config):
        value = config[key]
        if key in ("activation", "recurrent_activation"):
            config[key] = _activation(spec, value)
        elif key.endswith("_initializer"):
            fixed = _initializer(value)
            if fixed is None:
                del config[key]  # weights overwrite initial values; TF.js uses its default
            else:
                config[key] = fixed
        elif key.endswith("_regularizer") or key == "activity_regularizer":
            config[key] = _regularizer(value)
        elif key.endswith("_constraint") and value is not None:
            config[key] = _constraint(spec, key, value)


def _activation(spec: LayerSpec, value: Any) -> Any:
    if value is None:
        return value
    if isinstance(value, Mapping):
        value = (value.get("config") or {}).get("name") or value.get("class_name")
    key = cfg.snake(str(value))
    key = _ACTIVATION_ALIASES.get(key, key)
    if spec.keras3 and key == "hard_sigmoid":
        raise refuse(spec, "Keras 3's hard_sigmoid is relu6(x+3)/6 but TF.js's is "
                     "clip(0.2x+0.5, 0, 1)")
    if key not in TFJS_ACTIVATIONS:
        raise refuse(spec, f"activation {value!r} is unknown to TF.js 4.22 (it knows "
                     f"{', '.join(sorted(TFJS_ACTIVATIONS))})")
    return key


def _initializer(value: Any) -> Any:
    """The TF.js class object, or None for one TF.js lacks (loaded weights overwrite it)."""
    if value is None:
        return None
    mapping = isinstance(value, Mapping)
    name = _INITIALIZER_NAMES.get(cfg.snake(str(value.get("class_name") if mapping else value)))
    if name is None:
        return None
    config = dict((value.get("config") if mapping else None) or {})
    if cfg.snake(str(config.get("distribution", ""))) == "untruncated_normal":
        config["distribution"] = "normal"  # TF.js knows normal, uniform, truncated_normal
    return {"class_name": name, "config": config}


def _constraint(spec: LayerSpec, key: str, value: Any) -> dict[str, Any]:
    """TF.js applies constraints to the loaded weights, as flaxjs does: only known ones."""
    mapping = isinstance(value, Mapping)
    name = value.get("class_name") if mapping else value
    cls = _CONSTRAINTS.get(cfg.snake(str(name)))
    if cls is None:
        raise refuse(spec, f"{key} {name!r} is not a constraint TF.js applies "
                     f"({', '.join(sorted(_CONSTRAINTS.values()))})")
    return {"class_name": cls, "config": dict((value.get("config") if mapping else None) or {})}


def _regularizer(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return None if isinstance(value, str) else value
    name = value.get("class_name")
    conf = dict(value.get("config") or {})
    if name == "L1L2":
        return {"class_name": "L1L2", "config": conf}
    if name in ("L1", "L2"):  # tf.keras >= 2.3 classes; TF.js only has L1L2
        return {"class_name": "L1L2", "config": {"l1": float(conf.get("l1", 0.0)),
                                                 "l2": float(conf.get("l2", 0.0))}}
    return None  # regularizers do not change inference
