"""Read a model's artifacts: model.json, its weight shards and an optional metadata.json.

A *source* is a folder, a path to a model.json (any file name), a ``file://`` or
``http(s)://`` URL, or the model JSON in memory (a dict, ``str`` or ``bytes``)
together with a mapping of shard names to bytes. A Keras ``.keras`` or ``.h5`` file,
recognised by its first bytes whatever its name, is read by :mod:`.keras_file`; other
model formats are refused with what to do (:mod:`.sniff`).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol, Union

import numpy as np

from ..errors import ModelFormatError, SourceError
from . import http, jsmodule, jsontext, localfiles, paths, sniff

Source = Union[str, "os.PathLike[str]", bytes, Mapping[str, Any]]

#: files next to model.json whose content flaxjs attaches to the model when present.
METADATA_FILE = "metadata.json"
#: npm packages (nsfwjs) ship shard ``P`` as the JS module ``P.min.js`` holding base64.
JS_SHARD_SUFFIXES = (".min.js", ".js")
#: a folder without a model.json may hold one Keras file instead.
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
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
      arrays: the named weights when the source holds them decoded (a Keras file), used
        instead of the ``weightsManifest``.
    """

    model_json: dict[str, Any]
    location: str
    read_shard: Callable[[str, int | None], bytes]
    metadata: dict[str, Any] | None = None
    shard_size: Callable[[str], int | None] = _unknown_size
    arrays: dict[str, np.ndarray] | None = None


def parse_model_text(data: bytes | str, *, location: str) -> dict[str, Any]:
    """Parse model.json text (also the JS-module form some npm packages ship)."""
    if isinstance(data, bytes):
        kind = sniff.kind_of(data[:sniff.HEAD_BYTES], location)
        if kind == sniff.BINARY and jsontext.looks_like_text(data):
            jsontext.decode(data, location=location)  # names the encoding (UTF-16, Latin-1)
        if kind is not None:
            raise _not_json(kind, location)
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


def _not_json(kind: str, location: str) -> ModelFormatError:
    if kind in (sniff.HDF5, sniff.ZIP):
        suffix = ".h5" if kind == sniff.HDF5 else ".keras"
        return ModelFormatError(f"{location}: this is a Keras {suffix} file, not model.json "
                                "text; pass it to flaxjs.load as a path, URL or bytes")
    return sniff.refuse(kind, location)


def from_keras_file(data: bytes | str, kind: str, location: str) -> Artifacts:
    """A Keras ``.keras`` zip (``kind`` ZIP) or ``.h5`` (HDF5) file, as a path or bytes."""
    from . import keras_file  # imports the layer registry (and JAX): only for Keras files

    read = keras_file.read_h5 if kind == sniff.HDF5 else keras_file.read_keras
    model_json, arrays = read(data, location)

    def read_shard(shard: str, limit: int | None = None) -> bytes:
        raise SourceError(f"{location}: a Keras file has no weight files ({shard!r})")

    return Artifacts(model_json, location, read_shard, arrays=arrays)


def _binary_source(data: bytes | str, head: bytes, location: str) -> Artifacts | None:
    """Artifacts of a Keras file, an error for other model formats, ``None`` for text."""
    kind = sniff.kind_of(head, location)
    if kind is None or kind == sniff.BINARY:  # parse_model_text says what the bytes are
        return None
    if kind in (sniff.HDF5, sniff.ZIP):
        return from_keras_file(data, kind, location)
    raise sniff.refuse(kind, location)


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


def _find_model_file(folder: str) -> str:
    for name in ("model.json", "model.min.js"):
        candidate = os.path.join(folder, name)
        if os.path.lexists(candidate):  # whatever it is: read_inside refuses all but files
            return candidate
    files = sorted(os.listdir(folder))
    jsons = [f for f in files if f.endswith(".json") and f != METADATA_FILE]
    if len(jsons) == 1:
        return os.path.join(folder, jsons[0])
    if not jsons:
        kerases = [f for f in files if f.endswith(KERAS_SUFFIXES)]
        if len(kerases) == 1:
            return os.path.join(folder, kerases[0])
        if "saved_model.pb" in files:
            raise sniff.refuse(sniff.SAVED_MODEL, folder)
    raise SourceError(f"{folder}: no model.json in this folder"
                      + (f" (several .json files: {', '.join(jsons)}; pass the model file's path)"
                         if jsons else ""))


