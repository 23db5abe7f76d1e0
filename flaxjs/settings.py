"""Every ``FLAXJS_*`` environment variable, read in this module only.

Each setting has one typed accessor that reads the environment when called (so a
change, or a test's ``monkeypatch.setenv``, takes effect at once). Flags follow one
rule: ``1``/``true``/``yes``/``on`` are true, ``0``/``false``/``no``/``off`` and
the empty string are false (any case, surrounding spaces ignored); anything else
raises :class:`~flaxjs.errors.SettingsError` naming the variable. Numbers that do
not parse, or are out of range, raise it too.

The variables, with their meaning and default, are :data:`VARIABLES` (the README's
"Settings" table lists the same; a test checks it). An empty ``FLAXJS_HOME``,
``FLAXJS_MICRO_BATCH``, ``FLAXJS_ZOO_*`` number or ``FLAXJS_NPM`` means the default.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import SettingsError

#: every variable this module reads: name -> (meaning, default), as in the table above.
VARIABLES: dict[str, tuple[str, str]] = {
    "FLAXJS_HOME": ("cache folder holding zoo/, urls/, xla-cache/ and slots/",
                    "the platform's user cache dir + flaxjs"),
    "FLAXJS_CACHE": ("flag: keep learned variable layouts in $FLAXJS_HOME/slots", "on"),
    "FLAXJS_COMPILE_CACHE": ("flag: the flaxjs command turns on JAX's persistent "
                             "compilation cache", "on"),
    "FLAXJS_XLA_DEFAULTS": ("flag: compile with flaxjs's XLA:CPU options", "on"),
    "FLAXJS_FUSION_EMITTERS": ("flag: force XLA:CPU's fusion emitters on or off",
                               "chosen per model"),
    "FLAXJS_MICRO_BATCH": ("images per compiled call when a batch is split (0 = never)",
                           "2 on CPU"),
    "FLAXJS_TRIM_HEAP": ("flag: return the heap XLA's compiler freed to the OS after each "
                         "compilation (glibc)", "on"),
    "FLAXJS_OFFLINE": ("flag: the zoo and URL loads never touch the network (cache only)",
                       "off"),
    "FLAXJS_ZOO_MIRROR": ("base URLs or folders tried before the zoo's origins", "none"),
    "FLAXJS_ZOO_RETRIES": ("HTTP retries per downloaded file (zoo and URL loads)", "4"),
    "FLAXJS_ZOO_BACKOFF": ("seconds before the first retry (doubled after each)", "0.5"),
    "FLAXJS_ZOO_TIMEOUT": ("read timeout: longest wait for an answer or more bytes, seconds",
                           "10"),
    "FLAXJS_ZOO_CONNECT_TIMEOUT": ("longest wait for a connection, seconds", "10"),
    "FLAXJS_ZOO_DEADLINE": ("seconds one file's download may take, retries included", "600"),
    "FLAXJS_NPM": ("npm executable for npm pack, or 0 to never run it", "npm"),
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _raw(name: str) -> str | None:
    """The variable's value, or ``None`` when unset (only names listed in :data:`VARIABLES`)."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a flaxjs setting; add it to flaxjs.settings.VARIABLES")
    return os.environ.get(name)


def flag(name: str, default: bool) -> bool:
    """A yes/no setting by the module's one rule; ``default`` when unset."""
    value = _raw(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SettingsError(f"{name}={value!r} is not a yes/no value: set it to 1, true, yes or "
                        "on (true), to 0, false, no, off or empty (false), or unset it for "
                        f"the default ({'on' if default else 'off'})")


def _number(name: str, default: float, *, kind: type, minimum: float,
            strict: bool = False) -> float:
    value = _raw(name)
    if value is None or not value.strip():
        return default
    what = "an integer" if kind is int else "a number"
    bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
    try:
        number = kind(value.strip())
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not {what}: set it to {what} {bound}, "
                            "or unset it for the default") from None
    if number < minimum or (strict and number == minimum) or number != number:
        raise SettingsError(f"{name}={value!r} is out of range: set it to {what} {bound}, "
                            "or unset it for the default")
    return number


# ---------------------------------------------------------------- folders
def home() -> Path:
    """``$FLAXJS_HOME``, else the platform's user cache directory + ``flaxjs``."""
    env = _raw("FLAXJS_HOME")
    if env and env.strip():
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
        return Path(base) / "flaxjs" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "flaxjs"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flaxjs"


