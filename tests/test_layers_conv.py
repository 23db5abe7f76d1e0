"""Convolutions beyond the corpus: both depthwise lowerings, edge cases, Keras-only classes.

* Depthwise convolution has two lowerings (shifted slices on CPU, grouped
  ``lax.conv`` elsewhere): every corpus model with a depthwise step must match
  TF.js with either one, and the two agree on random configurations.
* Edge cases asked from TF.js live (node): 3-D ``same`` padding, which TF.js
  does not clamp at 0 when the kernel is smaller than the stride, transposed
  convs with kernel < stride, rectangular depthwise/separable configs.
* Keras-only classes and options (TF.js cannot run them): equalities with
  constructions TF.js can run, which the corpus or the live checks verify.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flaxjs
import tfjs_apply
from corpus import CORPUS, TOLERANCE, expected_outputs, inputs, max_error, reference
from flaxjs.layers import conv
from tfjs_apply import init_params, module_for, rand

DEPTHWISE_CASES = [
    ("synthetic", "depthwise_conv2d_valid"), ("synthetic", "depthwise_conv2d_same_s2_mult3"),
    ("synthetic", "depthwise_conv2d_channels_first"), ("synthetic", "depthwise_conv2d_nobias"),
    ("synthetic", "depthwise_conv2d_dilation_ignored"), ("synthetic", "separable_conv2d_dilation2"),
    ("synthetic", "separable_conv2d_same_s2_mult2"), ("synthetic", "model_mobilenet_v1_like"),
    ("wild", "audio-depthwise-tfjs419"),
]



def apply(module, x, params=None):
    variables = {"params": params} if params is not None else module.init(jax.random.key(0), x)
    return np.asarray(module.apply(variables, x))


@pytest.mark.parametrize("impl", ["slices", "grouped"])
@pytest.mark.parametrize("kind,case", DEPTHWISE_CASES, ids=lambda v: str(v))
def test_depthwise_lowerings_match_tfjs(monkeypatch, impl, kind, case):
    folder = CORPUS / kind / case
    if not folder.is_dir():
        pytest.skip("corpus not present")
    monkeypatch.setattr(conv, "DEPTHWISE_IMPL", impl)
    ref = reference(folder)
    out = flaxjs.load(folder)(*inputs(folder, ref))
    for y, want in zip(out if isinstance(out, list) else [out], expected_outputs(folder, ref)):
        assert max_error(np.asarray(y), want) <= TOLERANCE


@pytest.mark.parametrize("ks,strides,dilation,dm,mode", [
    ((3, 3), (1, 1), (1, 1), 1, "same"), ((3, 2), (2, 3), (1, 1), 2, "same"),
    ((5, 5), (1, 1), (2, 3), 3, "valid"), ((1, 1), (2, 2), (1, 1), 1, "valid"),
    ((4,), (3,), (1,), 2, "same"), ((3,), (1,), (2,), 1, "causal"),
])
def test_depthwise_slices_equal_grouped_conv(ks, strides, dilation, dm, mode):
    x = rand(2, *(15,) * len(ks), 5)
    kernel = jnp.asarray(rand(*ks, 5, dm, seed=1))
    pads = conv.conv_padding(x.shape[1:-1], ks, strides, dilation, mode)
    a = conv.depthwise_nd(x, kernel, strides, pads, dilation, impl="slices")
    b = conv.depthwise_nd(x, kernel, strides, pads, dilation, impl="grouped")
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch,size,ks,strides,dilation,dm,mode", [
    (2, 9, (3, 3), (1, 1), (1, 1), 1, "same"), (3, 9, (3, 3), (2, 2), (1, 1), 1, "same"),
    (20, 8, (3, 3), (2, 2), (1, 1), 2, "valid"), (17, 7, (3, 2), (1, 2), (1, 1), 3, "same"),
    (2, 11, (3, 3), (1, 1), (2, 2), 1, "same"), (4, 12, (5, 5), (2, 2), (1, 1), 1, "same"),
    (2, 10, (4,), (3,), (1,), 2, "same"), (2, 10, (3,), (1,), (2,), 1, "causal"),
])
def test_depthwise_custom_gradient_matches_jax(batch, size, ks, strides, dilation, dm, mode):
    """The slices lowering's own backward pass (custom VJP) against JAX differentiating
    the same forward: equal outputs, gradients within 1e-5 relative (summation order)."""
    x = jnp.asarray(rand(batch, *(size,) * len(ks), 4))
    kernel = jnp.asarray(rand(*ks, 4, dm, seed=1))
    pads = conv.conv_padding(x.shape[1:-1], ks, strides, dilation, mode)

    def run(impl):
        def f(x, kernel):
            return conv.depthwise_nd(x, kernel, strides, pads, dilation, impl=impl)
        y, vjp = jax.vjp(jax.jit(f), x, kernel)
        return y, vjp(jnp.asarray(rand(*y.shape, seed=2)))

    (y, grads), (y_ref, grads_ref) = run("slices"), run("slices-autodiff")
    np.testing.assert_array_equal(y, y_ref)
    for g, want in zip(grads, grads_ref, strict=True):
        assert float(jnp.max(jnp.abs(g - want)) / jnp.max(jnp.abs(want))) <= 1e-5


@pytest.mark.parametrize("shape,filters", [((2, 5, 6, 3), 4), ((16, 3, 3, 8), 5), ((3, 7, 2), 6),
                                            ((2, 3, 2, 3, 4), 2)])
def test_pointwise_custom_gradient_matches_jax(shape, filters):
    """1×1 convolutions' own backward pass (chunked kernel gradient) against JAX
    differentiating the same convolution: equal outputs, gradients within 1e-5 relative."""
    rank = len(shape) - 2
    x = jnp.asarray(rand(*shape))
    kernel = jnp.asarray(rand(*(1,) * rank, shape[-1], filters, seed=1))

    def run(f):
        y, vjp = jax.vjp(jax.jit(f), x, kernel)
        return y, vjp(jnp.asarray(rand(*y.shape, seed=2)))

    (y, grads), (y_ref, grads_ref) = (
        run(lambda x, k: conv.conv_nd(x, k, (1,) * rank, ((0, 0),) * rank, (1,) * rank)),
        run(conv._conv1x1))
    np.testing.assert_array_equal(y, y_ref)
    for g, want in zip(grads, grads_ref, strict=True):
        assert float(jnp.max(jnp.abs(g - want)) / jnp.max(jnp.abs(want))) <= 1e-5


# --- edge cases, TF.js asked live ------------------------------------------------------

LIVE = [
    ("Conv3D", dict(filters=3, kernel_size=[1, 1, 2], strides=2, padding="same"), (2, 2, 2, 2, 2)),
    ("Conv3D", dict(filters=2, kernel_size=1, strides=3, padding="same"), (1, 4, 5, 6, 2)),
    ("Conv3D", dict(filters=2, kernel_size=[1, 2, 1], strides=[2, 3, 2], padding="same",
                    data_format="channels_first"), (1, 2, 5, 4, 3)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=[1, 2, 1], strides=[3, 1, 1],
                             padding="same"), (2, 3, 4, 2, 2)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=3, padding="valid"),
     (1, 2, 3, 2, 2)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=[2, 1, 4], strides=[3, 2, 2],
                             padding="same"), (1, 3, 2, 3, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=1, strides=3, padding="same"), (1, 3, 4, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=[5, 2], strides=[2, 3], padding="same"),
     (2, 4, 3, 2)),
    ("Conv2D", dict(filters=2, kernel_size=1, strides=3, padding="same"), (1, 5, 4, 2)),
    ("Conv1D", dict(filters=2, kernel_size=3, dilation_rate=2, padding="same",
                    data_format="channels_first"), (2, 3, 9)),
    ("DepthwiseConv2D", dict(kernel_size=[3, 2], strides=[2, 3], padding="same",
                             depth_multiplier=2), (2, 7, 8, 3)),
    ("DepthwiseConv2D", dict(kernel_size=5, padding="valid", activation="relu6"), (1, 9, 8, 4)),
    ("SeparableConv2D", dict(filters=4, kernel_size=[2, 3], dilation_rate=[2, 3],
                             padding="same", depth_multiplier=3), (2, 7, 9, 2)),
]


live, test_edge_cases_match_tfjs = tfjs_apply.edge_case_tests(LIVE, with_weights=True)


# --- Keras-only classes and options ----------------------------------------------------


def test_conv1d_causal_is_left_padding_then_valid():
    x = rand(2, 9, 3)
    causal = module_for("Conv1D", dict(filters=4, kernel_size=3, dilation_rate=2,
                                       padding="causal"))
    valid = module_for("Conv1D", dict(filters=4, kernel_size=3, dilation_rate=2))
    params = init_params(causal, x)
    want = apply(valid, np.pad(x, ((0, 0), (4, 0), (0, 0))), params)
    np.testing.assert_allclose(apply(causal, x, params), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls,shape", [("Conv1D", (2, 9, 6)), ("Conv2D", (2, 7, 6, 6))])
def test_grouped_conv_is_per_group_convs(cls, shape):
    x = rand(*shape)
    grouped = module_for(cls, dict(filters=4, kernel_size=3, groups=2))
    plain = module_for(cls, dict(filters=2, kernel_size=3))
    params = init_params(grouped, x)
    k, b = params["kernel"], params["bias"]
    parts = [apply(plain, x[..., 3 * g:3 * g + 3],
                   {"kernel": k[..., 2 * g:2 * g + 2], "bias": b[2 * g:2 * g + 2]})
             for g in range(2)]
    np.testing.assert_allclose(apply(grouped, x, params), np.concatenate(parts, -1),
                               rtol=1e-5, atol=1e-5)


def test_conv1d_channels_first_keras3_keeps_channels_first():
    x = rand(2, 3, 8)
    tfjs = module_for("Conv1D", dict(filters=4, kernel_size=3, data_format="channels_first"))
    keras3 = module_for("Conv1D", dict(filters=4, kernel_size=3, data_format="channels_first"),
                        keras3=True)
    params = init_params(tfjs, x)
    np.testing.assert_allclose(apply(keras3, x, params),
                               np.swapaxes(apply(tfjs, x, params), 1, 2), rtol=1e-6)


@pytest.mark.parametrize("cfg", [dict(kernel_size=3, strides=2, padding="same"),
                                 dict(kernel_size=2, strides=3, padding="valid"),
                                 dict(kernel_size=4, strides=1, padding="same", use_bias=False)])
def test_conv1d_transpose_equals_conv2d_transpose_of_width_one(cfg):
    x = rand(2, 5, 3)
    one = module_for("Conv1DTranspose", dict(filters=2, **cfg))
    two = module_for("Conv2DTranspose", dict(filters=2, **{
        k: ([v, 1] if k in ("kernel_size", "strides") else v) for k, v in cfg.items()}))
    params = init_params(one, x)
    params2 = dict(params, kernel=params["kernel"][:, None])
    np.testing.assert_allclose(apply(one, x, params), apply(two, x[:, :, None], params2)[:, :, 0],
                               rtol=1e-5, atol=1e-6)


def test_keras3_conv2d_transpose_dilation_and_output_padding():
    """Keras 3 honours both (TF.js ignores them): output (in-1)·s + k' - 2·pad + output_padding."""
    x = rand(1, 4, 4, 2)
    base = dict(filters=3, kernel_size=3, strides=2, padding="same", output_padding=1,
                dilation_rate=1)
    keras3 = module_for("Conv2DTranspose", base, keras3=True)
    tfjs = module_for("Conv2DTranspose", base)
    params = init_params(tfjs, x)
    assert apply(tfjs, x, params).shape == (1, 8, 8, 3)
    y = apply(keras3, x, params)
    assert y.shape == (1, (4 - 1) * 2 + 3 - 2 + 1, 8, 3)
    np.testing.assert_allclose(y, apply(tfjs, x, params), rtol=1e-5, atol=1e-6)
    dilated = module_for("Conv2DTranspose", dict(base, dilation_rate=2, strides=1,
                                                 output_padding=None, padding="valid"),
                         keras3=True)
    spread = np.zeros((5, 5, 3, 2), np.float32)
    spread[::2, ::2] = params["kernel"]
    undilated = module_for("Conv2DTranspose", dict(base, kernel_size=5, strides=1,
                                                   output_padding=None, padding="valid"))
    np.testing.assert_allclose(apply(dilated, x, params),
                               apply(undilated, x, dict(params, kernel=spread)),
                               rtol=1e-5, atol=1e-6)


