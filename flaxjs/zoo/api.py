"""``flaxjs.zoo``: name a model, get it cached, verified, with preprocessing and labels."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, ZooError
from ..graph.model import GraphModel
from ..model import Model
from . import cache, decoded, fetcher, registry, urlcache
from .cards import Card


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the zoo models, sorted; ``pattern`` is a glob (``"mobilenet*"``) or substring.

    Example:
      >>> from flaxjs import zoo
      >>> "mobilenet_v1_1.0_224" in zoo.list("mobilenet*")
      True
    """
    names = sorted(registry.all_cards())
    if not pattern:
        return names
    glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
    cards = registry.all_cards()
    return [n for n in names
            if fnmatch.fnmatch(n, glob) or any(fnmatch.fnmatch(a, glob)
                                               for a in cards[n].aliases)]


def card(name: str, **variant: Any) -> Card:
    """The :class:`~flaxjs.zoo.cards.Card` of a name, alias or family (+ variant)."""
    return registry.resolve(name, variant)


def info(name: str, **variant: Any) -> dict[str, Any]:
    """Everything the zoo knows about a model, and the state of its cached files.

    Returns:
      the card as a dict plus ``labels_count``, ``cache`` (the folder) and ``files``:
      per file its ``path``, ``size``, ``sha256``, ``pinned_by`` (``"card"``, ``"first
      download <date>"``, ``"local file <date>"``, or ``None`` while unpinned),
      ``cached`` and ``location``. Nothing is downloaded.
    """
    c = registry.resolve(name, variant)
    out = c.to_dict()
    labels = None
    if c.labels and "metadata" not in c.labels:
        labels = registry.labels_of(c)
    out["labels_count"] = len(labels) if labels is not None else None
    out["cache"] = str(fetcher.cache.model_dir(c.name))
    out["files"] = fetcher.status(c)
    out["siblings"] = sorted(x.name for x in registry.all_cards().values()
                             if x.family == c.family and x.name != c.name)
    return out


def fetch(name: str, *, progress: bool | None = None, force: bool = False,
          verify: bool = False, **variant: Any) -> Path:
    """Download (if needed) and verify a model's files; return its cache folder.

    Args:
      name: a zoo name, alias or family name.
      progress: tqdm bars (default: when stderr is a terminal).
      force: fetch again even when cached (and re-pin unpinned hashes).
      verify: re-hash the cached files even when their size and mtime are unchanged;
        one that changed is fetched again and must match its pin.
      **variant: variant values, e.g. ``alpha=0.5``.
    """
    return fetcher.fetch(registry.resolve(name, variant), progress=progress, force=force,
                         verify=verify)


def verify(name: str, **variant: Any) -> Path:
    """Re-hash a cached model's files against their pins; return its cache folder.

    A file that no longer matches (a flipped bit, an edit that kept the mtime) is
    removed, its pin kept: :func:`fetch` or :func:`load` then downloads it again
    and checks it against the same hash.

    Raises:
      ZooError: nothing of the model is cached.
      IntegrityError: files did not match (each named, with both hashes).
    """
    c = registry.resolve(name, variant)
    folder = cache.model_dir(c.name)
    if not (folder / c.model_file).is_file():
        raise ZooError(f"zoo model {c.name!r} is not cached ({folder}); nothing to verify. "
                       f"Fetch it with zoo.fetch({c.name!r}).")
    problems = fetcher.verify(c) + decoded.verify(c, folder)
    if problems:
        raise IntegrityError(f"zoo model {c.name!r}: {len(problems)} cached file(s) failed "
                             "verification:\n" + "\n".join(f"  {p}" for p in problems)
                             + f"\nzoo.fetch({c.name!r}) downloads them again.")
    return folder


def cached() -> list[str]:
    """Names of the zoo models with files in the cache, sorted."""
    return cache.cached_names()


def remove(name: str, **variant: Any) -> int:
    """Delete a model's cached files and pins; return the bytes freed (0: not cached).

    ``name`` may also be a cache folder name no card knows any more.
    """
    key = name if name in cache.cached_names() and name not in registry.all_cards() \
        else registry.resolve(name, variant).name
    return cache.remove(key)


def clean() -> int:
    """Delete every cached zoo model and every model cached by ``flaxjs.load(url)``;
    return the bytes freed."""
    freed = sum(cache.remove(n) for n in cache.cached_names())
    return freed + urlcache.clean()


def load(name: str, *, strict: bool = True, progress: bool | None = None,
         verify: bool = False, num_classes: int | None = None,
         **variant: Any) -> Model | GraphModel:
    """Fetch and load a zoo model, with its preprocessing and labels attached.

    Args:
      name: a zoo name, alias or family name (``"mobilenet"``, ``"nsfwjs_inception_v3"``).
      strict: as :func:`flaxjs.load`.
      progress: tqdm bars (default: when stderr is a terminal).
      verify: re-hash the cached files first (as :func:`fetch` with ``verify=True``).
      num_classes: cut at the card's first cut point, freeze, and add a new pooling +
        Dense head of this many classes (:func:`flaxjs.finetune.with_new_head`).
      **variant: variant values, e.g. ``zoo.load("mobilenet", alpha=0.25)``.

    Returns:
      the :class:`~flaxjs.Model`; ``model.preprocess(images)`` gives its input,
      ``model.decode(outputs, top=5)`` its ``(label, score)`` pairs, ``model.card``
      the card.

    Example:
      >>> from flaxjs import zoo  # doctest: +SKIP
      >>> model = zoo.load("mobilenet")  # doctest: +SKIP
      >>> model.decode(model(model.preprocess(image)))  # doctest: +SKIP
    """
    from ..loader import load as load_model

    c = registry.resolve(name, variant)
    folder = fetcher.fetch(c, progress=progress, verify=verify)
    if decoded.is_js(c):  # read the JavaScript modules once, then the decoded copy
        model = load_model(decoded.ensure(c, folder, verify=verify), strict=strict)
    else:
        model = load_model(folder / c.model_file, strict=strict, progress=progress)
    model = with_card(model, c)
    if num_classes is None:
        return model
    from ..finetune.transfer import with_new_head

    return with_new_head(model, num_classes)


def with_card(model: Model | GraphModel, card: Card) -> Model | GraphModel:
    """``model`` with ``card``'s preprocessing, decoding and labels attached (what
    :func:`load` gives; the CLI uses it for a local copy of a zoo model)."""
    labels = registry.labels_of(card, model.metadata)
    return model.with_info(
        card=card, preprocessing=dict(card.preprocessing) if card.preprocessing else None,
        decoding={"output": card.output, "label_offset": card.label_offset},
        labels=tuple(labels) if labels is not None else model.info.labels)


def register(entry: Card | Mapping[str, Any] | str, *, replace: bool = False) -> list[Card]:
    """Add your own zoo entries: a card dict, a card file (path or JSON text), or a Card.

    Example:
      >>> from flaxjs import zoo  # doctest: +SKIP
      >>> zoo.register({"name": "my_model", "sources": ["https://example.org/m/"],
      ...               "files": ["model.json"], "weights_from_manifest": True})  # doctest: +SKIP
    """
    return registry.register(entry, replace=replace)
