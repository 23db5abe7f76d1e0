"""Recurrent layer converters: SimpleRNN, GRU, LSTM, RNN (with cells), ConvLSTM1D/2D/3D.

Written from TF.js's ``layers/recurrent.ts`` and ``convolutional_recurrent.ts``.
The cells live in :mod:`.rnn_cells` and the time loop (one ``jax.lax.scan``,
following TF.js's ``rnn()``) in :mod:`.rnn_layer`:

* masked steps (mask ``m_t`` per sample) keep the previous output and every
  previous state: ``s = m·new + (1-m)·old``, starting from the initial states;
* ``go_backwards`` processes the reversed sequence and returns the per-step
  outputs in processing order (not flipped back);
* ``return_state`` returns ``[output, *final_states]``; initial states come as
  extra inputs ``[x, *states]``;
* a stacked cell's flat state list is in reverse cell order (``[h2, c2, h1, c1]``)
  as in TF.js; Keras 3 files use Keras's forward order;
* ``stateful`` layers start from zero states on every call (a pure function
  cannot keep state between calls; thread states explicitly through
  ``return_state`` / initial-state inputs instead);
* ``dropout`` / ``recurrent_dropout`` are the identity at inference; with
  ``train=True`` one inverted-dropout mask per call is drawn from the
  ``dropout`` rng for the inputs and one for the recurrent state, shared by all
  time steps and (as TF.js does) all gates (ConvLSTM: one mask per gate).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn

from ..topology.spec import LayerSpec
from . import initializers
from .base import activation, channels_first, fail, ints, padding
from .conv import WINDOW_FIELDS
from .fields import BOOL, NESTED, RATE, Int, Ints
from .registry import register_layer
from .rnn_cells import ConvLSTMCellDef, DenseCellDef, StackedCellDef
from .rnn_layer import CellLayer, RNNLayer
from .traits import Export, ExportContext, Sample, refuse


# --------------------------------------------------------------------------- converters
def _rate(config: Mapping[str, Any], key: str) -> float:
    return min(1.0, max(0.0, float(config.get(key) or 0.0)))


def _flag(config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key)
    return default if value is None else bool(value)


def _recurrent_activation(spec: LayerSpec, config: Mapping[str, Any]) -> str:
    # TF.js's cells default to hard_sigmoid; Keras 2 (TF2) and Keras 3 to sigmoid.
    return _checked_activation(spec, config, "recurrent_activation",
                               "sigmoid" if spec.keras3 else "hard_sigmoid")


def _checked_activation(spec: LayerSpec, config: Mapping[str, Any], key: str,
                        default: str, *, null_means_default: bool = False) -> str:
    return activation(dataclasses.replace(spec, config=dict(config)), key, default,
                      null_means_default=null_means_default)


def _inits(config: Mapping[str, Any]) -> dict[str, initializers.Initializer]:
    return {"kernel_init": initializers.get(config.get("kernel_initializer"), "glorot_uniform"),
            "recurrent_init": initializers.get(config.get("recurrent_initializer"),
                                               "orthogonal"),
            "bias_init": initializers.get(config.get("bias_initializer"), "zeros")}


def _units(spec: LayerSpec, config: Mapping[str, Any], key: str = "units") -> int:
    try:
        units = int(config[key])
    except (KeyError, TypeError, ValueError):
        raise fail(spec, f"{key!r} must be a positive integer, got {config.get(key)!r}") from None
    if units <= 0:
        raise fail(spec, f"{key!r} must be a positive integer, got {units}")
    return units


def dense_cell(spec: LayerSpec, kind: str, config: Mapping[str, Any]) -> DenseCellDef:
    """The cell of a SimpleRNN/GRU/LSTM layer or cell config."""
    reset_after = False
    if kind == "gru":
        # TF.js throws for reset_after=true; Keras (tf.keras 2 default, Keras 3) uses it.
        reset_after = _flag(config, "reset_after", spec.keras3)
    return DenseCellDef(
        kind=kind, units=_units(spec, config),
        activation=_checked_activation(spec, config, "activation", "tanh",
                                       null_means_default=kind == "simple" and not spec.keras3),
        recurrent_activation=("linear" if kind == "simple"
                              else _recurrent_activation(spec, config)),
        use_bias=_flag(config, "use_bias", True), reset_after=reset_after,
        unit_forget_bias=_flag(config, "unit_forget_bias", True),
        dropout=_rate(config, "dropout"), recurrent_dropout=_rate(config, "recurrent_dropout"),
        keras3=spec.keras3, **_inits(config))


_CELL_KINDS = {"SimpleRNNCell": "simple", "GRUCell": "gru", "LSTMCell": "lstm"}


def cell_from_config(spec: LayerSpec, value: Any) -> Any:
    """A cell description from an RNN's ``cell`` entry (a ``{class_name, config}`` or a list)."""
    if isinstance(value, (list, tuple)):
        return StackedCellDef(tuple(cell_from_config(spec, v) for v in value),
                              forward_states=spec.keras3)
    if not isinstance(value, Mapping) or "class_name" not in value:
        raise fail(spec, f"cannot read the RNN cell {str(value)[:120]!r}")
    class_name = str(value["class_name"])
    config = value.get("config") or {}
    if class_name in _CELL_KINDS:
        return dense_cell(spec, _CELL_KINDS[class_name], config)
    if class_name == "StackedRNNCells":
        cells = config.get("cells")
        if not cells:
            raise fail(spec, "StackedRNNCells without cells")
        return StackedCellDef(tuple(cell_from_config(spec, v) for v in cells),
                              forward_states=spec.keras3)
    raise fail(spec, f"RNN cell class {class_name!r} is not supported (supported: "
                     f"{', '.join([*_CELL_KINDS, 'StackedRNNCells'])})")


