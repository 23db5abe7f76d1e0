"""Attention layers (Keras-only: TF.js 4.22 cannot load any of them).

Keras semantics (``keras/src/layers/attention/*``, ``core/einsum_dense.py``):
``Attention`` (Luong), ``AdditiveAttention`` (Bahdanau), ``MultiHeadAttention``
and ``EinsumDense``. Keras masks of the inputs are not applied: the executor
hands a layer only its first input's mask (TF.js plumbing), so query/value
masks cannot be told apart; ``use_causal_mask`` in the call arguments is
honoured. Explicit ``attention_mask`` tensors and ``return_attention_scores``
are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ..topology.spec import LayerSpec
from . import activations, initializers
from .base import KerasLayer, activation, as_list, fail, single
from .fields import BOOL, RATE, Field, Int, Ints, Str, is_int
from .registry import register_layer
from .traits import KerasFileLayout, Sample

_NEG = 1e9  # Keras's additive mask value for float32 scores
_ATTENTION_FIELDS = {"use_scale": BOOL, "score_mode": Str("dot", "concat"), "dropout": RATE}
_OUTPUT_SHAPE = Field("a positive integer or a list of positive integers or nulls", lambda v: (
    is_int(v) and v >= 1) or (isinstance(v, (list, tuple)) and all(
        d is None or (is_int(d) and d >= 1) for d in v)))


def _causal(tq: int, tk: int):
    """``[Tq, Tk]`` lower-triangular mask (query ``i`` sees keys ``j <= i``)."""
    return jnp.arange(tq)[:, None] >= jnp.arange(tk)[None, :]


def _dropout(module: nn.Module, weights, rate: float, train: bool):
    """Inverted dropout on the attention weights (training only)."""
    if not train or rate <= 0.0:
        return weights
    if rate >= 1.0:
        return jnp.zeros_like(weights)
    keep = jax.random.bernoulli(module.make_rng("dropout"), 1.0 - rate, weights.shape)
    return jnp.where(keep, weights / (1.0 - rate), 0.0)


def _call_flag(spec: LayerSpec, key: str) -> bool:
    """A boolean call argument; all calls must agree."""
    values = {bool(call.kwargs.get(key, False)) for call in spec.calls} or {False}
    if len(values) > 1:
        raise fail(spec, f"calls disagree on {key}")
    return values.pop()


def _refuse_call_kwargs(spec: LayerSpec, keys: Sequence[str]) -> None:
    for call in spec.calls:
        for key in keys:
            value = call.kwargs.get(key)
            if value not in (None, False):
                raise fail(spec, f"the call argument {key}={str(value)[:60]} is not supported")


# ----------------------------------------------------------------- Attention / Additive
class _ScoreAttention(KerasLayer):
    """``softmax(scores(q, k)) · v`` over ``[query, value(, key)]``."""

    causal: bool = False
    dropout: float = 0.0

    def scores(self, q, k):  # pragma: no cover - overridden
        raise NotImplementedError

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        xs = as_list(inputs)
        if len(xs) not in (2, 3):
            raise ValueError(f"{self.name}: expects [query, value] or [query, value, key]")
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) == 3 else v
        s = self.scores(q, k)
        if self.causal:
            s = jnp.where(_causal(s.shape[-2], s.shape[-1]), s, s - _NEG)
        weights = _dropout(self, jax.nn.softmax(s, axis=-1), self.dropout, train)
        return jnp.matmul(weights, v)


class Attention(_ScoreAttention):
    """Dot (``q·kᵀ·scale``) or concat (``w·Σ tanh(scale·(q + k))``) scores."""

    use_scale: bool = False
    score_mode: str = "dot"

    def scores(self, q, k):
        scale = self.param("scale", jax.nn.initializers.ones, ()) if self.use_scale else None
        if self.score_mode == "concat":
            weight = self.param("concat_score_weight", jax.nn.initializers.ones, ())
            z = q[..., :, None, :] + k[..., None, :, :]
            return weight * jnp.sum(jnp.tanh(z if scale is None else scale * z), axis=-1)
        s = jnp.matmul(q, jnp.swapaxes(k, -1, -2))
        return s if scale is None else s * scale


def _glorot_uniform_1d(key, shape, dtype=jnp.float32):
    """Keras's glorot_uniform for a vector (fan_in = fan_out = its length)."""
    limit = math.sqrt(3.0 / shape[0])
    return jax.random.uniform(key, shape, dtype, -limit, limit)


