"""Fetch a card's files into the cache: locked, verified, atomic.

Under the model's lock, each file is either already in the cache and matching
its hash (the card's, else the one pinned at first download), or it is fetched
from the origins in order into a temporary file, checked (size, sha256, and for
a file without a card hash what it claims to be: see :mod:`flaxjs.zoo.checks`)
and only then renamed into place. A file that fails verification is never
cached, and a set of weight files whose bytes disagree with the manifest is
dropped with its pins.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, OfflineError, ZooError
from ..io import paths
from ..io.source import parse_model_text
from . import cache, checks, sources
from .cards import Card, FileSpec


def fetch(card: Card, *, progress: bool | None = None, force: bool = False,
          verify: bool = False) -> Path:
    """Make every file of ``card`` present and verified in the cache; return the folder.

    Args:
      card: the zoo card.
      progress: tqdm bars (default: when stderr is a terminal).
      force: drop the cached files and pins of this model and fetch them again.
      verify: re-hash every cached file even when its size and mtime are unchanged
        (a file that no longer matches is fetched again and must match its pin).

    Raises:
      OfflineError: ``FLAXJS_OFFLINE=1`` and files are missing (says which and where).
      IntegrityError: a file does not match its sha256 from every origin tried, or is
        not what it claims to be.
      ZooError: no origin could provide a file (every attempt is listed).
    """
    folder = cache.model_dir(card.name)

    def waiting():
        if progress or (progress is None and sys.stderr.isatty()):
            print(f"flaxjs: waiting for another process fetching {card.name!r}...",
                  file=sys.stderr)

    with cache.lock_for(card.name, on_wait=waiting):
        if force and folder.exists():
            shutil.rmtree(folder)
        cache.remove_partials(folder)
        state = _State(card, folder, cache.Pins(folder), rehash=verify)
        with tempfile.TemporaryDirectory(prefix="flaxjs-fetch-") as scratch:
            state.scratch = Path(scratch)
            try:
                state.ensure(list(card.files), progress)
                if card.weights_from_manifest:
                    state.ensure(manifest_files(card, folder), progress)
                state.check_weights()
            finally:
                state.pins.save()
    return folder


def verify(card: Card) -> list[str]:
    """Re-hash every cached file of ``card``; remove those that no longer match.

    Returns:
      one line per problem (empty when every cached file matches its pin). Pins
      are kept, so the next fetch must bring back the same bytes.
    """
    folder = cache.model_dir(card.name)
    with cache.lock_for(card.name):
        state = _State(card, folder, cache.Pins(folder), rehash=True)
        files = list(card.files)
        if card.weights_from_manifest and state.local(files[0]).is_file():
            files += manifest_files(card, folder)
        problems = []
        for f in files:
            if state.local(f).is_file() and not state.present(f):
                problems.append(state.notes[f.path])
        try:
            state.check_weights()
        except IntegrityError as err:
            problems.append(str(err))
        state.pins.save()
    return problems


def shard_files(card: Card, model_json: dict[str, Any], where: str) -> list[str]:
    """The cache paths of the weight files model.json's ``weightsManifest`` names."""
    suffix = ".min.js" if card.model_file.endswith(".min.js") else ""
    out: list[str] = []
    for group in model_json.get("weightsManifest") or ():
        for path in group.get("paths") or ():
            normal = paths.check_relative(str(path), model=where) + suffix
            if normal not in out:
                out.append(normal)
    return out


def manifest_files(card: Card, folder: Path) -> list[FileSpec]:
    """The weight files model.json's ``weightsManifest`` names, beyond the card's own."""
    model_path = folder / card.model_file
    model_json = parse_model_text(model_path.read_bytes(), location=str(model_path))
    listed = {f.path for f in card.files}
    return [FileSpec(p) for p in shard_files(card, model_json, str(model_path))
            if p not in listed]


def status(card: Card) -> list[dict]:
    """Per file: path, size, sha256, who pinned it, whether it is cached (no hashing)."""
    folder = cache.model_dir(card.name)
    pins = cache.Pins(folder)
    files = list(card.files)
    if card.weights_from_manifest and (folder / card.model_file).is_file():
        with contextlib.suppress(Exception):
            files += manifest_files(card, folder)
    out = []
    for f in files:
        pin = pins.get(f.path) or {}
        local = folder.joinpath(*f.path.split("/"))
        if f.sha256:
            pinned_by = "card"
        elif pin.get("sha256"):
            pinned_by = f"{pin.get('pinned_by', 'first download')} {pin.get('pinned_at', '')}"
        else:
            pinned_by = None
        out.append({
            "path": f.path,
            "size": f.size if f.size is not None else pin.get("size"),
            "sha256": f.sha256 or pin.get("sha256"),
            "pinned_by": pinned_by.strip() if pinned_by else None,
            "cached": local.is_file(),
            "location": str(local),
        })
    return out


