"""One layer's config in the dialect TF.js 4.22 reads, or an :class:`ExportError`.

A layer is exportable when TF.js 4.22 can deserialize its class and will compute
what flaxjs computes. Per class, configs are rewritten where an exact TF.js
spelling exists (Keras 3 ``batch_shape``, LeakyReLU ``negative_slope``...) and
refused where TF.js would silently compute something else (GRU ``reset_after``,
Keras 3 dilations and data formats TF.js ignores...); :mod:`.dialect` handles
the values every layer shares (dtypes, activations, initializers).
Missing keys of the common classes are filled with the values flaxjs (and TF.js)
use when a key is absent, so configs written by :mod:`flaxjs.keras` builders are
complete.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from ..topology import config as cfg
from ..topology.spec import LayerSpec
from .dialect import check_class, clean, fix_nested_objects, refuse, tensor_dtype

__all__ = ["DEFAULTS", "check_class", "layer_config", "refuse", "tensor_dtype"]

_GLOROT = {"class_name": "GlorotUniform", "config": {"seed": None}}
_ZEROS = {"class_name": "Zeros", "config": {}}
_ONES = {"class_name": "Ones", "config": {}}
_DENSE_LIKE = {"activation": "linear", "use_bias": True, "kernel_initializer": _GLOROT,
               "bias_initializer": _ZEROS, "kernel_regularizer": None, "bias_regularizer": None,
               "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}
#: keys TF.js reads as these values when absent (flaxjs too), written out explicitly.
DEFAULTS: dict[str, dict[str, Any]] = {
    "Dense": _DENSE_LIKE,
    "Conv1D": {**_DENSE_LIKE, "strides": 1, "padding": "valid", "data_format": "channels_last",
               "dilation_rate": 1},
    "Conv2D": {**_DENSE_LIKE, "strides": [1, 1], "padding": "valid",
               "data_format": "channels_last", "dilation_rate": [1, 1]},
    "SeparableConv2D": {"depth_multiplier": 1},
    "DepthwiseConv2D": {"depth_multiplier": 1},
    "Dropout": {"noise_shape": None, "seed": None},
    "Flatten": {"data_format": "channels_last"},
    "GlobalAveragePooling2D": {"data_format": "channels_last"},
    "GlobalMaxPooling2D": {"data_format": "channels_last"},
    "MaxPooling2D": {"padding": "valid", "data_format": "channels_last"},
    "AveragePooling2D": {"padding": "valid", "data_format": "channels_last"},
    "BatchNormalization": {"axis": -1, "momentum": 0.99, "epsilon": 1e-3, "center": True,
                           "scale": True, "beta_initializer": _ZEROS, "gamma_initializer": _ONES,
                           "moving_mean_initializer": _ZEROS,
                           "moving_variance_initializer": _ONES},
    "LayerNormalization": {"axis": -1, "epsilon": 1e-3, "center": True, "scale": True},
}


def layer_config(spec: LayerSpec, custom_classes: frozenset[str] = frozenset(), *,
                 masked: bool = False) -> dict[str, Any]:
    """The TF.js-readable config of one (non-model) layer.

    Args:
      spec: the layer.
      custom_classes: class names the page registers itself (passed through as is).
      masked: the model produces masks (Embedding ``mask_zero`` or Masking).

    Raises:
      ExportError: the layer cannot be written without changing what it computes.
    """
    check_class(spec, custom_classes)
    config = clean(copy.deepcopy(dict(spec.config)), spec)
    config["name"] = spec.name
    if spec.class_name in custom_classes:
        return config
    fix_nested_objects(spec, config)
    rule = _RULES.get(spec.class_name)
    if rule is not None:
        rule(spec, config, masked)
    for key, value in DEFAULTS.get(spec.class_name, {}).items():
        config.setdefault(key, copy.deepcopy(value))
    config.setdefault("trainable", True)
    config.setdefault("dtype", "float32")
    return config


# ----------------------------------------------------------------------------- per class
Rule = Callable[[LayerSpec, dict[str, Any], bool], None]
_RULES: dict[str, Rule] = {}


def _rule(*names: str) -> Callable[[Rule], Rule]:
    def decorate(fn: Rule) -> Rule:
        for name in names:
            _RULES[name] = fn
        return fn
    return decorate


def _is_default(value: Any, default: Any) -> bool:
    if value is None:
        return True
    items = value if isinstance(value, (list, tuple)) else [value]
    return all(v == default for v in items)


def _channels_first(config: Mapping[str, Any]) -> bool:
    return cfg.snake(str(config.get("data_format") or "channels_last")) == "channels_first"


def _input_layer(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    shape = cfg.input_shape_of(config)
    for key in ("batch_shape", "input_shape", "batch_size", "optional", "ragged"):
        config.pop(key, None)
    if config.get("sparse"):
        raise refuse(spec, "sparse inputs are not supported by TF.js")
    config["sparse"] = False
    if shape is not None:
        config["batch_input_shape"] = list(shape)


_rule("InputLayer")(_input_layer)


@_rule("ELU")
def _elu(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    alpha = config.get("alpha")
    if alpha is not None and float(alpha) != 1.0:
        raise refuse(spec, f"TF.js's ELU throws for alpha={config['alpha']} (only 1.0)")


@_rule("LeakyReLU")
def _leaky_relu(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    slope = config.pop("negative_slope", None)
    if spec.keras3 and slope is not None:
        config["alpha"] = float(slope)


@_rule("ReLU")
def _relu(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if spec.keras3 and not (_is_default(config.get("negative_slope"), 0.0)
                            and _is_default(config.get("threshold"), 0.0)):
        raise refuse(spec, "TF.js's ReLU ignores negative_slope and threshold")


@_rule("Conv1D", "Conv2D", "Conv3D")
def _conv(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if int(config.get("groups") or 1) != 1:
        raise refuse(spec, f"groups={config['groups']} (grouped convolution) is not "
                     "supported by TF.js")
    if spec.class_name == "Conv1D":
        if cfg.snake(str(config.get("padding", "valid"))) == "causal":
            raise refuse(spec, "padding='causal' cannot run in TF.js")
        if spec.keras3 and _channels_first(config):
            raise refuse(spec, "TF.js returns channels_last outputs for a channels_first "
                         "Conv1D (Keras 3 returns channels_first)")


@_rule("Conv2DTranspose", "Conv3DTranspose")
def _conv_transpose(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if spec.keras3 and (config.get("output_padding") is not None
                        or not _is_default(config.get("dilation_rate"), 1)):
        raise refuse(spec, "TF.js ignores output_padding and dilation_rate, which this "
                     "Keras 3 layer uses")


@_rule("DepthwiseConv2D")
def _depthwise(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if spec.keras3 and not _is_default(config.get("dilation_rate"), 1):
        raise refuse(spec, "TF.js ignores DepthwiseConv2D's dilation_rate, which this "
                     "Keras 3 layer uses")


@_rule("SeparableConv2D")
def _separable(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if spec.keras3 and _channels_first(config):
        raise refuse(spec, "TF.js adds the bias of a channels_first SeparableConv2D along "
                     "the wrong axis (Keras 3 semantics were used)")


@_rule("MaxPooling1D", "AveragePooling1D")
def _pool1d(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if spec.keras3 and _channels_first(config):
        raise refuse(spec, "TF.js ignores data_format for 1-D pooling")


@_rule("GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling2D",
       "GlobalMaxPooling2D")
def _global_pool(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if not spec.keras3:
        return
    if config.get("keepdims"):
        raise refuse(spec, "TF.js ignores keepdims")
    if spec.class_name.endswith("1D") and _channels_first(config):
        raise refuse(spec, "TF.js ignores data_format for 1-D global pooling")
    if spec.class_name == "GlobalAveragePooling1D" and masked:
        raise refuse(spec, "TF.js ignores the mask in GlobalAveragePooling1D (Keras 3 uses it)")


@_rule("Concatenate")
def _concatenate(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    axis = int(config.get("axis", -1))
    if spec.keras3 and axis < -1:
        raise refuse(spec, f"TF.js concatenates on the last axis for axis={axis}")


@_rule("UpSampling2D")
def _upsampling(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if spec.keras3 and cfg.snake(str(config.get("interpolation", "nearest"))) != "nearest":
        raise refuse(spec, "TF.js's bilinear up-sampling is the legacy TF1 resize (Keras 3 "
                     "uses half-pixel centres)")


@_rule("Dense")
def _dense(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if config.pop("lora_rank", None):
        raise refuse(spec, "LoRA-enabled Dense layers are Keras 3 only")


# ------------------------------------------------------------------ recurrent and wrappers
_CELLS = {"GRU": "GRUCell", "LSTM": "LSTMCell", "SimpleRNN": "SimpleRNNCell"}


def _cell(spec: LayerSpec, class_name: str, config: dict[str, Any]) -> None:
    """A recurrent layer's or cell's own options (GRU reset_after, default gates)."""
    fix_nested_objects(spec, config)
    kind = _CELLS.get(class_name, class_name)
    if kind == "GRUCell":
        reset_after = config.get("reset_after")
        if (spec.keras3 if reset_after is None else bool(reset_after)):
            raise refuse(spec, "GRU reset_after=true (the tf.keras 2 / Keras 3 default) is "
                         "refused by TF.js; retrain with reset_after=False")
        config["reset_after"] = False
    # written out as flaxjs reads an absent or null key (TF.js's GRU/LSTM would read null
    # as linear)
    if kind in ("GRUCell", "LSTMCell") and config.get("recurrent_activation") is None:
        config["recurrent_activation"] = "sigmoid" if spec.keras3 else "hard_sigmoid"
    if kind in ("GRUCell", "LSTMCell", "SimpleRNNCell") and config.get("activation") is None:
        config["activation"] = "tanh"


def _nested(spec: LayerSpec, value: Any) -> Any:
    """A ``{class_name, config}`` layer or cell inside a wrapper or RNN, made exportable."""
    if not isinstance(value, Mapping) or "class_name" not in value:
        raise refuse(spec, f"cannot read the nested layer {str(value)[:80]!r}")
    class_name = str(value["class_name"])
    inner_config = clean(copy.deepcopy(dict(value.get("config") or {})), spec)
    inner = LayerSpec(class_name, str(inner_config.get("name") or class_name.lower()),
                      inner_config, keras3=spec.keras3)
    if class_name in ("GRUCell", "LSTMCell", "SimpleRNNCell"):
        check_class(inner)
        _cell(inner, class_name, inner_config)
    elif class_name == "StackedRNNCells":
        inner_config["cells"] = [_nested(spec, c) for c in inner_config.get("cells") or []]
    else:
        inner_config = layer_config(inner, masked=False)
    return {"class_name": class_name, "config": inner_config}


@_rule("GRU", "LSTM", "SimpleRNN")
def _rnn_layer(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    _cell(spec, spec.class_name, config)


@_rule("RNN")
def _rnn(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    cell = config.get("cell")
    stacked = isinstance(cell, list) or (isinstance(cell, Mapping)
                                         and cell.get("class_name") == "StackedRNNCells")
    if spec.keras3 and stacked and (config.get("return_state")
                                    or any(len(c.inputs) > 1 for c in spec.calls)):
        raise refuse(spec, "TF.js orders the states of stacked cells last cell first "
                     "(Keras 3: first cell first)")
    if isinstance(cell, list):
        config["cell"] = [_nested(spec, c) for c in cell]
    elif cell is not None:
        config["cell"] = _nested(spec, cell)


@_rule("Bidirectional", "TimeDistributed")
def _wrapper(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    config["layer"] = _nested(spec, config.get("layer"))
    if "backward_layer" in config:  # ignored by TF.js and flaxjs alike
        del config["backward_layer"]


@_rule("ConvLSTM2D")
def _conv_lstm(spec: LayerSpec, config: dict[str, Any], masked: bool) -> None:
    if config.get("recurrent_activation") is None:
        config["recurrent_activation"] = "sigmoid" if spec.keras3 else "hard_sigmoid"
