"""A data set drawn offline with Pillow: six kinds of shapes on random backgrounds.

Deterministic in its seed, balanced over the classes, with clutter lines and
anti-aliased edges, so a pretrained image model has something real to transfer to
without any download.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: the shapes of the data set, in label order.
CLASSES = ("circle", "square", "triangle", "star", "cross", "ring")


def _polygon(cx: float, cy: float, r: float, n: int, angle: float,
             inner: float | None = None) -> list[tuple[float, float]]:
    """A regular ``n``-gon (or an ``n``-pointed star when ``inner`` is a radius ratio)."""
    points = []
    steps = 2 * n if inner else n
    for k in range(steps):
        radius = r * (inner if inner and k % 2 else 1.0)
        a = angle + 2 * math.pi * k / steps
        points.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return points


def _colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A background and a foreground colour that differ enough to be seen."""
    while True:
        back, fore = rng.integers(0, 256, (2, 3))
        if np.abs(back.astype(int) - fore.astype(int)).sum() > 150:
            return tuple(int(v) for v in back), tuple(int(v) for v in fore)


def draw_shapes(n: int, size: int = 128, *, seed: int = 0,
                classes: Sequence[str] = CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of shapes (the same number of each class, shuffled).

    Random colours, sizes, positions and rotations, plus a few thin lines of
    clutter; drawn at twice the size and downsampled (anti-aliased edges).

    Returns:
      ``(images uint8 [n, size, size, 3], labels int32 [n])`` — deterministic in ``seed``.
    """
    from PIL import Image, ImageDraw

    unknown = set(classes) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown shape classes {sorted(unknown)}; known: {', '.join(CLASSES)}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int32) % len(classes)
    rng.shuffle(labels)
    images = np.empty((n, size, size, 3), np.uint8)
    big = 2 * size
    for i, label in enumerate(labels):
        back, fore = _colours(rng)
        image = Image.new("RGB", (big, big), back)
        pen = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(0, 4))):  # clutter
            x0, y0, x1, y1 = (float(v) for v in rng.uniform(0, big, 4))
            pen.line([x0, y0, x1, y1], fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
                     width=int(rng.integers(1, 4)))
        r = float(rng.uniform(0.2, 0.4)) * big
        cx, cy = (float(v) for v in rng.uniform(r, big - r, 2))
        angle = float(rng.uniform(0, 2 * math.pi))
        shape = classes[label]
        if shape == "circle":
            pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fore)
        elif shape == "ring":
            pen.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fore,
                        width=max(2, int(r * rng.uniform(0.2, 0.35))))
        elif shape == "square":
            pen.polygon(_polygon(cx, cy, r, 4, angle), fill=fore)
        elif shape == "triangle":
            pen.polygon(_polygon(cx, cy, r, 3, angle), fill=fore)
        elif shape == "star":
            pen.polygon(_polygon(cx, cy, r, 5, angle, inner=0.45), fill=fore)
        else:  # cross
            arm = r * float(rng.uniform(0.25, 0.4))
            c, s = math.cos(angle), math.sin(angle)
            for dx, dy in ((c, s), (-s, c)):
                pen.line([cx - r * dx, cy - r * dy, cx + r * dx, cy + r * dy], fill=fore,
                         width=int(2 * arm))
        images[i] = np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))
    return images, labels


def split(x: np.ndarray, y: np.ndarray, held_out: float) -> tuple[tuple[Any, Any], ...]:
    """``((x_train, y_train), (x_held_out, y_held_out))``: the last ``held_out`` fraction."""
    n_val = max(1, int(round(len(x) * held_out)))
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])
