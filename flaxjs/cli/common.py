"""Helpers shared by subcommands: open a model by zoo name or location, read images."""

from __future__ import annotations

import os
import urllib.parse

from ..errors import FlaxjsError


def is_location(source: str) -> bool:
    """A path that exists, or a URL (anything else is taken as a zoo name)."""
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    return scheme in ("http", "https", "file") or os.path.exists(source)


def load_source(source: str, *, strict: bool = True, progress: bool | None = None):
    """A :class:`~flaxjs.Model` from a folder / model.json / URL, or a zoo name.

    ``strict`` is :func:`flaxjs.load`'s, for zoo names too.
    """
    if is_location(source):
        from ..loader import load
        return load(source, strict=strict, progress=progress)
    from .. import zoo
    return zoo.load(source, strict=strict, progress=progress)


def read_images(paths: list[str]) -> list:
    """PIL images (Pillow is needed to read image files)."""
    try:
        from PIL import Image
    except ImportError:
        raise FlaxjsError("reading image files needs Pillow: pip install pillow") from None
    images = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
                images.append(image.copy())
        except OSError as err:
            raise FlaxjsError(f"cannot read image {path}: {err}") from None
    return images
