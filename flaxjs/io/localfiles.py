"""Read the files of a model folder without leaving it, blocking or reading unbounded data.

A model folder comes from anywhere (an archive, a download, a shared drive). A
symbolic link in it may point at ``/etc/passwd``, a FIFO makes ``open()`` wait
forever for a writer, and a sparse file claims gigabytes it never stored. Every
file the loader opens on disk goes through :func:`read_inside`, which refuses all
three before reading a byte: the resolved path must lie inside the folder, the file
must be a regular file (checked with ``stat`` first, then opened with
``O_NONBLOCK`` and checked again on the descriptor, so a file swapped in between
cannot block either), and its size must not exceed the caller's limit.
"""

from __future__ import annotations

import os
import stat

from ..errors import SourceError, UnsafePathError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def resolve_inside(folder: str, path: str, *, what: str) -> str:
    """``path`` with every symbolic link resolved; raise if that leaves ``folder``.

    Args:
      folder: the model's folder (itself may be reached through links).
      path: a file in it (absolute, or relative to the current directory).
      what: the kind of file, for the message (``"weight file 'a.bin'"``).
    """
    root = os.path.realpath(folder)
    full = os.path.realpath(path)
    if os.path.commonpath([root, full]) != root:
        raise UnsafePathError(
            f"{what} ({path}) resolves outside the model's folder {root} (to {full}), "
            "through a symbolic link; copy the file into the folder instead of linking it")
    return full


def _check_regular(mode: int, path: str, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise SourceError(f"{what} ({path}) is {kind}, not a regular file; flaxjs reads only "
                      "regular files (a FIFO or device could block or never end)")


def _stat_inside(folder: str, path: str, what: str) -> tuple[str, int]:
    """The resolved path and size of a regular file inside ``folder``."""
    full = resolve_inside(folder, path, what=what)
    try:
        st = os.stat(full)
    except FileNotFoundError:
        raise SourceError(f"{what} not found: {path}") from None
    except OSError as err:
        raise SourceError(f"cannot read {what} {path}: {err}") from err
    _check_regular(st.st_mode, path, what)
    return full, st.st_size


def size_inside(folder: str, path: str, *, what: str) -> int:
    """The size in bytes of a regular file inside ``folder``, without opening it."""
    return _stat_inside(folder, path, what)[1]


def read_inside(folder: str, path: str, *, what: str, limit: int | None = None) -> bytes:
    """The bytes of a regular file inside ``folder``.

    Args:
      folder: the model's folder.
      path: the file.
      what: the kind of file, for messages.
      limit: the most bytes the file may hold; a larger one is refused before reading.

    Raises:
      UnsafePathError: the file resolves outside ``folder``.
      SourceError: it is missing, not a regular file, larger than ``limit`` or unreadable.
    """
    full, size = _stat_inside(folder, path, what)
    if limit is not None and size > limit:
        raise SourceError(f"{what} ({path}) holds {size} bytes, more than the {limit} "
                          "bytes such a file may hold; it is not a valid model file")
    try:
        fd = os.open(full, _OPEN_FLAGS)
        with os.fdopen(fd, "rb") as f:
            _check_regular(os.fstat(f.fileno()).st_mode, path, what)
            data = f.read(size + 1)  # never more than stat promised (plus one to notice growth)
    except FileNotFoundError:
        raise SourceError(f"{what} not found: {path}") from None
    except OSError as err:
        raise SourceError(f"cannot read {what} {path}: {err}") from err
    if len(data) != size:
        raise SourceError(f"{what} ({path}) changed size while it was read "
                          f"({size} bytes, then {len(data)}); read it again when it is complete")
    return data


def read_head(folder: str, path: str, *, what: str, count: int) -> bytes:
    """The first ``count`` bytes of a regular file inside ``folder`` (to tell its format),
    with :func:`read_inside`'s checks."""
    full, _ = _stat_inside(folder, path, what)
    try:
        fd = os.open(full, _OPEN_FLAGS)
        with os.fdopen(fd, "rb") as f:
            _check_regular(os.fstat(f.fileno()).st_mode, path, what)
            return f.read(count)
    except OSError as err:
        raise SourceError(f"cannot read {what} {path}: {err}") from err
