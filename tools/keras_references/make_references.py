"""Make the reference fixtures in ``tests/references/keras/`` (dev tool, not shipped).

Each case is a small model that exercises registered converter classes which no
corpus case covers. For every case this writes, into ``tests/references/keras/<case>/``:

* ``model.json`` + ``group1-shard1of1.bin``: written by the real TF.js converter
  (``tensorflowjs`` 4.22.0, ``keras_h5_conversion.save_keras_model``), exactly as
  ``tensorflowjs_converter`` writes a Keras model (Keras 3 models go through Keras's
  legacy ``.h5`` file, as the converter does);
* ``ref/in_K.npy`` / ``ref/out_K.npy``: batch of 2, inputs
  ``float32(lo + (hi - lo) * numpy.random.default_rng(0).random(shape))`` drawn in
  model-input order, outputs of ``model(x, training=False)``;
* ``reference.json`` (``"format": "flaxjs-reference/1"``).

Weights: every variable in ``model.weights`` order gets values from
``numpy.random.default_rng(1)`` (see ``randomize``): uniform kernels scaled by
fan-in, non-zero biases/betas, gammas/scales in [0.5, 1.5), variances in
[0.5, 1.5). Adapted statistics (``Normalization``) come from ``adapt`` on data
drawn from ``default_rng(2)`` and are left as adapted.

Checks before anything is written: two runs bit-identical; outputs finite, not
constant, the two samples differ; every sample alone equals its row of the
batch; the written ``model.json`` + shard rebuilt with Keras from the JSON
(weights assigned by manifest name, every weight used once) gives bit-identical
outputs.

The ``convlstm2d-cell-tfjs`` case is a TF.js reference: ``ConvLSTM2DCell``
only exists in TF.js. The model.json is written here in the layout TF.js's
``model.save`` writes, and ``convlstm2d_cell.js`` (run with node and the
``@tensorflow/tfjs`` 4.22.0 package of ``shared/tools/tfjs-oracle``) checks the
config round-trips through TF.js's own (de)serialization, runs TF.js's
``ConvLSTM2DCell.call`` and writes the outputs.

Usage (see README.md)::

    "$VENV"/bin/python tools/keras_references/make_references.py            # all
    "$VENV"/bin/python tools/keras_references/make_references.py CASE ...    # some
    ... --list      list the cases
    ... --check     build and check, write nothing
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "tests", "references", "keras")
INPUT_SEED, WEIGHT_SEED, ADAPT_SEED = 0, 1, 2
BATCH = 2
SHARD = "group1-shard1of1.bin"

MODEL_CLASSES = {"Sequential", "Functional", "Model"}


# --------------------------------------------------------------------------- cases
class Case:
    def __init__(self, name, build, flavor, covers, options, ranges=None, notes="",
                 batch_coupled=False):
        self.name, self.build, self.flavor = name, build, flavor
        self.covers, self.options, self.notes = covers, options, notes
        self.ranges = ranges or {}
        self.batch_coupled = batch_coupled


CASES: dict[str, Case] = {}


def case(name, covers, options, flavor="keras3", ranges=None, notes="", batch_coupled=False):
    """Register a builder ``fn(keras_module) -> model``; ``ranges``: input name -> (lo, hi);
    ``batch_coupled``: a sample's output depends on the batch (no sample-alone check)."""
    def deco(fn):
        CASES[name] = Case(name, fn, flavor, covers, options, ranges, notes, batch_coupled)
        return fn
    return deco


def _k():
    import keras
    return keras


# ---- core
@case("core-identity-activity-regularization", ["ActivityRegularization", "Identity"],
      "Dense -> ActivityRegularization(l1=0.01, l2=0.02) -> Identity -> Dense; the "
      "regularizer only adds a loss, inference is the identity")
def _core(k):
    L = k.layers
    x = k.Input((6,), name="x")
    y = L.Dense(5, activation="tanh", name="dense_in")(x)
    y = L.ActivityRegularization(l1=0.01, l2=0.02, name="activity_reg")(y)
    y = L.Identity(name="identity")(y)
    y = L.Dense(3, name="dense_out")(y)
    return k.Model(x, y, name="core_identity")


@case("spatial-dropout-2d-3d", ["SpatialDropout2D", "SpatialDropout3D"],
      "Conv2D -> SpatialDropout2D(0.5) -> Conv2D and Conv3D -> SpatialDropout3D(0.4) -> "
      "Conv3D (channels_last), and SpatialDropout2D(0.3, data_format=channels_first) on a "
      "raw input; identity at inference")
def _spatial(k):
    L = k.layers
    a = k.Input((5, 4, 3), name="image")
    b = k.Input((3, 4, 3, 2), name="volume")
    c = k.Input((2, 4, 3), name="image_cf")
    y1 = L.Conv2D(4, 3, padding="same", name="conv2d_a")(a)
    y1 = L.SpatialDropout2D(0.5, name="spatial_dropout2d")(y1)
    y1 = L.Conv2D(2, 2, name="conv2d_b")(y1)
    y2 = L.Conv3D(3, 2, padding="same", name="conv3d_a")(b)
    y2 = L.SpatialDropout3D(0.4, name="spatial_dropout3d")(y2)
    y2 = L.Conv3D(2, 2, name="conv3d_b")(y2)
    y3 = L.SpatialDropout2D(0.3, data_format="channels_first", name="spatial_dropout2d_cf")(c)
    return k.Model([a, b, c], [y1, y2, y3], name="spatial_dropout")


@case("merge-subtract", ["Subtract"],
      "Subtract()([Dense(a), b]) and Subtract()([b, a]) on rank-3 inputs")
def _subtract(k):
    L = k.layers
    a = k.Input((3, 4), name="a")
    b = k.Input((3, 4), name="b")
    d = L.Dense(4, name="dense")(a)
    y1 = L.Subtract(name="subtract_1")([d, b])
    y2 = L.Subtract(name="subtract_2")([b, a])
    return k.Model([a, b], [y1, y2], name="merge_subtract")


# ---- attention
@case("attention-dot-concat", ["Attention"],
      "Attention(use_scale=True) dot scores on [query, value] and [query, value, key]; "
      "Attention(score_mode='concat', use_scale=True) with use_causal_mask=True; "
      "Attention() plain dot without scale on [query, key, value]; Attention(score_mode="
      "'concat') without scale; Attention(use_scale=True, dropout=0.3) (no dropout at inference)")
def _attention(k):
    L = k.layers
    q = k.Input((3, 4), name="query")
    v = k.Input((5, 4), name="value")
    key = k.Input((5, 4), name="key")
    y1 = L.Attention(use_scale=True, name="attention_dot_scaled")([q, v])
    y2 = L.Attention(use_scale=True, name="attention_dot_key")([q, v, key])
    y3 = L.Attention(score_mode="concat", use_scale=True, name="attention_concat_causal")(
        [q, q], use_causal_mask=True)
    y4 = L.Attention(name="attention_plain")([q, key, v])
    y5 = L.Attention(score_mode="concat", name="attention_concat_noscale")([q, v])
    y6 = L.Attention(use_scale=True, dropout=0.3, name="attention_dropout")([q, v, key])
    return k.Model([q, v, key], [y1, y2, y3, y4, y5, y6], name="attention")


@case("additive-attention", ["AdditiveAttention"],
      "AdditiveAttention(use_scale=True) on [query, value]; AdditiveAttention("
      "use_scale=False) on [query, value, key]; AdditiveAttention() with use_causal_mask")
def _additive(k):
    L = k.layers
    q = k.Input((3, 4), name="query")
    v = k.Input((5, 4), name="value")
    key = k.Input((5, 4), name="key")
    y1 = L.AdditiveAttention(use_scale=True, name="additive_scaled")([q, v])
    y2 = L.AdditiveAttention(use_scale=False, name="additive_key_noscale")([q, v, key])
    y3 = L.AdditiveAttention(name="additive_causal")([q, q], use_causal_mask=True)
    return k.Model([q, v, key], [y1, y2, y3], name="additive_attention")


@case("einsum-dense", ["EinsumDense"],
      "EinsumDense 'abc,cd->abd' (output_shape (3,4), bias_axes 'd', tanh); 'abc,cde->abde' "
      "(output_shape (None,2,3), bias_axes 'de'); '...b,bc->...c' (left ellipsis, bias 'c'); "
      "'ab,bc->ac' without bias on a rank-2 input; 'ab...,bc->ac...' (right ellipsis, bias 'c'); "
      "'abc,bcd->ad' (two contracted axes); 'abc,cd->abd' with bias_axes 'b'")
def _einsum(k):
    L = k.layers
    x = k.Input((3, 5), name="x")
    z = k.Input((6,), name="z")
    y1 = L.EinsumDense("abc,cd->abd", output_shape=(3, 4), bias_axes="d",
                       activation="tanh", name="einsum_abd")(x)
    y2 = L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de",
                       name="einsum_abde")(x)
    y3 = L.EinsumDense("...b,bc->...c", output_shape=4, bias_axes="c",
                       name="einsum_ellipsis")(x)
    y4 = L.EinsumDense("ab,bc->ac", output_shape=3, name="einsum_nobias")(z)
    y5 = L.EinsumDense("ab...,bc->ac...", output_shape=4, bias_axes="c",
                       name="einsum_right_ellipsis")(x)
    y6 = L.EinsumDense("abc,bcd->ad", output_shape=4, bias_axes="d", name="einsum_two_axes")(x)
    y7 = L.EinsumDense("abc,cd->abd", output_shape=(3, 4), bias_axes="b",
                       name="einsum_bias_b")(x)
    return k.Model([x, z], [y1, y2, y3, y4, y5, y6, y7], name="einsum_dense")


@case("multi-head-attention", ["MultiHeadAttention"],
      "MultiHeadAttention(num_heads=2, key_dim=3) self-attention mha(x, x) (mask-free, default "
      "attention_axes); the same with use_causal_mask=True; cross-attention mha(q, v, k) "
      "positional with value_dim=2, output_shape=5, use_bias=False")
def _mha(k):
    L = k.layers
    x = k.Input((4, 6), name="x")
    v = k.Input((5, 3), name="value")
    key = k.Input((5, 7), name="key")
    y1 = L.MultiHeadAttention(num_heads=2, key_dim=3, name="mha_self")(x, x)
    y2 = L.MultiHeadAttention(num_heads=2, key_dim=3, name="mha_causal")(
        x, x, use_causal_mask=True)
    y3 = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, output_shape=5,
                              use_bias=False, name="mha_cross")(x, v, key)
    return k.Model([x, v, key], [y1, y2, y3], name="multi_head_attention")