class _State:
    def __init__(self, card: Card, folder: Path, pins: cache.Pins, *, rehash: bool = False):
        self.card, self.folder, self.pins, self.rehash = card, folder, pins, rehash
        self.notes: dict[str, str] = {}
        self.scratch = Path(tempfile.gettempdir())
        #: the cache paths of the weight files and the bytes the manifest declares
        #: for them together, once the model file is known good
        self.shards: list[str] = []
        self.declared: int | None = None

    def local(self, f: FileSpec) -> Path:
        return self.folder.joinpath(*f.path.split("/"))

    def expected(self, f: FileSpec) -> str | None:
        pin = self.pins.get(f.path) or {}
        return f.sha256 or pin.get("sha256")

    def present(self, f: FileSpec) -> bool:
        """Whether the cached copy is there and verified (re-hashed only if it changed,
        or always when ``rehash``)."""
        path = self.local(f)
        if not path.is_file():
            return False
        pin = self.pins.get(f.path) or {}
        expected = self.expected(f)
        stamp = cache.stamp_of(path)
        try:
            if not self.rehash and pin.get("stamp") == stamp and pin.get("sha256") == expected:
                self.learn(f, path)
                return True
            actual = cache.sha256_file(path)
            size = stamp[0]
            if expected is None:  # placed there by the user: pin what is there
                self.check_content(f, path, str(path))
                self.pins.set(f.path, sha256=actual, size=size, pinned_by="local file",
                              source=str(path), stamp=stamp)
                return True
            if actual == expected and (f.size is None or f.size == size):
                self.learn(f, path)
                self.pins.set(f.path, sha256=actual, size=size, pinned_by="card" if f.sha256
                              else pin.get("pinned_by", "first download"),
                              source=pin.get("source", str(path)), stamp=stamp)
                return True
        except IntegrityError as err:  # pinned before flaxjs checked what files are
            self.notes[f.path] = f"{err}; removed"
            self.pins.files.pop(f.path, None)
            path.unlink()
            return False
        self.notes[f.path] = (f"the cached {path} had sha256 {actual} (expected {expected}) "
                              "and was removed")
        path.unlink()
        return False

    def install(self, f: FileSpec, fill, where: str) -> None:
        final = self.local(f)
        with cache.temp_file(final) as (handle, tmp):
            @contextlib.contextmanager
            def open_out() -> Iterator:
                handle.seek(0)
                handle.truncate()
                yield handle

            fill(open_out)
            handle.close()
            size = tmp.stat().st_size
            if f.size is not None and size != f.size:
                raise IntegrityError(f"{where}: {size} bytes, but the card pins {f.size}")
            actual = cache.sha256_file(tmp)
            expected = self.expected(f)
            if expected is None:
                self.check_content(f, tmp, where)
            if expected is not None and actual != expected:
                pin = self.pins.get(f.path) or {}
                since = ("the zoo card" if f.sha256 else
                         f"the hash pinned at its first download ({pin.get('pinned_at', '?')})")
                raise IntegrityError(f"{where}: sha256 {actual} does not match {since}: "
                                     f"{expected}")
            with contextlib.suppress(OSError):
                os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; cached models are shareable
            os.replace(tmp, final)
        if expected is not None:
            self.learn(f, final)
        pin = self.pins.get(f.path) or {}
        pinned_by = "card" if f.sha256 else pin.get("pinned_by") or "first download"
        self.pins.set(f.path, sha256=actual, size=size, pinned_by=pinned_by, source=where,
                      stamp=cache.stamp_of(final))
        self.pins.save()  # a process killed before the end leaves its files pinned

    def learn(self, f: FileSpec, path: Path) -> None:
        """From a model file verified by its hash: its weight files and declared bytes
        (not needed, so not parsed, when the card pins every file by hash)."""
        if f.path == self.card.model_file and (
                self.card.weights_from_manifest or not all(x.sha256 for x in self.card.files)):
            self._read_model(path, str(path))

    def _read_model(self, path: Path, where: str) -> None:
        parsed = checks.model_json(path.read_bytes(), where=where)
        self.shards = shard_files(self.card, parsed, where)
        self.declared = checks.declared_bytes(parsed, where=where)

    def check_content(self, f: FileSpec, path: Path, where: str) -> None:
        """Refuse a file without a card hash that is not what it claims to be."""
        if f.path == self.card.model_file:
            self._read_model(path, where)
        elif f.path in self.shards and self.declared is not None:
            size = checks.weight_bytes(path, f.path)
            exact = len(self.shards) == 1
            if size > self.declared or (exact and size != self.declared):
                raise IntegrityError(
                    f"{where}: {size} bytes of weights, but model.json's weightsManifest "
                    f"declares {self.declared} {'for this file' if exact else 'in all'} "
                    "(a truncated or substituted download); not cached")

    def check_weights(self) -> None:
        """The cached weight files hold what the manifest declares, or they are dropped.

        Files the card pins by hash are trusted; when any other file takes part and
        the bytes disagree, every file without a card hash loses its copy and its
        pin (the model file too: either side may be the wrong one).
        """
        specs = {f.path: f for f in self.card.files}
        if self.declared is None or not self.shards:
            return
        if all(specs.get(p) and specs[p].sha256 for p in [self.card.model_file, *self.shards]):
            return
        local = [self.folder.joinpath(*p.split("/")) for p in self.shards]
        if not all(path.is_file() for path in local):
            return
        # the shard hashes last found to hold the declared bytes (JS shards are slow to count)
        checked = {p: (self.pins.get(p) or {}).get("sha256") for p in self.shards}
        model_pin = self.pins.get(self.card.model_file)
        if not self.rehash and model_pin and model_pin.get("weights_checked") == checked:
            return
        held = sum(checks.weight_bytes(path, p) for path, p in zip(local, self.shards, strict=True))
        if held == self.declared:
            if model_pin:
                model_pin["weights_checked"] = checked
            return
        dropped = []
        for p in [self.card.model_file, *self.shards]:
            if specs.get(p) and specs[p].sha256:
                continue
            self.pins.files.pop(p, None)
            with contextlib.suppress(FileNotFoundError):
                self.folder.joinpath(*p.split("/")).unlink()
                dropped.append(p)
        raise IntegrityError(
            f"zoo model {self.card.name!r}: its {len(local)} weight file(s) hold {held} bytes "
            f"but {self.card.model_file}'s weightsManifest declares {self.declared} (a "
            f"truncated or substituted download). Removed {', '.join(dropped) or 'nothing'} "
            "from the cache without pinning them; fetch again to download them afresh.")

    def ensure(self, files: list[FileSpec], progress: bool | None) -> None:
        missing = [f for f in files if not self.present(f)]
        if not missing:
            return
        tried: dict[str, list[tuple[str, Exception]]] = {f.path: [] for f in missing}
        skipped: list[sources.Origin] = []
        offline = sources.offline()
        for origin in sources.origins(self.card, self.scratch):
            if not missing:
                break
            if offline and origin.network:
                skipped.append(origin)
                continue
            errors = origin.fetch(missing, self.install, progress)
            for path, err in errors.items():
                tried[path].append((origin.describe(), err))
            missing = [f for f in missing if f.path in errors]
        if missing:
            raise self.failure(missing, tried, skipped, offline)

    def failure(self, missing, tried, skipped, offline) -> ZooError:
        name = self.card.name
        lines = []
        for f in missing:
            pin = f" (sha256 {self.expected(f)})" if self.expected(f) else ""
            lines.append(f"  {f.path}{pin} -> put it at {self.local(f)}")
            if f.path in self.notes:
                lines.append(f"      {self.notes[f.path]}")
            for origin, err in tried[f.path]:
                lines.append(f"      {origin}: {err}")
            for origin in skipped[:3]:
                lines.append(f"      available from {origin.where(f)}")
        listing = "\n".join(lines)
        mirror = ("or set FLAXJS_ZOO_MIRROR to a folder or URL laid out like the origin "
                  "(<mirror>/<host>/<path>, <mirror>/npm/<package>@<version>/<path>)")
        if offline:
            return OfflineError(
                f"FLAXJS_OFFLINE=1 and {len(missing)} file(s) of zoo model {name!r} are not "
                f"in the cache:\n{listing}\nCopy them there, {mirror}, or unset FLAXJS_OFFLINE.")
        integrity = any(isinstance(e, IntegrityError) for f in missing for _, e in tried[f.path])
        cls = IntegrityError if integrity else ZooError
        return cls(f"could not fetch {len(missing)} file(s) of zoo model {name!r}; nothing "
                   f"was cached for them:\n{listing}\nRetry later, {mirror}, or copy the "
                   "files to the paths shown.")