def _rnn_layer(spec: LayerSpec, cell: Any, **extra: Any) -> RNNLayer:
    c = spec.config
    stateful = _flag(c, "stateful", False)
    return RNNLayer(cell=cell, return_sequences=_flag(c, "return_sequences", False),
                    return_state=_flag(c, "return_state", False),
                    go_backwards=_flag(c, "go_backwards", False), stateful=stateful,
                    name=spec.name, **extra)


# --------------------------------------------------------------------------- export rules
_CELL_OF = {"GRU": "GRUCell", "LSTM": "LSTMCell", "SimpleRNN": "SimpleRNNCell"}


def _cell_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    """A recurrent layer's or cell's own options (GRU reset_after, default gates)."""
    kind = _CELL_OF.get(spec.class_name, spec.class_name)
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
    if config.get("activation") is None:
        config["activation"] = "tanh"


def _rnn_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    cell = config.get("cell")
    stacked = isinstance(cell, list) or (isinstance(cell, Mapping)
                                         and cell.get("class_name") == "StackedRNNCells")
    if spec.keras3 and stacked and (config.get("return_state")
                                    or any(len(c.inputs) > 1 for c in spec.calls)):
        raise refuse(spec, "TF.js orders the states of stacked cells last cell first "
                     "(Keras 3: first cell first)")
    if isinstance(cell, list):
        config["cell"] = [ctx.nested(spec, c) for c in cell]
    elif cell is not None:
        config["cell"] = ctx.nested(spec, cell)


def _stacked_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    config["cells"] = [ctx.nested(spec, c) for c in config.get("cells") or []]


def _conv_lstm_export(spec: LayerSpec, config: dict, ctx: ExportContext) -> None:
    if config.get("recurrent_activation") is None:
        config["recurrent_activation"] = "sigmoid" if spec.keras3 else "hard_sigmoid"


_SEQUENCE = ((2, 4, 3),)
_RANDOM_BIAS = {"bias_initializer": {"class_name": "RandomUniform", "config": {"seed": 1}}}


_RNN_FIELDS = {"return_sequences": BOOL, "return_state": BOOL, "go_backwards": BOOL,
               "stateful": BOOL, "unroll": BOOL}
_CELL_FIELDS = {"units": Int(1, required=True), "dropout": RATE, "recurrent_dropout": RATE,
                "unit_forget_bias": BOOL, "reset_after": BOOL}
_CONV_CELL_FIELDS = {**WINDOW_FIELDS, **_CELL_FIELDS, "units": Int(1),
                     "filters": Int(1, required=True), "kernel_size": Ints(1, required=True)}


def _in_rnn(cell: str, config: dict, **rnn: object) -> Sample:
    return Sample({"cell": {"class_name": cell, "config": config}, **rnn}, _SEQUENCE,
                  class_name="RNN")


_COMMON_NOTES = (
    "Masked steps keep the previous output and states (TF.js rnn()); go_backwards returns "
    "steps in processing order; return_state gives [output, *states]; initial states as "
    "extra inputs. stateful layers start from zero states on every call (thread states "
    "through return_state/initial-state inputs). dropout/recurrent_dropout: identity at "
    "inference, one mask per call in training. unroll, implementation, time_major and "
    "zero_output_for_mask are ignored as in TF.js.")


@register_layer("SimpleRNN", tfjs=True, export=Export(_cell_export), notes=_COMMON_NOTES,
                fields={**_RNN_FIELDS, **_CELL_FIELDS},
                samples=[Sample({"units": 3, "return_sequences": True, **_RANDOM_BIAS}, _SEQUENCE),
                         Sample({"units": 2, "go_backwards": True, "return_state": True},
                                _SEQUENCE)])