@case("multi-head-attention-axes", ["MultiHeadAttention"],
      "MultiHeadAttention on a rank-4 input [B,3,4,5]: default attention_axes (softmax jointly "
      "over both inner axes) and attention_axes=(2,)")
def _mha_axes(k):
    L = k.layers
    x = k.Input((3, 4, 5), name="x")
    y1 = L.MultiHeadAttention(num_heads=2, key_dim=2, name="mha_default_axes")(x, x)
    y2 = L.MultiHeadAttention(num_heads=3, key_dim=2, attention_axes=(2,),
                              name="mha_axis2")(x, x)
    return k.Model(x, [y1, y2], name="multi_head_attention_axes")


# ---- conv
@case("conv1d-transpose", ["Conv1DTranspose"],
      "Conv1DTranspose(3, 3, strides=2, padding='same', output_padding=1); (2, 4, strides=3, "
      "'valid'); (2, 3, 'same', relu); (2, 3, strides=2, 'valid', output_padding=1, "
      "use_bias=False); (2, 4, strides=2, 'same') (even kernel)",
      notes="dilation_rate > 1 is not covered: TensorFlow's CPU Conv2DBackpropInput kernel "
            "refuses dilation rates larger than 1.")
def _conv1dt(k):
    L = k.layers
    x = k.Input((5, 3), name="x")
    y1 = L.Conv1DTranspose(3, 3, strides=2, padding="same", output_padding=1,
                           name="t_same_s2_op1")(x)
    y2 = L.Conv1DTranspose(2, 4, strides=3, padding="valid", name="t_valid_s3")(x)
    y3 = L.Conv1DTranspose(2, 3, padding="same", activation="relu", name="t_same_relu")(x)
    y4 = L.Conv1DTranspose(2, 3, strides=2, padding="valid", output_padding=1,
                           use_bias=False, name="t_valid_s2_op1_nobias")(x)
    y5 = L.Conv1DTranspose(2, 4, strides=2, padding="same", name="t_same_k4_s2")(x)
    return k.Model(x, [y1, y2, y3, y4, y5], name="conv1d_transpose")


@case("depthwise-conv1d", ["DepthwiseConv1D"],
      "DepthwiseConv1D(3, depth_multiplier=2, strides=2, 'same', relu); (2, depth_multiplier=2, "
      "dilation_rate=2, 'valid', use_bias=False); (3, depth_multiplier=1, 'same')")
def _dw1d(k):
    L = k.layers
    x = k.Input((7, 3), name="x")
    y1 = L.DepthwiseConv1D(3, depth_multiplier=2, strides=2, padding="same",
                           activation="relu", name="dw_same_s2_dm2")(x)
    y2 = L.DepthwiseConv1D(2, depth_multiplier=2, dilation_rate=2, padding="valid",
                           use_bias=False, name="dw_valid_d2_dm2")(x)
    y3 = L.DepthwiseConv1D(3, padding="same", name="dw_same_dm1")(x)
    return k.Model(x, [y1, y2, y3], name="depthwise_conv1d")


@case("separable-conv1d", ["SeparableConv1D"],
      "SeparableConv1D(4, 3, depth_multiplier=2, strides=2, 'same', tanh); (3, 2, "
      "depth_multiplier=2, dilation_rate=2, 'valid', use_bias=False); (2, 3, 'same', dm 1)")
def _sep1d(k):
    L = k.layers
    x = k.Input((7, 3), name="x")
    y1 = L.SeparableConv1D(4, 3, depth_multiplier=2, strides=2, padding="same",
                           activation="tanh", name="sep_same_s2_dm2")(x)
    y2 = L.SeparableConv1D(3, 2, depth_multiplier=2, dilation_rate=2, padding="valid",
                           use_bias=False, name="sep_valid_d2_dm2")(x)
    y3 = L.SeparableConv1D(2, 3, padding="same", name="sep_same_dm1")(x)
    return k.Model(x, [y1, y2, y3], name="separable_conv1d")


# ---- recurrent
@case("conv-lstm1d", ["ConvLSTM1D"],
      "ConvLSTM1D(3, 3, 'same', return_sequences=True) -> ConvLSTM1D(2, 2, 'valid', strides=2) "
      "(last step); and ConvLSTM1D(2, 3, 'valid', return_sequences=True, go_backwards=True)")
def _clstm1d(k):
    L = k.layers
    x = k.Input((4, 6, 2), name="x")
    y = L.ConvLSTM1D(3, 3, padding="same", return_sequences=True, name="convlstm1d_seq")(x)
    y1 = L.ConvLSTM1D(2, 2, strides=2, padding="valid", name="convlstm1d_last")(y)
    y2 = L.ConvLSTM1D(2, 3, padding="valid", return_sequences=True, go_backwards=True,
                      name="convlstm1d_backwards")(x)
    return k.Model(x, [y, y1, y2], name="conv_lstm1d")


@case("conv-lstm3d", ["ConvLSTM3D"],
      "ConvLSTM3D(2, (2,2,2), 'same', return_sequences=True) -> ConvLSTM3D(2, (2,1,2), 'valid') "
      "(last step) on [B, T=3, 3, 3, 3, C=2]")
def _clstm3d(k):
    L = k.layers
    x = k.Input((3, 3, 3, 3, 2), name="x")
    y = L.ConvLSTM3D(2, (2, 2, 2), padding="same", return_sequences=True,
                     name="convlstm3d_seq")(x)
    y1 = L.ConvLSTM3D(2, (2, 1, 2), padding="valid", name="convlstm3d_last")(y)
    return k.Model(x, [y, y1], name="conv_lstm3d")


# ---- reshaping
@case("reshaping-1d", ["Cropping1D", "UpSampling1D", "ZeroPadding1D"],
      "Conv1D -> Cropping1D((1, 2)) -> UpSampling1D(3) -> ZeroPadding1D((2, 1)); and "
      "ZeroPadding1D(1) -> Cropping1D(1) -> UpSampling1D(2) on the raw input")
def _reshape1d(k):
    L = k.layers
    x = k.Input((6, 3), name="x")
    y = L.Conv1D(4, 2, name="conv1d")(x)
    y = L.Cropping1D((1, 2), name="cropping1d")(y)
    y = L.UpSampling1D(3, name="upsampling1d")(y)
    y1 = L.ZeroPadding1D((2, 1), name="zeropadding1d")(y)
    z = L.ZeroPadding1D(1, name="zeropadding1d_int")(x)
    z = L.Cropping1D(1, name="cropping1d_int")(z)
    y2 = L.UpSampling1D(2, name="upsampling1d_2")(z)
    return k.Model(x, [y1, y2], name="reshaping_1d")


@case("reshaping-3d", ["Cropping3D", "UpSampling3D", "ZeroPadding3D"],
      "channels_last: Conv3D -> Cropping3D(((1,0),(0,1),(1,1))) -> UpSampling3D((2,1,3)) -> "
      "ZeroPadding3D(((1,0),(0,2),(1,1))); channels_first: ZeroPadding3D((1,1,2)) -> "
      "Cropping3D(1) -> UpSampling3D(2)")
def _reshape3d(k):
    L = k.layers
    x = k.Input((3, 4, 4, 2), name="x")
    c = k.Input((2, 3, 2, 3), name="x_channels_first")
    y = L.Conv3D(3, 1, name="conv3d")(x)
    y = L.Cropping3D(((1, 0), (0, 1), (1, 1)), name="cropping3d")(y)
    y = L.UpSampling3D((2, 1, 3), name="upsampling3d")(y)
    y1 = L.ZeroPadding3D(((1, 0), (0, 2), (1, 1)), name="zeropadding3d")(y)
    z = L.ZeroPadding3D((1, 1, 2), data_format="channels_first", name="zeropadding3d_cf")(c)
    z = L.Cropping3D(1, data_format="channels_first", name="cropping3d_cf")(z)
    y2 = L.UpSampling3D(2, data_format="channels_first", name="upsampling3d_cf")(z)
    return k.Model([x, c], [y1, y2], name="reshaping_3d")


# ---- pooling
@case("global-pooling-3d", ["GlobalAveragePooling3D", "GlobalMaxPooling3D"],
      "GlobalAveragePooling3D / GlobalMaxPooling3D with keepdims False and True, channels_last "
      "and channels_first")
def _gpool3d(k):
    L = k.layers
    x = k.Input((3, 4, 2, 3), name="x")
    outs = []
    for cls, tag in ((L.GlobalAveragePooling3D, "avg"), (L.GlobalMaxPooling3D, "max")):
        for keep in (False, True):
            for df in ("channels_last", "channels_first"):
                outs.append(cls(keepdims=keep, data_format=df,
                                name=f"g{tag}3d_{'keep' if keep else 'flat'}_{df[9:]}")(x))
    return k.Model(x, outs, name="global_pooling_3d")


# ---- normalization
@case("group-normalization", ["GroupNormalization"],
      "GroupNormalization(groups=2) on [B,4,4,6]; groups=-1 (one per channel) on [B,5,4]; "
      "groups=2, axis=1 on [B,4,5]; groups=3, center=False, epsilon=0.01 on [B,2,3,6]; "
      "groups=1 (layer-norm like), and groups=3, axis=1, scale=False on [B,6,4,3]")
def _groupnorm(k):
    L = k.layers
    a = k.Input((4, 4, 6), name="image")
    b = k.Input((5, 4), name="seq")
    c = k.Input((2, 3, 6), name="image2")
    d = k.Input((4, 5), name="seq_axis1")
    e = k.Input((6, 4, 3), name="image_axis1")
    y1 = L.GroupNormalization(groups=2, name="gn_groups2")(a)
    y2 = L.GroupNormalization(groups=-1, name="gn_per_channel")(b)
    y3 = L.GroupNormalization(groups=2, axis=1, name="gn_axis1")(d)
    y4 = L.GroupNormalization(groups=3, center=False, epsilon=0.01, name="gn_nocenter")(c)
    y5 = L.GroupNormalization(groups=1, name="gn_one_group")(a)
    y6 = L.GroupNormalization(groups=3, axis=1, scale=False, name="gn_axis1_noscale")(e)
    return k.Model([a, b, c, d, e], [y1, y2, y3, y4, y5, y6], name="group_normalization")


@case("normalization-fixed", ["Normalization"],
      "Normalization with fixed mean/variance lists (axis=-1); scalar mean/variance (axis=None); "
      "invert=True with fixed lists; axis=(1, 2) with [3, 4]-shaped lists")