def test_depthwise_dilation_ignored_for_tfjs_files_honoured_for_keras3():
    x = rand(2, 9, 9, 3)
    cfg = dict(kernel_size=3, dilation_rate=2, depth_multiplier=2)
    tfjs = module_for("DepthwiseConv2D", cfg)
    params = init_params(tfjs, x)
    plain = module_for("DepthwiseConv2D", dict(cfg, dilation_rate=1))
    np.testing.assert_allclose(apply(tfjs, x, params), apply(plain, x, params), rtol=1e-6)
    keras3 = module_for("DepthwiseConv2D", cfg, keras3=True)
    spread = np.zeros((5, 5, 3, 2), np.float32)
    spread[::2, ::2] = params["depthwise_kernel"]
    wide = module_for("DepthwiseConv2D", dict(cfg, kernel_size=5, dilation_rate=1))
    got = apply(keras3, x, {"kernel": params["depthwise_kernel"], "bias": params["bias"]})
    np.testing.assert_allclose(got, apply(wide, x, dict(params, depthwise_kernel=spread)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("keras3", [False, True])
def test_depthwise_conv1d_equals_depthwise_conv2d_of_width_one(keras3):
    x = rand(2, 10, 3)
    cfg = dict(kernel_size=3, strides=2, padding="same", depth_multiplier=2)
    one = module_for("DepthwiseConv1D", cfg, keras3=keras3)
    params = init_params(one, x)
    name = "kernel" if keras3 else "depthwise_kernel"
    assert list(params) == [name, "bias"]
    two = module_for("DepthwiseConv2D", dict(cfg, kernel_size=[3, 1], strides=[2, 1]))
    params2 = {"depthwise_kernel": params[name][:, None], "bias": params["bias"]}
    np.testing.assert_allclose(apply(one, x, params), apply(two, x[:, :, None], params2)[:, :, 0],
                               rtol=1e-5, atol=1e-6)


def test_separable_conv1d_equals_separable_conv2d_of_width_one():
    x = rand(2, 10, 3)
    cfg = dict(filters=4, kernel_size=3, dilation_rate=2, padding="same", depth_multiplier=2)
    one = module_for("SeparableConv1D", cfg)
    params = init_params(one, x)
    assert [v.shape for v in params.values()] == [(3, 3, 2), (1, 6, 4), (4,)]
    two = module_for("SeparableConv2D", dict(cfg, kernel_size=[3, 1], dilation_rate=[2, 1]))
    params2 = {"depthwise_kernel": params["depthwise_kernel"][:, None],
               "pointwise_kernel": params["pointwise_kernel"][:, None], "bias": params["bias"]}
    np.testing.assert_allclose(apply(one, x, params), apply(two, x[:, :, None], params2)[:, :, 0],
                               rtol=1e-5, atol=1e-6)


def test_separable_conv2d_channels_first_keras3_has_keras_layout():
    """Keras: bias on the channels, softmax over the last (W) axis of the NCHW output."""
    x = rand(2, 3, 6, 7)
    cfg = dict(filters=5, kernel_size=3)
    keras3 = module_for("SeparableConv2D", dict(cfg, data_format="channels_first",
                                                activation="softmax"), keras3=True)
    params = init_params(keras3, x)
    params = dict(params, bias=np.arange(5, dtype=np.float32))
    logits = apply(module_for("SeparableConv2D", cfg), np.moveaxis(x, 1, -1), params)
    want = np.asarray(jax.nn.softmax(np.moveaxis(logits, -1, 1), axis=-1))
    np.testing.assert_allclose(apply(keras3, x, params), want, rtol=1e-5, atol=1e-6)
