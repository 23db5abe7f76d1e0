"""Resolve weight-shard paths the way TF.js does, refusing any that leave the model.

TF.js joins ``weightsManifest`` paths to the model.json's folder or URL prefix by
string concatenation (``tfjs-core/src/io/http.ts``). flaxjs does the same but
refuses absolute paths, other hosts and ``..`` segments that climb out of the
model's folder, so a model file cannot make the loader read elsewhere.
"""

from __future__ import annotations

import os
import posixpath
import re
import urllib.parse

from ..errors import UnsafePathError
from . import localfiles

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def check_relative(path: str, *, model: str) -> str:
    """Return ``path`` normalized (``./a`` → ``a``) or raise if it could escape.

    Args:
      path: a ``weightsManifest`` path.
      model: where the model.json came from, for the error message.
    """
    if not path or "\x00" in path:
        raise UnsafePathError(f"{model}: empty or invalid weight path {path!r}")
    if (path.startswith(("/", "\\")) or _SCHEME.match(path) or "\\" in path):
        raise UnsafePathError(
            f"{model}: weight path {path!r} is absolute or names another location; "
            "weight files must lie in the model's own folder (or below it)")
    for candidate in (path, urllib.parse.unquote(path)):
        normal = posixpath.normpath(candidate)
        if normal == ".." or normal.startswith("../") or candidate.startswith(("/", "\\")):
            raise UnsafePathError(
                f"{model}: weight path {path!r} leaves the model's folder; "
                "weight files must lie in the model's own folder (or below it)")
    return posixpath.normpath(path)


def local_shard_path(folder: str, path: str, *, model: str) -> str:
    """The file a manifest ``path`` names inside ``folder`` (literal, then percent-decoded),
    refused when it resolves outside ``folder`` (see :mod:`flaxjs.io.localfiles`)."""
    normal = check_relative(path, model=model)
    root = os.path.realpath(folder)
    candidates = [normal]
    decoded = posixpath.normpath(urllib.parse.unquote(path))
    if decoded != normal:
        candidates.append(decoded)
    for candidate in candidates:
        full = localfiles.resolve_inside(root, os.path.join(root, *candidate.split("/")),
                                         what=f"{model}: weight path {path!r}")
        if os.path.exists(full):
            return full
    return os.path.join(root, *normal.split("/"))


def url_prefix_and_suffix(url: str) -> tuple[str, str]:
    """TF.js's rule: prefix up to the last ``/`` of the path, suffix = the query string."""
    parts = urllib.parse.urlsplit(url)
    prefix_path = parts.path.rsplit("/", 1)[0] + "/"
    prefix = urllib.parse.urlunsplit((parts.scheme, parts.netloc, prefix_path, "", ""))
    suffix = f"?{parts.query}" if parts.query else ""
    return prefix, suffix


def sibling_url(model_url: str, name: str) -> str:
    """The URL of the file ``name`` next to ``model_url`` (query string kept)."""
    prefix, suffix = url_prefix_and_suffix(model_url)
    return prefix + name + suffix


def shard_url(model_url: str, path: str) -> str:
    """The URL of a manifest ``path`` next to ``model_url`` (query string kept)."""
    normal = check_relative(path, model=model_url)
    prefix, suffix = url_prefix_and_suffix(model_url)
    return prefix + normal + suffix