def _norm_fixed(k):
    L = k.layers
    x = k.Input((3, 4), name="x")
    y1 = L.Normalization(mean=[0.5, -0.25, 1.0, 2.0], variance=[2.0, 0.25, 1.0, 4.0],
                         name="norm_lists")(x)
    y2 = L.Normalization(axis=None, mean=0.3, variance=1.7, name="norm_scalar")(x)
    y3 = L.Normalization(mean=[0.5, -0.25, 1.0, 2.0], variance=[2.0, 0.25, 1.0, 4.0],
                         invert=True, name="norm_invert")(x)
    rng = np.random.default_rng(ADAPT_SEED)
    mean = np.round(rng.uniform(-1, 1, (3, 4)), 3).tolist()
    var = np.round(rng.uniform(0.2, 2, (3, 4)), 3).tolist()
    y4 = L.Normalization(axis=(1, 2), mean=mean, variance=var, name="norm_axes12")(x)
    return k.Model(x, [y1, y2, y3, y4], name="normalization_fixed")


@case("normalization-adapted", ["Normalization"],
      "Normalization adapted on data (mean/variance/count stored as weights): axis=-1 on "
      "[B,3,4]; axis=None (scalar statistics); axis=(1,2); then Dense")
def _norm_adapted(k):
    L = k.layers
    rng = np.random.default_rng(ADAPT_SEED)
    data = (rng.normal(size=(40, 3, 4)) * [[1.0, 3.0, 0.5, 2.0]] + [[0.5, -2.0, 1.0, 3.0]]
            ).astype("float32")
    n1 = L.Normalization(axis=-1, name="norm_adapted_last")
    n1.adapt(data)
    n2 = L.Normalization(axis=None, name="norm_adapted_scalar")
    n2.adapt(data)
    n3 = L.Normalization(axis=(1, 2), name="norm_adapted_axes12")
    n3.adapt(data)
    x = k.Input((3, 4), name="x")
    y1 = L.Dense(2, name="dense")(n1(x))
    return k.Model(x, [y1, n2(x), n3(x)], name="normalization_adapted")


@case("unit-normalization", ["UnitNormalization"],
      "UnitNormalization(axis=-1) after a Dense; UnitNormalization(axis=[1, 2]) on the input")
def _unitnorm(k):
    L = k.layers
    x = k.Input((3, 4), name="x")
    y1 = L.UnitNormalization(name="unit_norm_last")(L.Dense(5, name="dense")(x))
    y2 = L.UnitNormalization(axis=[1, 2], name="unit_norm_axes12")(x)
    return k.Model(x, [y1, y2], name="unit_normalization")


# ---- preprocessing
@case("discretization", ["Discretization"],
      "Discretization(bin_boundaries=[-0.5, 0, 0.5]) output_mode 'int' (Keras int64, stored as "
      "int32) on [B,5]; 'one_hot' on [B,1]; 'multi_hot' and 'count' on [B,5]; adapted "
      "(num_bins=4, epsilon=0.01) 'int'; 'int' on a [B,6] input quantized to multiples of 0.25 "
      "(values exactly on the boundaries: b[i-1] <= x < b[i])",
      ranges={"x": (-1.0, 1.0), "scalar": (-1.0, 1.0), "grid": (-1.0, 1.0, 0.25)})
def _discretization(k):
    L = k.layers
    x = k.Input((5,), name="x")
    s = k.Input((1,), name="scalar")
    g = k.Input((6,), name="grid")
    bounds = [-0.5, 0.0, 0.5]
    y1 = L.Discretization(bin_boundaries=bounds, name="disc_int")(x)
    y2 = L.Discretization(bin_boundaries=bounds, output_mode="one_hot", name="disc_one_hot")(s)
    y3 = L.Discretization(bin_boundaries=bounds, output_mode="multi_hot",
                          name="disc_multi_hot")(x)
    y4 = L.Discretization(bin_boundaries=bounds, output_mode="count", name="disc_count")(x)
    d = L.Discretization(num_bins=4, epsilon=0.01, name="disc_adapted")
    d.adapt(np.random.default_rng(ADAPT_SEED).uniform(-1, 1, 200).astype("float32"))
    y5 = d(x)
    y6 = L.Discretization(bin_boundaries=bounds, name="disc_int_grid")(g)
    return k.Model([x, s, g], [y1, y2, y3, y4, y5, y6], name="discretization")


_AUG = ["RandomBrightness", "RandomContrast", "RandomFlip", "RandomRotation",
        "RandomTranslation", "RandomZoom"]


@case("random-augmentation", _AUG,
      "Conv2D -> RandomFlip -> RandomRotation(0.2) -> RandomZoom(0.2) -> RandomTranslation(0.1, "
      "0.2) -> RandomContrast(0.3) -> RandomBrightness(0.2, value_range=(0, 1)) -> Conv2D; "
      "all identity at inference (Keras 3 has no RandomHeight: see random-crop-height-tf-keras)",
      ranges={"image": (0.0, 1.0)},
      notes="Keras 3 records the call default training=True in these layers' inbound-node "
            "kwargs; model(x, training=False) overrides it, as a loader must. Keras 3.15.1 "
            "cannot save RandomBrightness to .h5 (see keras_save_fixes): its value_range "
            "is written as a plain list during the save.")
def _augment(k):
    L = k.layers
    x = k.Input((6, 5, 3), name="image")
    y = L.Conv2D(3, 1, name="conv_in")(x)
    y = L.RandomFlip(seed=1, name="random_flip")(y)
    y = L.RandomRotation(0.2, seed=2, name="random_rotation")(y)
    y = L.RandomZoom(0.2, seed=3, name="random_zoom")(y)
    y = L.RandomTranslation(0.1, 0.2, seed=4, name="random_translation")(y)
    y = L.RandomContrast(0.3, seed=5, name="random_contrast")(y)
    y = L.RandomBrightness(0.2, value_range=(0, 1), seed=6, name="random_brightness")(y)
    y = L.Conv2D(2, 2, name="conv_out")(y)
    return k.Model(x, y, name="random_augmentation")


@case("random-crop-height-tf-keras", ["RandomCrop", "RandomHeight"],
      "tf-keras: RandomCrop(4, 6) on [B,8,8,3] (inference: centre window 5x8 with the target "
      "aspect ratio, bilinear resize) and RandomCrop(4, 4) (same aspect, 2x bilinear downsize), "
      "after a Conv2D; RandomHeight(0.3) (identity at inference) -> Conv2D",
      flavor="tf_keras", ranges={"image": (0.0, 1.0)},
      notes="Made with tf-keras 2.21, not Keras 3: Keras 3.15.1 has no RandomHeight, and its "
            "RandomCrop returns its input "
            "unchanged at inference (transform_images only crops when training), although its "
            "compute_output_shape and docs say (height, width); tf-keras does what the Keras "
            "docs describe (smart_resize: centre crop to the target aspect ratio, then resize).")
def _random_crop(k):
    L = k.layers
    x = k.Input((8, 8, 3), name="image")
    y = L.Conv2D(3, 1, name="conv")(x)
    y1 = L.RandomCrop(4, 6, seed=1, name="random_crop_aspect")(y)
    y2 = L.RandomCrop(4, 4, seed=2, name="random_crop_square")(y)
    y3 = L.RandomHeight(0.3, seed=3, name="random_height")(y)
    y3 = L.Conv2D(2, 2, name="conv_after_height")(y3)
    return k.Model(x, [y1, y2, y3], name="random_crop_height")


# ---- tf-keras TFOpLambda
@case("tf-op-lambda", ["TFOpLambda"],
      "tf-keras Functional model with TF ops on Keras tensors (serialized as TFOpLambda): "
      "tf.math.multiply(x, 2.0), x + 1.5 (__operators__.add), tf.math.subtract, tf.nn.relu, "
      "tf.math.sigmoid, tf.math.tanh, tf.nn.leaky_relu(alpha=0.1), tf.nn.softmax, "
      "tf.reduce_mean(axis=-1, keepdims=True), tf.math.reduce_max(axis=1), tf.concat(axis=-1), "
      "tf.transpose(perm), tf.reshape, tf.expand_dims, tf.math.square, tf.math.exp, "
      "tf.math.squared_difference; and tf.math.abs, log, sqrt, rsqrt, truediv (x / 3.0), "
      "maximum, minimum, pow, nn.relu6, nn.elu, nn.selu, nn.softplus, math.negative, math.erf, "
      "identity, x - 1 / x * 2 (__operators__), reduce_sum(axis=[1, 2]), reduce_min, "
      "compat.v1.transpose, nn.depth_to_space / nn.space_to_depth (block 2), multi-input "
      "tf.concat",
      flavor="tf_keras",
      notes="Not covered (flaxjs refuses them by design, see the TFOpLambda notes): TF ops "
            "whose second operand is another Keras tensor (e.g. a + b of two layer outputs: "
            "tf-keras stores the tensor in the call kwargs), and slicing (x[:, 1:3] is a "
            "SlicingOpLambda, which flaxjs does not register).")
def _tf_op_lambda(k):
    import tensorflow as tf
    L = k.layers
    x = k.Input((4, 5), name="x")
    a = L.Dense(6, name="dense")(x)
    b = tf.math.multiply(a, 2.0)
    b = b + 1.5
    b = tf.math.subtract(b, 0.75)
    c = tf.nn.relu(b)
    d = tf.reduce_mean(c, axis=-1, keepdims=True)
    e = tf.concat([c, d], axis=-1)
    f = tf.transpose(e, perm=[0, 2, 1])
    g = tf.reshape(f, (-1, 28))
    h = tf.math.sigmoid(g)
    i = tf.nn.leaky_relu(a, alpha=0.1)
    j = tf.nn.softmax(tf.math.tanh(i))
    m = tf.math.reduce_max(a, axis=1)
    n = tf.expand_dims(m, axis=1)
    o = tf.math.squared_difference(tf.math.exp(tf.math.square(n) * 0.1), 1.25)
    p = tf.math.abs(a) + 0.1
    parts = [tf.math.truediv(tf.math.log(p), 3.0), tf.math.sqrt(p),
             tf.math.minimum(tf.math.rsqrt(p), 2.0), tf.math.maximum(a, -0.2),
             tf.math.pow(p, 1.5), tf.nn.relu6(a * 8.0), tf.nn.elu(a), tf.nn.selu(a),
             tf.nn.softplus(a), tf.math.negative(a), tf.math.erf(a), tf.identity(a),
             (a - 1.0) * 2.0, a / 3.0]
    q = tf.concat(parts, axis=-1)
    r = tf.reduce_sum(q, axis=[1, 2])
    t = tf.math.reduce_min(q, axis=-1)
    u = tf.compat.v1.transpose(tf.reshape(a, (-1, 2, 3, 4)), perm=[0, 2, 1, 3])
    w = tf.nn.space_to_depth(tf.nn.depth_to_space(u, 2), 2)
    w = tf.nn.depth_to_space(w, 2)
    return k.Model(x, [h, j, o, q, r, t, w], name="tf_op_lambda")


