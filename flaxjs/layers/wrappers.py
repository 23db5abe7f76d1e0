"""Layer wrappers: TimeDistributed and Bidirectional (TF.js ``layers/wrappers.ts``).

The wrapped layer is converted through the registry like any other layer (also for
Keras 3's ``SpectralNormalization``, the wrapped layer at inference, and the layers of
a Keras 3 ``Pipeline``).
``TimeDistributed``'s inner module shares the wrapper's variable scope
(``flax.linen.share_scope``), so its variables are ``time_distributed/kernel``
as in TF.js, with no inner layer name. ``Bidirectional`` owns two child RNNs,
``forward_<rnn>`` and ``backward_<rnn>`` (the same config with
``go_backwards`` flipped, or an explicit ``backward_layer`` as Keras runs it),
exactly the TF.js variable scopes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ..topology.spec import MODEL_CLASSES, LayerSpec
from . import registry
from .base import KerasLayer, as_list, fail, single
from .fields import NESTED, Str
from .registry import register_layer
from .traits import Export, ExportContext, KerasFileLayout, Sample, refuse

Array = jax.Array


def _inner_layer(spec: LayerSpec) -> tuple[str, dict[str, Any]]:
    """``config['layer']`` as ``(class_name, config)``."""
    inner = spec.config.get("layer")
    if not isinstance(inner, Mapping) or "class_name" not in inner:
        raise fail(spec, "the wrapper has no 'layer' {class_name, config} entry")
    class_name = str(inner["class_name"])
    if class_name in MODEL_CLASSES:
        raise fail(spec, f"wrapping a whole model ({class_name}) is not supported")
    return class_name, copy.deepcopy(dict(inner.get("config") or {}))


def _explicit_backward(spec: LayerSpec) -> tuple[str, dict[str, Any]] | None:
    """``config['backward_layer']`` as ``(class_name, config)`` when it is not just the
    wrapped layer run backwards (Keras 3 always writes one), else None."""
    back = spec.config.get("backward_layer")
    if not isinstance(back, Mapping) or "class_name" not in back:
        return None
    class_name, forward = _inner_layer(spec)
    config = copy.deepcopy(dict(back.get("config") or {}))
    flipped = dict(forward, go_backwards=not bool(forward.get("go_backwards")))
    ignored = ("name", "build_config")
    if back["class_name"] == class_name and (
            {k: v for k, v in config.items() if k not in ignored}
            == {k: v for k, v in flipped.items() if k not in ignored}):
        return None
    if back["class_name"] in MODEL_CLASSES:
        raise fail(spec, f"backward_layer cannot be a whole model ({back['class_name']})")
    return str(back["class_name"]), config


class TimeDistributed(KerasLayer):
    """Applies the inner layer to every time step ``x[:, t]`` independently.

    TF.js loops over time; for the per-sample layers a wrapper can hold this is
    the inner layer applied once to ``[B·T, ...]`` and reshaped back. (With
    ``train=True`` a BatchNormalization inside computes its statistics over
    ``B·T`` rows rather than per step.) The inner layer does not see the mask.

    Attributes:
      inner: the wrapped layer's spec, carrying the wrapper's name.
    """

    inner: LayerSpec

    supports_masking = True

    def setup(self):
        self.layer = registry.convert(self.inner)
        nn.share_scope(self, self.layer)

    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "TimeDistributed")
        if x.ndim < 3:
            raise ValueError(f"TimeDistributed {self.name!r} expects an input of rank >= 3, "
                             f"got shape {x.shape}")
        b, t = x.shape[:2]
        y = self.layer(x.reshape(b * t, *x.shape[2:]), train=train)
        if isinstance(y, (list, tuple)):
            raise ValueError(f"TimeDistributed {self.name!r}: the inner layer returned "
                             f"{len(y)} outputs; only single-output layers can be wrapped")
        return y.reshape(b, t, *y.shape[1:])


def _wrapper_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    config["layer"] = ctx.nested(spec, config.get("layer"))
    if _explicit_backward(spec) is not None:
        raise refuse(spec, "its backward_layer is not the forward layer run backwards; TF.js "
                           "ignores backward_layer and would run the forward layer's copy")
    config.pop("backward_layer", None)  # TF.js builds the same flipped copy itself


def _wrapped(class_name: str, **config: object) -> dict:
    return {"class_name": class_name, "config": {"name": class_name.lower(), **config}}


@register_layer("TimeDistributed", tfjs=True, export=Export(_wrapper_export),
                fields={"layer": NESTED.needed()}, samples=[
    Sample({"layer": _wrapped("Dense", units=3)}, ((2, 4, 5),)),
    Sample({"layer": _wrapped("Conv2D", filters=2, kernel_size=2)}, ((2, 3, 4, 4, 2),))],
    notes=(
    "Inner layer (any registered class) applied to each time step; its variables sit "
    "directly under the wrapper (time_distributed/kernel). Computed on [B*T, ...] at once: "
    "identical for per-sample layers; in training a wrapped BatchNormalization uses "
    "statistics over B*T instead of per step. The mask passes through, the inner layer "
    "does not receive it."))
def time_distributed(spec: LayerSpec) -> nn.Module:
    class_name, config = _inner_layer(spec)
    inner = LayerSpec(class_name, spec.name, config, keras3=spec.keras3)
    if registry.lookup(class_name) is None:
        raise fail(spec, f"no converter for the wrapped class {class_name!r}")
    return TimeDistributed(inner=inner, name=spec.name)


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(KerasLayer):
    """A forward and a backward copy of an RNN, merged (TF.js ``Bidirectional``).

    The backward copy runs with ``go_backwards`` flipped; with ``return_sequences``
    its output is reversed along time before merging. ``merge_mode`` None returns
    both outputs. With ``return_state``: ``[merged, *fwd_states, *bwd_states]``.
    Initial states (extra inputs) are split half forward, half backward.

    Attributes:
      forward_spec, backward_spec: the two RNN copies (names ``forward_<rnn>``,
        ``backward_<rnn>``).
      merge_mode: ``concat``, ``sum``, ``mul``, ``ave`` or None.
      n_states: states per direction.
    """

    forward_spec: LayerSpec
    backward_spec: LayerSpec
    merge_mode: str | None = "concat"
    return_sequences: bool = False
    return_state: bool = False
    n_states: int = 1

    supports_masking = True

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        xs = as_list(inputs)
        x, states = xs[0], xs[1:]
        if len(states) % 2:
            raise ValueError(f"Bidirectional {self.name!r}: the initial states must hold the "
                             f"states of both directions, got {len(states)}")
        forward = registry.convert(self.forward_spec)
        backward = registry.convert(self.backward_spec)
        half = len(states) // 2
        y = forward([x, *states[:half]] if states else x, train=train, mask=mask)
        y_rev = backward([x, *states[half:]] if states else x, train=train, mask=mask)
        out_states: list[Array] = []
        if self.return_state:
            out_states = [*y[1:], *y_rev[1:]]
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = jnp.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            merged = [jnp.concatenate([y, y_rev], axis=-1)]
        elif self.merge_mode == "sum":
            merged = [y + y_rev]
        elif self.merge_mode == "ave":
            merged = [0.5 * (y + y_rev)]
        elif self.merge_mode == "mul":
            merged = [y * y_rev]
        else:
            merged = [y, y_rev]
        outs = merged + out_states
        return outs[0] if len(outs) == 1 else outs

    def compute_mask(self, inputs, masks):
        """TF.js: the input mask (once per merged output) if ``return_sequences``; states None."""
        mask = masks[0] if masks else None
        mask = mask if self.return_sequences else None
        out = [mask, mask] if self.merge_mode is None else [mask]
        if self.return_state:
            return out + [None] * (2 * self.n_states)
        return out if self.merge_mode is None else mask


@register_layer("Bidirectional", tfjs=True, export=Export(_wrapper_export),
                fields={"layer": NESTED.needed(), "merge_mode": Str()}, samples=[
    Sample({"layer": _wrapped("LSTM", units=3, return_sequences=True)}, ((2, 4, 3),)),
    Sample({"layer": _wrapped("GRU", units=2, reset_after=False), "merge_mode": "sum"},
           ((2, 4, 3),)),
    Sample({"layer": _wrapped("SimpleRNN", units=1, return_sequences=True),
            "backward_layer": _wrapped("SimpleRNN", units=1, return_sequences=True,
                                       go_backwards=True, activation="relu")},
           ((2, 2, 2),), exportable=False)], notes=(
    "Children forward_<rnn> and backward_<rnn> (go_backwards flipped); merge_mode "
    "concat/sum/mul/ave/None; return_state gives [merged, *fwd_states, *bwd_states]; initial "
    "states split half/half. Masked steps carry the previous output in both directions "
    "(TF.js; Keras zero-fills them with return_sequences). An explicit 'backward_layer' "
    "(its own class, config and weights, as Keras runs it) is the backward child; TF.js "
    "ignores it, so such a layer is not exported."))
def bidirectional(spec: LayerSpec) -> nn.Module:
    class_name, config = _inner_layer(spec)
    merge_mode = spec.config.get("merge_mode", "concat")
    if merge_mode not in _MERGE_MODES:
        raise fail(spec, f"merge_mode {merge_mode!r} is not one of concat, sum, mul, ave, None")
    rnn_name = str(config.get("name") or class_name.lower())
    if spec.keras3:  # Keras 3 writes the child's own name, "forward_<rnn>", in the config
        rnn_name = rnn_name.removeprefix("forward_")
    forward_spec = LayerSpec(class_name, f"forward_{rnn_name}", config, keras3=spec.keras3)
    backward = _explicit_backward(spec)
    if backward is None:
        backward_config = dict(config, go_backwards=not bool(config.get("go_backwards")))
        backward_spec = LayerSpec(class_name, f"backward_{rnn_name}", backward_config,
                                  keras3=spec.keras3)
    else:
        back_class, back_config = backward
        back_name = str(back_config.get("name") or back_class.lower())
        # Keras 3 keeps an explicit backward layer's name; tf.keras prefixes it
        back_name = back_name if spec.keras3 else f"backward_{back_name}"
        backward_spec = LayerSpec(back_class, back_name, back_config, keras3=spec.keras3)
        if bool(back_config.get("return_sequences")) != bool(config.get("return_sequences")) \
                or bool(back_config.get("return_state")) != bool(config.get("return_state")):
            raise fail(spec, "backward_layer must have the forward layer's return_sequences "
                             "and return_state")
    probe = registry.convert(forward_spec)
    n_states = getattr(probe, "n_states", None)
    if n_states is None:
        raise fail(spec, f"the wrapped layer must be a recurrent layer, got {class_name}")
    if getattr(registry.convert(backward_spec), "n_states", None) != n_states:
        raise fail(spec, "backward_layer must be a recurrent layer with as many states as "
                         f"the forward {class_name}")
    return Bidirectional(forward_spec=forward_spec, backward_spec=backward_spec,
                         merge_mode=merge_mode,
                         return_sequences=bool(config.get("return_sequences")),
                         return_state=bool(config.get("return_state")),
                         n_states=n_states, name=spec.name)


class SpectralNormalization(KerasLayer):
    """Keras 3 ``SpectralNormalization`` at inference: the wrapped layer as stored.

    Keras divides the kernel by its spectral norm (power iteration on ``vector_u``) only in
    training, and writes the result back into the kernel; at inference it runs the wrapped
    layer on the stored kernel. ``vector_u`` is kept as state.
    """

    inner: LayerSpec

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        layer = registry.convert(self.inner)
        y = layer(inputs, train=False)
        kernel = layer.variables["params"].get("kernel", layer.variables["params"].get(
            "embeddings"))
        if kernel is None:
            raise ValueError(f"{self.name}: the wrapped layer has no kernel nor embeddings")
        self.variable("batch_stats", "vector_u", jnp.zeros, (1, kernel.shape[-1]))
        return y


@register_layer("SpectralNormalization", keras_file=KerasFileLayout(repeated=(0,)), samples=[
    Sample({"layer": _wrapped("Dense", units=3), "power_iterations": 1}, ((2, 4),))], notes=(
    "Keras 3 only: inference runs the wrapped layer (variables under the wrapper, "
    "spectral_normalization/<layer>/kernel) on its stored kernel, as Keras does; the "
    "training-time power iteration on `vector_u` is not reproduced (train=True too)."))
def spectral_normalization(spec: LayerSpec) -> nn.Module:
    class_name, config = _inner_layer(spec)
    if registry.lookup(class_name) is None:
        raise fail(spec, f"no converter for the wrapped class {class_name!r}")
    name = str(config.get("name") or class_name.lower())
    return SpectralNormalization(inner=LayerSpec(class_name, name, config, keras3=spec.keras3),
                                 name=spec.name)


class Pipeline(KerasLayer):
    """Keras 3 ``Pipeline``: its layers applied in order (each under the pipeline's scope)."""

    inner: tuple[LayerSpec, ...]

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        y = inputs
        for spec in self.inner:
            y = registry.convert(spec)(y, train=train)
        return y


@register_layer("Pipeline", samples=[
    Sample({"layers": [_wrapped("Rescaling", scale=0.5, offset=0.1),
                       _wrapped("Dense", units=3)]}, ((2, 4),))], notes=(
    "Keras 3 only: the layers of its `layers` list applied in order, each converted through "
    "the registry (variables under pipeline/<layer>/); masks are not passed along."))
def pipeline(spec: LayerSpec) -> nn.Module:
    entries = spec.config.get("layers")
    if not isinstance(entries, list) or not entries:
        raise fail(spec, "a Pipeline needs a non-empty 'layers' list of {class_name, config}")
    inner = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or "class_name" not in entry:
            raise fail(spec, f"layers[{i}] is not a {{class_name, config}} entry")
        class_name = str(entry["class_name"])
        if class_name in MODEL_CLASSES or registry.lookup(class_name) is None:
            raise fail(spec, f"layers[{i}]: no converter for {class_name!r} inside a Pipeline")
        config = copy.deepcopy(dict(entry.get("config") or {}))
        name = str(config.get("name") or f"{class_name.lower()}_{i}")
        inner.append(LayerSpec(class_name, name, config, keras3=spec.keras3))
    return Pipeline(inner=tuple(inner), name=spec.name)
