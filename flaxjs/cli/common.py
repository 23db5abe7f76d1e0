"""Helpers shared by subcommands: open a model by zoo name or location, read images, and
print errors in one style."""

from __future__ import annotations

import os
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from ..errors import FlaxjsError


def fail(command: str, message: object) -> int:
    """Print ``flaxjs COMMAND: error: MESSAGE`` (argparse's style) to stderr; return 1."""
    print(f"flaxjs {command}: error: {message}", file=sys.stderr)
    return 1


#: file names that are always paths, never zoo names (TF.js model.json, Keras files)
PATH_SUFFIXES = (".json", ".keras", ".h5", ".hdf5")


def is_location(source: str) -> bool:
    """Whether ``source`` names a file, folder or URL rather than a zoo model: a URL,
    anything that looks like a path (has a ``/``, ends in ``.json``, ``.keras``, ``.h5``
    or ``.hdf5``), or an existing
    path. A missing path then says "no such file", not "no zoo model"."""
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    return (scheme in ("http", "https", "file") or "/" in source or os.sep in source
            or source.lower().endswith(PATH_SUFFIXES) or os.path.exists(source))


def load_source(source: str, *, strict: bool = True, progress: bool | None = None) -> Any:
    """A model from a folder / model.json / URL, or a zoo name.

    ``strict`` is :func:`flaxjs.load`'s, for zoo names too. A local copy of a zoo
    model (its model.json's sha256 is the card's) gets the card's preprocessing,
    labels and decoding, as ``zoo.load`` gives them.
    """
    if not is_location(source):
        from .. import zoo
        return zoo.load(source, strict=strict, progress=progress)
    from ..loader import load
    model = load(source, strict=strict, progress=progress)
    path = Path(source) / "model.json" if os.path.isdir(source) else Path(source)
    card = zoo_card_of(path) if path.is_file() else None
    if card is None:
        return model
    from ..zoo.api import with_card
    return with_card(model, card)


def zoo_card_of(model_file: Path) -> Any:
    """The zoo card whose model file has ``model_file``'s sha256 (pinned in the card, or
    in the zoo cache when pinned at first download), or ``None``."""
    from ..zoo import cache, registry

    digest = cache.sha256_file(model_file)
    for card in registry.all_cards().values():
        if not card.files:
            continue
        pinned = {card.files[0].sha256}
        try:
            entry = cache.Pins(cache.model_dir(card.name)).get(card.model_file)
        except FlaxjsError:  # an unreadable pins file: that card is not recognised
            entry = None
        if entry:
            pinned.add(entry.get("sha256"))
        if digest in pinned:
            return card
    return None


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
