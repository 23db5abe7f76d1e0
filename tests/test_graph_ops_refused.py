"""Graph ops flaxjs refuses, with the reason, where TF.js refuses them or cannot run them,
and the one limit of static shapes the op samples cannot show."""

from __future__ import annotations

import numpy as np
import pytest

import flaxjs
from flaxjs.errors import FlaxjsError, UnsupportedOpError
from flaxjs.graph.graphdef import DType
from flaxjs.graph.ops import registry, sample_graph
from flaxjs.graph.ops.common import GraphOpError
from flaxjs.graph.ops.registry import Feed, OpRegistration, OpSample


def _model(op_name: str, sample: OpSample):
    registration = registry.lookup(op_name) or OpRegistration((op_name,), lambda *a: None, "x")
    model_json, weights, feeds, outputs = sample_graph.build_case(registration, sample, "case")
    return flaxjs.load(model_json, weights={"weights.bin": weights}), feeds, outputs


def _refused(op_name: str, sample: OpSample, match: str) -> None:
    m, feeds, outputs = _model(op_name, sample)
    with pytest.raises(GraphOpError, match=match):
        m.execute(feeds, outputs)


def test_bitwise_and_is_unsupported_as_in_tfjs():
    """TF.js 4.22's executor reads inputs its op list does not define: it cannot run it."""
    sample = OpSample([Feed((2, 3), "int32", 0, 9), Feed((2, 3), "int32", 0, 9)])
    with pytest.raises(UnsupportedOpError, match="BitwiseAnd"):
        _model("BitwiseAnd", sample)


@pytest.mark.parametrize("op_name", ["ResizeBilinear", "ResizeNearestNeighbor"])
def test_resize_refuses_align_corners_with_half_pixel_centers(op_name):
    sample = OpSample([Feed((1, 4, 4, 1)), np.array([8, 8], np.int32)],
                      {"align_corners": True, "half_pixel_centers": True})
    _refused(op_name, sample, "align_corners and half_pixel_centers")


def test_crop_and_resize_refuses_unknown_method():
    sample = OpSample([Feed((1, 4, 4, 1)), np.array([[0, 0, 1, 1]], np.float32),
                       np.array([0], np.int32), np.array([2, 2], np.int32)],
                      {"method": "bicubic"})
    _refused("CropAndResize", sample, "bicubic")


def test_projective_transform_refuses_unknown_interpolation():
    sample = OpSample([Feed((1, 4, 4, 1)), np.array([[1, 0, 0, 0, 1, 0, 0, 0]], np.float32),
                       np.array([4, 4], np.int32), np.array(0.0, np.float32)],
                      {"interpolation": "BICUBIC", "fill_mode": "CONSTANT"})
    _refused("ImageProjectiveTransformV3", sample, "BICUBIC")


def test_top_k_refuses_k_past_the_last_axis():
    _refused("TopKV2", OpSample([Feed((2, 3)), np.array(4, np.int32)], {"sorted": True},
                                outputs=2), "k=4")


def test_one_hot_refuses_depth_below_two():
    sample = OpSample([np.array([0, 1], np.int32), np.array(1, np.int32),
                       np.array(1.0, np.float32), np.array(0.0, np.float32)],
                      {"T": DType.of("float32")})
    _refused("OneHot", sample, "depth must be at least 2")


def test_range_refuses_zero_delta():
    sample = OpSample([np.array(0, np.int32), np.array(3, np.int32), np.array(0, np.int32)],
                      {"Tidx": DType.of("int32")})
    _refused("Range", sample, "delta must not be zero")