def simple_rnn(spec: LayerSpec) -> nn.Module:
    return _rnn_layer(spec, dense_cell(spec, "simple", spec.config))


@register_layer("GRU", tfjs=True, export=Export(_cell_export),
                fields={**_RNN_FIELDS, **_CELL_FIELDS}, samples=[
    Sample({"units": 3, "reset_after": False, **_RANDOM_BIAS}, _SEQUENCE),
    Sample({"units": 3, "reset_after": True, "return_sequences": True, **_RANDOM_BIAS},
           _SEQUENCE, exportable=False)], notes=(
    "Reset-before form h~ = act(x_h + (r*h)U_h), gates z,r,h; recurrent_activation from the "
    "config (TF.js default hard_sigmoid). reset_after=true (tf.keras 2 / Keras 3 default, "
    "bias [2,3u]) is refused by TF.js; flaxjs computes the Keras reset-after form. "
    + _COMMON_NOTES))
def gru(spec: LayerSpec) -> nn.Module:
    return _rnn_layer(spec, dense_cell(spec, "gru", spec.config))


@register_layer("LSTM", tfjs=True, export=Export(_cell_export),
                fields={**_RNN_FIELDS, **_CELL_FIELDS}, samples=[
    Sample({"units": 3, "return_sequences": True, "recurrent_activation": "sigmoid",
            **_RANDOM_BIAS}, _SEQUENCE),
    Sample({"units": 2, "return_state": True}, _SEQUENCE)], notes=(
    "Gates i,f,c,o in one kernel; recurrent_activation from the config (TF.js default "
    "hard_sigmoid); unit_forget_bias only affects initialization. " + _COMMON_NOTES))
def lstm(spec: LayerSpec) -> nn.Module:
    return _rnn_layer(spec, dense_cell(spec, "lstm", spec.config))


@register_layer("RNN", tfjs=True, export=Export(_rnn_export),
                fields={**_RNN_FIELDS, "cell": NESTED, "cells": NESTED}, samples=[
    _in_rnn("LSTMCell", {"units": 3}, return_sequences=True),
    Sample({"cell": [{"class_name": "GRUCell", "config": {"units": 3, "reset_after": False}},
                     {"class_name": "SimpleRNNCell", "config": {"units": 2}}]}, _SEQUENCE)],
    notes=(
    "Generic RNN over a `cell` config: SimpleRNNCell, GRUCell, LSTMCell, StackedRNNCells or a "
    "list of cells (= StackedRNNCells, variables under RNNCell_<i>). Stacked state list in "
    "reverse cell order ([h2,c2,h1,c1], TF.js; Keras 3 files: forward order). "
    + _COMMON_NOTES))
def rnn(spec: LayerSpec) -> nn.Module:
    cell = spec.config.get("cell")
    if cell is None and spec.config.get("cells"):
        cell = spec.config["cells"]
    if cell is None:
        raise fail(spec, "RNN without a 'cell' config")
    return _rnn_layer(spec, cell_from_config(spec, cell))


_CELL_NOTES = (
    "Meant for an RNN's `cell` config (see RNN), where it is handled. As a graph node of its "
    "own (which TF.js cannot build: its build takes one input shape, its call needs "
    "[x_t, *states]) flaxjs runs one step of the cell call: inputs [x_t, *states] (zero "
    "states when none are given), outputs [output, *new_states]; variables directly under "
    "the layer.")


def _cell_layer(spec: LayerSpec) -> nn.Module:
    cell = cell_from_config(spec, {"class_name": spec.class_name, "config": spec.config})
    return CellLayer(cell=cell, name=spec.name)


@register_layer("SimpleRNNCell", tfjs=True, export=Export(_cell_export), notes=_CELL_NOTES,
                fields=_CELL_FIELDS,
                samples=[_in_rnn("SimpleRNNCell", {"units": 3}),
                         Sample({"units": 3}, ((2, 4),))])
def simple_rnn_cell(spec: LayerSpec) -> nn.Module:
    return _cell_layer(spec)


@register_layer("GRUCell", tfjs=True, export=Export(_cell_export), notes=_CELL_NOTES,
                fields=_CELL_FIELDS,
                samples=[_in_rnn("GRUCell", {"units": 3, "reset_after": False}),
                         Sample({"units": 3, "reset_after": False}, ((2, 4),))])
def gru_cell(spec: LayerSpec) -> nn.Module:
    return _cell_layer(spec)


@register_layer("LSTMCell", tfjs=True, export=Export(_cell_export), notes=_CELL_NOTES,
                fields=_CELL_FIELDS,
                samples=[_in_rnn("LSTMCell", {"units": 3}), Sample({"units": 3}, ((2, 4),))])