def from_path(path: str) -> Artifacts:
    """A model folder, a model.json file or a Keras file (or unzipped .keras folder) on disk."""
    if os.path.isdir(path) and sniff.is_keras_folder(path):
        return from_keras_file(path, sniff.ZIP, path)
    model_file = _find_model_file(path) if os.path.isdir(path) else path
    head = localfiles.read_head(os.path.dirname(os.path.abspath(model_file)), model_file,
                                what="model file", count=sniff.HEAD_BYTES)
    keras = _binary_source(model_file, head, model_file)
    if keras is not None:
        return keras
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


class RemoteModel(Protocol):
    """A model URL's files: what :func:`from_url` reads, from the server or a cache."""

    model_bytes: bytes

    def read_shard(self, shard: str, limit: int | None = None) -> bytes: ...

    def metadata(self) -> bytes | None:
        """The sibling metadata.json, ``None`` when there is none."""
        ...


class _Direct:
    """A model URL's files straight from the server."""

    def __init__(self, url: str, *, progress: bool | None = None):
        self.url, self.progress = url, progress
        self.model_bytes = http.fetch_bytes(url, progress=progress)

    def read_shard(self, shard: str, limit: int | None = None) -> bytes:
        return http.fetch_bytes(paths.shard_url(self.url, shard), progress=self.progress)

    def metadata(self) -> bytes | None:
        return http.fetch_optional(paths.sibling_url(self.url, METADATA_FILE), retries=0,
                                   progress=False)


def from_url(url: str, *, progress: bool | None = None,
             opener: Callable[..., RemoteModel] | None = None) -> Artifacts:
    """A model.json (or a Keras file) served over HTTP(S); shards are fetched next to it.

    ``opener(url, progress=...)`` provides the files (``flaxjs.load`` passes the URL
    cache, :func:`flaxjs.zoo.urlcache.open_url`); without it they come from the server.
    """
    remote = (opener or _Direct)(url, progress=progress)
    data = remote.model_bytes
    keras = _binary_source(data, data[:sniff.HEAD_BYTES], url)
    if keras is not None:
        return keras
    model_json = parse_model_text(data, location=url)
    metadata_url = paths.sibling_url(url, METADATA_FILE)

    def read_metadata() -> bytes:
        data = remote.metadata()
        if data is None:
            raise _AbsentError(metadata_url)
        return data

    metadata = _optional_json(read_metadata, metadata_url)
    return Artifacts(model_json, url, remote.read_shard, metadata)


def from_memory(model: Mapping[str, Any] | bytes | str,
                weights: Mapping[str, bytes] | None,
                metadata: Mapping[str, Any] | None = None) -> Artifacts:
    """Model JSON already in memory, shards given as ``{manifest path: bytes}`` (or the bytes
    of a Keras ``.keras``/``.h5`` file)."""
    location = "<memory>"
    if isinstance(model, bytes):
        keras = _binary_source(model, model[:sniff.HEAD_BYTES], location)
        if keras is not None:
            return keras
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
                progress: bool | None = None,
                opener: Callable[..., RemoteModel] | None = None) -> Artifacts:
    """Dispatch on the kind of ``source`` (see the module docstring); ``opener``: as
    :func:`from_url`'s."""
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
        return from_url(source, progress=progress, opener=opener)
    if scheme == "file":
        return from_path(urllib.request.url2pathname(urllib.parse.urlsplit(source).path))
    if not os.path.exists(source):
        raise SourceError(f"no such file or folder: {source}")
    return from_path(source)
