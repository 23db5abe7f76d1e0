"""Fetch a card's files into the cache: locked, verified, atomic.

Under the model's lock, each file is either already in the cache and matching
its hash (the card's, else the one pinned at first download), or it is fetched
from the origins in order into a temporary file, checked (size, sha256) and only
then renamed into place. A file that fails verification is never cached.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import IntegrityError, OfflineError, ZooError
from ..io import paths
from ..io.source import parse_model_text
from . import cache, sources
from .cards import Card, FileSpec


def fetch(card: Card, *, progress: bool | None = None, force: bool = False) -> Path:
    """Make every file of ``card`` present and verified in the cache; return the folder.

    Args:
      card: the zoo card.
      progress: tqdm bars (default: when stderr is a terminal).
      force: drop the cached files and pins of this model and fetch them again.

    Raises:
      OfflineError: ``FLAXJS_OFFLINE=1`` and files are missing (says which and where).
      IntegrityError: a file does not match its sha256 from every origin tried.
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
        state = _State(card, folder, cache.Pins(folder))
        with tempfile.TemporaryDirectory(prefix="flaxjs-fetch-") as scratch:
            state.scratch = Path(scratch)
            try:
                state.ensure(list(card.files), progress)
                if card.weights_from_manifest:
                    state.ensure(manifest_files(card, folder), progress)
            finally:
                if state.pins.files:
                    state.pins.save()
                elif folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()  # nothing arrived: leave no trace
    return folder


def manifest_files(card: Card, folder: Path) -> list[FileSpec]:
    """The weight files model.json's ``weightsManifest`` names, beyond the card's own."""
    model_path = folder / card.model_file
    model_json = parse_model_text(model_path.read_bytes(), location=str(model_path))
    listed = {f.path for f in card.files}
    suffix = ".min.js" if card.model_file.endswith(".min.js") else ""
    out: list[FileSpec] = []
    for group in model_json.get("weightsManifest") or ():
        for path in group.get("paths") or ():
            normal = paths.check_relative(str(path), model=str(model_path)) + suffix
            if normal not in listed:
                listed.add(normal)
                out.append(FileSpec(normal))
    return out


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
    def __init__(self, card: Card, folder: Path, pins: cache.Pins):
        self.card, self.folder, self.pins = card, folder, pins
        self.notes: dict[str, str] = {}
        self.scratch = Path(tempfile.gettempdir())

    def local(self, f: FileSpec) -> Path:
        return self.folder.joinpath(*f.path.split("/"))

    def expected(self, f: FileSpec) -> str | None:
        pin = self.pins.get(f.path) or {}
        return f.sha256 or pin.get("sha256")

    def present(self, f: FileSpec) -> bool:
        """Whether the cached copy is there and verified (re-hashed only if it changed)."""
        path = self.local(f)
        if not path.is_file():
            return False
        pin = self.pins.get(f.path) or {}
        expected = self.expected(f)
        stamp = cache.stamp_of(path)
        if pin.get("stamp") == stamp and pin.get("sha256") == expected:
            return True
        actual = cache.sha256_file(path)
        size = stamp[0]
        if expected is None:  # placed there by the user: pin what is there
            self.pins.set(f.path, sha256=actual, size=size, pinned_by="local file",
                          source=str(path), stamp=stamp)
            return True
        if actual == expected and (f.size is None or f.size == size):
            self.pins.set(f.path, sha256=actual, size=size,
                          pinned_by="card" if f.sha256 else pin.get("pinned_by", "first download"),
                          source=pin.get("source", str(path)), stamp=stamp)
            return True
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
            if expected is not None and actual != expected:
                pin = self.pins.get(f.path) or {}
                since = ("the zoo card" if f.sha256 else
                         f"the hash pinned at its first download ({pin.get('pinned_at', '?')})")
                raise IntegrityError(f"{where}: sha256 {actual} does not match {since}: "
                                     f"{expected}")
            with contextlib.suppress(OSError):
                os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; cached models are shareable
            os.replace(tmp, final)
        pin = self.pins.get(f.path) or {}
        pinned_by = "card" if f.sha256 else pin.get("pinned_by") or "first download"
        self.pins.set(f.path, sha256=actual, size=size, pinned_by=pinned_by, source=where,
                      stamp=cache.stamp_of(final))

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
