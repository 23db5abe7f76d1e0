"""Read a model's artifacts: model.json, its weight shards and an optional metadata.json.

A *source* is a folder, a path to a model.json (any file name), a ``file://`` or
``http(s)://`` URL, or the model JSON in memory (a dict, ``str`` or ``bytes``)
together with a mapping of shard names to bytes.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Union

from ..errors import ModelFormatError, SourceError
from . import http, jsmodule, jsontext, localfiles, paths

Source = Union[str, "os.PathLike[str]", bytes, Mapping[str, Any]]

#: files next to model.json whose content flaxjs attaches to the model when present.
METADATA_FILE = "metadata.json"
#: npm packages (nsfwjs) ship shard ``P`` as the JS module ``P.min.js`` holding base64.
JS_SHARD_SUFFIXES = (".min.js", ".js")
#: the largest model.json (or model.min.js) read from disk; real ones are at most a few MB.
MAX_MODEL_FILE_BYTES = 256 << 20
#: room for the wrapper of a JS shard module around its base64 string.
JS_WRAPPER_BYTES = 4096
#: the largest metadata.json read (labels and vocabularies).
MAX_METADATA_BYTES = 64 << 20


def _unknown_size(path: str) -> int | None:
    return None


@dataclasses.dataclass
class Artifacts:
    """What a model source provides.

    Attributes:
      model_json: the parsed model.json.
      location: where it came from (a path, URL or ``"<memory>"``), for messages.
      read_shard: returns the bytes of one ``weightsManifest`` path; the second argument,
        when not ``None``, is the most bytes the shard may yield (what the manifest still
        needs), so a source can refuse a larger file before reading it.
      metadata: the parsed sibling ``metadata.json`` (labels, vocabulary), if any.
      shard_size: the byte size of one ``weightsManifest`` path without reading it
        (``None`` when only reading tells), so sizes are checked before anything is read.
    """

    model_json: dict[str, Any]
    location: str
    read_shard: Callable[[str, int | None], bytes]
    metadata: dict[str, Any] | None = None
    shard_size: Callable[[str], int | None] = _unknown_size


def parse_model_text(data: bytes | str, *, location: str) -> dict[str, Any]:
    """Parse model.json text (also the JS-module form some npm packages ship)."""
    text = jsontext.decode(data, location=location) if isinstance(data, bytes) else data
    try:
        parsed = jsontext.loads(text, location=location)
    except ModelFormatError:
        if not jsmodule.looks_like_js(text):
            raise
        parsed = jsmodule.parse_model_module(text, location=location)
    if not isinstance(parsed, dict):
        raise ModelFormatError(f"{location}: model.json must hold a JSON object, "
                               f"got {type(parsed).__name__}")
    return parsed


def _optional_json(read: Callable[[], bytes], where: str) -> dict[str, Any] | None:
    """The parsed optional file, ``None`` when it does not exist.

    One that exists but cannot be read or parsed is left out with a warning naming
    it and the reason (the model still loads; only its labels/vocabulary are lost).
    """
    try:
        data = read()
    except _AbsentError:
        return None
    except (SourceError, OSError) as err:
        _skip(where, f"it cannot be read ({err})")
        return None
    try:
        parsed = jsontext.loads(jsontext.decode(data, location=where), location=where)
    except ModelFormatError as err:
        _skip(where, f"it is not valid JSON ({str(err).removeprefix(where + ': ')})")
        return None
    if not isinstance(parsed, dict):
        _skip(where, f"it holds a JSON {type(parsed).__name__}, not an object")
        return None
    return parsed


class _AbsentError(Exception):
    """The optional file does not exist (no warning)."""


def _skip(where: str, why: str) -> None:
    warnings.warn(f"{where}: ignored, {why}; the model loads without it (fix or remove "
                  "the file to silence this)", stacklevel=4)


def _read_local_optional(folder: str, path: str) -> bytes:
    if not os.path.lexists(path):
        raise _AbsentError(path)
    return localfiles.read_inside(folder, path, what="metadata", limit=MAX_METADATA_BYTES)


def _fetch_optional(url: str) -> bytes:
    try:
        return http.fetch_bytes(url, retries=0, progress=False)
    except http.HTTPStatusError as err:
        if err.status in (403, 404, 410):  # not published (S3-style hosts answer 403)
            raise _AbsentError(url) from None
        raise


def _find_model_file(folder: str) -> str:
    for name in ("model.json", "model.min.js"):
        candidate = os.path.join(folder, name)
        if os.path.lexists(candidate):  # whatever it is: read_inside refuses all but files
            return candidate
    jsons = sorted(f for f in os.listdir(folder)
                   if f.endswith(".json") and f != METADATA_FILE)
    if len(jsons) == 1:
        return os.path.join(folder, jsons[0])
    raise SourceError(f"{folder}: no model.json in this folder"
                      + (f" (several .json files: {', '.join(jsons)}; pass the model file's path)"
                         if jsons else ""))


def from_path(path: str) -> Artifacts:
    """A model folder or a model.json file on disk."""
    model_file = _find_model_file(path) if os.path.isdir(path) else path
    folder = os.path.dirname(os.path.abspath(model_file))
    model_json = parse_model_text(
        localfiles.read_inside(folder, model_file, what="model file",
                               limit=MAX_MODEL_FILE_BYTES), location=model_file)

    def shard_file(shard: str) -> tuple[str, bool]:
        """The file holding ``shard`` and whether it is a JS module (base64 inside)."""
        path = paths.local_shard_path(folder, shard, model=model_file)
        if not os.path.lexists(path):
            for suffix in JS_SHARD_SUFFIXES:
                if os.path.lexists(path + suffix):
                    return path + suffix, True
        return path, False

    def shard_size(shard: str) -> int | None:
        path, is_module = shard_file(shard)
        what = f"weight file {shard!r} of {model_file}"
        size = localfiles.size_inside(folder, path, what=what)
        return None if is_module else size

    def read_shard(shard: str, limit: int | None = None) -> bytes:
        path, is_module = shard_file(shard)
        if is_module:  # base64 (4 characters per 3 bytes) in a short wrapper
            text_limit = None if limit is None else limit * 4 // 3 + JS_WRAPPER_BYTES
            return jsmodule.parse_shard_module(
                localfiles.read_inside(folder, path, what="weight module", limit=text_limit),
                location=path)
        return localfiles.read_inside(folder, path, what=f"weight file {shard!r} of {model_file}",
                                      limit=limit)

    metadata_path = os.path.join(folder, METADATA_FILE)
    metadata = _optional_json(lambda: _read_local_optional(folder, metadata_path), metadata_path)
    return Artifacts(model_json, model_file, read_shard, metadata, shard_size)


def from_url(url: str, *, progress: bool | None = None) -> Artifacts:
    """A model.json served over HTTP(S); shards are fetched next to it."""
    model_json = parse_model_text(http.fetch_bytes(url, progress=progress), location=url)

    def read_shard(shard: str, limit: int | None = None) -> bytes:
        return http.fetch_bytes(paths.shard_url(url, shard), progress=progress)

    prefix, suffix = paths.url_prefix_and_suffix(url)
    metadata_url = prefix + METADATA_FILE + suffix
    metadata = _optional_json(lambda: _fetch_optional(metadata_url), metadata_url)
    return Artifacts(model_json, url, read_shard, metadata)


def from_memory(model: Mapping[str, Any] | bytes | str,
                weights: Mapping[str, bytes] | None,
                metadata: Mapping[str, Any] | None = None) -> Artifacts:
    """Model JSON already in memory, shards given as ``{manifest path: bytes}``."""
    location = "<memory>"
    if isinstance(model, Mapping):
        model_json = dict(model)
        jsontext.check_depth(model_json, location=location)
    else:
        model_json = parse_model_text(model, location=location)
    files = dict(weights or {})

    def read_shard(shard: str, limit: int | None = None) -> bytes:
        normal = paths.check_relative(shard, model=location)
        for key in (shard, normal, posixpath.basename(normal)):
            if key in files:
                return files[key]
        raise SourceError(f"weight file {shard!r} is not among the {len(files)} in-memory "
                          f"weight files given ({', '.join(sorted(files)) or 'none'})")

    return Artifacts(model_json, location, read_shard, dict(metadata) if metadata else None,
                     lambda shard: len(read_shard(shard)))


def open_source(source: Source, *, weights: Mapping[str, bytes] | None = None,
                progress: bool | None = None) -> Artifacts:
    """Dispatch on the kind of ``source`` (see the module docstring)."""
    if isinstance(source, (Mapping, bytes)):
        return from_memory(source, weights)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise SourceError(f"cannot load a model from a {type(source).__name__}; pass a folder, "
                          "a model.json path, a URL, or the model JSON with weights=")
    stripped = source.lstrip()
    if stripped.startswith("{"):
        return from_memory(source, weights)
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        return from_url(source, progress=progress)
    if scheme == "file":
        return from_path(urllib.request.url2pathname(urllib.parse.urlsplit(source).path))
    if not os.path.exists(source):
        raise SourceError(f"no such file or folder: {source}")
    return from_path(source)