# ---- Keras 3 model kinds (issue 15): nested models, wrappers, configs, activations
def _nested_blocks(k):
    """A nested Sequential (4 -> 3) and a nested Functional (3 -> 3) that is called twice."""
    L = k.layers
    inner_seq = k.Sequential([k.Input((4,), name="seq_in"), L.Dense(5, activation="tanh",
                              name="seq_dense_1"), L.Dense(3, name="seq_dense_2")],
                             name="inner_sequential")
    fi = k.Input((3,), name="fn_in")
    fo = L.Dense(3, activation="relu", name="fn_dense")(fi)
    fo = L.Add(name="fn_residual")([fi, fo])
    inner_fn = k.Model(fi, fo, name="inner_functional")
    return inner_seq, inner_fn


@case("nested-models", ["Sequential", "Functional"],
      "a Sequential (Dense -> Dense) and a Functional (Dense + residual Add) used as layers of "
      "a Functional model; the Functional submodel called twice (shared) and a two-level "
      "nesting (a Functional wrapping a Sequential and a Dense, called on a second input); "
      "outputs from the first and second calls of the shared submodel")
def _nested(k):
    L = k.layers
    inner_seq, inner_fn = _nested_blocks(k)
    deep = k.Sequential([k.Input((4,), name="deep_in"), L.Dense(3, name="deep_dense")],
                        name="deep_sequential")
    wi = k.Input((4,), name="wrap_in")
    wrapper = k.Model(wi, L.Dense(2, name="wrap_dense")(deep(wi)), name="wrapper")
    x = k.Input((4,), name="x")
    z = k.Input((4,), name="z")
    a = inner_seq(x)
    b = inner_fn(a)
    c = inner_fn(L.Dense(3, name="between")(b))
    return k.Model([x, z], [a, b, c, wrapper(z)], name="nested_models")


@case("nested-sequential", ["Sequential", "Functional"],
      "a Sequential whose layers are a nested Sequential, a Dense and a nested Functional "
      "(Dense + residual Add)")
def _nested_sequential(k):
    L = k.layers
    inner_seq, inner_fn = _nested_blocks(k)
    return k.Sequential([k.Input((4,), name="x"), inner_seq, L.Dense(3, name="middle"),
                         inner_fn], name="nested_sequential")


@case("nested-models-tf-keras", ["Sequential", "Functional"],
      "tf-keras: the nested-models topology (nested Sequential, shared nested Functional called "
      "twice, two-level nesting) with Keras 2 node numbering", flavor="tf_keras")
def _nested_tf_keras(k):
    return _nested(k)


def _regularized(L, k):
    reg, con = k.regularizers, k.constraints
    return dict(kernel_regularizer=reg.L2(0.01), bias_regularizer=reg.L1(0.02),
                activity_regularizer=reg.L1L2(l1=0.01, l2=0.03),
                kernel_constraint=con.MaxNorm(2.0, axis=0), bias_constraint=con.NonNeg())


@case("regularizers-constraints", ["Dense", "Conv1D", "LSTM", "BatchNormalization"],
      "a Sequential whose layers carry Keras 3 serialized regularizers (L1, L2, L1L2, "
      "OrthogonalRegularizer) and constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm): "
      "Dense, Conv1D, LSTM (recurrent_regularizer/constraint), Dense with "
      "activity_regularizer, BatchNormalization (beta/gamma regularizers and constraints)")
def _regularizers(k):
    L, reg, con = k.layers, k.regularizers, k.constraints
    return k.Sequential([
        k.Input((5, 3), name="x"),
        L.Conv1D(4, 2, padding="same", kernel_regularizer=reg.L1L2(l1=0.01, l2=0.02),
                 bias_regularizer=reg.L2(0.1), kernel_constraint=con.UnitNorm(axis=[0, 1]),
                 bias_constraint=con.MinMaxNorm(0.1, 1.0, rate=0.5), activation="relu",
                 name="conv"),
        L.BatchNormalization(beta_regularizer=reg.L2(0.01), gamma_regularizer=reg.L1(0.01),
                             beta_constraint=con.NonNeg(), gamma_constraint=con.MaxNorm(3.0),
                             name="bn"),
        L.LSTM(3, return_sequences=True, kernel_regularizer=reg.L2(0.01),
               recurrent_regularizer=reg.OrthogonalRegularizer(0.01),
               recurrent_constraint=con.MaxNorm(1.5), bias_constraint=con.NonNeg(),
               name="lstm"),
        L.Flatten(name="flatten"),
        L.Dense(4, activation="tanh", **_regularized(L, k), name="dense_reg"),
        L.Dense(2, kernel_constraint=con.UnitNorm(), name="dense_out"),
    ], name="regularizers_constraints")


@case("bidirectional-backward-layer", ["Bidirectional", "LSTM", "GRU", "SimpleRNN"],
      "Bidirectional(LSTM(3, return_sequences), backward_layer=LSTM(3, go_backwards, "
      "return_sequences, activation relu)) merge concat; Bidirectional(GRU(2), backward_layer="
      "GRU(2, go_backwards, reset_after=False)) merge sum; Bidirectional(SimpleRNN(2, "
      "return_sequences), backward_layer=SimpleRNN(2, go_backwards, return_sequences, "
      "use_bias=False)) merge mul")
def _bidirectional(k, simple_rnn=True):
    L = k.layers
    x = k.Input((4, 3), name="x")
    y1 = L.Bidirectional(L.LSTM(3, return_sequences=True, name="fwd_lstm"),
                         backward_layer=L.LSTM(3, return_sequences=True, go_backwards=True,
                                               activation="relu", name="bwd_lstm"),
                         name="bidi_lstm")(x)
    y2 = L.Bidirectional(L.GRU(2, name="fwd_gru"),
                         backward_layer=L.GRU(2, go_backwards=True, reset_after=False,
                                              name="bwd_gru"),
                         merge_mode="sum", name="bidi_gru")(x)
    if not simple_rnn:
        return k.Model(x, [y1, y2], name="bidirectional_backward_layer")
    y3 = L.Bidirectional(L.SimpleRNN(2, return_sequences=True, name="fwd_rnn"),
                         backward_layer=L.SimpleRNN(2, return_sequences=True, go_backwards=True,
                                                    use_bias=False, name="bwd_rnn"),
                         merge_mode="mul", name="bidi_rnn")(x)
    return k.Model(x, [y1, y2, y3], name="bidirectional_backward_layer")


@case("bidirectional-backward-layer-tf-keras", ["Bidirectional", "LSTM", "GRU"],
      "tf-keras: Bidirectional(LSTM, backward_layer=LSTM(go_backwards, relu)) concat and "
      "Bidirectional(GRU, backward_layer=GRU(go_backwards, reset_after=False)) sum",
      flavor="tf_keras")
def _bidirectional_tf_keras(k):
    return _bidirectional(k, simple_rnn=False)


def _adapt_data():
    """[50, 4] data with per-feature scales and offsets for Normalization.adapt."""
    rng = np.random.default_rng(ADAPT_SEED)
    return (rng.normal(size=(50, 4)) * [3.0, 0.5, 1.0, 2.0] + [2.0, -1.0, 0.5, 4.0]
            ).astype("float32")


@case("normalization-adapted-sequential", ["Normalization"],
      "a Sequential: Normalization adapted on [N,4] data (mean/variance variables) -> Dense; "
      "and a Functional with an adapted Normalization(axis=-1) on [B,4] and an adapted "
      "Normalization(invert=True) on its output")
def _norm_adapted_sequential(k):
    L = k.layers
    data = _adapt_data()
    norm = L.Normalization(name="norm_adapted_seq")
    norm.adapt(data)
    return k.Sequential([k.Input((4,), name="x"), norm, L.Dense(3, name="dense")],
                        name="normalization_adapted_sequential")


@case("normalization-adapted-default-names", ["Normalization"],
      "a Sequential [Normalization, Dense] with Keras's default layer names and no Input, "
      "built with model.build((None, 4)), then its Normalization adapted (its variables "
      "carry the model's prefix)")
def _norm_adapted_names(k):
    L = k.layers
    data = _adapt_data()
    model = k.Sequential([L.Normalization(), L.Dense(3)])
    model.build((None, 4))
    model.layers[0].adapt(data)
    return model


@case("normalization-adapted-invert", ["Normalization"],
      "Normalization adapted on [N,4] data, then a Normalization(invert=True) adapted on the "
      "same data (denormalization), in a Functional model")
def _norm_adapted_invert(k):
    L = k.layers
    data = _adapt_data()
    n1 = L.Normalization(name="norm_adapted_fwd")
    n1.adapt(data)
    n2 = L.Normalization(invert=True, name="norm_adapted_inv")
    n2.adapt(data)
    x = k.Input((4,), name="x")
    h = n1(x)
    return k.Model(x, [h, n2(L.Dense(4, name="dense")(h))], name="normalization_adapted_invert")


@case("rms-normalization", ["RMSNormalization", "LayerNormalization"],
      "RMSNormalization() on [B,3,4] after a Dense; RMSNormalization(axis=[1, 2], "
      "epsilon=0.01) on [B,3,4]; RMSNormalization(axis=1) on [B,5]; LayerNormalization("
      "rms_scaling=True) with axis -1 and axis [1, 2] (center=False, epsilon 0.01)")
def _rmsnorm(k):
    L = k.layers
    x = k.Input((3, 4), name="x")
    z = k.Input((5,), name="z")
    y1 = L.RMSNormalization(name="rms_last")(L.Dense(4, name="dense")(x))
    y2 = L.RMSNormalization(axis=[1, 2], epsilon=0.01, name="rms_axes12")(x)
    y3 = L.RMSNormalization(axis=1, name="rms_axis1")(z)
    y4 = L.LayerNormalization(rms_scaling=True, name="layer_norm_rms")(x)
    y5 = L.LayerNormalization(axis=[1, 2], rms_scaling=True, center=False, epsilon=0.01,
                              name="layer_norm_rms_axes12")(x)
    return k.Model([x, z], [y1, y2, y3, y4, y5], name="rms_normalization")


#: every name in keras.activations of Keras 3.15 that works as a string (``threshold`` needs
#: its two arguments and cannot be serialized by name).
KERAS3_ACTIVATIONS = [
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh",
    "tanh_shrink"]


