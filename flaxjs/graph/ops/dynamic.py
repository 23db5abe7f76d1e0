"""Ops whose output shapes depend on values (TF.js ``dynamic``): non-max suppression,
``Where`` and ``ListDiff``.

TF.js runs them only with ``executeAsync``; flaxjs runs them eagerly, on NumPy,
reading their inputs' values (under ``jax.jit`` there are none: a
``DynamicOpError`` names the node). They copy TF.js's CPU code, down to its float64
arithmetic on float32 inputs, so that tie order and thresholds agree exactly.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from ..graphdef import NodeDef
from .common import GraphOpError, concrete
from .registry import Feed, OpSample, op

_BOXES = Feed((12, 4), low=0.0, high=1.0)
_SCORES = Feed((12,), low=0.0, high=1.0)
_PIXELS = Feed((12, 4), low=0.0, high=100.0)
#: five boxes, two pairs with equal scores, overlapping in a chain.
_TIE_BOXES = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 0.2, 1, 1.2], [0, 5, 1, 6],
                       [1, 1, 0, 0]], np.float32)
_TIE_SCORES = np.array([0.9, 0.8, 0.9, 0.8, 0.7], np.float32)


def _i(v: int) -> np.ndarray:
    return np.array(v, np.int32)


def _f(v: float) -> np.ndarray:
    return np.array(v, np.float32)


def _nms_samples() -> list[OpSample]:
    v3 = "NonMaxSuppressionV3"
    return [
        OpSample([_BOXES, _SCORES, _i(5), _f(0.5)], name="v2", op="NonMaxSuppressionV2"),
        OpSample([_BOXES, _SCORES, _i(6), _f(0.3), _f(0.25)], op=v3),
        OpSample([_PIXELS, _SCORES, _i(20), _f(0.2), _f(-np.inf)], op=v3, name="pixels"),
        OpSample([_TIE_BOXES, _TIE_SCORES, _i(5), _f(0.5), _f(0.0)], op=v3, name="ties"),
        OpSample([_TIE_BOXES, _TIE_SCORES, _i(5), _f(0.0), _f(0.0)], op=v3, name="iou-0"),
        OpSample([_TIE_BOXES, _TIE_SCORES, _i(5), _f(1.0), _f(0.8)], op=v3, name="iou-1"),
        OpSample([_BOXES, _SCORES, _i(0), _f(0.5), _f(0.0)], op=v3, name="max-0"),
        OpSample([_BOXES, _SCORES, _i(8), _f(0.4), _f(0.3)], {"pad_to_max_output_size": True},
                 outputs=2, op="NonMaxSuppressionV4", name="pad"),
        OpSample([_BOXES, _SCORES, _i(30), _f(0.4), _f(0.3)], {"pad_to_max_output_size": True},
                 outputs=2, op="NonMaxSuppressionV4", name="pad-beyond-boxes"),
        OpSample([_BOXES, _SCORES, _i(8), _f(0.4), _f(0.3)], {"pad_to_max_output_size": False},
                 outputs=2, op="NonMaxSuppressionV4", name="no-pad"),
        OpSample([_BOXES, _SCORES, _i(8), _f(0.6), _f(0.1), _f(0.5)], outputs=2,
                 op="NonMaxSuppressionV5", name="soft"),
        OpSample([_TIE_BOXES, _TIE_SCORES, _i(5), _f(0.9), _f(0.5), _f(1.0)], outputs=2,
                 op="NonMaxSuppressionV5", name="soft-ties"),
        OpSample([_BOXES, _SCORES, _i(8), _f(0.4), _f(0.2), _f(0.0)], outputs=2,
                 op="NonMaxSuppressionV5", name="hard"),
    ]


@op("NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5",
    dynamic=True, samples=_nms_samples())
def non_max_suppression(node: NodeDef, boxes, scores, max_output_size, iou_threshold,
                        score_threshold=None, soft_nms_sigma=None):
    """TF.js's ``nonMaxSuppressionImpl``: greedy selection by score (ties: the lower box
    index first), IoU on the boxes as given (corners in any order, any scale). V4 pads
    with zeros to ``min(max_output_size, number of boxes)`` (not to
    ``max_output_size``) and gives the valid count; V5's soft-NMS decays scores by
    ``exp(-iou**2 / (2 sigma))`` and gives the selected scores; TF.js gives V5 no third
    (valid count) output."""
    b = concrete(node, boxes, "boxes")
    s = concrete(node, scores, "scores")
    max_out = _number(node, max_output_size, "max_output_size")
    iou_t = _number(node, iou_threshold, "iou_threshold")
    score_t = -math.inf if score_threshold is None else _number(node, score_threshold,
                                                                "score_threshold")
    sigma = 0.0 if soft_nms_sigma is None else _number(node, soft_nms_sigma, "soft_nms_sigma")
    if not 0 <= iou_t <= 1:
        raise GraphOpError(node, f"iouThreshold must be in [0, 1], but was '{iou_t}'")
    if b.ndim != 2 or b.shape[1] != 4:
        raise GraphOpError(node, f"boxes must be a [n, 4] tensor, got shape {list(b.shape)}")
    if s.ndim != 1 or s.shape[0] != b.shape[0]:
        raise GraphOpError(node, f"scores must be a [{b.shape[0]}] tensor, got shape "
                                 f"{list(s.shape)}")
    if not 0 <= sigma <= 1:
        raise GraphOpError(node, f"softNmsSigma must be in [0, 1], but was '{sigma}'")
    max_out = min(max_out, b.shape[0])
    selected, selected_scores = _nms(b.astype(np.float64), s.astype(np.float64), max_out,
                                     iou_t, score_t, sigma)
    valid = len(selected)
    if node.op == "NonMaxSuppressionV4" and node.attr("pad_to_max_output_size", False):
        selected += [0] * max(0, math.ceil(max_out - valid))
    indices = np.asarray(selected, np.int32)
    if node.op == "NonMaxSuppressionV4":
        return indices, np.asarray(valid, np.int32)
    if node.op == "NonMaxSuppressionV5":
        return indices, np.asarray(selected_scores, np.float32)
    return indices


def _number(node: NodeDef, x, what: str) -> float:
    """A scalar input as TF.js reads a ``number`` parameter: its first element."""
    flat = concrete(node, x, what).reshape(-1)
    if flat.size == 0:
        raise GraphOpError(node, f"its {what} is empty")
    return float(flat[0])


def _nms(boxes: np.ndarray, scores: np.ndarray, max_out: float, iou_t: float,
         score_t: float, sigma: float) -> tuple[list[int], list[float]]:
    """The loop of TF.js's ``nonMaxSuppressionImpl_``, in float64 as JavaScript computes."""
    y0 = np.minimum(boxes[:, 0], boxes[:, 2])
    x0 = np.minimum(boxes[:, 1], boxes[:, 3])
    y1 = np.maximum(boxes[:, 0], boxes[:, 2])
    x1 = np.maximum(boxes[:, 1], boxes[:, 3])
    area = (y1 - y0) * (x1 - x0)

    def iou(i: int, js: list[int]) -> np.ndarray:
        j = np.asarray(js, np.int64)
        inter = (np.maximum(np.minimum(y1[i], y1[j]) - np.maximum(y0[i], y0[j]), 0.0)
                 * np.maximum(np.minimum(x1[i], x1[j]) - np.maximum(x0[i], x0[j]), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = inter / (area[i] + area[j] - inter)
        return np.where((area[i] <= 0) | (area[j] <= 0), 0.0, out)

    # candidates sorted ascending by (score, -index): popping the end takes the highest
    # score, the lowest index among equal scores (TF.js's ascendingComparator)
    keys: list[tuple[float, int]] = sorted((float(v), -i) for i, v in enumerate(scores)
                                           if v > score_t)
    begin: dict[int, int] = {}
    scale = -0.5 / sigma if sigma > 0 else 0.0
    selected: list[int] = []
    selected_scores: list[float] = []
    while len(selected) < max_out and keys:
        score, neg = keys.pop()
        popped = score  # TF.js's ``originalScore``: the score this candidate was queued with
        index = -neg
        if popped < score_t:
            break
        start = begin.get(index, 0)
        ignore = False
        if len(selected) > start:
            ious = iou(index, selected[start:])
            for k in range(len(ious) - 1, -1, -1):  # the latest selections first
                value = float(ious[k])
                if value >= iou_t:
                    ignore = True
                    break
                weight = math.exp(scale * value * value) if value <= iou_t else 0.0
                score = score * weight
                if score <= score_t:
                    break
        begin[index] = len(selected)
        if ignore:
            continue
        if score == popped:
            selected.append(index)
            selected_scores.append(score)
        elif score > score_t:
            bisect.insort_left(keys, (score, neg))
    return selected, selected_scores


_COND = np.array([[0.0, 1.5, 0.0], [-2.0, 0.0, np.nan]], np.float32)


@op("Where", dynamic=True, samples=[
    OpSample([Feed((3, 4), "bool")]),
    OpSample([_COND], name="float"),
    OpSample([np.array([[[0, 3], [1, 0]], [[0, 0], [7, -1]]], np.int32)], name="int-3d"),
    OpSample([np.array([False, False], bool)], name="none"),
    OpSample([np.array(True)], name="scalar"),
])
def where(node: NodeDef, condition):
    """One input: the coordinates of the true (non-zero; NaN counts) elements, row-major,
    as an int32 ``[count, rank]`` tensor."""
    cond = concrete(node, condition, "condition")
    if cond.dtype.kind == "c":
        cond = cond.real
    mask = cond != 0 if cond.dtype != np.bool_ else cond
    if mask.ndim == 0:
        return np.zeros((int(bool(mask)), 0), np.int32)
    return np.argwhere(mask).astype(np.int32)


@op("ListDiff", dynamic=True, samples=[
    OpSample([np.array([1, 2, 3, 4, 5, 6, 1], np.int32), np.array([1, 3, 5, 9], np.int32)],
             outputs=2),
    OpSample([np.array([np.nan, 0.0, -0.0, 1.5, 2.5], np.float32),
              np.array([np.nan, 0.0], np.float32)], outputs=2, name="float"),
    OpSample([np.array([4, 5], np.int32), np.array([4, 5], np.int32)], outputs=2,
             name="empty"),
])
def list_diff(node: NodeDef, x, y):
    """The values of ``x`` not in ``y`` (``setdiff1dAsync``: JavaScript ``Set`` equality,
    so NaN matches NaN and -0 matches 0) and their indices in ``x``."""
    xs = concrete(node, x, "x")
    ys = concrete(node, y, "y")
    if xs.dtype != ys.dtype:
        raise GraphOpError(node, f"x and y should have the same dtype, but got x ({xs.dtype}) "
                                 f"and y ({ys.dtype})")
    if xs.ndim != 1 or ys.ndim != 1:
        raise GraphOpError(node, f"x and y should be 1D tensors, got {list(xs.shape)} and "
                                 f"{list(ys.shape)}")
    nan = ys.dtype.kind == "f" and bool(np.isnan(ys).any())
    members = {v for v in ys.tolist() if v == v}
    keep = [i for i, v in enumerate(xs.tolist())
            if not (v in members or (v != v and nan))]
    index = np.asarray(keep, np.int32)
    return xs[index], index