class AdditiveAttention(_ScoreAttention):
    """``s_ij = Σ_d scale_d · tanh(q_id + k_jd)``."""

    use_scale: bool = True

    def scores(self, q, k):
        t = jnp.tanh(q[..., :, None, :] + k[..., None, :, :])
        if self.use_scale:
            t = t * self.param("scale", _glorot_uniform_1d, (q.shape[-1],))
        return jnp.sum(t, axis=-1)


def _attention_common(spec: LayerSpec) -> dict[str, Any]:
    _refuse_call_kwargs(spec, ("return_attention_scores",))
    return {"causal": bool(spec.config.get("causal", False)) or _call_flag(spec,
                                                                           "use_causal_mask"),
            "dropout": float(spec.config.get("dropout") or 0.0)}


@register_layer("Attention", fields=_ATTENTION_FIELDS, samples=[
    Sample({"use_scale": True}, ((2, 3, 4), (2, 5, 4))),
    Sample({"score_mode": "concat"}, ((2, 3, 4), (2, 5, 4), (2, 5, 4)))], notes=(
    "Keras-only. [query, value(, key)]; `dot` scores `q k^T` (x `scale` if use_scale) or "
    "`concat` scores; causal mask from `use_causal_mask`/`causal`; softmax; dropout on the "
    "weights only with train=True. Input masks are not applied."))
def attention(spec: LayerSpec) -> nn.Module:
    mode = str(spec.config.get("score_mode", "dot"))
    if mode not in ("dot", "concat"):
        raise fail(spec, f"score_mode {mode!r} is not supported")
    return Attention(use_scale=bool(spec.config.get("use_scale", False)), score_mode=mode,
                     name=spec.name, **_attention_common(spec))


@register_layer("AdditiveAttention",
                fields=_ATTENTION_FIELDS,
                samples=[Sample({}, ((2, 3, 4), (2, 5, 4)))], notes=(
    "Keras-only. Bahdanau scores `sum(scale * tanh(q_i + k_j))` (`scale [dim]` if use_scale); "
    "otherwise as Attention."))
def additive_attention(spec: LayerSpec) -> nn.Module:
    return AdditiveAttention(use_scale=bool(spec.config.get("use_scale", True)),
                             name=spec.name, **_attention_common(spec))


# ----------------------------------------------------------------- EinsumDense
_PLAIN = re.compile(r"^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$")
_LEFT = re.compile(r"^\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)$")
_RIGHT = re.compile(r"^([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.$")


def einsum_shapes(equation: str, input_shape: Sequence[int], output_shape: Sequence[Any],
                  bias_axes: str | None):
    """Kernel shape, bias shape and full output shape of a Keras ``EinsumDense``.

    ``output_shape`` excludes the batch axis (``None`` entries are taken from the
    input); the bias spans the output from its first bias axis to the end.
    """
    eq = equation.replace(" ", "")
    patterns = ((_PLAIN, False), (_LEFT, True), (_RIGHT, False))
    found = next(((m, left) for pattern, left in patterns if (m := pattern.match(eq))), None)
    if found is None:
        raise ValueError(f"invalid EinsumDense equation {equation!r}")
    m, left = found
    in_spec, w_spec, out_spec = m.groups()
    elided = len(input_shape) - len(in_spec)
    out = [input_shape[0], *output_shape]
    if elided > 0 and left:
        out[1:1] = list(input_shape[1:elided])
    elif elided > 0:
        out.extend(input_shape[len(input_shape) - elided:])
    in_pos = {c: (i + elided - len(input_shape) if left else i) for i, c in enumerate(in_spec)}
    out_pos = {c: (i + elided if left else i) for i, c in enumerate(out_spec)}
    for c, i in out_pos.items():
        if out[i] is None and c in in_pos:
            out[i] = input_shape[in_pos[c]]
    kernel = []
    for c in w_spec:
        if c in in_pos:
            kernel.append(int(input_shape[in_pos[c]]))
        elif c in out_pos:
            kernel.append(int(out[out_pos[c]]))
        else:
            raise ValueError(f"weight axis {c!r} of {equation!r} is in neither input nor output")
    bias = None
    if bias_axes:
        first = min(out_spec.find(c) for c in bias_axes)
        bias = [int(out[out_pos[c]]) if c in bias_axes else 1 for c in out_spec[first:]]
        if not left:
            bias += [1] * max(elided, 0)
    return tuple(kernel), None if bias is None else tuple(bias), tuple(out)


