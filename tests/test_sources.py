"""Model sources: folders, files, file:// and http:// URLs, memory; unsafe paths refused."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import flaxjs
from corpus import CORPUS, expected_outputs, inputs, max_error, reference
from flaxjs.errors import ShardSizeError, SourceError, UnsafePathError
from httpserver import serve

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

CASE = CORPUS / "synthetic" / "weights_sharded_1000_bytes"


def _copy(case: Path, dest: Path) -> Path:
    shutil.copytree(case, dest)
    return dest


def _assert_matches(model, case: Path) -> None:
    ref = reference(case)
    out = model(*inputs(case, ref))
    assert max_error(np.asarray(out), expected_outputs(case, ref)[0]) <= 1e-4


def test_folder_file_and_any_file_name(tmp_path):
    folder = _copy(CASE, tmp_path / "m")
    _assert_matches(flaxjs.load(folder), CASE)
    os.rename(folder / "model.json", folder / "my-model.json")
    _assert_matches(flaxjs.load(folder / "my-model.json"), CASE)
    with pytest.raises(SourceError, match="several .json files"):
        flaxjs.load(folder)
    (folder / "reference.json").unlink()
    _assert_matches(flaxjs.load(folder), CASE)  # the only .json in the folder


def test_file_url(tmp_path):
    folder = _copy(CASE, tmp_path / "m")
    _assert_matches(flaxjs.load((folder / "model.json").as_uri()), CASE)


def test_memory_dict_and_bytes():
    model_json = json.loads((CASE / "model.json").read_text())
    shards = {p: (CASE / p).read_bytes()
              for g in model_json["weightsManifest"] for p in g["paths"]}
    _assert_matches(flaxjs.load(model_json, weights=shards), CASE)
    _assert_matches(flaxjs.load((CASE / "model.json").read_bytes(), weights=shards), CASE)


def test_http_url_with_query_string(tmp_path):
    _copy(CASE, tmp_path / "srv" / "models" / "m")
    with serve(tmp_path / "srv") as server:
        model = flaxjs.load(f"{server.url}/models/m/model.json?v=3")
        shard_requests = [q for q in server.queries if "shard" in q]
        assert shard_requests and all(q.endswith("?v=3") for q in shard_requests)
    _assert_matches(model, CASE)


@pytest.mark.parametrize("content, why", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "not valid JSON"),
    (b"[1, 2]", "holds a JSON list, not an object"),
    (None, "cannot be read"),  # a folder where the file should be
])
def test_bad_metadata_json_warns_and_the_model_loads_without_it(tmp_path, content, why):
    folder = _copy(CASE, tmp_path / "m")
    if content is None:
        (folder / "metadata.json").mkdir()
    else:
        (folder / "metadata.json").write_bytes(content)
    with pytest.warns(UserWarning, match="metadata.json") as caught:
        model = flaxjs.load(folder)
    message = " ".join(str(w.message) for w in caught)
    assert str(folder / "metadata.json") in message and why in message
    assert model.metadata is None
    _assert_matches(model, CASE)


def test_bad_metadata_json_over_http_warns_and_absent_one_is_silent(tmp_path):
    folder = _copy(CASE, tmp_path / "srv" / "m")
    with serve(tmp_path / "srv") as server, warnings.catch_warnings():
        warnings.simplefilter("error")  # no metadata.json (HTTP 404): nothing to say
        assert flaxjs.load(f"{server.url}/m/model.json").metadata is None
    (folder / "metadata.json").write_text('{"labels": ["a"]', encoding="utf-8")
    with serve(tmp_path / "srv") as server:
        with pytest.warns(UserWarning, match=r"/m/metadata\.json: ignored, it is not valid JSON"):
            model = flaxjs.load(f"{server.url}/m/model.json")
    assert model.metadata is None


def test_good_metadata_json_is_read_silently(tmp_path):
    folder = _copy(CASE, tmp_path / "m")
    (folder / "metadata.json").write_text('{"labels": ["a", "b"]}', encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = flaxjs.load(folder)
    assert model.metadata == {"labels": ["a", "b"]}


def test_http_missing_shard_names_file_and_weight(tmp_path):
    folder = _copy(CASE, tmp_path / "srv" / "m")
    victim = sorted(p.name for p in folder.iterdir() if "shard" in p.name)[1]
    (folder / victim).unlink()
    with serve(tmp_path / "srv") as server:
        with pytest.raises(ShardSizeError) as err:
            flaxjs.load(f"{server.url}/m/model.json")
    assert victim in str(err.value) and "404" in str(err.value)
    assert "First weight affected" in str(err.value)


def test_truncated_local_shard_is_reported(tmp_path):
    folder = _copy(CASE, tmp_path / "m")
    shards = sorted(p for p in folder.iterdir() if "shard" in p.name)
    shards[0].write_bytes(shards[0].read_bytes()[:-10])
    with pytest.raises(ShardSizeError) as err:
        flaxjs.load(folder)
    assert shards[0].name in str(err.value)


def _with_paths(case: Path, dest: Path, paths: list[str]) -> Path:
    folder = _copy(case, dest)
    model = json.loads((folder / "model.json").read_text())
    model["weightsManifest"][0]["paths"] = paths
    (folder / "model.json").write_text(json.dumps(model))
    return folder


UNSAFE = ["../secret.bin", "/etc/passwd", "http://evil.example/x.bin", "sub/../../x.bin",
          "%2e%2e/x.bin", "..\\x.bin", "//evil.example/x.bin", "file:///etc/passwd"]


@pytest.mark.parametrize("path", UNSAFE)
def test_unsafe_paths_are_refused_locally(tmp_path, path):
    case = CORPUS / "synthetic" / "dense_relu"
    folder = _with_paths(case, tmp_path / "m", [path])
    (tmp_path / "secret.bin").write_bytes((case / "weights.bin").read_bytes())
    with pytest.raises(UnsafePathError, match="weight path"):
        flaxjs.load(folder)


@pytest.mark.parametrize("path", UNSAFE)
def test_unsafe_paths_are_refused_over_http(tmp_path, path):
    case = CORPUS / "synthetic" / "dense_relu"
    _with_paths(case, tmp_path / "srv" / "m", [path])
    with serve(tmp_path / "srv") as server:
        with pytest.raises(UnsafePathError):
            flaxjs.load(f"{server.url}/m/model.json")
        assert not [q for q in server.queries if "secret" in q or "passwd" in q]


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    case = CORPUS / "synthetic" / "dense_relu"
    folder = _with_paths(case, tmp_path / "m", ["link.bin"])
    (tmp_path / "outside.bin").write_bytes((case / "weights.bin").read_bytes())
    os.symlink(tmp_path / "outside.bin", folder / "link.bin")
    with pytest.raises(UnsafePathError, match="outside"):
        flaxjs.load(folder)


def test_subfolder_and_dot_slash_paths_work(tmp_path):
    case = CORPUS / "synthetic" / "dense_relu"
    folder = _with_paths(case, tmp_path / "m", ["./weights/w.bin"])
    (folder / "weights").mkdir()
    os.rename(folder / "weights.bin", folder / "weights" / "w.bin")
    _assert_matches(flaxjs.load(folder), case)


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        flaxjs.load(tmp_path / "nothing-here")
