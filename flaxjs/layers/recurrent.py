"""Recurrent layers: SimpleRNN, GRU, LSTM, RNN (with cells), ConvLSTM1D/2D/3D.

Written from TF.js's ``layers/recurrent.ts`` and ``convolutional_recurrent.ts``
rather than Flax's cells, whose gate layout differs: Keras packs all gates in
one kernel (LSTM columns ``i, f, c, o``; GRU ``z, r, h``) and TF.js's GRU is
the reset-*before* form. A cell is a small frozen description (``*CellDef``)
that creates its variables on the module that owns them (the layer itself, so
that they are named ``lstm/kernel``; or a child ``RNNCell_<i>`` inside a
stacked cell) and returns pure functions; the time loop is one
``jax.lax.scan``, following TF.js's ``rnn()``:

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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from ..topology.spec import LayerSpec
from . import activations, initializers
from .base import KerasLayer, activation, as_list, channels_first, fail, ints, padding
from .registry import register_layer

Array = jax.Array
States = list  # list[Array]


class CellFns(NamedTuple):
    """What a built cell offers the time loop.

    Attributes:
      project: the per-step input transform applied to the whole time-major
        sequence at once (``x·W + b`` for dense cells), ``[T, B, ...] → [T, B, ...]``.
      step: ``(projected x_t, states) → (output, new_states)``; the output equals
        ``new_states[out_index]`` (TF.js's masking relies on that: it carries
        ``states[0]`` forward as the previous output).
      zero_states: the initial states when none are given.
      out_index: which state is the output (0 except for Keras-ordered stacks).
    """

    project: Callable[[Array], Array]
    step: Callable[[Array, States], tuple[Array, States]]
    zero_states: Callable[[], States]
    out_index: int = 0


def _dropout_mask(mdl: nn.Module, train: bool, rate: float, shape: Sequence[int], dtype,
                  count: int = 1) -> list[Array] | None:
    """TF.js ``generateDropoutMask``: ``count`` inverted-dropout masks, only in training."""
    if not train or not 0.0 < rate < 1.0:
        return None
    keys = jax.random.split(mdl.make_rng("dropout"), count)
    keep = 1.0 - rate
    return [jax.random.bernoulli(k, keep, tuple(shape)).astype(dtype) / keep for k in keys]


def _act(name: str, keras3: bool) -> Callable[[Array], Array]:
    return activations.get(name, keras3=keras3)


def _forget_bias_init(init: initializers.Initializer, units: int) -> initializers.Initializer:
    """Keras/TF.js ``unit_forget_bias``: the forget-gate block of the bias starts at one."""

    def make(key, shape, dtype=jnp.float32):
        k1, k2 = jax.random.split(key)
        lead = shape[:-1]
        return jnp.concatenate([init(k1, (*lead, units), dtype), jnp.ones((*lead, units), dtype),
                                init(k2, (*lead, 2 * units), dtype)], axis=-1)

    return make


# --------------------------------------------------------------------------- cells
@dataclasses.dataclass(frozen=True)
class DenseCellDef:
    """SimpleRNNCell / GRUCell / LSTMCell: one kernel ``[in, g·u]`` for all g gates.

    Attributes:
      kind: ``"simple"``, ``"gru"`` or ``"lstm"``.
      reset_after: GRU only: Keras's reset-after form (``bias [2, 3u]``), which
        tf.keras 2 and Keras 3 write by default and TF.js refuses to load.
    """

    kind: str
    units: int
    activation: str = "tanh"
    recurrent_activation: str = "hard_sigmoid"
    use_bias: bool = True
    reset_after: bool = False
    unit_forget_bias: bool = True
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    keras3: bool = False
    kernel_init: initializers.Initializer = initializers.get(None)
    recurrent_init: initializers.Initializer = initializers.get("orthogonal")
    bias_init: initializers.Initializer = initializers.get("zeros")

    @property
    def gates(self) -> int:
        return {"simple": 1, "gru": 3, "lstm": 4}[self.kind]

    @property
    def state_count(self) -> int:
        return 2 if self.kind == "lstm" else 1

    @property
    def output_size(self) -> int:
        return self.units

    def build(self, mdl: nn.Module, step_shape: Sequence[int], dtype, train: bool) -> CellFns:
        u, g = self.units, self.gates
        batch, in_dim = step_shape[0], step_shape[-1]
        kernel = mdl.param("kernel", self.kernel_init, (in_dim, g * u))
        recurrent = mdl.param("recurrent_kernel", self.recurrent_init, (u, g * u))
        bias = recurrent_bias = None
        if self.use_bias:
            if self.kind == "gru" and self.reset_after:
                both = mdl.param("bias", self.bias_init, (2, g * u))
                bias, recurrent_bias = both[0], both[1]
            else:
                init = self.bias_init
                if self.kind == "lstm" and self.unit_forget_bias:
                    init = _forget_bias_init(init, u)
                bias = mdl.param("bias", init, (g * u,))
        in_mask = _dropout_mask(mdl, train, self.dropout, (batch, in_dim), dtype)
        rec_mask = _dropout_mask(mdl, train, self.recurrent_dropout, (batch, u), dtype)
        act = _act(self.activation, self.keras3)
        ract = _act(self.recurrent_activation, self.keras3)

        def project(xs):
            if in_mask is not None:
                xs = xs * in_mask[0]
            y = jnp.matmul(xs.astype(kernel.dtype), kernel)
            return y + bias if bias is not None else y

        def step(p, states):
            h = states[0]
            if rec_mask is not None:
                h = h * rec_mask[0]
            if self.kind == "simple":
                out = act(p + h @ recurrent)
                return out, [out]
            if self.kind == "lstm":
                z = p + h @ recurrent
                zi, zf, zc, zo = jnp.split(z, 4, axis=-1)
                c = ract(zf) * states[1] + ract(zi) * act(zc)
                out = ract(zo) * act(c)
                return out, [out, c]
            # GRU: z, r, h blocks; the carried state is the undropped h.
            xz, xr, xh = jnp.split(p, 3, axis=-1)
            if self.reset_after:
                inner = h @ recurrent
                if recurrent_bias is not None:
                    inner = inner + recurrent_bias
                hz, hr, hh = jnp.split(inner, 3, axis=-1)
                z, r = ract(xz + hz), ract(xr + hr)
                cand = act(xh + r * hh)
            else:
                hz, hr = jnp.split(h @ recurrent[:, :2 * u], 2, axis=-1)
                z, r = ract(xz + hz), ract(xr + hr)
                cand = act(xh + (r * h) @ recurrent[:, 2 * u:])
            out = z * h + (1 - z) * cand  # TF.js mixes in the (dropped-out) h
            return out, [out]

        def zero_states():
            return [jnp.zeros((batch, u), dtype) for _ in range(self.state_count)]

        return CellFns(project, step, zero_states)


@dataclasses.dataclass(frozen=True)
class ConvLSTMCellDef:
    """ConvLSTM cell of any spatial rank, channels-last inside.

    Gate ``g``: ``conv(x, W_g, strides, padding, dilation) + b_g + conv(h, U_g, 1, same)``,
    then the LSTM equations; state shape ``[B, *S', filters]``.
    """

    rank: int
    filters: int
    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str = "valid"
    dilation_rate: tuple[int, ...] = (1, 1)
    activation: str = "tanh"
    recurrent_activation: str = "hard_sigmoid"
    use_bias: bool = True
    unit_forget_bias: bool = True
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    keras3: bool = False
    kernel_init: initializers.Initializer = initializers.get(None)
    recurrent_init: initializers.Initializer = initializers.get("orthogonal")
    bias_init: initializers.Initializer = initializers.get("zeros")

    state_count = 2

    @property
    def output_size(self) -> int:
        return self.filters

    def out_spatial(self, sizes: Sequence[int]) -> tuple[int, ...]:
        out = []
        for n, k, s, d in zip(sizes, self.kernel_size, self.strides, self.dilation_rate):
            keff = (k - 1) * d + 1
            out.append(-(-n // s) if self.padding == "same" else -(-(n - keff + 1) // s))
        return tuple(out)

    def build(self, mdl: nn.Module, step_shape: Sequence[int], dtype, train: bool) -> CellFns:
        f = self.filters
        batch, *spatial, in_dim = step_shape
        kernel = mdl.param("kernel", self.kernel_init, (*self.kernel_size, in_dim, 4 * f))
        recurrent = mdl.param("recurrent_kernel", self.recurrent_init,
                              (*self.kernel_size, f, 4 * f))
        bias = None
        if self.use_bias:
            init = _forget_bias_init(self.bias_init, f) if self.unit_forget_bias else self.bias_init
            bias = mdl.param("bias", init, (4 * f,))
        state_shape = (batch, *self.out_spatial(spatial), f)
        in_masks = _dropout_mask(mdl, train, self.dropout, step_shape, dtype, 4)
        rec_masks = _dropout_mask(mdl, train, self.recurrent_dropout, state_shape, dtype, 4)
        sp = "DHW"[3 - self.rank:] if self.rank <= 3 else None
        if sp is None:
            raise ValueError(f"ConvLSTM of rank {self.rank} is not supported")
        dims = (f"N{sp}C", f"{sp}IO", f"N{sp}C")
        act = _act(self.activation, self.keras3)
        ract = _act(self.recurrent_activation, self.keras3)

        def conv(x, w, strides, pad, dilation):
            return lax.conv_general_dilated(x.astype(w.dtype), w, strides, pad,
                                            rhs_dilation=dilation, dimension_numbers=dims)

        def gated(x, w, masks, strides, pad, dilation):
            if masks is None:
                return conv(x, w, strides, pad, dilation)
            parts = jnp.split(w, 4, axis=-1)
            return jnp.concatenate([conv(x * m, wg, strides, pad, dilation)
                                    for m, wg in zip(masks, parts)], axis=-1)

        def project(xs):
            t, b = xs.shape[:2]
            if in_masks is not None:
                flat = xs.reshape(t * b, *xs.shape[2:])
                tiled = [jnp.tile(m, (t,) + (1,) * (m.ndim - 1)) for m in in_masks]
                y = gated(flat, kernel, tiled, self.strides, self.padding.upper(),
                          self.dilation_rate)
            else:
                y = conv(xs.reshape(t * b, *xs.shape[2:]), kernel, self.strides,
                         self.padding.upper(), self.dilation_rate)
            if bias is not None:
                y = y + bias
            return y.reshape(t, b, *y.shape[1:])

        def step(p, states):
            h, c = states
            z = p + gated(h, recurrent, rec_masks, (1,) * self.rank, "SAME", (1,) * self.rank)
            zi, zf, zc, zo = jnp.split(z, 4, axis=-1)
            c = ract(zf) * c + ract(zi) * act(zc)
            out = ract(zo) * act(c)
            return out, [out, c]

        def zero_states():
            return [jnp.zeros(state_shape, dtype) for _ in range(2)]

        return CellFns(project, step, zero_states)


class _CellScope(nn.Module):
    """A variable scope ``RNNCell_<i>`` for one cell of a stack."""

    cell: Any

    @nn.compact
    def __call__(self, step_shape, dtype, train):
        return self.cell.build(self, step_shape, dtype, train)


@dataclasses.dataclass(frozen=True)
class StackedCellDef:
    """StackedRNNCells: cells run one after the other at every step.

    ``forward_states`` False (TF.js) keeps the flat state list in reverse cell
    order, ``[h2, c2, h1, c1]``; True (Keras) in cell order.
    """

    cells: tuple[Any, ...]
    forward_states: bool = False

    @property
    def state_count(self) -> int:
        return sum(c.state_count for c in self.cells)

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    def _order(self) -> list[int]:
        n = range(len(self.cells))
        return list(n) if self.forward_states else list(reversed(n))

    def _split(self, flat: States) -> list[States]:
        per: list[States] = [[] for _ in self.cells]
        pos = 0
        for i in self._order():
            k = self.cells[i].state_count
            per[i] = list(flat[pos:pos + k])
            pos += k
        return per

    def _join(self, per: list[States]) -> States:
        return [s for i in self._order() for s in per[i]]

    def build(self, mdl: nn.Module, step_shape: Sequence[int], dtype, train: bool) -> CellFns:
        fns = []
        shape = tuple(step_shape)
        for i, cell in enumerate(self.cells):
            fns.append(_CellScope(cell, name=f"RNNCell_{i}")(shape, dtype, train))
            shape = (shape[0], cell.output_size)

        def step(p, states):
            per = self._split(states)
            new = []
            x = None
            for i, fn in enumerate(fns):
                x, s = fn.step(p if i == 0 else fn.project(x), per[i])
                new.append(s)
            return x, self._join(new)

        def zero_states():
            return self._join([fn.zero_states() for fn in fns])

        out_index = self.state_count - self.cells[-1].state_count if self.forward_states else 0
        return CellFns(fns[0].project, step, zero_states, out_index)


# --------------------------------------------------------------------------- the loop
def run_rnn(fns: CellFns, x: Array, states: States, *, go_backwards: bool,
            mask: Array | None, return_sequences: bool) -> tuple[Array, States]:
    """TF.js's ``rnn()`` over axis 1 of ``x``.

    Returns ``(output, final_states)`` where output is ``[B, T, ...]`` (processing
    order) when ``return_sequences`` else the last step's output.
    """
    xs = jnp.swapaxes(x, 0, 1)
    ms = None
    if mask is not None:
        m = jnp.asarray(mask)
        m = (m != 0).astype(states[0].dtype)
        m = jnp.swapaxes(m.reshape(m.shape[:2]), 0, 1)  # [T, B]
        ms = m.reshape(m.shape + (1,) * (states[fns.out_index].ndim - 1))
    if go_backwards:
        xs = xs[::-1]
        ms = None if ms is None else ms[::-1]
    if ms is not None and ms.shape[0] != xs.shape[0]:
        # A stale mask (graph_module, pitfall 17) may be longer than the sequence:
        # TF.js unstacks it and uses its first T steps (after the reversal).
        if ms.shape[0] < xs.shape[0]:
            raise ValueError(f"the mask has {ms.shape[0]} time steps but the input has "
                             f"{xs.shape[0]}")
        ms = ms[:xs.shape[0]]
    ps = fns.project(xs)

    def body(carry, inp):
        p, m = inp
        out, new = fns.step(p, carry)
        if m is not None:
            keep = 1.0 - m
            out = out * m + carry[fns.out_index] * keep
            new = [n * m + s * keep for n, s in zip(new, carry)]
        return new, (out if return_sequences else None)

    final, ys = lax.scan(body, list(states), (ps, ms))
    if return_sequences:
        return jnp.swapaxes(ys, 0, 1), final
    return final[fns.out_index], final


# --------------------------------------------------------------------------- the layer
class RNNLayer(KerasLayer):
    """Any Keras recurrent layer: a cell description plus the RNN options.

    Attributes:
      cell: a ``DenseCellDef``, ``ConvLSTMCellDef`` or ``StackedCellDef``; its
        variables are created directly under this layer (``lstm/kernel``) or,
        for stacks, under ``RNNCell_<i>``.
      channels_first: ConvLSTM with ``data_format: channels_first`` (inputs
        ``[B,T,C,*S]``, states and outputs channels-first too).
    """

    cell: Any
    return_sequences: bool = False
    return_state: bool = False
    go_backwards: bool = False
    stateful: bool = False
    channels_first: bool = False

    supports_masking = True

    @property
    def n_states(self) -> int:
        return self.cell.state_count

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        xs = as_list(inputs)
        x, given = xs[0], xs[1:]
        if given and len(given) != self.n_states:
            raise ValueError(f"layer {self.name!r} has {self.n_states} state(s) but was "
                             f"passed {len(given)} initial state(s)")
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.float32)
        if self.channels_first:
            x = jnp.moveaxis(x, 2, -1)
            given = [jnp.moveaxis(s, 1, -1) for s in given]
        step_shape = (x.shape[0], *x.shape[2:])
        fns = self.cell.build(self, step_shape, x.dtype, train)
        states = [s.astype(x.dtype) for s in given] if given else fns.zero_states()
        out, final = run_rnn(fns, x, states, go_backwards=self.go_backwards, mask=mask,
                             return_sequences=self.return_sequences)
        if self.channels_first:
            out = jnp.moveaxis(out, -1, 2 if self.return_sequences else 1)
            final = [jnp.moveaxis(s, -1, 1) for s in final]
        if self.return_state:
            return [out, *final]
        return out

    def compute_mask(self, inputs, masks):
        """TF.js: the input mask if ``return_sequences`` else None; states get None."""
        mask = masks[0] if masks else None
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * self.n_states
        return out


class CellLayer(KerasLayer):
    """A cell used as a layer on its own: one step, ``[x_t, *states] → [output, *new_states]``.

    This is the cell call an RNN makes at every step (TF.js itself cannot build a
    cell as a graph node); without state inputs the states start at zero.
    """

    cell: Any
    channels_first: bool = False

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x, *states = as_list(inputs)
        if states and len(states) != self.cell.state_count:
            raise ValueError(f"cell {self.name!r} has {self.cell.state_count} state(s) but was "
                             f"passed {len(states)}")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.float32)
        if self.channels_first:
            x = jnp.moveaxis(x, 1, -1)
            states = [jnp.moveaxis(s, 1, -1) for s in states]
        fns = self.cell.build(self, x.shape, x.dtype, train)
        states = [s.astype(x.dtype) for s in states] if states else fns.zero_states()
        out, new = fns.step(fns.project(x[None])[0], states)
        outs = [out, *new]
        if self.channels_first:
            outs = [jnp.moveaxis(o, -1, 1) for o in outs]
        return outs


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


_COMMON_NOTES = (
    "Masked steps keep the previous output and states (TF.js rnn()); go_backwards returns "
    "steps in processing order; return_state gives [output, *states]; initial states as "
    "extra inputs. stateful layers start from zero states on every call (thread states "
    "through return_state/initial-state inputs). dropout/recurrent_dropout: identity at "
    "inference, one mask per call in training. unroll, implementation, time_major and "
    "zero_output_for_mask are ignored as in TF.js.")


@register_layer("SimpleRNN", notes=_COMMON_NOTES)
def simple_rnn(spec: LayerSpec) -> nn.Module:
    return _rnn_layer(spec, dense_cell(spec, "simple", spec.config))


@register_layer("GRU", notes=(
    "Reset-before form h~ = act(x_h + (r*h)U_h), gates z,r,h; recurrent_activation from the "
    "config (TF.js default hard_sigmoid). reset_after=true (tf.keras 2 / Keras 3 default, "
    "bias [2,3u]) is refused by TF.js; flaxjs computes the Keras reset-after form. "
    + _COMMON_NOTES))
def gru(spec: LayerSpec) -> nn.Module:
    return _rnn_layer(spec, dense_cell(spec, "gru", spec.config))


@register_layer("LSTM", notes=(
    "Gates i,f,c,o in one kernel; recurrent_activation from the config (TF.js default "
    "hard_sigmoid); unit_forget_bias only affects initialization. " + _COMMON_NOTES))
def lstm(spec: LayerSpec) -> nn.Module:
    return _rnn_layer(spec, dense_cell(spec, "lstm", spec.config))


@register_layer("RNN", notes=(
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


@register_layer("SimpleRNNCell", notes=_CELL_NOTES)
def simple_rnn_cell(spec: LayerSpec) -> nn.Module:
    return _cell_layer(spec)


@register_layer("GRUCell", notes=_CELL_NOTES)
def gru_cell(spec: LayerSpec) -> nn.Module:
    return _cell_layer(spec)


@register_layer("LSTMCell", notes=_CELL_NOTES)
def lstm_cell(spec: LayerSpec) -> nn.Module:
    return _cell_layer(spec)


@register_layer("StackedRNNCells", notes=_CELL_NOTES + " Variables under RNNCell_<i>.")
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


@register_layer("ConvLSTM2D", notes=_CONV_NOTES + _COMMON_NOTES)
def conv_lstm2d(spec: LayerSpec) -> nn.Module:
    return _conv_lstm(spec, 2)


@register_layer("ConvLSTM2DCell", notes=(
    "The cell of ConvLSTM2D. As a graph node of its own (which TF.js cannot build) flaxjs runs "
    "one step: inputs [x_t, h, c] (zero states when none are given), outputs [h, h, c]. Not "
    "accepted as a generic RNN `cell` (TF.js's RNN would give it [B, filters] zero states)."))
def conv_lstm2d_cell(spec: LayerSpec) -> nn.Module:
    return CellLayer(cell=_conv_lstm_cell(spec, 2), channels_first=channels_first(spec),
                     name=spec.name)


@register_layer("ConvLSTM1D", tfjs=False, notes=(
    "Keras-only (TF.js cannot load it): ConvLSTM2D's computation in 1-D. " + _CONV_NOTES))
def conv_lstm1d(spec: LayerSpec) -> nn.Module:
    return _conv_lstm(spec, 1)


@register_layer("ConvLSTM3D", tfjs=False, notes=(
    "Keras-only (TF.js cannot load it): ConvLSTM2D's computation in 3-D. " + _CONV_NOTES))
def conv_lstm3d(spec: LayerSpec) -> nn.Module:
    return _conv_lstm(spec, 3)


__all__ = ["RNNLayer", "CellLayer", "DenseCellDef", "ConvLSTMCellDef", "StackedCellDef", "CellFns",
           "run_rnn", "cell_from_config", "dense_cell"]