def zoo_dir() -> Path:
    """Where zoo models are cached: ``<home>/zoo``."""
    return home() / "zoo"


def xla_cache_dir() -> Path:
    """JAX's persistent compilation cache when ``flaxjs.configure()`` turns it on."""
    return home() / "xla-cache"


def slots_dir() -> Path:
    """The learned variable layouts of :mod:`flaxjs.slot_cache`."""
    return home() / "slots"


# ---------------------------------------------------------------- caches and speed
def slot_cache() -> bool:
    """``FLAXJS_CACHE``: keep learned variable layouts on disk (default on)."""
    return flag("FLAXJS_CACHE", True)


def compile_cache() -> bool:
    """``FLAXJS_COMPILE_CACHE``: the CLI turns on JAX's persistent cache (default on)."""
    return flag("FLAXJS_COMPILE_CACHE", True)


def xla_defaults() -> bool:
    """``FLAXJS_XLA_DEFAULTS``: compile with flaxjs's XLA:CPU options (default on)."""
    return flag("FLAXJS_XLA_DEFAULTS", True)


def trim_heap() -> bool:
    """``FLAXJS_TRIM_HEAP``: ``malloc_trim`` after each XLA compilation (default on)."""
    return flag("FLAXJS_TRIM_HEAP", True)


def fusion_emitters() -> bool | None:
    """``FLAXJS_FUSION_EMITTERS``: force XLA:CPU's fusion emitters; ``None`` = per model."""
    if _raw("FLAXJS_FUSION_EMITTERS") is None:
        return None
    return flag("FLAXJS_FUSION_EMITTERS", False)


def micro_batch() -> int | None:
    """``FLAXJS_MICRO_BATCH``: images per compiled call (0 = never split); ``None`` = unset."""
    if not (_raw("FLAXJS_MICRO_BATCH") or "").strip():
        return None
    return int(_number("FLAXJS_MICRO_BATCH", 0, kind=int, minimum=0))


# ---------------------------------------------------------------- zoo downloads
def offline() -> bool:
    """``FLAXJS_OFFLINE``: the zoo and ``flaxjs.load(url)`` never touch the network, using
    only what is cached (default off)."""
    return flag("FLAXJS_OFFLINE", False)


def zoo_mirrors() -> list[str]:
    """``FLAXJS_ZOO_MIRROR``: base URLs or folders, space-separated (default none)."""
    return (_raw("FLAXJS_ZOO_MIRROR") or "").split()


def zoo_retries() -> int:
    """``FLAXJS_ZOO_RETRIES``: HTTP retries per file after the first attempt (default 4)."""
    return int(_number("FLAXJS_ZOO_RETRIES", 4, kind=int, minimum=0))


def zoo_backoff() -> float:
    """``FLAXJS_ZOO_BACKOFF``: seconds before the first retry, doubled after each (0.5)."""
    return float(_number("FLAXJS_ZOO_BACKOFF", 0.5, kind=float, minimum=0))


def zoo_timeout() -> float:
    """``FLAXJS_ZOO_TIMEOUT``: read timeout in seconds, the longest wait for an answer or
    for more of the body (default 10)."""
    return float(_number("FLAXJS_ZOO_TIMEOUT", 10.0, kind=float, minimum=0, strict=True))


def zoo_connect_timeout() -> float:
    """``FLAXJS_ZOO_CONNECT_TIMEOUT``: the longest wait for a connection in seconds (10)."""
    return float(_number("FLAXJS_ZOO_CONNECT_TIMEOUT", 10.0, kind=float, minimum=0,
                         strict=True))


def zoo_deadline() -> float:
    """``FLAXJS_ZOO_DEADLINE``: seconds one file's download may take in all, retries and
    waits included (default 600)."""
    return float(_number("FLAXJS_ZOO_DEADLINE", 600.0, kind=float, minimum=0, strict=True))


def npm() -> str | None:
    """``FLAXJS_NPM``: the npm executable ``npm pack`` runs with; ``None`` = never run npm.

    Unset, empty or a true word means ``npm`` (found on ``PATH``); a false word turns
    npm off; anything else names the executable.
    """
    value = (_raw("FLAXJS_NPM") or "").strip()
    if value and value.lower() in _FALSE:
        return None
    if not value or value.lower() in _TRUE:
        return "npm"
    return value
