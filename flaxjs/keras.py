"""Keras-layer builders for new heads: ``flaxjs.keras.Dense(5, activation="softmax")``.

Each builder returns a :class:`~flaxjs.topology.spec.LayerSpec` with a Keras
config, converted by the same converters as loaded models, so a base plus a head
is again a Keras graph: ``summary()`` shows it and ``flaxjs.save`` can write it
for TF.js. Omitted names get Keras-style unique names when the head is attached.

Example:
  >>> from flaxjs import keras as K
  >>> head = [K.GlobalAveragePooling2D(), K.Dropout(0.2), K.Dense(5, activation="softmax")]
  >>> model = base.extend(head)  # doctest: +SKIP
"""

from __future__ import annotations

import re
from typing import Any

from .topology.spec import LayerSpec


def keras_name(class_name: str) -> str:
    """Keras's default layer name for a class.

    ``GlobalAveragePooling2D`` → ``global_average_pooling2d``.
    """
    step = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", step).lower()


def Layer(class_name: str, name: str | None = None, *, trainable: bool = True,
          **config: Any) -> LayerSpec:
    """Any registered Keras class with a snake_case config, e.g. ``Layer("Conv2D", filters=8,
    kernel_size=3)``. ``name=None`` asks for a Keras-style unique name when attached."""
    config = {"name": name or "", "trainable": trainable, **config}
    return LayerSpec(class_name, name or "", config)


def Dense(units: int, activation: str | None = None, *, use_bias: bool = True,
          name: str | None = None, **config: Any) -> LayerSpec:
    """Keras ``Dense``: ``activation(x @ kernel + bias)`` over the last axis.

    Args:
      units: output width (the number of classes of a classifier head).
      activation: a Keras activation name (``"softmax"``, ``"relu"``...); ``None`` is linear.
      use_bias: add a bias.
      name: the layer name (and the variables' key); default ``dense``, ``dense_1``...
      **config: other Keras ``Dense`` config entries (``kernel_initializer``...).
    """
    return Layer("Dense", name, units=units, activation=activation or "linear",
                 use_bias=use_bias, **config)


def Dropout(rate: float, *, name: str | None = None, **config: Any) -> LayerSpec:
    """Keras ``Dropout``: zeroes a ``rate`` fraction of the values when training (with
    ``rngs={"dropout": key}``); the identity at inference."""
    return Layer("Dropout", name, rate=rate, **config)


def Activation(activation: str, *, name: str | None = None) -> LayerSpec:
    """Keras ``Activation``: applies a Keras activation by name (``"relu"``, ``"softmax"``)."""
    return Layer("Activation", name, activation=activation)


def Flatten(*, name: str | None = None) -> LayerSpec:
    """Keras ``Flatten``: ``[N, ...]`` to ``[N, product of the rest]`` (channels-last order)."""
    return Layer("Flatten", name)


def GlobalAveragePooling2D(*, name: str | None = None, **config: Any) -> LayerSpec:
    """Keras ``GlobalAveragePooling2D``: the mean over height and width, ``[N, H, W, C]`` to
    ``[N, C]`` (``keepdims=True`` keeps ``[N, 1, 1, C]``)."""
    return Layer("GlobalAveragePooling2D", name, **config)


def GlobalMaxPooling2D(*, name: str | None = None, **config: Any) -> LayerSpec:
    """Keras ``GlobalMaxPooling2D``: the maximum over height and width, ``[N, H, W, C]`` to
    ``[N, C]``."""
    return Layer("GlobalMaxPooling2D", name, **config)


def BatchNormalization(*, name: str | None = None, momentum: float = 0.99,
                       epsilon: float = 1e-3, **config: Any) -> LayerSpec:
    """Keras ``BatchNormalization`` over the last axis: batch statistics when training
    (the moving averages in ``batch_stats`` follow with ``momentum``), the moving ones at
    inference or when frozen."""
    return Layer("BatchNormalization", name, axis=-1, momentum=momentum, epsilon=epsilon,
                 center=True, scale=True, **config)


def Conv2D(filters: int, kernel_size: int | tuple[int, int], *, strides: int = 1,
           padding: str = "valid", activation: str | None = None, name: str | None = None,
           **config: Any) -> LayerSpec:
    """Keras ``Conv2D`` on channels-last images.

    Args:
      filters: output channels.
      kernel_size: window height and width (one int for a square one).
      strides: step of the window.
      padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(size / strides)``).
      activation: a Keras activation name; ``None`` is linear.
      name: the layer name; default ``conv2d``, ``conv2d_1``...
      **config: other Keras ``Conv2D`` config entries (``dilation_rate``, ``use_bias``...).
    """
    return Layer("Conv2D", name, filters=filters, kernel_size=kernel_size, strides=strides,
                 padding=padding, activation=activation or "linear", **config)


def Reshape(target_shape: tuple[int, ...], *, name: str | None = None) -> LayerSpec:
    """Keras ``Reshape``: each example to ``target_shape`` (without the batch axis; one
    ``-1`` is inferred)."""
    return Layer("Reshape", name, target_shape=list(target_shape))


def Softmax(axis: int = -1, *, name: str | None = None) -> LayerSpec:
    """Keras ``Softmax`` layer along ``axis``."""
    return Layer("Softmax", name, axis=axis)


def classifier_head(num_classes: int, *, dropout: float = 0.2) -> list[LayerSpec]:
    """The usual new head on a feature map: GlobalAveragePooling2D → Dropout → Dense
    softmax, named ``pool``, ``dropout`` and ``classifier`` (Keras layers, exportable)."""
    return [GlobalAveragePooling2D(name="pool"), Dropout(dropout, name="dropout"),
            Dense(num_classes, activation="softmax", name="classifier")]
