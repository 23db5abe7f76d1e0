"""The cache behind ``flaxjs.load("https://...")``: one folder per model URL.

Under ``<home>/urls/<host>-<hash of the URL>/`` live the model file, its weight
files and metadata.json, with a record (``.flaxjs-url.json``) of each file's
sha256, size and mtime and of the model file's ETag. A load asks the server
whether model.json changed (``If-None-Match``; without an ETag, the body's hash
decides): unchanged, the weights come from the cache; changed, the folder starts
afresh. Weight files are cached only when all of them arrived and together hold
the bytes the manifest declares, so a cut transfer is never kept. With
``FLAXJS_OFFLINE=1``, or when the server cannot be reached (with a warning),
the cached copy is used as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import FlaxjsError, IntegrityError, OfflineError, SourceError
from ..io import http, paths
from ..io.source import METADATA_FILE, parse_model_text
from . import cache, checks, sources

RECORD = ".flaxjs-url.json"
MODEL_FILE = "model.json"


def root() -> Path:
    """Where URL loads are cached: ``<home>/urls``."""
    return settings.home() / "urls"


def folder_of(url: str) -> Path:
    """The cache folder of one model URL."""
    host = urllib.parse.urlsplit(url).hostname or "host"
    return root() / f"{host}-{hashlib.sha256(url.encode()).hexdigest()[:16]}"


def _entry(path: Path) -> dict[str, Any]:
    return {"sha256": cache.sha256_file(path), "stamp": cache.stamp_of(path)}


def _intact(path: Path, entry: Any) -> bool:
    """The cached file is there and still what was recorded (re-hashed if it was touched)."""
    if not isinstance(entry, dict) or not path.is_file():
        return False
    if cache.stamp_of(path) == entry.get("stamp"):
        return True
    return cache.sha256_file(path) == entry.get("sha256")


def _store(folder: Path, name: str, data: bytes) -> dict[str, Any]:
    final = folder.joinpath(*name.split("/"))
    with cache.temp_file(final) as (handle, tmp):
        handle.write(data)
        handle.close()
        os.replace(tmp, final)
    return _entry(final)


class CachedModel:
    """A model URL's files, from the cache where they are good, else from the server.

    Built by :func:`open_url`; ``model_bytes`` is the model file, ``read_shard``
    and ``metadata`` give the rest.
    """

    def __init__(self, url: str, progress: bool | None):
        self.url, self.progress = url, progress
        self.folder = folder_of(url)
        self.offline = settings.offline()
        self.options = sources.http_options(progress)
        self.record: dict[str, Any] = {}
        self.model_bytes = b""
        self.shards: dict[str, bytes] = {}
        self.errors: dict[str, FlaxjsError] = {}
        self.metadata_bytes: bytes | None = None
        self.metadata_error: SourceError | None = None

    # ---------------------------------------------------------------- record
    def _load_record(self) -> None:
        try:
            record = json.loads((self.folder / RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        self.record = record if isinstance(record, dict) and record.get("url") == self.url \
            else {"url": self.url}
        if not isinstance(self.record.get("files"), dict):
            self.record["files"] = {}

    def _save_record(self) -> None:
        _store(self.folder, RECORD, json.dumps(self.record, indent=1).encode())

    def _fresh(self) -> None:
        """Forget everything cached for this URL (the model changed on the server)."""
        if self.folder.is_dir():
            shutil.rmtree(self.folder)
        self.record = {"url": self.url, "files": {}}

    # ---------------------------------------------------------------- model file
    def _model(self) -> bytes:
        path = self.folder / MODEL_FILE
        cached = path.read_bytes() if _intact(path, self.record.get("model")) else None
        if self.offline:
            if cached is None:
                raise OfflineError(f"FLAXJS_OFFLINE=1 and {self.url} is not in the cache "
                                   f"({self.folder}); load it once with the network, or "
                                   "unset FLAXJS_OFFLINE.")
            return cached
        etag = self.record.get("etag")
        headers = {"If-None-Match": etag} if cached is not None and etag else {}
        meta: dict[str, Any] = {}
        try:
            data = http.fetch_bytes(self.url, headers=headers, meta=meta, **self.options)
        except http.HTTPStatusError as err:
            if err.status == 304 and cached is not None:
                return cached
            raise
        except SourceError as err:
            if cached is None:
                raise
            warnings.warn(f"{self.url}: {err}; using the copy cached in {self.folder}",
                          stacklevel=4)
            return cached
        try:
            checks.model_json(data, where=self.url)
        except IntegrityError as err:
            if cached is None:
                return data  # not cached; the loader says what is wrong with it
            warnings.warn(f"{err} (the server answered with something else); using the "
                          f"copy cached in {self.folder}", stacklevel=4)
            return cached
        if cached is None or cache.sha256_bytes(data) != self.record["model"]["sha256"]:
            self._fresh()
        self.record["model"] = _store(self.folder, MODEL_FILE, data)
        self.record["etag"] = {k.lower(): v for k, v in meta.get("headers", {}).items()
                               }.get("etag")
        self._save_record()
        return data

    # ---------------------------------------------------------------- weights
    def _prefetch(self, names: list[str], declared: int | None) -> None:
        """Read every weight file (cache or server); cache them when all together hold
        the declared bytes."""
        files = self.record["files"]
        fetched: list[str] = []
        for name in names:
            path = self.folder.joinpath(*name.split("/"))
            if _intact(path, files.get(name)):
                self.shards[name] = path.read_bytes()
                continue
            if self.offline:
                self.errors[name] = OfflineError(
                    f"FLAXJS_OFFLINE=1 and the weight file {name} of {self.url} is not in "
                    f"the cache ({path})")
                return
            try:
                self.shards[name] = http.fetch_bytes(paths.shard_url(self.url, name),
                                                     desc=name, **self.options)
            except SourceError as err:
                self.errors[name] = err  # read_shard raises it; the loader names the weights
                return
            fetched.append(name)
        held = sum(len(self.shards[n]) for n in names)
        if not fetched or "model" not in self.record or (declared is not None
                                                         and held != declared):
            return
        for name in fetched:
            files[name] = _store(self.folder, name, self.shards[name])
        self._save_record()

    def read_shard(self, shard: str, limit: int | None = None) -> bytes:
        name = paths.check_relative(shard, model=self.url)
        if name in self.shards:
            return self.shards[name]
        if name in self.errors:
            raise self.errors[name]
        return http.fetch_bytes(paths.shard_url(self.url, name), desc=name, **self.options)

    # ---------------------------------------------------------------- metadata.json
    def _fetch_metadata(self) -> None:
        """The sibling metadata.json, cached (or cached as absent: HTTP 403/404/410)."""
        path = self.folder / METADATA_FILE
        state = self.record.get("metadata")
        if state == "absent" or self.offline:
            return
        if _intact(path, state):
            self.metadata_bytes = path.read_bytes()
            return
        try:
            data = http.fetch_optional(paths.sibling_url(self.url, METADATA_FILE),
                                       **{**self.options, "retries": 0, "progress": False})
        except SourceError as err:
            self.metadata_error = err
            return
        self.metadata_bytes = data
        if "model" in self.record:
            self.record["metadata"] = ("absent" if data is None
                                       else _store(self.folder, METADATA_FILE, data))
            self._save_record()

    def metadata(self) -> bytes | None:
        """The sibling metadata.json (``None``: there is none)."""
        if self.metadata_error is not None:
            raise self.metadata_error
        return self.metadata_bytes


def clean() -> int:
    """Delete every cached URL model (each under its lock); return the bytes freed."""
    freed = 0
    folders = sorted(p for p in root().iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if root().is_dir() else []
    for folder in folders:
        with lock(folder):
            freed += cache.disk_size(folder)
            shutil.rmtree(folder, ignore_errors=True)
    return freed


def lock(folder: Path) -> cache.FileLock:
    """The lock of one URL's cache folder."""
    return cache.FileLock(folder.parent / ".locks" / f"{folder.name}.lock")


def open_url(url: str, *, progress: bool | None = None) -> CachedModel:
    """The model at ``url`` through the cache (see the module docstring): the
    :class:`~flaxjs.io.source.RemoteModel` that ``flaxjs.load`` reads."""
    model = CachedModel(url, progress)
    with lock(model.folder):
        cache.remove_partials(model.folder)
        model._load_record()
        model.model_bytes = model._model()
        try:
            parsed = parse_model_text(model.model_bytes, location=url)
            manifest = parsed.get("weightsManifest") or []
            names = [paths.check_relative(str(p), model=url)
                     for group in manifest for p in group.get("paths") or ()]
            declared = checks.declared_bytes(parsed, where=url)
        except (FlaxjsError, ValueError, TypeError, AttributeError, LookupError,
                RecursionError):
            return model  # the loader reports what is wrong with the model file
        with contextlib.suppress(OSError):
            model._prefetch(names, declared)
            model._fetch_metadata()
    return model