class EinsumDense(KerasLayer):
    """``act(einsum(equation, x, kernel) + bias)``."""

    equation: str
    output_shape: tuple[Any, ...]
    bias_axes: str | None = None
    activation: str = "linear"
    keras3: bool = False
    kernel_init: initializers.Initializer = initializers.get("glorot_uniform")
    bias_init: initializers.Initializer = initializers.get("zeros")

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        x = single(inputs, "EinsumDense")
        kshape, bshape, _ = einsum_shapes(self.equation, x.shape, self.output_shape,
                                          self.bias_axes)
        y = jnp.einsum(self.equation, x, self.param("kernel", self.kernel_init, kshape))
        if bshape is not None:
            y = y + self.param("bias", self.bias_init, bshape)
        return activations.get(self.activation, keras3=self.keras3)(y)


def _output_shape(value: Any) -> tuple[Any, ...]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return tuple(None if v is None else int(v) for v in values)


@register_layer("EinsumDense", fields={"equation": Str(required=True),
                                       "output_shape": _OUTPUT_SHAPE, "bias_axes": Str()},
                samples=[
    Sample({"equation": "abc,cd->abd", "output_shape": [3, 5], "bias_axes": "d"}, ((2, 3, 4),)),
    Sample({"equation": "...b,bc->...c", "output_shape": 6, "activation": "relu"},
           ((2, 3, 4),))], notes=(
    "Keras-only. `act(einsum(equation, x, kernel) + bias)`; kernel and bias shapes from the "
    "equation, `output_shape` and `bias_axes` as Keras derives them (`...` on the left or "
    "right). Keras 3 LoRA / quantized variants refused."))
def einsum_dense(spec: LayerSpec) -> nn.Module:
    c = spec.config
    if c.get("lora_rank") or c.get("quantization_config"):
        raise fail(spec, "LoRA or quantized EinsumDense is not supported")
    equation = str(c.get("equation", ""))
    try:
        einsum_shapes(equation, (1,) * 8, (1,), None)  # validates the equation's form
    except ValueError as err:
        raise fail(spec, str(err)) from None
    return EinsumDense(equation=equation, output_shape=_output_shape(c.get("output_shape")),
                       bias_axes=c.get("bias_axes") or None, activation=activation(spec),
                       keras3=spec.keras3,
                       kernel_init=initializers.get(c.get("kernel_initializer"),
                                                    "glorot_uniform"),
                       bias_init=initializers.get(c.get("bias_initializer"), "zeros"),
                       name=spec.name)


# ----------------------------------------------------------------- MultiHeadAttention
class _Projection(nn.Module):
    """One MHA projection: ``kernel`` contracts ``n_in`` trailing input axes."""

    kernel_tail: tuple[int, ...]
    n_in: int = 1
    use_bias: bool = True
    kernel_init: initializers.Initializer = initializers.get("glorot_uniform")
    bias_init: initializers.Initializer = initializers.get("zeros")

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init,
                            (*x.shape[x.ndim - self.n_in:], *self.kernel_tail))
        y = jnp.tensordot(x, kernel, axes=self.n_in)
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, self.kernel_tail)
        return y


