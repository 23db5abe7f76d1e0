"""The model zoo: ``zoo.load("mobilenet")`` → a cached, verified :class:`~flaxjs.Model`
with ``preprocess`` and ``decode`` attached.

Cards (``zoo/*.json`` in the repository, ``flaxjs/zoo_cards`` in the wheel) say
where each model's files are published, their sizes and hashes, the input
preprocessing and the labels. Files are cached under ``$FLAXJS_HOME`` (else the
platform's user cache directory); see :mod:`flaxjs.zoo.sources` for mirrors,
npm packages and offline use.
"""

from .api import cached as cached
from .api import card as card
from .api import clean as clean
from .api import fetch as fetch
from .api import info as info
from .api import list_models as list  # the documented name (shadows the builtin here)
from .api import list_models as list_models
from .api import load as load
from .api import register as register
from .api import remove as remove
from .api import verify as verify
from .cache import home as home
from .cards import Card as Card
from .registry import builtin_cards as builtin_cards
from .registry import registered as registered
from .registry import registration_scope as registration_scope
from .registry import unregister as unregister

__all__ = ["Card", "builtin_cards", "cached", "card", "clean", "fetch", "home", "info", "list",
           "list_models", "load", "register", "registered", "registration_scope", "remove",
           "unregister", "verify"]