@case("activations-keras3", ["Activation", "Dense"],
      "every keras.activations name of Keras 3.15 as Activation(name) on a Dense output in "
      "[-3, 3] (one output each), and Dense(activation=name) for the new ones",
      ranges={"x": (-3.0, 3.0)},
      notes="keras.activations.threshold(x, threshold, default_value) has no defaults: it "
            "cannot be used or serialized by name, so no model holds it.")
def _activations(k):
    L = k.layers
    x = k.Input((3, 6), name="x")
    h = L.Dense(6, name="dense")(x)
    outs = [L.Activation(a, name=f"act_{a}")(h) for a in KERAS3_ACTIVATIONS]
    for a in ("sparse_sigmoid", "squareplus", "soft_shrink", "sparsemax", "celu", "glu"):
        outs.append(L.Dense(4, activation=a, name=f"dense_{a}")(x))
    return k.Model(x, outs, name="activations_keras3")


@case("multi-head-attention-cross", ["MultiHeadAttention"],
      "MultiHeadAttention cross-attention with key/value different from the query: "
      "mha(query=q, value=v) by keyword, mha(q, value=v, key=k) mixed, mha(q, k, v) with "
      "the key and value swapped in roles, and mha(q, v) positional with value_dim/output_shape")
def _mha_cross(k):
    L = k.layers
    q = k.Input((4, 6), name="query")
    v = k.Input((5, 3), name="value")
    key = k.Input((5, 7), name="key")
    y1 = L.MultiHeadAttention(num_heads=2, key_dim=3, name="mha_kw")(query=q, value=v)
    y2 = L.MultiHeadAttention(num_heads=2, key_dim=2, name="mha_mixed")(q, value=v, key=key)
    y3 = L.MultiHeadAttention(num_heads=1, key_dim=3, name="mha_kw_key_first")(
        q, key=key, value=v)
    y4 = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, output_shape=5,
                              name="mha_positional")(q, v)
    return k.Model([q, v, key], [y1, y2, y3, y4], name="multi_head_attention_cross")


@case("multi-head-attention-cross-tf-keras", ["MultiHeadAttention"],
      "tf-keras: MultiHeadAttention cross-attention mha(q, v) and mha(q, v, k) (tf-keras "
      "stores value/key as call kwargs referring to other tensors)", flavor="tf_keras")
def _mha_cross_tf_keras(k):
    L = k.layers
    q = k.Input((4, 6), name="query")
    v = k.Input((5, 3), name="value")
    key = k.Input((5, 7), name="key")
    y1 = L.MultiHeadAttention(num_heads=2, key_dim=3, name="mha_qv")(q, v)
    y2 = L.MultiHeadAttention(num_heads=2, key_dim=2, value_dim=3, name="mha_qvk")(q, v, key)
    return k.Model([q, v, key], [y1, y2], name="multi_head_attention_cross")


# ---- Keras 3 layers TF.js never had (issue 15, item 8)
@case("adaptive-pooling", ["AdaptiveAveragePooling1D", "AdaptiveMaxPooling1D",
                           "AdaptiveAveragePooling2D", "AdaptiveMaxPooling2D",
                           "AdaptiveAveragePooling3D", "AdaptiveMaxPooling3D"],
      "AdaptiveAverage/MaxPooling1D(3) on [B,7,2] (overlapping windows) and (2) on [B,6,2]; "
      "2D (2, 3) on [B,5,7,2] and channels_first (3, 2) on [B,2,6,5]; 3D (2, 1, 2) on "
      "[B,3,4,5,2] and channels_first")
def _adaptive(k):
    L = k.layers
    a = k.Input((7, 2), name="seq")
    b = k.Input((5, 7, 2), name="image")
    c = k.Input((2, 6, 5), name="image_cf")
    d = k.Input((3, 4, 5, 2), name="volume")
    outs = [L.AdaptiveAveragePooling1D(3, name="aap1d")(a),
            L.AdaptiveMaxPooling1D(3, name="amp1d")(a),
            L.AdaptiveAveragePooling1D(2, name="aap1d_divides")(L.Cropping1D((0, 1))(a)),
            L.AdaptiveAveragePooling2D((2, 3), name="aap2d")(b),
            L.AdaptiveMaxPooling2D((2, 3), name="amp2d")(b),
            L.AdaptiveAveragePooling2D((3, 2), data_format="channels_first", name="aap2d_cf")(c),
            L.AdaptiveMaxPooling2D((3, 2), data_format="channels_first", name="amp2d_cf")(c),
            L.AdaptiveAveragePooling3D((2, 1, 2), name="aap3d")(d),
            L.AdaptiveMaxPooling3D((2, 3, 2), name="amp3d")(d),
            L.AdaptiveMaxPooling3D((1, 2, 2), data_format="channels_first", name="amp3d_cf")(d)]
    return k.Model([a, b, c, d], outs, name="adaptive_pooling")


@case("grouped-query-attention", ["GroupedQueryAttention"],
      "GroupedQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=2) "
      "cross-attention gqa(q, v); (3, 2, 1) multi-query self-attention with use_causal_mask; "
      "(2, 4, 2) gqa(q, v, key) with use_gate=True and use_bias=False; (2, 2, 2) self-attention "
      "with sliding_window=2 and use_causal_mask")
def _gqa(k):
    L = k.layers
    q = k.Input((4, 6), name="query")
    v = k.Input((5, 6), name="value")
    key = k.Input((5, 6), name="key")
    y1 = L.GroupQueryAttention(2, 4, 2, name="gqa_cross")(q, v)
    y2 = L.GroupQueryAttention(3, 2, 1, name="gqa_causal")(q, q, use_causal_mask=True)
    y3 = L.GroupQueryAttention(2, 4, 2, use_gate=True, use_bias=False, name="gqa_gate")(
        q, v, key=key)
    y4 = L.GroupQueryAttention(2, 2, 2, sliding_window=2, name="gqa_window")(
        q, q, use_causal_mask=True)
    return k.Model([q, v, key], [y1, y2, y3, y4], name="grouped_query_attention")


@case("image-preprocessing-keras3", ["AutoContrast", "AugMix", "CutMix", "MixUp", "RandAugment", "RandomColorDegeneration",
                                     "RandomColorJitter", "RandomElasticTransform",
                                     "RandomErasing", "RandomGaussianBlur", "RandomGrayscale",
                                     "RandomHue", "RandomInvert", "RandomPerspective",
                                     "RandomPosterization", "RandomSaturation",
                                     "RandomSharpness", "RandomShear", "Solarization"],
      "Keras 3 image layers on [B,6,5,3] images in [0, 1]: AutoContrast(value_range=(0, 1)) "
      "(active at inference) and AutoContrast() on x*255 via Rescaling; then every Keras 3 "
      "random augmentation in a chain (identity at inference), then a Conv2D",
      notes="Equalization is left out: Keras 3.15 returns its input tensor from a symbolic "
            "call, so no Functional or Sequential model can hold it ('part of a cycle'). "
            "RandomShear has zero factors: Keras 3.15 writes x_factor=0.3 as [-0.3, 0.3], "
            "which its own constructor then refuses.",
      ranges={"image": (0.0, 1.0)})
def _image_keras3(k):
    L = k.layers
    x = k.Input((6, 5, 3), name="image")
    y1 = L.AutoContrast(value_range=(0, 1), name="auto_contrast_unit")(x)
    y2 = L.AutoContrast(name="auto_contrast_255")(L.Rescaling(255.0, name="to_255")(x))
    y = L.Conv2D(3, 1, name="conv_in")(x)
    for i, layer in enumerate([
            L.AugMix(value_range=(0, 1), seed=1), L.CutMix(seed=2), L.MixUp(seed=3),
            L.RandAugment(value_range=(0, 1), seed=4), L.RandomColorDegeneration(0.5, seed=5),
            L.RandomColorJitter(value_range=(0, 1), brightness_factor=0.2, seed=6),
            L.RandomElasticTransform(seed=7), L.RandomErasing(seed=8),
            L.RandomGaussianBlur(1.0, seed=9), L.RandomGrayscale(0.5, seed=10),
            L.RandomHue(0.5, value_range=(0, 1), seed=11), L.RandomInvert(value_range=(0, 1),
                                                                           seed=12),
            L.RandomPerspective(seed=13), L.RandomPosterization((1, 4), value_range=(0, 1),
                                                              seed=14),
            L.RandomSaturation(0.5, seed=15), L.RandomSharpness(0.5, value_range=(0, 1),
                                                                seed=16),
            L.RandomShear(x_factor=0.0, y_factor=0.0, seed=17),
            L.Solarization(0.5, value_range=(0, 1),
                                                                 seed=18)]):
        y = layer(y)
    y3 = L.Conv2D(2, 2, name="conv_out")(y)
    return k.Model(x, [y1, y2, y3], name="image_preprocessing_keras3")


@case("reversible-embedding-spectral-norm", ["ReversibleEmbedding", "SpectralNormalization"],
      "ReversibleEmbedding(7, 4) forward on float ids in [0, 7) (truncated to int); "
      "ReversibleEmbedding(5, 3, tie_weights=False, logit_soft_cap=2.0) called with "
      "reverse=True on a Dense output; SpectralNormalization(Dense(3)) and "
      "SpectralNormalization(Conv1D(2, 2)) (inference: the stored kernel)",
      ranges={"ids": (0.0, 6.99)})
def _reversible_spectral(k):
    L = k.layers
    ids = k.Input((4,), name="ids")
    h = k.Input((3, 5), name="hidden")
    y1 = L.ReversibleEmbedding(7, 4, name="rev_embed")(ids)
    y2 = L.ReversibleEmbedding(5, 3, tie_weights=False, logit_soft_cap=2.0,
                               name="rev_embed_reverse")(L.Dense(3, name="dense")(h),
                                                         reverse=True)
    y3 = L.SpectralNormalization(L.Dense(3, name="sn_dense_inner"), name="sn_dense")(h)
    y4 = L.SpectralNormalization(L.Conv1D(2, 2, name="sn_conv_inner"), name="sn_conv")(h)
    return k.Model([ids, h], [y1, y2, y3, y4], name="reversible_embedding_spectral_norm")


@case("stft-spectrogram", ["STFTSpectrogram"],
      "STFTSpectrogram on a [B,32,2] signal: mode log (frame 8, step 4, fft 8), magnitude "
      "(frame 6, step 3, fft 8, padding same), psd, real, imag, angle, stft (expand_dims, step "
      "5), magnitude with expand_dims; the kernels randomized as weights",
      notes="data_format='channels_first' is not covered: TensorFlow's CPU Conv2D kernel "
            "refuses NCHW. Needs scipy (Keras builds the STFT kernels with it).")
