"""The recurrent layer module: TF.js's ``rnn()`` loop around a cell description."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from .base import KerasLayer, as_list
from .rnn_cells import CellFns, States

Array = jax.Array


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
            new = [n * m + s * keep for n, s in zip(new, carry, strict=True)]
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
