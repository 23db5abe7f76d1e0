"""The real graph models of ``manifest.json``: fetching them, their inputs, their fixtures.

Shared by ``make_references.py`` (which asks TF.js) and ``tests/test_graph_models_npm.py``
(which asks flaxjs), so that both fetch the same files and draw the same inputs.

* Files come through the zoo (``flaxjs.zoo.fetch`` of the entry's card, sha256-checked
  against the card) into a persistent cache, ``$FLAXJS_TEST_CACHE/zoo-home`` (default
  ``~/.cache/flaxjs-tests``); the package itself is fetched once with ``npm pack`` (the
  zoo's own helper) and unpacked as the zoo's mirror (:func:`unpacked_package`). The
  manifest repeats each file's sha256; both must agree.
* Inputs are never stored: :func:`draw_inputs` is the ``mulberry32(seed)`` stream of
  ``run_models.js`` (and of ``../shared/tools/tfjs-reference/make_reference.js``), one
  stream over all inputs in order, row-major.
* Fixtures (``tests/references/graph_models/<name>.json``) hold TF.js's stats of each
  output and a fixed subsample of its elements (:func:`sample_indices`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).with_name("manifest.json")
FIXTURES = ROOT / "tests" / "references" / "graph_models"
CACHE = Path(os.environ.get("FLAXJS_TEST_CACHE", Path.home() / ".cache" / "flaxjs-tests"))
#: at most this many elements of an output are stored (all of them when it has fewer)
SAMPLE = 2048


def manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text())


def entries() -> list[dict[str, Any]]:
    return manifest()["models"]


def fixture_path(name: str) -> Path:
    return FIXTURES / f"{name}.json"


@contextlib.contextmanager
def zoo_environment(home: Path | None = None) -> Iterator[Path]:
    """FLAXJS_HOME at the persistent test cache, npm on, no mirror, not offline."""
    home = home or CACHE / "zoo-home"
    saved = {k: os.environ.get(k) for k in
             ("FLAXJS_HOME", "FLAXJS_NPM", "FLAXJS_ZOO_MIRROR", "FLAXJS_OFFLINE")}
    os.environ["FLAXJS_HOME"] = str(home)
    os.environ["FLAXJS_NPM"] = "npm"
    os.environ.pop("FLAXJS_ZOO_MIRROR", None)
    os.environ.pop("FLAXJS_OFFLINE", None)
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def unpacked_package(package: str, version: str) -> Path:
    """The package's files, ``npm pack``-ed once and unpacked under ``CACHE/npm-mirror``
    laid out as a zoo mirror (``npm/<package>@<version>/<path>``).

    The zoo's own npm origin packs the tarball again for every card (seconds each for
    a 145 MB package); one unpacked copy serves every card as ``FLAXJS_ZOO_MIRROR``,
    and the zoo still checks each file's size and sha256 against the card."""
    from flaxjs.zoo import cache, sources

    mirror = CACHE / "npm-mirror"
    target = mirror / "npm" / f"{package}@{version}"
    done = target / ".unpacked"
    if done.is_file():
        return mirror
    target.parent.mkdir(parents=True, exist_ok=True)
    with cache.FileLock(target.parent / f".{package.replace('/', '+')}@{version}.lock"):
        if done.is_file():
            return mirror
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            tarball = sources._npm_pack("npm", f"{package}@{version}", Path(tmp))
            staging = Path(tmp, "unpacked")
            with tarfile.open(tarball, "r:*") as tar:
                members = [m for m in tar.getmembers()
                           if m.isfile() and m.name.startswith("package/")
                           and ".." not in m.name.split("/")]
                for member in members:
                    member.name = member.name[len("package/"):]
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(staging, members=members, **safe)
            (staging / ".unpacked").write_text(tarball.name + "\n")
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, target)
    return mirror


def fetch(entry: dict[str, Any]) -> Path:
    """The model file of ``entry``, fetched through its zoo card (call inside
    :func:`zoo_environment`); checks the manifest's sha256 against the card's."""
    from flaxjs import zoo

    card = zoo.card(entry["card"])
    pinned = {f.path: f.sha256 for f in card.files}
    if pinned != entry["files"]:
        raise AssertionError(f"{entry['name']}: the manifest's files/sha256 differ from zoo "
                             f"card {card.name!r}: {entry['files']} vs {pinned}")
    source = card.sources[0]
    if (source.npm, source.version) != (entry["package"], entry["version"]) or \
            source.path + card.model_file != entry["path"]:
        raise AssertionError(f"{entry['name']}: the manifest's package/path differ from the card")
    if not all(f["cached"] for f in zoo.info(card.name)["files"]):
        os.environ["FLAXJS_ZOO_MIRROR"] = str(unpacked_package(entry["package"], entry["version"]))
    try:
        folder = zoo.fetch(card.name, progress=False)
    finally:
        os.environ.pop("FLAXJS_ZOO_MIRROR", None)
    return folder / card.model_file