def _stft(k):
    L = k.layers
    x = k.Input((32, 2), name="signal")
    outs = [L.STFTSpectrogram(mode="log", frame_length=8, frame_step=4, fft_length=8,
                              name="stft_log")(x),
            L.STFTSpectrogram(mode="magnitude", frame_length=6, frame_step=3, fft_length=8,
                              padding="same", name="stft_magnitude_same")(x)]
    for mode in ("psd", "real", "imag", "angle"):
        outs.append(L.STFTSpectrogram(mode=mode, frame_length=8, frame_step=4,
                                      name=f"stft_{mode}")(x))
    outs.append(L.STFTSpectrogram(mode="stft", frame_length=8, frame_step=5, expand_dims=True,
                                  name="stft_stft_expand")(x))
    outs.append(L.STFTSpectrogram(mode="magnitude", frame_length=8, frame_step=4,
                                  expand_dims=True, name="stft_magnitude_expand")(x))
    return k.Model(x, outs, name="stft_spectrogram")


@case("pipeline", ["Pipeline"],
      "a Pipeline([Rescaling(2, offset=-1), Dense(3), RandomFlip]) and a Pipeline([Conv1D(2, 2), "
      "LayerNormalization]) used as layers of a Functional model")
def _pipeline(k):
    L = k.layers
    x = k.Input((4, 3), name="x")
    p1 = L.Pipeline([L.Rescaling(2.0, offset=-1.0, name="rescale"), L.Dense(3, name="dense"),
                     L.RandomFlip(seed=1, name="flip")], name="pipeline_a")
    p2 = L.Pipeline([L.Conv1D(2, 2, name="conv"), L.LayerNormalization(name="norm")],
                    name="pipeline_b")
    return k.Model(x, [p1(x), p2(x)], name="pipeline")


@case("mel-spectrogram", ["MelSpectrogram"],
      "MelSpectrogram(fft_length=16, sequence_stride=4, sequence_length=12, sampling_rate=800, "
      "num_mel_bins=6, top_db=20) in dB on [B,40] audio; MelSpectrogram(fft_length=8, "
      "sequence_stride=3, window='hamming', power_to_db=False, mag_exp=1, sampling_rate=400, "
      "num_mel_bins=4, min_freq=10, max_freq=150)",
      notes="The dB output is clamped to top_db below the maximum of the whole batch (Keras), "
            "so a sample's output depends on the other sample: the sample-alone check is "
            "skipped for this case.", batch_coupled=True)
def _mel(k):
    L = k.layers
    x = k.Input((40,), name="audio")
    y1 = L.MelSpectrogram(fft_length=16, sequence_stride=4, sequence_length=12,
                          sampling_rate=800, num_mel_bins=6, top_db=20.0, name="mel_db")(x)
    y2 = L.MelSpectrogram(fft_length=8, sequence_stride=3, window="hamming",
                          power_to_db=False, mag_exp=1.0, sampling_rate=400, num_mel_bins=4,
                          min_freq=10.0, max_freq=150.0, name="mel_magnitude")(x)
    return k.Model(x, [y1, y2], name="mel_spectrogram")


# --------------------------------------------------------------------------- helpers
def keras_module(flavor):
    if flavor == "tf_keras":
        import tf_keras
        return tf_keras
    return _k()


def generator_string(flavor):
    import tensorflow as tf
    if flavor == "tf_keras":
        import tf_keras
        return f"tf-keras {tf_keras.__version__} (tensorflow {tf.__version__})"
    k = _k()
    return f"keras {k.__version__}, backend {k.backend.backend()} (tensorflow {tf.__version__})"


def var_name(v, flavor):
    return v.path if flavor == "keras3" else v.name.rsplit(":", 1)[0]


def randomize(model, flavor, rng):
    """Deterministic non-trivial values for every variable (adapted statistics excepted)."""
    log = []
    adapted = {id(v) for layer in model._flatten_layers(include_self=False)
               if type(layer).__name__ == "Normalization" and layer.input_mean is None
               for v in layer.weights}
    for v in model.weights:
        name = var_name(v, flavor)
        short = name.rsplit("/", 1)[-1]
        if id(v) in adapted:
            continue  # adapted Normalization statistics stay as adapted
        shape = tuple(v.shape)
        if short in ("gamma", "scale") or short.endswith("variance"):
            val = 0.5 + rng.random(shape)
        elif short in ("bias", "beta") or short.endswith("_bias") or short.endswith("mean"):
            val = rng.uniform(-0.5, 0.5, shape)
        elif short == "concat_score_weight":
            val = 0.5 + rng.random(shape)
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            lim = min(0.8, 1.7 / np.sqrt(max(fan_in, 1)))
            val = rng.uniform(-lim, lim, shape)
        v.assign(np.asarray(val, dtype=v.dtype if isinstance(v.dtype, str) else "float32"))
        log.append(name)
    return log


def model_inputs(model, spec):
    rng = np.random.default_rng(INPUT_SEED)
    xs, meta = [], []
    for t in model.inputs:
        name = t.name.split(":")[0]
        lo, hi, *step = spec.ranges.get(name, (-1.0, 1.0))
        shape = (BATCH,) + tuple(int(d) for d in t.shape[1:])
        x = lo + (hi - lo) * rng.random(shape)
        if step:  # snapped to a grid (float64 round, then float32)
            x = np.round(x / step[0]) * step[0]
        xs.append(x.astype(np.float32))
        meta.append((name, lo, hi, *step))
    return xs, meta


def run(model, xs):
    y = model(xs if len(xs) > 1 else xs[0], training=False)
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    return [np.asarray(t) for t in ys]


def as_stored(y):
    """Outputs as stored: float32, or int32 for integer outputs (TF.js has no int64)."""
    if np.issubdtype(y.dtype, np.integer):
        assert np.abs(y).max() < 2**31
        return y.astype("<i4")
    return y.astype("<f4")


def sanity(model, xs, ys, batch_coupled=False):
    again = run(model, xs)
    for a, b in zip(ys, again):
        assert a.dtype == b.dtype and np.array_equal(a, b), "two runs differ"
    for i, y in enumerate(ys):
        assert np.all(np.isfinite(y)), f"output {i}: non-finite values"
        assert np.ptp(y) > 0, f"output {i}: all values equal"
        assert not np.array_equal(y[0], y[1]), f"output {i}: both samples equal"
    for b in range(0 if batch_coupled else BATCH):
        single = run(model, [x[b:b + 1] for x in xs])
        for i, (y, s) in enumerate(zip(ys, single)):
            np.testing.assert_allclose(y[b:b + 1], s, rtol=1e-5, atol=1e-6,
                                       err_msg=f"output {i}: sample {b} alone differs")


# --------------------------------------------------------------------------- TF.js converter
def tfjs_converter():
    """``tensorflowjs.converters.keras_h5_conversion`` without its unrelated heavy imports.

    ``tensorflowjs/__init__`` imports the SavedModel and JAX converters, which need
    tensorflow_decision_forests, tensorflow_hub and jax; none of them is used by the
    Keras path, so they are stubbed (after Keras is imported: Keras probes for jax).
    """
    _k()
    import tf_keras  # noqa: F401  (the converter imports it)
    for mod in ("tensorflow_decision_forests", "tensorflow_hub"):
        sys.modules.setdefault(mod, types.ModuleType(mod))
    if "jax" not in sys.modules:
        for mod in ("jax", "jax.experimental", "jax.experimental.jax2tf"):
            sys.modules[mod] = types.ModuleType(mod)
        sys.modules["jax.experimental"].jax2tf = sys.modules["jax.experimental.jax2tf"]
    from tensorflowjs.converters import keras_h5_conversion
    from tensorflowjs import version
    return keras_h5_conversion, version.version


