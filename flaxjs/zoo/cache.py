"""The on-disk cache: where models live, a cross-process lock, and the pins file.

Layout under :func:`flaxjs.settings.home` (``$FLAXJS_HOME``, else the platform's user
cache dir)::

    zoo/<model name>/<files...>        verified files only (renamed in when complete)
    zoo/<model name>/.flaxjs-pins.json the sha256 of every verified file, where it came
                                       from, and whether the card or the first
                                       download pinned it
    zoo/.locks/<model name>.lock       held while a process fetches the model
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .. import settings
from ..errors import CorruptCacheError, ZooError

PINS_FILE = ".flaxjs-pins.json"
PART_MARK = ".part-"


def home() -> Path:
    """``$FLAXJS_HOME``, else the platform's user cache directory + ``flaxjs``."""
    return settings.home()


def model_dir(name: str) -> Path:
    """The cache folder of one zoo model."""
    return settings.zoo_dir() / name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- locking
class FileLock:
    """An exclusive lock between processes (``flock`` on POSIX, ``msvcrt`` on Windows).

    The operating system releases it when the holder dies, so a crashed fetch
    never leaves a stale lock behind.
    """

    def __init__(self, path: Path, *, timeout: float = 3600.0, poll: float = 0.1,
                 on_wait=None):
        self.path, self.timeout, self.poll, self.on_wait = path, timeout, poll, on_wait
        self._file: BinaryIO | None = None

    def _try(self) -> bool:
        assert self._file is not None
        if sys.platform == "win32":
            import msvcrt
            try:
                self._file.seek(0)
                msvcrt.locking(self._file.fileno(), msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                return False
        import fcntl
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+b")  # noqa: SIM115 (closed in release)
        deadline = time.monotonic() + self.timeout
        waited = False
        while not self._try():
            if not waited and self.on_wait is not None:
                self.on_wait()
            waited = True
            if time.monotonic() > deadline:
                self._file.close()
                self._file = None
                raise ZooError(f"timed out after {self.timeout:.0f} s waiting for the lock "
                               f"{self.path} (another process is fetching this model)")
            time.sleep(self.poll)

    def release(self) -> None:
        if self._file is None:
            return
        try:
            if sys.platform == "win32":
                import msvcrt
                self._file.seek(0)
                msvcrt.locking(self._file.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        finally:
            self._file.close()
            self._file = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def lock_for(name: str, **kwargs) -> FileLock:
    return FileLock(settings.zoo_dir() / ".locks" / f"{name}.lock", **kwargs)


# ---------------------------------------------------------------- managing the cache
def cached_names() -> list[str]:
    """The model folders in the cache, sorted (whatever card, if any, they belong to)."""
    root = settings.zoo_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def disk_size(folder: Path) -> int:
    """Bytes of the files under ``folder`` (0 when it does not exist)."""
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def remove(name: str) -> int:
    """Delete one model's cache folder under its lock; return the bytes freed."""
    folder = model_dir(name)
    with lock_for(name):
        size = disk_size(folder)
        if folder.is_dir():
            shutil.rmtree(folder)
    return size  # the lock file stays: a waiting process may hold it open


# ---------------------------------------------------------------- files
@contextlib.contextmanager
def temp_file(final: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """A fresh temporary file next to ``final`` (same filesystem: renames are atomic).

    Removed on exit unless it was renamed away.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}{PART_MARK}", dir=final.parent)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f, path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_partials(folder: Path) -> None:
    """Delete temporary files and folders a killed process left (call with the lock held)."""
    if not folder.is_dir():
        return
    for path in list(folder.rglob(f".*{PART_MARK}*")):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()


def _read_pins(path: Path) -> dict[str, dict[str, Any]]:
    """The ``files`` table of a pins file; ``{}`` when there is none yet.

    A file that exists but cannot be read is an error, not "no pins": the next
    download would otherwise pin whatever the server sends.
    """
    fix = (f"Delete {path} to pin the files afresh at their next download (or fetch "
           "the model again with force=True / `flaxjs zoo fetch --force`).")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise CorruptCacheError(f"cannot read the zoo pins file {path}: {err}. {fix}") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise CorruptCacheError(f"the zoo pins file {path} is not valid JSON ({err}). "
                                f"{fix}") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise CorruptCacheError(f"the zoo pins file {path} is malformed (expected "
                                '{"files": {path: {"sha256": ...}}}). ' + fix)
    return files


class Pins:
    """The pins file of one model folder: ``{path: {sha256, size, pinned_by, ...}}``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / PINS_FILE
        self.files: dict[str, dict[str, Any]] = _read_pins(self.path)

    def get(self, path: str) -> dict[str, Any] | None:
        return self.files.get(path)

    def set(self, path: str, *, sha256: str, size: int, pinned_by: str, source: str,
            stamp: list[int]) -> None:
        old = self.files.get(path) or {}
        self.files[path] = {
            "sha256": sha256, "size": size, "pinned_by": pinned_by,
            "pinned_at": old.get("pinned_at") if old.get("sha256") == sha256 else now(),
            "source": source, "stamp": stamp,
        }

    def save(self) -> None:
        """Write the table atomically; with no pins left, remove the file (and the
        model's folder when nothing else is in it: no trace of a failed fetch)."""
        if not self.files:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only when empty
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with temp_file(self.path) as (f, tmp):
            f.write(json.dumps({"files": self.files}, indent=1, sort_keys=True).encode())
            f.close()
            os.replace(tmp, self.path)


def stamp_of(path: Path) -> list[int]:
    """Size and modification time: a cached file whose stamp is unchanged is not re-hashed."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]
