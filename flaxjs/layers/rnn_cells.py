"""Recurrent cells as small frozen descriptions that make pure step functions.

Keras packs all gates in one kernel (LSTM columns ``i, f, c, o``; GRU ``z, r, h``)
and TF.js's GRU is the reset-*before* form, so Flax's cells are not reused. A
``*CellDef`` creates its variables on the module that owns them (the layer itself,
so they are named ``lstm/kernel``; or a child ``RNNCell_<i>`` inside a stacked cell)
and returns the step as pure functions (:class:`CellFns`) for the time loop in
:mod:`flaxjs.layers.rnn_layer`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from . import activations, initializers

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
_GLOROT_UNIFORM = initializers.get(None)
_ORTHOGONAL = initializers.get("orthogonal")
_ZEROS = initializers.get("zeros")


@dataclasses.dataclass(frozen=True, kw_only=True)
class _GatedCellOptions:
    """What every Keras recurrent cell config says besides its sizes."""

    activation: str = "tanh"
    recurrent_activation: str = "hard_sigmoid"
    use_bias: bool = True
    unit_forget_bias: bool = True
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    keras3: bool = False
    kernel_init: initializers.Initializer = _GLOROT_UNIFORM
    recurrent_init: initializers.Initializer = _ORTHOGONAL
    bias_init: initializers.Initializer = _ZEROS


@dataclasses.dataclass(frozen=True, kw_only=True)
class DenseCellDef(_GatedCellOptions):
    """SimpleRNNCell / GRUCell / LSTMCell: one kernel ``[in, g·u]`` for all g gates.

    Attributes:
      kind: ``"simple"``, ``"gru"`` or ``"lstm"``.
      reset_after: GRU only: Keras's reset-after form (``bias [2, 3u]``), which
        tf.keras 2 and Keras 3 write by default and TF.js refuses to load.
    """

    kind: str
    units: int
    reset_after: bool = False

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


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConvLSTMCellDef(_GatedCellOptions):
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

    state_count = 2

    @property
    def output_size(self) -> int:
        return self.filters

    def out_spatial(self, sizes: Sequence[int]) -> tuple[int, ...]:
        out = []
        for n, k, s, d in zip(sizes, self.kernel_size, self.strides, self.dilation_rate,
                              strict=True):
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
                                    for m, wg in zip(masks, parts, strict=True)], axis=-1)

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