def lstm_cell(spec: LayerSpec) -> nn.Module:
    return _cell_layer(spec)


@register_layer("StackedRNNCells", tfjs=True, export=Export(_stacked_export),
                fields={"cells": NESTED.needed()},
                notes=_CELL_NOTES + " Variables under RNNCell_<i>.", samples=[
                    _in_rnn("StackedRNNCells", {"cells": [
                        {"class_name": "LSTMCell", "config": {"units": 3}},
                        {"class_name": "SimpleRNNCell", "config": {"units": 2}}]})])
def stacked_rnn_cells(spec: LayerSpec) -> nn.Module:
    return _cell_layer(spec)


def _conv_lstm_cell(spec: LayerSpec, rank: int) -> ConvLSTMCellDef:
    c = spec.config
    pad = padding(spec)
    cell = ConvLSTMCellDef(
        rank=rank, filters=_units(spec, c, "filters"),
        kernel_size=ints(spec, "kernel_size", rank), strides=ints(spec, "strides", rank, 1),
        padding=pad, dilation_rate=ints(spec, "dilation_rate", rank, 1),
        activation=_checked_activation(spec, c, "activation", "tanh"),
        recurrent_activation=_recurrent_activation(spec, c),
        use_bias=_flag(c, "use_bias", True), unit_forget_bias=_flag(c, "unit_forget_bias", True),
        dropout=_rate(c, "dropout"), recurrent_dropout=_rate(c, "recurrent_dropout"),
        keras3=spec.keras3, **_inits(c))
    if any(s > 1 for s in cell.strides) and any(d > 1 for d in cell.dilation_rate):
        raise fail(spec, "strides > 1 together with dilation_rate > 1 is not supported")
    return cell


def _conv_lstm(spec: LayerSpec, rank: int) -> nn.Module:
    return _rnn_layer(spec, _conv_lstm_cell(spec, rank), channels_first=channels_first(spec))


_CONV_NOTES = (
    "Input conv with the configured strides/padding/dilation plus a stride-1 'same' "
    "recurrent conv, LSTM gates i,f,c,o; channels_first inputs/states/outputs transposed in "
    "and out. A mask (which makes TF.js throw for 5-D inputs) is applied per sample. "
    "In training, one dropout mask per gate. ")


@register_layer("ConvLSTM2D", tfjs=True, export=Export(_conv_lstm_export),
                fields={**_RNN_FIELDS, **_CONV_CELL_FIELDS},
                notes=_CONV_NOTES + _COMMON_NOTES, samples=[
                    Sample({"filters": 2, "kernel_size": 3, "padding": "same",
                            "return_sequences": True, **_RANDOM_BIAS}, ((2, 3, 4, 4, 2),))])
def conv_lstm2d(spec: LayerSpec) -> nn.Module:
    return _conv_lstm(spec, 2)


@register_layer("ConvLSTM2DCell", tfjs=True, fields=_CONV_CELL_FIELDS, samples=[
    Sample({"filters": 2, "kernel_size": 3, "padding": "same"}, ((2, 4, 4, 2),))], notes=(
    "The cell of ConvLSTM2D. As a graph node of its own (which TF.js cannot build) flaxjs runs "
    "one step: inputs [x_t, h, c] (zero states when none are given), outputs [h, h, c]. Not "
    "accepted as a generic RNN `cell` (TF.js's RNN would give it [B, filters] zero states)."))
def conv_lstm2d_cell(spec: LayerSpec) -> nn.Module:
    return CellLayer(cell=_conv_lstm_cell(spec, 2), channels_first=channels_first(spec),
                     name=spec.name)


@register_layer("ConvLSTM1D", fields={**_RNN_FIELDS, **_CONV_CELL_FIELDS}, samples=[
    Sample({"filters": 2, "kernel_size": 3, "strides": 2, **_RANDOM_BIAS}, ((2, 3, 7, 2),))],
    notes=(
    "Keras-only (TF.js cannot load it): ConvLSTM2D's computation in 1-D. " + _CONV_NOTES))
def conv_lstm1d(spec: LayerSpec) -> nn.Module:
    return _conv_lstm(spec, 1)


@register_layer("ConvLSTM3D", fields={**_RNN_FIELDS, **_CONV_CELL_FIELDS}, samples=[
    Sample({"filters": 2, "kernel_size": 2, "return_sequences": True}, ((2, 2, 3, 3, 3, 1),))],
    notes=(
    "Keras-only (TF.js cannot load it): ConvLSTM2D's computation in 3-D. " + _CONV_NOTES))
def conv_lstm3d(spec: LayerSpec) -> nn.Module:
    return _conv_lstm(spec, 3)


__all__ = ["cell_from_config", "dense_cell"]