def mulberry32(seed: int, count: int) -> np.ndarray:
    """``count`` draws in [0, 1) of ``run_models.js``'s ``mulberry32(seed)`` (float64).

    Its state is a counter (``a += 0x6D2B79F5``), so every draw is computed at once."""
    a = (np.uint64(seed & 0xFFFFFFFF)
         + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x6D2B79F5))
    t = (a & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    with np.errstate(over="ignore"):
        t = (t ^ (t >> np.uint32(15))) * (t | np.uint32(1))
        t = t ^ (t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61)))
        t = t ^ (t >> np.uint32(14))
    return t.astype(np.float64) / 4294967296.0


def draw_inputs(entry: dict[str, Any]) -> list[np.ndarray]:
    """The inputs of ``entry`` in manifest order, as ``run_models.js`` draws them."""
    sizes = [int(np.prod(spec["shape"], dtype=np.int64)) for spec in entry["inputs"]]
    stream = mulberry32(int(entry["seed"]), sum(sizes))
    out, start = [], 0
    for spec, size in zip(entry["inputs"], sizes, strict=True):
        r = stream[start:start + size]
        start += size
        lo, hi = spec["range"]
        if spec["dtype"] == "int32":
            values = (lo + np.floor(r * (hi - lo))).astype(np.int32)
        else:
            values = (lo + (hi - lo) * r).astype(np.float32)
            clamp = np.float32(lo + (hi - lo) * 0.99999994)  # make_reference.js's clamp
            values = np.where(values >= np.float32(hi), clamp, values)
        out.append(values.reshape(spec["shape"]))
    return out


def sample_indices(size: int, count: int) -> np.ndarray:
    """The flat indices of a stored subsample: all when ``size <= count``, else
    ``floor(k * size / count)`` for ``k < count``."""
    if size <= count:
        return np.arange(size, dtype=np.int64)
    return (np.arange(count, dtype=np.int64) * size) // count


def decode_sample(output: dict[str, Any]) -> np.ndarray:
    dtype = np.int32 if output["dtype"] in ("int32", "bool") else np.float32
    return np.frombuffer(base64.b64decode(output["sample"]["b64"]), dtype=dtype)


def summary(values: np.ndarray) -> dict[str, float | None]:
    """The stats ``run_models.js`` records, computed the same way (float64, NaN left out)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    finite = flat[~np.isnan(flat)]
    if finite.size == 0:
        return {"min": None, "max": None, "mean": None, "mean_abs": None, "rms": None}
    return {"min": float(finite.min()), "max": float(finite.max()),
            "mean": float(finite.mean()), "mean_abs": float(np.abs(finite).mean()),
            "rms": float(np.sqrt(np.mean(finite * finite)))}


def relative_error(output: dict[str, Any], values: np.ndarray) -> dict[str, float]:
    """``|y - ref| / max(1, max|ref|)`` over the stored subsample and over each stat that
    moves by at most the largest element error (min, max, mean, mean |y|, rms), so
    every number here is <= the full-tensor error of the test suite's measure."""
    stats = output["stats"]
    scale = max(1.0, abs(stats["min"] or 0.0), abs(stats["max"] or 0.0))
    flat = np.asarray(values).ravel()
    ref = decode_sample(output).astype(np.float64)
    got = flat[sample_indices(flat.size, output["sample"]["count"])].astype(np.float64)
    errors: dict[str, float] = {}
    with np.errstate(invalid="ignore"):
        diff = np.abs(got - ref)
    same_nan = np.isnan(got) == np.isnan(ref)
    errors["sample"] = (float("inf") if not same_nan.all()
                        else float(np.nan_to_num(diff).max(initial=0.0)) / scale)
    mine = summary(flat)
    for key, have in mine.items():
        want = stats[key]
        if want is None or have is None:
            errors[key] = 0.0 if want is have else float("inf")
        else:
            errors[key] = abs(have - want) / scale
    return errors