def _query_value_key(xs: Sequence[jax.Array], order: Sequence[int]
                     ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Query, value and key from the inputs at ``order`` (value defaults to the query, key
    to the value)."""
    q_at, v_at, k_at = order
    q = xs[q_at]
    v = xs[v_at] if 0 <= v_at < len(xs) else q
    return q, v, xs[k_at] if 0 <= k_at < len(xs) else v


class MultiHeadAttention(KerasLayer):
    """Keras ``MultiHeadAttention`` on ``[query, value(, key)]``.

    Projections ``query``/``key``/``value`` (``kernel [d, heads, dim]``), query
    scaled by ``1/sqrt(key_dim)``, softmax jointly over the key positions of the
    attention axes, weighted sum of values, output projection
    ``attention_output`` (``kernel [heads, value_dim, *out]``).
    """

    num_heads: int
    key_dim: int
    value_dim: int
    output_shape: tuple[int, ...] | None = None
    attention_axes: tuple[int, ...] | None = None
    use_bias: bool = True
    causal: bool = False
    dropout: float = 0.0
    kernel_init: initializers.Initializer = initializers.get("glorot_uniform")
    bias_init: initializers.Initializer = initializers.get("zeros")
    order: tuple[int, ...] = (0, 1, 2)  # input index of query, value, key (-1: key = value)

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        xs = as_list(inputs)
        if len(xs) not in (1, 2, 3):
            raise ValueError(f"{self.name}: expects [query, value(, key)]")
        q_in, v_in, k_in = _query_value_key(xs, self.order)
        common: dict[str, Any] = dict(use_bias=self.use_bias, kernel_init=self.kernel_init,
                                      bias_init=self.bias_init)
        heads = self.num_heads
        q = _Projection((heads, self.key_dim), name="query", **common)(q_in)
        k = _Projection((heads, self.key_dim), name="key", **common)(k_in)
        v = _Projection((heads, self.value_dim), name="value", **common)(v_in)
        q = q * (1.0 / math.sqrt(float(self.key_dim)))

        inner = list(range(1, q_in.ndim - 1))  # the non-batch, non-feature input axes
        attn = [a if a >= 0 else q_in.ndim + a for a in (self.attention_axes or inner)]
        if any(a not in inner for a in attn):
            raise ValueError(f"{self.name}: attention_axes {self.attention_axes} out of range")
        other = [a for a in inner if a not in attn]

        def grouped(t):
            """``[B, S..., H, D]`` → ``[B, other..., H, L, D]`` with L = attention positions."""
            t = jnp.transpose(t, (0, *other, t.ndim - 2, *attn, t.ndim - 1))
            return t.reshape(*t.shape[:len(other) + 2], -1, t.shape[-1])

        qg, kg, vg = grouped(q), grouped(k), grouped(v)
        scores = jnp.einsum("...qd,...kd->...qk", qg, kg)
        if self.causal and len(attn) != 1:
            raise ValueError(f"{self.name}: use_causal_mask needs a single attention axis")
        if self.causal:
            scores = jnp.where(_causal(scores.shape[-2], scores.shape[-1]), scores,
                               scores - _NEG)
        weights = _dropout(self, jax.nn.softmax(scores, axis=-1), self.dropout, train)
        out = jnp.einsum("...qk,...kd->...qd", weights, vg)
        # back to [B, S..., H, value_dim]
        out = out.reshape(*out.shape[:len(other) + 2], *(q.shape[a] for a in attn),
                          out.shape[-1])
        back = np.argsort([0, *other, q.ndim - 2, *attn, q.ndim - 1])
        out = jnp.transpose(out, tuple(int(a) for a in back))
        tail = self.output_shape or (q_in.shape[-1],)
        return _Projection(tuple(tail), n_in=2, name="attention_output", **common)(out)


_MHA_ARGS = ("query", "value", "key")
#: the projections' attribute names in Keras (tf-keras ``_query_dense``, Keras 3
#: ``query_dense``) → their variable scopes
_PROJECTIONS = {"query_dense": "query", "key_dense": "key", "value_dense": "value",
                "output_dense": "attention_output"}


def _argument_order(spec: LayerSpec, names: Sequence[str]) -> tuple[int, ...]:
    """Where each of the call arguments ``names`` sits in the layer's inputs (-1: absent).

    The first inputs are the positional arguments in signature order, then the tensors
    passed by keyword (``Call.tensor_kwargs``); every call must agree.
    """
    orders = set()
    for call in spec.calls:
        got = [*names[:call.n_positional], *call.tensor_kwargs]
        unknown = [n for n in got if n not in names] + [n for n in set(got) if got.count(n) > 1]
        if unknown or len(got) > len(names):
            raise fail(spec, f"unsupported tensor call arguments {got} (the layer takes "
                             f"{', '.join(names)})")
        orders.add(tuple(got.index(n) if n in got else -1 for n in names))
    if len(orders) > 1:
        raise fail(spec, "the calls pass the tensors as different arguments; call a shared "
                         "layer the same way each time")
    return orders.pop() if orders else tuple(range(len(names)))


@register_layer("MultiHeadAttention", keras_file=KerasFileLayout(_PROJECTIONS), fields={
    "num_heads": Int(1, required=True), "key_dim": Int(1, required=True), "value_dim": Int(1),
    "dropout": RATE, "output_shape": _OUTPUT_SHAPE, "attention_axes": Ints()}, samples=[
    Sample({"num_heads": 2, "key_dim": 3}, ((2, 4, 6), (2, 4, 6))),
    Sample({"num_heads": 2, "key_dim": 3, "value_dim": 2, "output_shape": [5]},
           ((2, 4, 6), (2, 4, 6)))], notes=(
    "Keras-only. Projections `query`/`key`/`value` (kernel [d, heads, dim], bias [heads, dim]), "
    "q scaled by 1/sqrt(key_dim), softmax jointly over the attention axes' key positions "
    "(default: all but batch/features), output projection `attention_output`; "
    "`use_causal_mask` honoured; dropout on the weights only with train=True. Input masks and "
    "`attention_mask` not applied (refused when given). query/value/key positional or by "
    "keyword (Keras 3 kwargs, tf.keras's value/key kwargs): cross-attention included."))
def multi_head_attention(spec: LayerSpec) -> nn.Module:
    c = spec.config
    _refuse_call_kwargs(spec, ("attention_mask", "return_attention_scores"))
    order = _argument_order(spec, _MHA_ARGS)  # tf.keras and mha(query=..., value=...) pass
    if order[0] < 0:                          # tensors as kwargs
        raise fail(spec, "the calls pass no query tensor")
    key_dim = int(c["key_dim"])
    value_dim = c.get("value_dim")
    out = c.get("output_shape")
    axes = c.get("attention_axes")
    if isinstance(axes, int):
        axes = [axes]
    return MultiHeadAttention(
        num_heads=int(c["num_heads"]), key_dim=key_dim,
        value_dim=int(value_dim) if value_dim is not None else key_dim,
        output_shape=_output_shape(out) if out else None,
        attention_axes=tuple(int(a) for a in axes) if axes else None,
        use_bias=bool(c.get("use_bias", True)), causal=_call_flag(spec, "use_causal_mask"),
        order=order,
        dropout=float(c.get("dropout") or 0.0),
        kernel_init=initializers.get(c.get("kernel_initializer"), "glorot_uniform"),
        bias_init=initializers.get(c.get("bias_initializer"), "zeros"),
        name=spec.name)


class GroupedQueryAttention(KerasLayer):
    """Keras 3 ``GroupedQueryAttention`` on ``[query, value(, key)]`` (``[B, T, d]``).

    ``num_query_heads`` query heads share ``num_key_value_heads`` key/value heads (each
    repeated ``num_query_heads // num_key_value_heads`` times, consecutively); projections
    ``query``/``key``/``value`` (``kernel [d, heads, head_dim]``), optional sigmoid
    ``gate`` on the query, scores scaled by ``1/sqrt(head_dim)``, causal and sliding-window
    masks, output projection ``attention_output``.
    """

    head_dim: int
    num_query_heads: int
    num_key_value_heads: int
    use_bias: bool = True
    use_gate: bool = False
    causal: bool = False
    sliding_window: int | None = None
    dropout: float = 0.0
    kernel_init: initializers.Initializer = initializers.get("glorot_uniform")
    bias_init: initializers.Initializer = initializers.get("zeros")
    order: tuple[int, ...] = (0, 1, 2)

    @nn.compact
    def __call__(self, inputs, *, train: bool = False, mask=None):
        q_in, v_in, k_in = _query_value_key(as_list(inputs), self.order)
        common: dict[str, Any] = dict(use_bias=self.use_bias, kernel_init=self.kernel_init,
                                      bias_init=self.bias_init)
        heads, groups = self.num_query_heads, self.num_key_value_heads
        repeats = heads // groups
        q = _Projection((heads, self.head_dim), name="query", **common)(q_in)
        k = _Projection((groups, self.head_dim), name="key", **common)(k_in)
        v = _Projection((groups, self.head_dim), name="value", **common)(v_in)
        k, v = jnp.repeat(k, repeats, axis=2), jnp.repeat(v, repeats, axis=2)
        q = q * (1.0 / math.sqrt(float(self.head_dim)))
        scores = jnp.einsum("bquh,bkuh->buqk", q, k)
        allowed = jnp.ones(scores.shape[-2:], bool)
        if self.causal:
            allowed = allowed & _causal(*scores.shape[-2:])
        if self.sliding_window is not None:
            rows, cols = jnp.arange(scores.shape[-2]), jnp.arange(scores.shape[-1])
            allowed = allowed & (jnp.abs(rows[:, None] - cols[None, :]) < self.sliding_window)
        if self.causal or self.sliding_window is not None:
            scores = jnp.where(allowed, scores, scores - _NEG)
        weights = _dropout(self, jax.nn.softmax(scores, axis=-1), self.dropout, train)
        out = jnp.einsum("buqk,bkuh->bquh", weights, v)
        if self.use_gate:
            out = out * jax.nn.sigmoid(_Projection((heads, self.head_dim), name="gate",
                                                   **common)(q_in))
        return _Projection((q_in.shape[-1],), n_in=2, name="attention_output", **common)(out)


@register_layer("GroupedQueryAttention", aliases=["GroupQueryAttention"],
                keras_file=KerasFileLayout({**_PROJECTIONS, "gate_dense": "gate"}), samples=[
    Sample({"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 2, "use_gate": True,
            "sliding_window": 2}, ((2, 4, 6), (2, 5, 6)))], notes=(
    "Keras 3 only. Query heads share key/value heads (repeated consecutively), projections "
    "`query`/`key`/`value` [d, heads, head_dim], scores scaled by 1/sqrt(head_dim), "
    "`use_causal_mask` and `sliding_window` (|i - j| < window) honoured, optional sigmoid "
    "`gate`, output projection `attention_output`; dropout only with train=True. Input masks "
    "and `attention_mask` refused."))
def grouped_query_attention(spec: LayerSpec) -> nn.Module:
    c = spec.config
    _refuse_call_kwargs(spec, ("attention_mask", "return_attention_scores", "query_mask",
                               "value_mask", "key_mask"))
    order = _argument_order(spec, _MHA_ARGS)
    if order[0] < 0:
        raise fail(spec, "the calls pass no query tensor")
    heads, groups = int(c["num_query_heads"]), int(c["num_key_value_heads"])
    if groups <= 0 or heads % groups:
        raise fail(spec, f"num_query_heads {heads} is not a multiple of num_key_value_heads "
                         f"{groups}")
    window = c.get("sliding_window")
    return GroupedQueryAttention(
        head_dim=int(c["head_dim"]), num_query_heads=heads, num_key_value_heads=groups,
        use_bias=bool(c.get("use_bias", True)), use_gate=bool(c.get("use_gate", False)),
        causal=_call_flag(spec, "use_causal_mask"),
        sliding_window=int(window) if window is not None else None,
        dropout=float(c.get("dropout") or 0.0),
        kernel_init=initializers.get(c.get("kernel_initializer"), "glorot_uniform"),
        bias_init=initializers.get(c.get("bias_initializer"), "zeros"), order=order,
        name=spec.name)


__all__ = ["AdditiveAttention", "Attention", "EinsumDense", "GroupedQueryAttention",
           "MultiHeadAttention", "einsum_shapes"]
