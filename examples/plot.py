"""Training curves as a PNG drawn with Pillow (no plotting library needed)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_BLUE, _ORANGE, _GREY, _INK = (31, 119, 180), (255, 127, 14), (150, 150, 150), (30, 30, 30)


def _font(size: int):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _ticks(low: float, high: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[low, high]``."""
    span = max(high - low, 1e-9)
    raw = span / n
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int(math.ceil((high - first) / step - 1e-9)) + 1)]


def _dashed(pen, start: tuple[float, float], end: tuple[float, float], fill, dash: int = 6):
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    for a in range(0, int(length), 2 * dash):
        b = min(a + dash, length)
        pen.line([x0 + (x1 - x0) * a / length, y0 + (y1 - y0) * a / length,
                  x0 + (x1 - x0) * b / length, y0 + (y1 - y0) * b / length], fill=fill, width=1)


def _panel(pen, box: tuple[int, int, int, int], series: Mapping[str, tuple[list[float], Any]],
           title: str, fine_tune_start: int | None, fonts: tuple[Any, Any],
           unit_range: bool) -> None:
    left, top, right, bottom = box
    font, small = fonts
    values = [v for ys, _ in series.values() for v in ys if math.isfinite(v)]
    n = max(len(ys) for ys, _ in series.values())
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if unit_range:
        low, high = min(low, 1.0), 1.0
    ticks = _ticks(low if unit_range else 0.0, high)
    y0, y1 = ticks[0], ticks[-1]
    if unit_range:
        y0, y1 = max(0.0, y0), min(1.0, max(y1, high))
        ticks = [t for t in ticks if y0 - 1e-9 <= t <= y1 + 1e-9]

    def px(i: float) -> float:
        return left + (right - left) * ((i - 1) / max(n - 1, 1))

    def py(v: float) -> float:
        return bottom - (bottom - top) * (v - y0) / max(y1 - y0, 1e-9)

    pen.text(((left + right) / 2, top - 26), title, fill=_INK, font=font, anchor="mm")
    for t in ticks:
        pen.line([left, py(t), right, py(t)], fill=(230, 230, 230))
        pen.text((left - 6, py(t)), f"{t:g}", fill=_INK, font=small, anchor="rm")
    step = max(1, math.ceil(n / 10))
    for i in range(1, n + 1, step):
        pen.line([px(i), bottom, px(i), bottom + 4], fill=_INK)
        pen.text((px(i), bottom + 8), str(i), fill=_INK, font=small, anchor="mt")
    pen.text(((left + right) / 2, bottom + 28), "epoch", fill=_INK, font=small, anchor="mt")
    pen.rectangle([left, top, right, bottom], outline=_INK)
    if fine_tune_start is not None and fine_tune_start < n:
        x = (px(fine_tune_start) + px(fine_tune_start + 1)) / 2
        _dashed(pen, (x, top), (x, bottom), _GREY)
        pen.text((x, top - 4), "fine-tune", fill=_GREY, font=small, anchor="mb")
    for ys, colour in series.values():
        points = [(px(i + 1), py(v)) for i, v in enumerate(ys) if math.isfinite(v)]
        if len(points) > 1:
            pen.line(points, fill=colour, width=2)
        for x, y in points:
            pen.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    legend_y = bottom - 18 * len(series) - 6 if unit_range else top + 8
    for k, (label, (_, colour)) in enumerate(series.items()):
        y = legend_y + 18 * k
        pen.line([right - 150, y + 7, right - 126, y + 7], fill=colour, width=2)
        pen.text((right - 120, y), label, fill=_INK, font=small)


def plot_history(path: str | os.PathLike[str], history: Mapping[str, Sequence[float]], *,
                 fine_tune_start: int | None = None, title: str = "") -> Path:
    """A PNG of the loss and accuracy curves (training and held out), drawn with Pillow.

    Args:
      path: the file to write.
      history: ``{"loss", "accuracy", "val_loss", "val_accuracy"}`` lists per epoch
        (:attr:`flaxjs.finetune.History.history`); missing ones are left out.
      fine_tune_start: the number of epochs before fine-tuning began (a dashed line).
      title: a line above both panels.
    """
    from PIL import Image, ImageDraw

    width, height = 1100, 460
    image = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(image)
    fonts = (_font(16), _font(13))
    if title:
        pen.text((width / 2, 16), title, fill=_INK, font=fonts[0], anchor="mm")
    for k, metric in enumerate(("loss", "accuracy")):
        series = {name: (list(history[key]), colour)
                  for name, key, colour in (("training", metric, _BLUE),
                                            ("held out", f"val_{metric}", _ORANGE))
                  if history.get(key)}
        if not series:
            continue
        left = 70 + k * (width // 2)
        _panel(pen, (left, 80, left + width // 2 - 110, height - 60), series, metric,
               fine_tune_start, fonts, unit_range=metric == "accuracy")
    path = Path(path)
    image.save(path)
    return path
