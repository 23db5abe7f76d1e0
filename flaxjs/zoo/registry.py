"""The card registry: the built-in cards of ``zoo/`` plus the user's ``register`` calls.

Registrations are process-wide; :func:`registered` and :func:`registration_scope`
confine them to a ``with`` block (tests, notebooks trying a card).
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import functools
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ZooError
from .cards import Card, describe_variants, parse_family, variant_matches

_LOCK = threading.Lock()
_USER: dict[str, Card] = {}


def cards_folder() -> Path | None:
    """Where the built-in cards are: ``flaxjs/zoo_cards`` in a wheel, ``zoo/`` in a checkout."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "zoo_cards", package.parent / "zoo"):
        if folder.is_dir() and any(folder.glob("*.json")):
            return folder
    return None


@functools.lru_cache(maxsize=1)
def _builtin() -> dict[str, Card]:
    folder = cards_folder()
    out: dict[str, Card] = {}
    if folder is None:
        return out
    for path in sorted(folder.glob("*.json")):
        for card in parse_family(path.read_bytes(), where=path.name):
            if card.name in out:
                raise ZooError(f"zoo card {card.name!r} is defined twice ({path.name})")
            out[card.name] = card
    return out


def builtin_cards() -> dict[str, Card]:
    """Name -> card of the cards shipped with flaxjs (a copy; user registrations excluded)."""
    return dict(_builtin())


def all_cards() -> dict[str, Card]:
    """Name → card, the user's registrations overriding built-in cards of the same name."""
    with _LOCK:
        return {**_builtin(), **_USER}


def _aliases(cards: Mapping[str, Card]) -> dict[str, str]:
    out: dict[str, str] = {}
    for card in cards.values():
        for alias in card.aliases:
            if alias not in cards:
                out.setdefault(alias, card.name)
    # the user's aliases win over built-in ones
    for card in _USER.values():
        for alias in card.aliases:
            if alias not in cards or alias == card.name:
                out[alias] = card.name
    return out


def resolve(name: str, variant: Mapping[str, Any] | None = None) -> Card:
    """The card for a name, alias or family name, switched to ``variant`` if given.

    ``resolve("mobilenet", alpha=0.25)`` starts from the alias's card and picks
    the card of the same family whose variant has ``alpha == 0.25`` (other
    variant values kept).
    """
    cards = all_cards()
    key = name if name in cards else _aliases(cards).get(name)
    if key is None:
        family = [c for c in cards.values() if c.family == name]
        if not family:
            raise ZooError(f"no zoo model named {name!r}{_suggest(name, cards) or '.'} See "
                           "flaxjs.zoo.list() (or `flaxjs zoo list`).")
        key = family[0].name
    card = cards[key]
    if not variant:
        return card
    wanted = {**card.variant, **variant}
    unknown = sorted(set(variant) - set(card.variant))
    siblings = [c for c in cards.values() if c.family == card.family]
    if unknown:
        raise ZooError(f"zoo model {card.name!r} has no variant option(s) "
                       f"{', '.join(unknown)}; its family {card.family!r} has: "
                       f"{describe_variants(siblings) or 'no variants'}")
    for candidate in [card, *siblings]:
        if variant_matches(candidate, wanted):
            return candidate
    partial = [c for c in siblings if variant_matches(c, variant)]
    if len(partial) == 1:  # e.g. nsfwjs arch=inception_v3 also changes size
        return partial[0]
    raise ZooError(f"zoo family {card.family!r} has no variant "
                   + ", ".join(f"{k}={v!r}" for k, v in wanted.items())
                   + f"; available: {describe_variants(siblings)}")


def _suggest(name: str, cards: Mapping[str, Card]) -> str:
    """``; did you mean 'mobilenet'?`` for a misspelt name, alias or family."""
    known = sorted({*cards, *_aliases(cards), *(c.family for c in cards.values())})
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    close += [n for n in sorted(fnmatch.filter(known, f"*{name}*")) if n not in close][:5]
    return f"; did you mean {' or '.join(repr(n) for n in close)}?" if close else ""


def register(card: Card | Mapping[str, Any] | str | os.PathLike[str], *,
             replace: bool = False) -> list[Card]:
    """Add the user's own entries (a Card, a card dict, card-file JSON or its path).

    Returns:
      the cards registered.

    Raises:
      ZooError: a card is malformed, or its name is taken and ``replace`` is False.
    """
    if isinstance(card, Card):
        new = [card]
    elif isinstance(card, Mapping):
        new = parse_family(card, where="<registered card>")
    else:
        text = str(card)
        if text.lstrip().startswith("{"):
            new = parse_family(text, where="<registered card>")
        else:
            path = Path(text)
            try:
                new = parse_family(path.read_bytes(), where=str(path))
            except OSError as err:
                raise ZooError(f"cannot read zoo card file {path}: {err}") from None
    existing = all_cards()
    for c in new:
        if c.name in existing and not replace and existing[c.name] != c:
            raise ZooError(f"zoo model {c.name!r} already exists; pass replace=True to "
                           "override it")
    with _LOCK:
        for c in new:
            _USER[c.name] = c
    return new


def unregister(name: str) -> None:
    """Remove a user registration (built-in cards stay)."""
    with _LOCK:
        _USER.pop(name, None)


@contextlib.contextmanager
def registration_scope() -> Iterator[None]:
    """Undo, when the block ends, every :func:`register` / :func:`unregister` made in it.

    The registry is process-wide, so registrations made by other threads during
    the block are undone too.

    Example:
      >>> from flaxjs import zoo
      >>> with zoo.registration_scope():  # doctest: +SKIP
      ...     zoo.register("my_cards.json")
    """
    with _LOCK:
        saved = dict(_USER)
    try:
        yield
    finally:
        with _LOCK:
            _USER.clear()
            _USER.update(saved)


@contextlib.contextmanager
def registered(*entries: Card | Mapping[str, Any] | str | os.PathLike[str],
               replace: bool = False) -> Iterator[list[Card]]:
    """Register ``entries`` (as :func:`register`) for a ``with`` block, then restore the
    registry as it was; yields the cards registered.

    Example:
      >>> from flaxjs import zoo
      >>> with zoo.registered({"name": "mine", "sources": ["https://example.org/m/"],
      ...                      "files": ["model.json"]}) as cards:  # doctest: +SKIP
      ...     model = zoo.load("mine")
    """
    with registration_scope():
        cards: list[Card] = []
        for entry in entries:
            cards += register(entry, replace=replace)
        yield cards


def labels_of(card: Card, metadata: Mapping[str, Any] | None = None) -> list[str] | None:
    """The card's labels: bundled file, inline list, or a key of the model's metadata.json."""
    spec = card.labels
    if not spec:
        return None
    if "list" in spec:
        return [str(x) for x in spec["list"]]
    if "metadata" in spec:
        value = (metadata or {}).get(spec["metadata"])
        return [str(x) for x in value] if isinstance(value, list) else None
    name = str(spec["file"])
    path = Path(name)
    if not path.is_absolute():
        folder = cards_folder()
        if folder is None:
            raise ZooError(f"zoo card {card.name!r}: the bundled label file {name} is missing")
        path = folder / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ZooError(f"zoo card {card.name!r}: cannot read label file {path}: {err}") from None
    if path.suffix == ".json":
        return [str(x) for x in json.loads(text)]
    return [line for line in text.splitlines() if line.strip()]
