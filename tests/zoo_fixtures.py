"""Shared fixtures of the zoo tests: a private cache, fast retries, served corpus copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from corpus import CORPUS
from flaxjs import zoo

SHARDED = CORPUS / "synthetic" / "weights_sharded_1000_bytes"
MOBILENET = CORPUS / "wild" / "mobilenet-v1-0.25-224"
TM_DIGITS = CORPUS / "wild" / "tm-image-digits"


@pytest.fixture
def zoo_env(tmp_path, monkeypatch):
    """A fresh ``FLAXJS_HOME``, fast retries, no npm, no mirror, online; user cards reset."""
    home = tmp_path / "home"
    monkeypatch.setenv("FLAXJS_HOME", str(home))
    monkeypatch.setenv("FLAXJS_ZOO_RETRIES", "2")
    monkeypatch.setenv("FLAXJS_ZOO_BACKOFF", "0.01")
    monkeypatch.setenv("FLAXJS_ZOO_TIMEOUT", "20")
    monkeypatch.setenv("FLAXJS_NPM", "0")
    monkeypatch.delenv("FLAXJS_ZOO_MIRROR", raising=False)
    monkeypatch.delenv("FLAXJS_OFFLINE", raising=False)
    with zoo.registration_scope():
        yield home


def model_files(case: Path) -> list[Path]:
    """model.json, its shards and metadata.json (no reference files)."""
    model_json = json.loads((case / "model.json").read_text())
    names = ["model.json"] + [p for g in model_json["weightsManifest"] for p in g["paths"]]
    if (case / "metadata.json").is_file():
        names.append("metadata.json")
    return [case / n for n in names]


def serve_copy(case: Path, dest: Path) -> Path:
    """Copy a corpus model's files (only those) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in model_files(case):
        shutil.copyfile(path, dest / path.name)
    return dest


def card_for(url: str, name: str = "test_sharded", **fields) -> dict:
    """A minimal card: model.json at ``url`` + the shards its manifest names."""
    return {"name": name, "sources": [{"url": url}], "files": [{"path": "model.json"}],
            "weights_from_manifest": True, "output": "scores", **fields}


@pytest.fixture
def mobilenet_mirror(zoo_env, tmp_path, monkeypatch):
    """Offline zoo whose folder mirror holds the corpus MobileNet v1 0.25 where its card
    points: ``zoo.load("mobilenet_v1_0.25_224")`` loads it without a network."""
    from flaxjs.zoo import sources

    root = tmp_path / "mirror"
    serve_copy(MOBILENET, root / sources.mirror_path(zoo.card("mobilenet_v1_0.25_224").sources[0]))
    monkeypatch.setenv("FLAXJS_ZOO_MIRROR", str(root))
    monkeypatch.setenv("FLAXJS_OFFLINE", "1")
    return root
