"""The decoded form of a zoo model shipped as JavaScript modules (nsfwjs on npm).

Parsing ``model.min.js`` and base64 ``<shard>.min.js`` modules costs seconds on every
load; a model.json folder loads in a fraction of that. So the first load writes
the decoded model.json and binary shards into ``<model folder>/.decoded/`` (built
in a temporary folder, renamed in whole) with a record of the sha256 of the pinned
JavaScript files it came from and of each file it holds. Later loads use it while
the record matches: a changed source pin or a decoded file whose size/mtime moved
and whose hash no longer matches makes it be built again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import FlaxjsError
from ..io import paths
from ..io.source import JS_SHARD_SUFFIXES, from_path
from . import cache
from .cards import Card

FOLDER = ".decoded"
RECORD = ".flaxjs-decoded.json"


def is_js(card: Card) -> bool:
    """Whether the card's model file is a JavaScript module."""
    return card.model_file.endswith(JS_SHARD_SUFFIXES)


def _sources(card: Card, folder: Path) -> dict[str, str]:
    """The pinned sha256 of every file of the model folder (what the decoding came from)."""
    return {path: pin["sha256"] for path, pin in cache.Pins(folder).files.items()}


def _valid(target: Path, sources: dict[str, str], rehash: bool) -> bool:
    try:
        record = json.loads((target / RECORD).read_text(encoding="utf-8"))
        if record.get("from") != sources:
            return False
        for name, entry in record["files"].items():
            path = target.joinpath(*name.split("/"))
            if not path.is_file():
                return False
            if (rehash or cache.stamp_of(path) != entry["stamp"]) and \
                    cache.sha256_file(path) != entry["sha256"]:
                return False
        return True
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return False


def _write(folder: Path, name: str, data: bytes) -> dict[str, Any]:
    path = folder.joinpath(*name.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"sha256": cache.sha256_bytes(data), "size": len(data), "stamp": cache.stamp_of(path)}


def verify(card: Card, folder: Path) -> list[str]:
    """Re-hash the decoded copy, if there is one; a copy that no longer matches its
    record (or its sources) is removed, to be built again at the next load."""
    target = folder / FOLDER
    if not target.is_dir():
        return []
    with cache.lock_for(card.name):
        if _valid(target, _sources(card, folder), rehash=True):
            return []
        shutil.rmtree(target, ignore_errors=True)
    return [f"the decoded copy {target} did not match its record and was removed (it is "
            "built again at the next load)"]


def ensure(card: Card, folder: Path, *, verify: bool = False) -> Path:
    """The folder holding the decoded model.json + shards of the fetched JS ``card``.

    ``folder`` is the model's verified cache folder; ``verify`` re-hashes the decoded
    files too.
    """
    target = folder / FOLDER
    sources = _sources(card, folder)
    if _valid(target, sources, verify):
        return target
    with cache.lock_for(card.name):
        if _valid(target, sources, verify):  # another process built it meanwhile
            return target
        artifacts = from_path(str(folder / card.model_file))
        build = Path(tempfile.mkdtemp(prefix=f"{FOLDER}{cache.PART_MARK}", dir=folder))
        try:
            files = {"model.json": _write(build, "model.json",
                                          json.dumps(artifacts.model_json).encode())}
            for group in artifacts.model_json.get("weightsManifest") or ():
                for shard in group.get("paths") or ():
                    name = paths.check_relative(str(shard), model=artifacts.location)
                    files[name] = _write(build, name, artifacts.read_shard(shard, None))
            if artifacts.metadata is not None:
                files["metadata.json"] = _write(build, "metadata.json",
                                                json.dumps(artifacts.metadata).encode())
            (build / RECORD).write_text(json.dumps({"from": sources, "files": files}, indent=1))
            old = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f"{FOLDER}{cache.PART_MARK}", dir=folder))
                os.replace(target, old / FOLDER)
            os.replace(build, target)
        except (FlaxjsError, OSError):
            shutil.rmtree(build, ignore_errors=True)
            raise
        if old is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(old)
    return target