def _plain(value):
    """Keras 3's tracked lists/dicts as plain ones (which deep-copy)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and type(value) not in (list, tuple):
        return [_plain(v) for v in value]
    return value


@contextlib.contextmanager
def keras_save_fixes(flavor, model):
    """One Keras 3.15 bug worked around while a model is saved.

    Keras 3.15.1 cannot write some layers (``RandomBrightness``, ``AutoContrast`` and the
    other layers with a ``value_range``) to ``.h5`` (the file the converter reads) or
    ``.keras``: their config holds a tracked list whose deepcopy fails ("cannot pickle
    'module' object"). During the save the configs of the model's layer classes hold plain
    lists instead, which is what the JSON holds anyway.
    """
    if flavor != "keras3":
        yield
        return
    originals = {cls: cls.get_config for cls in {type(layer) for layer in
                                                  model._flatten_layers(include_self=False)}}

    def patched(original):
        return lambda self: _plain(original(self))

    for cls, original in originals.items():
        cls.get_config = patched(original)
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.get_config = original


def save_with_converter(conv, model, folder, flavor):
    """``save_keras_model``, the TF.js converter's Keras path (see ``keras_save_fixes``)."""
    with keras_save_fixes(flavor, model):
        conv.save_keras_model(model, folder)


KERAS_FILES = ("model.keras", "model.h5")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def save_keras_files(model, folder, flavor):
    """``model.keras`` (the zip of config.json + model.weights.h5) and ``model.h5`` (legacy
    HDF5), each written by ``model.save``; the zip is rewritten without what changes from run
    to run (entry times, ``metadata.json``'s ``date_saved``, the Python object ids Keras
    writes as ``shared_object_id``) so that remaking it gives the same bytes."""
    with keras_save_fixes(flavor, model):
        for name in KERAS_FILES:
            model.save(os.path.join(folder, name))
    path = os.path.join(folder, "model.keras")
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in entries:
            if info.filename == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = "1980-01-01@00:00:00"
                data = json.dumps(meta).encode()
            elif info.filename == "config.json":  # ids of Python objects: renumbered 1, 2, ...
                ids: dict[bytes, bytes] = {}
                data = re.sub(rb'"shared_object_id": (\d+)', lambda m: b'"shared_object_id": '
                              + ids.setdefault(m.group(1), str(len(ids) + 1).encode()), data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            z.writestr(fixed, data)


def reload_keras_files(folder, flavor, xs, ys):
    """Keras's own reload of each file: "bit-identical", or what went wrong (recorded)."""
    k = keras_module(flavor)
    report = {}
    for name in KERAS_FILES:
        try:
            again = k.models.load_model(os.path.join(folder, name), compile=False)
            same = all(np.array_equal(a, b) for a, b in zip(ys, run(again, xs)))
            report[name] = "bit-identical" if same else "outputs differ"
        except Exception as err:  # noqa: BLE001 - Keras's own failure is what is recorded
            message = re.sub(r" at 0x[0-9a-f]+", "", str(err).splitlines()[0])
            report[name] = f"{type(err).__name__}: {message[:200]}"
    return report


# --------------------------------------------------------------------------- model.json reading
_BYTES = {"float32": 4, "int32": 4}


def decode_weights(folder, manifest):
    buf = b"".join(open(os.path.join(folder, p), "rb").read() for g in manifest for p in g["paths"])
    out, off = {}, 0
    for g in manifest:
        for spec in g["weights"]:
            assert "quantization" not in spec
            shape = tuple(spec["shape"])
            n = int(np.prod(shape)) if shape else 1
            nb = n * _BYTES[spec["dtype"]]
            dtype = {"float32": "<f4", "int32": "<i4"}[spec["dtype"]]
            arr = np.frombuffer(buf[off:off + nb], dtype)
            assert spec["name"] not in out, spec["name"]
            out[spec["name"]] = arr.reshape(shape).copy()
            off += nb
    assert off == len(buf), (off, len(buf))
    return out


def count_classes(model_config):
    """Every layer class in a model config, nested models, wrappers and cells included."""
    counts = collections.Counter()

    def layer(entry):
        cls = entry["class_name"]
        counts[cls] += 1
        cfg = entry.get("config") or {}
        if cls in MODEL_CLASSES:
            model(cfg)
        for key in ("layer", "forward_layer", "backward_layer", "cell"):
            sub = cfg.get(key)
            if isinstance(sub, dict) and "class_name" in sub:
                layer(sub)
            elif isinstance(sub, list):
                for s in sub:
                    layer(s)
        for s in cfg.get("cells") or []:
            layer(s)

    def model(cfg):
        layers = cfg["layers"] if isinstance(cfg, dict) else cfg
        for entry in layers:
            layer(entry)

    model(model_config["config"])
    return dict(counts)


def io_names(model_config):
    cfg = model_config["config"]
    if model_config["class_name"] == "Sequential":
        return [cfg["layers"][0]["config"]["name"]], [cfg["layers"][-1]["config"]["name"]]

    def names(v):
        v = list(v.values()) if isinstance(v, dict) else v
        if v and isinstance(v[0], str):
            v = [v]
        return [r[0] for r in v]
    return names(cfg["input_layers"]), names(cfg["output_layers"])


def rebuild(folder, flavor):
    """Rebuild the written model.json with Keras and assign the shard's weights by name."""
    mj = json.load(open(os.path.join(folder, "model.json")))
    mc = mj["modelTopology"]["model_config"]
    if flavor == "tf_keras":
        import tf_keras
        model = tf_keras.models.model_from_json(json.dumps(mc))
    else:
        k = _k()
        # The converter dropped the layer entries' "module" keys, which sends Keras 3 to its
        # legacy deserializer; that one turns some config strings into objects (Attention's
        # score_mode "dot" becomes keras.ops.dot). Put the keys back for this check only.
        mc = json.loads(json.dumps(mc))

        def put_modules(entries):
            for entry in entries:
                nested = entry["class_name"] in MODEL_CLASSES
                module, registered = {"Sequential": ("keras", None), "Functional": (
                    "keras.src.models.functional", "Functional")}.get(
                        entry["class_name"], ("keras.layers", None))
                if nested or hasattr(k.layers, entry["class_name"]):  # else: custom_objects
                    entry.setdefault("module", module)
                    entry.setdefault("registered_name", registered)
                if nested:
                    put_modules(entry["config"]["layers"])
        put_modules(mc["config"]["layers"])
        by_class = {c.__name__: c for c in vars(k.layers).values() if isinstance(c, type)}
        co = {n: by_class[n] for n in count_classes(mc) if n in by_class}  # also the classes
        # exported under another name (GroupQueryAttention is GroupedQueryAttention)
        co.update(Sequential=k.Sequential, Functional=k.Model, Model=k.Model)
        model = k.models.model_from_json(json.dumps(mc), custom_objects=co)
    weights = decode_weights(folder, mj["weightsManifest"])
    used = set()
    for v in model.weights:
        name = var_name(v, flavor)
        if name not in weights:  # Keras 3 variable paths depend on where a layer was built:
            # a rebuilt wrapper's sublayer loses the wrapper prefix; a layer adapted before it
            # joined a Sequential has no model prefix in the file
            ends = [w for w in weights if w.endswith("/" + name) or name.endswith("/" + w)]
            name = ends[0] if len(ends) == 1 else name
        assert name in weights, f"rebuilt variable {name} not in the manifest {sorted(weights)}"
        assert name not in used
        assert tuple(weights[name].shape) == tuple(v.shape), name
        v.assign(weights[name].astype(v.dtype if isinstance(v.dtype, str) else "float32"))
        used.add(name)
    assert used == set(weights), f"unused manifest weights {set(weights) - used}"
    for layer in model.layers:  # Keras 3 Normalization derives its statistics from the vars
        if type(layer).__name__ == "Normalization" and hasattr(layer, "finalize_state") \
                and getattr(layer, "adapt_mean", None) is not None:
            layer.finalize_state()
    return mj, model


# --------------------------------------------------------------------------- one Keras case
def make_keras_case(spec, out_dir, write):
    import tensorflow as tf
    k = keras_module(spec.flavor)
    if spec.flavor == "tf_keras":
        tf_keras = k
        tf_keras.backend.clear_session()
    else:
        k.backend.clear_session()
        k.utils.set_random_seed(WEIGHT_SEED)
    tf.random.set_seed(WEIGHT_SEED)
    model = spec.build(k)
    wlog = randomize(model, spec.flavor, np.random.default_rng(WEIGHT_SEED))
    xs, in_meta = model_inputs(model, spec)
    ys = run(model, xs)
    sanity(model, xs, ys, spec.batch_coupled)

    conv, tfjs_version = tfjs_converter()
    tmp = tempfile.mkdtemp(prefix=f"ref-{spec.name}-")
    try:
        save_with_converter(conv, model, tmp, spec.flavor)
        files = sorted(os.listdir(tmp))
        assert files in (["group1-shard1of1.bin", "model.json"], ["model.json"]), files
        mj, again = rebuild(tmp, spec.flavor)
        ys2 = run(again, xs)
        for i, (a, b) in enumerate(zip(ys, ys2)):
            assert np.array_equal(a, b), f"output {i}: the rebuilt model.json differs"
        save_keras_files(model, tmp, spec.flavor)
        reloaded = reload_keras_files(tmp, spec.flavor, xs, ys)
        files += list(KERAS_FILES)
        mc = mj["modelTopology"]["model_config"]
        in_names, out_names = io_names(mc)
        assert len(in_names) == len(xs) and len(out_names) == len(ys)
        classes = count_classes(mc)
        for c in spec.covers:
            assert c in classes, f"{c} not in the written model.json ({classes})"
        print(f"{spec.name}: {generator_string(spec.flavor)}; {len(wlog)} variables randomized")
        print(f"  Keras reload: {reloaded}")
        for x, (nm, lo, hi, *_) in zip(xs, in_meta):
            print(f"  in  {nm} {x.shape} [{lo}, {hi})")
        for y, nm in zip(ys, out_names):
            print(f"  out {nm} {y.shape} {y.dtype} min {y.min():.4g} max {y.max():.4g}")
        if not write:
            return
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.makedirs(os.path.join(out_dir, "ref"))
        for f in files:
            shutil.copy(os.path.join(tmp, f), os.path.join(out_dir, f))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    inputs, outputs = [], []
    for i, (x, (nm, lo, hi, *step)) in enumerate(zip(xs, in_meta)):
        fn = f"ref/in_{i}.npy"
        np.save(os.path.join(out_dir, fn), x.astype("<f4"))
        expr = f"{lo} + {hi - lo} * rng.random({tuple(x.shape)})"
        if step:
            expr = f"round(({expr}) / {step[0]}) * {step[0]}"
        inputs.append(dict(file=fn, name=in_names[i], shape=list(x.shape), dtype="float32",
                           range=[lo, hi],
                           generator=f"float32({expr}), rng = numpy.random.default_rng("
                                     f"{INPUT_SEED}) shared by the inputs in order"))
    for i, (y, nm) in enumerate(zip(ys, out_names)):
        fn = f"ref/out_{i}.npy"
        stored = as_stored(y)
        np.save(os.path.join(out_dir, fn), stored)
        entry = dict(file=fn, name=nm, shape=list(y.shape), dtype=str(stored.dtype))
        if stored.dtype != y.dtype:
            entry["keras_dtype"] = str(y.dtype)
        outputs.append(entry)
    topo = mj["modelTopology"]
    ref = {
        "format": "flaxjs-reference/1",
        "source": {"generator": "tools/keras_references/make_references.py", "case": spec.name},
        "reference_by": "keras",
        "generator": generator_string(spec.flavor),
        "converter": f"tensorflowjs {tfjs_version} keras_h5_conversion.save_keras_model",
        "model_format": mj["format"],
        "model_class": mc["class_name"],
        "keras_version": topo["keras_version"],
        "generated_by": mj.get("generatedBy"),
        "converted_by": mj.get("convertedBy"),
        "layer_classes": classes,
        "covers": spec.covers,
        "options": spec.options,
        "seed": {"inputs": INPUT_SEED, "weights": WEIGHT_SEED, "adapt": ADAPT_SEED},
        "batch": BATCH,
        "weights": ("every variable, in model.weights order, set from numpy.random.default_rng("
                    f"{WEIGHT_SEED}): kernels uniform(+-min(0.8, 1.7/sqrt(fan_in))), biases/betas/"
                    "means uniform(+-0.5), gammas/scales/variances/concat_score_weight "
                    "0.5 + uniform[0, 1); adapted Normalization statistics as adapted"),
        "weight_matching": ("manifest name == Keras 3 variable.path" if spec.flavor == "keras3"
                            else "manifest name == tf-keras variable name without ':0'"),
        "inference": ("model(x, training=False), batch of 2; TF_ENABLE_ONEDNN_OPTS=0, "
                      "1 thread"),
        "checks": ("two runs bit-identical; outputs finite, not constant, samples differ; "
                   + ("" if spec.batch_coupled else
                      "each sample alone equals its batch row (rtol 1e-5); ")
                   + "model.json + shard rebuilt with Keras (weights by manifest name, each "
                     "used once) bit-identical"),
        "quantization": [],
        "keras_files": {name: {"written_by": f"{spec.flavor.replace('_', '-')} model.save",
                               "keras_reload": reloaded[name]} for name in KERAS_FILES},
        "inputs": inputs,
        "outputs": outputs,
        "notes": (f"{spec.options}." + (f" {spec.notes}" if spec.notes else "")),
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    print(f"  wrote {out_dir}")


# --------------------------------------------------------------------------- ConvLSTM2DCell (TF.js)
CELL_CASE = "convlstm2d-cell-tfjs"

# Each cell: (layer name, TF.js args as the JS API spells them, x input, state shape).
# The config in model.json is what TF.js's serialization writes for those args
# (convlstm2d_cell.js checks that round trip with TF.js itself).
_CELLS = [
    ("cell_same", dict(filters=3, kernel_size=[3, 2], strides=[1, 1], padding="same",
                       dilation_rate=[1, 2], activation="tanh",
                       recurrent_activation="hard_sigmoid", use_bias=True,
                       data_format="channels_last"), "x", (5, 6, 3)),
    ("cell_valid_s2", dict(filters=2, kernel_size=[3, 3], strides=[2, 2], padding="valid",
                           dilation_rate=[1, 1], activation="relu",
                           recurrent_activation="sigmoid", use_bias=True,
                           data_format="channels_last"), "x", (2, 2, 2)),
    ("cell_channels_first", dict(filters=2, kernel_size=[2, 2], strides=[1, 1],
                                 padding="same", dilation_rate=[1, 1], activation="tanh",
                                 recurrent_activation="hard_sigmoid", use_bias=False,
                                 data_format="channels_first"), "x_cf", (2, 5, 6)),
]
_CELL_INPUTS = {"x": (5, 6, 3), "x_cf": (3, 5, 6)}


def _cell_config(name, a):
    init = {"kernel_initializer": {"class_name": "VarianceScaling",
                                   "config": {"scale": 1, "mode": "fan_avg",
                                              "distribution": "normal", "seed": None}},
            "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1,
                                                                            "seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}}
    cfg = {"name": name, "trainable": True,
           "activation": a["activation"], "recurrent_activation": a["recurrent_activation"],
           "use_bias": a["use_bias"], **init, "unit_forget_bias": True,
           "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
           "activity_regularizer": None, "kernel_constraint": None,
           "recurrent_constraint": None, "bias_constraint": None,
           "dropout": 0, "recurrent_dropout": 0, "implementation": None, "filters": a["filters"],
           "kernel_size": a["kernel_size"], "padding": a["padding"],
           "data_format": a["data_format"], "dilation_rate": a["dilation_rate"],
           "strides": a["strides"]}
    return cfg


def tfjs_node_modules():
    env = os.environ.get("TFJS_NODE_MODULES")
    if env:
        return env
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from tfjs_node import tool_dir  # a private npm ci copy of shared/tools/tfjs-oracle
    return str(tool_dir() / "node_modules")


def make_cell_case(out_dir, write):
    rng_w = np.random.default_rng(WEIGHT_SEED)
    rng_x = np.random.default_rng(INPUT_SEED)
    layers, manifest, blobs = [], [], []
    inputs = {}
    # input layers: x, x_cf, then each cell's h and c
    in_specs = list(_CELL_INPUTS.items())
    for name, a, src, state in _CELLS:
        in_specs += [(f"{name}_h", state), (f"{name}_c", state)]
    for nm, shape in in_specs:
        layers.append({"class_name": "InputLayer", "config": {
            "batch_input_shape": [None, *shape], "dtype": "float32", "sparse": False,
            "name": nm}, "name": nm, "inbound_nodes": []})
        inputs[nm] = (-1.0 + 2.0 * rng_x.random((BATCH, *shape))).astype(np.float32)
    outputs = []
    for name, a, src, state in _CELLS:
        cfg = _cell_config(name, a)
        layers.append({"class_name": "ConvLSTM2DCell", "config": cfg, "name": name,
                       "inbound_nodes": [[[src, 0, 0, {}], [f"{name}_h", 0, 0, {}],
                                          [f"{name}_c", 0, 0, {}]]]})
        cin = _CELL_INPUTS[src][0 if a["data_format"] == "channels_first" else -1]
        f = a["filters"]
        shapes = [("kernel", (*a["kernel_size"], cin, 4 * f)),
                  ("recurrent_kernel", (*a["kernel_size"], f, 4 * f))]
        if a["use_bias"]:
            shapes.append(("bias", (4 * f,)))
        for wname, wshape in shapes:
            if wname == "bias":
                val = rng_w.uniform(-0.5, 0.5, wshape)
            else:
                lim = 1.7 / np.sqrt(np.prod(wshape[:-1]))
                val = rng_w.uniform(-lim, lim, wshape)
            blobs.append(val.astype("<f4").tobytes())
            manifest.append({"name": f"{name}/{wname}", "shape": list(wshape),
                             "dtype": "float32"})
        outputs += [[name, 0, 0], [name, 0, 1], [name, 0, 2]]
    topology = {"class_name": "Model",
                "config": {"name": "convlstm2d_cell", "layers": layers,
                           "input_layers": [[nm, 0, 0] for nm, _ in in_specs],
                           "output_layers": outputs},
                "keras_version": "tfjs-layers 4.22.0", "backend": "tensor_flow.js"}
    mj = {"modelTopology": topology, "format": "layers-model",
          "generatedBy": "TensorFlow.js tfjs-layers v4.22.0", "convertedBy": None,
          "weightsManifest": [{"paths": [SHARD], "weights": manifest}]}
    tmp = tempfile.mkdtemp(prefix="ref-cell-")
    target = out_dir if write else tmp
    try:
        if write:
            if os.path.isdir(out_dir):
                shutil.rmtree(out_dir)
        os.makedirs(os.path.join(target, "ref"), exist_ok=True)
        with open(os.path.join(target, "model.json"), "w") as fh:
            json.dump(mj, fh)
        with open(os.path.join(target, SHARD), "wb") as fh:
            fh.write(b"".join(blobs))
        xs = [inputs[nm] for nm, _ in in_specs]
        for i, x in enumerate(xs):
            np.save(os.path.join(target, f"ref/in_{i}.npy"), x)
        env = dict(os.environ, NODE_PATH=tfjs_node_modules())
        done = subprocess.run(["node", os.path.join(HERE, "convlstm2d_cell.js"), target],
                              env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"convlstm2d_cell.js failed:\n{done.stderr[-3000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        ys = [np.load(os.path.join(target, f"ref/out_{i}.npy")) for i in range(len(outputs))]
        for i, y in enumerate(ys):
            assert np.all(np.isfinite(y)) and np.ptp(y) > 0 and not np.array_equal(y[0], y[1]), i
        print(f"{CELL_CASE}: {report['generator']}")
        print(f"  TF.js loadLayersModel: {report['load_error']}")
        for y, o in zip(ys, outputs):
            print(f"  out {o} {y.shape} min {y.min():.4g} max {y.max():.4g}")
        if not write:
            return
        ref = {
            "format": "flaxjs-reference/1",
            "source": {"generator": "tools/keras_references/make_references.py + "
                                    "convlstm2d_cell.js", "case": CELL_CASE},
            "reference_by": "tfjs",
            "generator": report["generator"],
            "model_format": "layers-model",
            "model_class": "Model",
            "keras_version": topology["keras_version"],
            "generated_by": mj["generatedBy"],
            "converted_by": None,
            "layer_classes": count_classes(topology),
            "covers": ["ConvLSTM2DCell"],
            "options": ("three ConvLSTM2DCell graph nodes, each called on [x, h, c] with outputs "
                        "[h, h, c]: filters 3, kernel [3,2], 'same', dilation [1,2], tanh / "
                        "hard_sigmoid; filters 2, kernel 3, strides 2, 'valid', relu / sigmoid; "
                        "filters 2, kernel 2, 'same', channels_first, no bias"),
            "seed": {"inputs": INPUT_SEED, "weights": WEIGHT_SEED},
            "batch": BATCH,
            "weights": (f"numpy.random.default_rng({WEIGHT_SEED}) in manifest order: kernels "
                        "uniform(+-1.7/sqrt(fan_in)), biases uniform(+-0.5)"),
            "inference": ("TF.js: the cell deserialized from this model.json's config with "
                          "TF.js's own convertPythonicToTs + registered fromConfig, "
                          "build(x.shape), setWeights(decodeWeights(shard)), "
                          "call([x, h, c], {training: false})"),
            "tfjs_load_error": report["load_error"],
            "tfjs_config_roundtrip": report["config_roundtrip"],
            "quantization": [],
            "inputs": [dict(file=f"ref/in_{i}.npy", name=nm, shape=[BATCH, *shape],
                            dtype="float32", range=[-1.0, 1.0],
                            generator=f"float32(-1.0 + 2.0 * rng.random({(BATCH, *shape)})), rng "
                                      f"= numpy.random.default_rng({INPUT_SEED}) shared by the "
                                      "inputs in order")
                       for i, (nm, shape) in enumerate(in_specs)],
            "outputs": [dict(file=f"ref/out_{i}.npy", name=o[0], output_ref=o,
                             shape=list(y.shape), dtype="float32")
                        for i, (o, y) in enumerate(zip(outputs, ys))],
            "notes": ("ConvLSTM2DCell is a TF.js class (Keras has ConvLSTM2D but no public "
                      "ConvLSTM2DCell). TF.js 4.22 registers and deserializes it but cannot build "
                      "it as a graph node (tf.loadLayersModel of this file fails: see "
                      "tfjs_load_error; its build takes exactly one input shape) nor inside a "
                      "generic RNN (RNN's InputSpec is ndim=3); ConvLSTM2D uses it internally "
                      "through cell.call([x, h, c]). This reference is that call, made by TF.js "
                      "itself on the config and weights stored here."),
        }
        with open(os.path.join(out_dir, "reference.json"), "w") as fh:
            json.dump(ref, fh, indent=2)
            fh.write("\n")
        print(f"  wrote {out_dir}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    ap.add_argument("--out", default=OUT, help="output folder (default: tests/references/keras)")
    ap.add_argument("--check", action="store_true", help="build and check only, write nothing")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args()
    names = [*CASES, CELL_CASE]
    if args.list:
        for n in names:
            covers = CASES[n].covers if n in CASES else ["ConvLSTM2DCell"]
            print(f"{n}: {', '.join(covers)}")
        return
    unknown = [c for c in args.cases if c not in names]
    if unknown:
        ap.error(f"unknown cases {unknown}; --list shows them")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    for name in args.cases or names:
        out_dir = os.path.join(args.out, name)
        if name == CELL_CASE:
            make_cell_case(out_dir, not args.check)
        else:
            make_keras_case(CASES[name], out_dir, not args.check)


if __name__ == "__main__":
    main()
