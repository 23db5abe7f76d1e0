"""Model sources: folders, files, file:// and http:// URLs, memory; unsafe paths refused."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import shutil
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import flaxjs
from corpus import CORPUS, expected_outputs, inputs, max_error, reference
from flaxjs.errors import ModelFormatError, ShardSizeError, SourceError, UnsafePathError
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


# Hostile folders: every file is read only when it is a regular file inside the folder.

def _metadata_warning(folder: Path) -> str:
    with pytest.warns(UserWarning, match="metadata.json") as caught:
        model = flaxjs.load(folder)
    assert model.metadata is None
    _assert_matches(model, CASE)
    return " ".join(str(w.message) for w in caught)


def test_metadata_json_linked_out_of_the_folder_is_not_read(tmp_path):
    folder = _copy(CASE, tmp_path / "m")
    (tmp_path / "secret.json").write_text('{"labels": ["LEAKED"]}')
    os.symlink(tmp_path / "secret.json", folder / "metadata.json")
    assert "outside the model's folder" in _metadata_warning(folder)


def _unblock_later(fifo: Path, after: float = 10.0) -> None:
    """Should a loader block opening ``fifo``, open it for writing and close it after a
    while, so the test fails (an empty read, no "FIFO" in the message) instead of hanging."""
    def run():
        time.sleep(after)
        with contextlib.suppress(OSError):  # ENXIO: nobody is reading, as it should be
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    threading.Thread(target=run, daemon=True).start()


@pytest.mark.parametrize("victim", ["metadata.json", "model.json", "shard"])
def test_a_fifo_is_refused_without_blocking(tmp_path, victim):
    folder = _copy(CASE, tmp_path / "m")
    if victim == "shard":
        victim = sorted(p.name for p in folder.iterdir() if "shard" in p.name)[0]
    (folder / victim).unlink(missing_ok=True)
    os.mkfifo(folder / victim)
    _unblock_later(folder / victim)
    if victim == "metadata.json":
        assert "FIFO" in _metadata_warning(folder)
        return
    with pytest.raises(SourceError if victim == "model.json" else ShardSizeError,
                       match=f"{victim}.*FIFO"):
        flaxjs.load(folder)


def test_model_json_linked_out_of_the_folder_is_refused(tmp_path):
    folder = _copy(CASE, tmp_path / "m")
    os.rename(folder / "model.json", tmp_path / "model.json")
    os.symlink(tmp_path / "model.json", folder / "model.json")
    with pytest.raises(UnsafePathError, match="model file"):
        flaxjs.load(folder)


def test_js_shard_module_linked_out_of_the_folder_is_refused(tmp_path):
    folder = _copy(CASE / ".." / "dense_relu", tmp_path / "m")
    data = (folder / "weights.bin").read_bytes()
    (tmp_path / "w.min.js").write_text(f'module.exports="{base64.b64encode(data).decode()}"')
    (folder / "weights.bin").unlink()
    os.symlink(tmp_path / "w.min.js", folder / "weights.bin.min.js")
    with pytest.raises(UnsafePathError, match="outside"):
        flaxjs.load(folder)


def test_sparse_huge_shard_is_refused_before_it_is_read(tmp_path):
    folder = _copy(CASE, tmp_path / "m")
    shard = sorted(p for p in folder.iterdir() if "shard" in p.name)[0]
    os.truncate(shard, 16 << 30)  # sparse: takes no disk space, would take 16 GiB to read
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ShardSizeError, match="trailing bytes") as err:
        flaxjs.load(folder)
    assert shard.name in str(err.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start < 100_000  # KiB


@pytest.mark.parametrize("encode, why", [
    (lambda t: t.encode("utf-16"), "UTF-16"),
    (lambda t: t.encode("utf-16-le"), "UTF-16"),
    (lambda t: t.encode("utf-32"), "UTF-32"),
    (lambda t: t.replace('"name"', '"n\u00e4me"', 1).encode("latin-1"), "not UTF-8 text: byte"),
])
def test_model_json_that_is_not_utf8_is_a_format_error(tmp_path, encode, why):
    folder = _copy(CASE, tmp_path / "m")
    (folder / "model.json").write_bytes(encode((folder / "model.json").read_text()))
    with pytest.raises(ModelFormatError, match=why) as err:
        flaxjs.load(folder)
    assert "model.json" in str(err.value)


@pytest.mark.parametrize("where", ["file", "topology", "manifest"])
def test_deep_nesting_in_model_json_is_a_format_error(tmp_path, where):
    folder = _copy(CASE, tmp_path / "m")
    model = json.loads((folder / "model.json").read_text())
    deep = "[" * 3000 + "]" * 3000 if where == "file" else "[" * 500 + "]" * 500
    if where == "topology":
        model["modelTopology"]["config"]["layers"][0]["config"]["units"] = "DEEP"
    elif where == "manifest":
        model["weightsManifest"][0]["weights"][0]["shape"] = "DEEP"
    else:
        model["extra"] = "DEEP"
    (folder / "model.json").write_text(json.dumps(model).replace('"DEEP"', deep))
    with pytest.raises(ModelFormatError, match=r"model\.json: JSON nested"):
        flaxjs.load(folder)


def test_deep_metadata_json_warns_and_the_model_loads(tmp_path):
    folder = _copy(CASE, tmp_path / "m")
    (folder / "metadata.json").write_text('{"labels": ' + "[" * 5000 + "]" * 5000 + "}")
    assert "nested" in _metadata_warning(folder)


@pytest.mark.parametrize("module, why", [
    ("module.exports={a:[1,2,{b:", "unexpected end"),
    ("module.exports={a:'\\u12'}", "bad \\\\u escape"),
    ("module.exports={a:'\\x'}", "bad \\\\x escape"),
    ("module.exports=" + "[" * 5000 + "]" * 5000, "nested more than"),
    ("module.exports=[" + "9" * 6000 + "]", "digits"),
    ("module.exports={a:1", "unexpected end"),
])
def test_damaged_js_model_module_is_a_format_error(tmp_path, module, why):
    folder = _copy(CASE, tmp_path / "m")
    (folder / "model.json").unlink()
    (folder / "model.min.js").write_text(module)
    with pytest.raises(ModelFormatError, match=f"model.min.js: .*{why}"):
        flaxjs.load(folder)


def test_damaged_js_shard_module_names_the_file(tmp_path):
    folder = _copy(CASE / ".." / "dense_relu", tmp_path / "m")
    (folder / "weights.bin").unlink()
    (folder / "weights.bin.min.js").write_bytes(b'module.exports="AAAA\xff\xfe')
    with pytest.raises(ModelFormatError, match=r"weights.bin.min.js: not UTF-8 text: byte 20"):
        flaxjs.load(folder)


def test_sparse_huge_js_shard_module_is_refused_before_it_is_read(tmp_path):
    folder = _copy(CASE / ".." / "dense_relu", tmp_path / "m")
    (folder / "weights.bin").unlink()
    module = folder / "weights.bin.min.js"
    module.write_text('module.exports="')
    os.truncate(module, 16 << 30)
    with pytest.raises(ShardSizeError, match=r"weights.bin.min.js.*holds 17179869184 bytes"):
        flaxjs.load(folder)
