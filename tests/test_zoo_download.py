"""Zoo downloads for real, against a loopback HTTP server serving corpus model copies.

Hash mismatches are rejected and nothing is cached; truncated transfers and 5xx
answers are retried; two processes fetching at once make one good cache entry;
FLAXJS_OFFLINE=1 never touches the network; mirrors (URL or folder) and npm
sources (through a stand-in ``npm`` executable) work.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import httpserver
from corpus import CORPUS, TOLERANCE, expected_outputs, inputs, max_error, reference
from flaxjs import zoo
from flaxjs.errors import CorruptCacheError, IntegrityError, OfflineError, ZooError
from flaxjs.zoo import cache
from zoo_fixtures import MOBILENET, SHARDED, card_for, model_files, serve_copy

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

SHARDS = [p.name for p in model_files(SHARDED)[1:]]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_output(model, case):
    ref = reference(case)
    out = model(*inputs(case, ref))
    assert max_error(np.asarray(out), expected_outputs(case, ref)[0]) <= TOLERANCE


def _partials(home):
    return [p for p in home.rglob("*") if cache.PART_MARK in p.name]


@pytest.fixture
def served(tmp_path):
    serve_copy(SHARDED, tmp_path / "srv" / "models" / "m")
    with httpserver.serve(tmp_path / "srv") as server:
        yield server


def test_fetch_pins_at_first_download_then_uses_the_cache(zoo_env, served):
    zoo.register(card_for(f"{served.url}/models/m/"))
    info = zoo.info("test_sharded")
    assert [f["pinned_by"] for f in info["files"]] == [None]  # nothing known yet
    folder = zoo.fetch("test_sharded", progress=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["model.json", *SHARDS, cache.PINS_FILE])
    files = {f["path"]: f for f in zoo.info("test_sharded")["files"]}
    assert set(files) == {"model.json", *SHARDS}
    for path, f in files.items():
        assert f["cached"] and f["pinned_by"].startswith("first download")
        assert f["sha256"] == _sha(SHARDED / path) and f["size"] == (SHARDED / path).stat().st_size
    requests = dict(served.requests)
    model = zoo.load("test_sharded")
    assert dict(served.requests) == requests  # served from the cache
    _check_output(model, SHARDED)
    assert model.card.name == "test_sharded"


def test_hash_mismatch_is_rejected_and_nothing_cached(zoo_env, served):
    wrong = "0" * 64
    zoo.register(card_for(f"{served.url}/models/m/",
                          files=[{"path": "model.json", "sha256": wrong}]))
    with pytest.raises(IntegrityError) as err:
        zoo.fetch("test_sharded", progress=False)
    message = str(err.value)
    assert "model.json" in message and wrong in message and _sha(SHARDED / "model.json") in message
    assert not (zoo_env / "zoo" / "test_sharded").exists()
    assert not _partials(zoo_env)


def test_size_mismatch_is_rejected(zoo_env, served):
    zoo.register(card_for(f"{served.url}/models/m/", files=[{"path": "model.json", "size": 3}]))
    with pytest.raises(IntegrityError, match="pins 3"):
        zoo.fetch("test_sharded", progress=False)
    assert not (zoo_env / "zoo" / "test_sharded" / "model.json").exists()


def test_changed_origin_is_rejected_against_the_first_download_pin(zoo_env, served, tmp_path):
    zoo.register(card_for(f"{served.url}/models/m/"))
    folder = zoo.fetch("test_sharded", progress=False)
    (folder / SHARDS[0]).unlink()
    served_shard = tmp_path / "srv" / "models" / "m" / SHARDS[0]
    served_shard.write_bytes(b"\0" * served_shard.stat().st_size)
    with pytest.raises(IntegrityError, match="pinned at its first download"):
        zoo.fetch("test_sharded", progress=False)
    assert not (folder / SHARDS[0]).exists()


def test_truncated_transfer_is_retried(zoo_env, served):
    zoo.register(card_for(f"{served.url}/models/m/"))
    victim = f"/models/m/{SHARDS[1]}"
    served.faults[victim] = ("truncate", 1)
    folder = zoo.fetch("test_sharded", progress=False)
    assert served.requests[victim] == 2
    assert _sha(folder / SHARDS[1]) == _sha(SHARDED / SHARDS[1])
    assert not _partials(zoo_env)


def test_5xx_is_retried_then_a_clear_error(zoo_env, served):
    zoo.register(card_for(f"{served.url}/models/m/"))
    victim = f"/models/m/{SHARDS[2]}"
    served.faults[victim] = ("503", 100)
    with pytest.raises(ZooError) as err:
        zoo.fetch("test_sharded", progress=False)
    assert served.requests[victim] == 3  # FLAXJS_ZOO_RETRIES=2: three attempts
    message = str(err.value)
    assert "HTTP 503" in message and "after 3 attempts" in message
    assert str(zoo_env / "zoo" / "test_sharded" / SHARDS[2]) in message
    assert "FLAXJS_ZOO_MIRROR" in message
    # what did arrive is cached and pinned; the rest is fetched on the next call
    served.faults.clear()
    zoo.fetch("test_sharded", progress=False)
    assert served.requests["/models/m/model.json"] == 1


def test_503_then_success(zoo_env, served):
    zoo.register(card_for(f"{served.url}/models/m/"))
    served.faults["/models/m/model.json"] = ("503", 2)
    zoo.fetch("test_sharded", progress=False)
    assert served.requests["/models/m/model.json"] == 3


def test_404_is_not_retried(zoo_env, served):
    zoo.register(card_for(f"{served.url}/models/m/"))
    served.faults["/models/m/model.json"] = ("404", 100)
    with pytest.raises(ZooError, match="HTTP 404"):
        zoo.fetch("test_sharded", progress=False)
    assert served.requests["/models/m/model.json"] == 1


def test_second_source_is_a_mirror(zoo_env, served):
    card = card_for(f"{served.url}/gone/")
    card["sources"].append({"url": f"{served.url}/models/m/"})
    zoo.register(card)
    folder = zoo.fetch("test_sharded", progress=False)
    assert served.requests["/gone/model.json"] == 1
    pins = json.loads((folder / cache.PINS_FILE).read_text())["files"]
    assert pins["model.json"]["source"] == f"{served.url}/models/m/model.json"


def test_corrupted_cache_file_is_fetched_again(zoo_env, served):
    zoo.register(card_for(f"{served.url}/models/m/"))
    folder = zoo.fetch("test_sharded", progress=False)
    (folder / SHARDS[0]).write_bytes(b"garbage")
    (folder / f".{SHARDS[1]}{cache.PART_MARK}left-by-a-crash").write_bytes(b"x")
    zoo.fetch("test_sharded", progress=False)
    assert _sha(folder / SHARDS[0]) == _sha(SHARDED / SHARDS[0])
    assert served.requests[f"/models/m/{SHARDS[0]}"] == 2
    assert not _partials(zoo_env)


@pytest.mark.parametrize("pins", [b'{"files": {"model.json": {"sha', b'{"files": ["model.json"]}',
                                  b"\xff\xfe", b"[]"])
def test_corrupt_pins_file_is_an_error_not_a_fresh_start(zoo_env, served, tmp_path, pins):
    zoo.register(card_for(f"{served.url}/models/m/"))
    folder = zoo.fetch("test_sharded", progress=False)
    (folder / cache.PINS_FILE).write_bytes(pins)
    (folder / SHARDS[0]).unlink()
    served_shard = tmp_path / "srv" / "models" / "m" / SHARDS[0]
    served_shard.write_bytes(b"\0" * served_shard.stat().st_size)  # the origin changed
    requests = dict(served.requests)
    with pytest.raises(CorruptCacheError) as err:
        zoo.fetch("test_sharded", progress=False)
    message = str(err.value)
    assert str(folder / cache.PINS_FILE) in message and "Delete" in message
    assert "force" in message
    assert dict(served.requests) == requests, "nothing downloaded, nothing pinned"
    assert not (folder / SHARDS[0]).exists()
    with pytest.raises(CorruptCacheError):
        zoo.info("test_sharded")
    zoo.fetch("test_sharded", progress=False, force=True)  # the advertised way out
    assert json.loads((folder / cache.PINS_FILE).read_text())["files"][SHARDS[0]]["sha256"] \
        == _sha(served_shard)


def test_offline_refuses_without_touching_the_network(zoo_env, served, monkeypatch):
    zoo.register(card_for(f"{served.url}/models/m/"))
    monkeypatch.setenv("FLAXJS_OFFLINE", "1")
    with pytest.raises(OfflineError) as err:
        zoo.load("test_sharded")
    assert not served.requests
    message = str(err.value)
    assert str(zoo_env / "zoo" / "test_sharded" / "model.json") in message
    assert f"{served.url}/models/m/model.json" in message


def test_offline_npm_model_lists_files_and_runs_no_npm(zoo_env, monkeypatch):
    from flaxjs.zoo import sources

    def no_npm(*args, **kwargs):
        raise AssertionError("npm must not run offline")

    monkeypatch.setattr(sources, "_npm_pack", no_npm)
    monkeypatch.setenv("FLAXJS_NPM", "")  # npm allowed if installed, yet offline
    monkeypatch.setenv("FLAXJS_OFFLINE", "1")
    with pytest.raises(OfflineError) as err:
        zoo.fetch("nsfwjs")
    message = str(err.value)
    for f in zoo.card("nsfwjs").files:
        assert f"{f.path} (sha256 {f.sha256}) -> put it at" in message
    assert "nsfwjs@4.4.0/dist/models/mobilenet_v2/model.min.js" in message


def test_offline_works_from_a_mirror_folder(zoo_env, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    serve_copy(SHARDED, mirror / "models.example.org" / "zoo" / "m")
    zoo.register(card_for("https://models.example.org/zoo/m/"))
    monkeypatch.setenv("FLAXJS_OFFLINE", "1")
    monkeypatch.setenv("FLAXJS_ZOO_MIRROR", str(mirror))
    _check_output(zoo.load("test_sharded"), SHARDED)


def test_builtin_mobilenet_card_through_an_http_mirror(zoo_env, tmp_path, monkeypatch):
    """The real mobilenet_v1_0.25_224 card, served by a mirror laid out like the origin."""
    origin = tmp_path / "srv" / "storage.googleapis.com" / "tfjs-models" / "tfjs"
    serve_copy(MOBILENET, origin / "mobilenet_v1_0.25_224")
    with httpserver.serve(tmp_path / "srv") as server:
        monkeypatch.setenv("FLAXJS_ZOO_MIRROR", server.url)
        model = zoo.load("mobilenet", alpha=0.25)
    assert model.card.name == "mobilenet_v1_0.25_224"
    assert len(server.requests) == 56  # model.json + 55 weight groups
    _check_output(model, MOBILENET)
    assert model.labels[0].startswith("tench") and len(model.labels) == 1000
    assert set(model.card.cut_points) <= set(model.layer_names)
    image = np.random.default_rng(0).integers(0, 256, (180, 240, 3), dtype=np.uint8)
    x = model.preprocess(image)
    assert x.shape == (1, 224, 224, 3) and x.min() >= -1 and x.max() <= 1
    [top] = model.decode(model(x))  # one list per example, for a batch of one too
    assert len(top) == 5 and all(label in model.labels for label, _ in top)
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    base = model.truncate("conv_pw_13_relu")  # a transfer-learning base keeps preprocess
    assert base.card is model.card and base.labels is None and base.decoding is None
    assert base(base.preprocess(image)).shape == (1, 7, 7, 256)


def _register_npm_card(name, files):
    """A card whose one source is the ``fake-models@1.2.3`` npm package (``dist/m/``)."""
    zoo.register({"name": name, "sources": [
        {"npm": "fake-models", "version": "1.2.3", "path": "dist/m/"}],
        "files": files, "weights_from_manifest": True})


def test_npm_source_through_a_cdn_style_mirror(zoo_env, tmp_path, monkeypatch):
    serve_copy(SHARDED, tmp_path / "srv" / "npm" / "fake-models@1.2.3" / "dist" / "m")
    _register_npm_card("npm_model", ["model.json"])
    with httpserver.serve(tmp_path / "srv") as server:
        monkeypatch.setenv("FLAXJS_ZOO_MIRROR", server.url)
        folder = zoo.fetch("npm_model", progress=False)
    assert server.requests["/npm/fake-models@1.2.3/dist/m/model.json"] == 1
    assert sorted(p.name for p in folder.iterdir() if p.name != cache.PINS_FILE) == sorted(
        ["model.json", *SHARDS])


FAKE_NPM = """\
#!{python}
# A stand-in for `npm pack <spec> --json --pack-destination <dir>`: packs a local folder.
import json, os, sys, tarfile
args = sys.argv[1:]
assert args[0] == "pack", args
spec, dest = args[1], args[args.index("--pack-destination") + 1]
with open({log!r}, "a") as log:
    log.write(spec + "\\n")
name = "fake-models-1.2.3.tgz"
with tarfile.open(os.path.join(dest, name), "w:gz") as tar:
    tar.add({folder!r}, arcname="package")
print(json.dumps([{{"filename": name}}]))
"""


def _fake_npm(tmp_path, package, monkeypatch):
    """Install FAKE_NPM (packing ``package``) as ``$FLAXJS_NPM``; return its call log."""
    log = tmp_path / "npm.log"
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text(FAKE_NPM.format(python=sys.executable, log=str(log), folder=str(package)))
    npm.chmod(0o755)
    monkeypatch.setenv("FLAXJS_NPM", str(npm))
    return log


def test_npm_pack_source(zoo_env, tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    serve_copy(SHARDED, package / "dist" / "m")
    log = _fake_npm(tmp_path, package, monkeypatch)
    _register_npm_card("npm_model",
                       [{"path": "model.json", "sha256": _sha(SHARDED / "model.json")}])
    _check_output(zoo.load("npm_model"), SHARDED)
    assert log.read_text().split() == ["fake-models@1.2.3"]  # one pack: model.json + shards
    pins = json.loads((zoo_env / "zoo" / "npm_model" / cache.PINS_FILE).read_text())["files"]
    assert pins["model.json"]["pinned_by"] == "card"
    assert pins[SHARDS[0]]["source"].startswith("npm pack fake-models@1.2.3")


HUB_QUERY = "?tfjs-format=file"


class _HubHandler(httpserver._Handler):
    """TF Hub style: a file is served only when asked for with ``?tfjs-format=file``."""

    def do_GET(self):  # noqa: N802
        if not self.path.endswith(HUB_QUERY):
            self.server.requests[self.path.split("?")[0]] += 1
            self.server.queries.append(self.path)
            self.send_error(404, "no tfjs-format=file")
            return
        super().do_GET()


@pytest.fixture
def hub(tmp_path):
    serve_copy(SHARDED, tmp_path / "hub" / "m" / "1")
    with httpserver.serve(tmp_path / "hub", _HubHandler) as server:
        yield server


def test_source_query_is_sent_for_model_json_and_every_shard(zoo_env, hub):
    zoo.register(card_for(f"{hub.url}/m/1", sources=[{"url": f"{hub.url}/m/1",
                                                      "query": HUB_QUERY}]))
    assert zoo.info("test_sharded")["sources"] == [{"url": f"{hub.url}/m/1/",
                                                    "query": HUB_QUERY}]
    model = zoo.load("test_sharded")
    _check_output(model, SHARDED)
    assert sorted(hub.queries) == sorted(f"/m/1/{n}{HUB_QUERY}" for n in ["model.json", *SHARDS])
    folder = zoo_env / "zoo" / "test_sharded"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["model.json", *SHARDS, cache.PINS_FILE])  # cached under their plain names
    pins = json.loads((folder / cache.PINS_FILE).read_text())["files"]
    assert pins[SHARDS[0]]["source"] == f"{hub.url}/m/1/{SHARDS[0]}{HUB_QUERY}"
    assert all(p["pinned_by"] == "first download" for p in pins.values())


def test_without_the_query_the_hub_refuses(zoo_env, hub):
    """The server of the test above does need the query: without it, nothing is served."""
    zoo.register(card_for(f"{hub.url}/m/1/"))
    with pytest.raises(ZooError) as err:
        zoo.fetch("test_sharded", progress=False)
    assert f"GET {hub.url}/m/1/model.json failed: HTTP 404" in str(err.value)
    assert hub.queries == ["/m/1/model.json"]


def test_offline_error_names_the_url_with_its_query(zoo_env, hub, monkeypatch):
    zoo.register(card_for(f"{hub.url}/m/1/", sources=[{"url": f"{hub.url}/m/1/",
                                                       "query": HUB_QUERY}]))
    monkeypatch.setenv("FLAXJS_OFFLINE", "1")
    with pytest.raises(OfflineError, match=re.escape(f"{hub.url}/m/1/model.json{HUB_QUERY}")):
        zoo.fetch("test_sharded", progress=False)
    assert not hub.queries


def test_builtin_tfhub_card_through_a_mirror(zoo_env, tmp_path, monkeypatch):
    """A built-in TF Hub card (the files of a corpus model standing in for MoveNet's) from
    a mirror laid out like the origin: mirrors hold plain files, no query is sent there."""
    card = zoo.card("movenet")
    origin = tmp_path / "srv" / "tfhub.dev" / "google" / "tfjs-model" / "movenet"
    serve_copy(SHARDED, origin / "singlepose" / "lightning" / "4")
    with httpserver.serve(tmp_path / "srv") as server:
        monkeypatch.setenv("FLAXJS_ZOO_MIRROR", server.url)
        folder = zoo.fetch(card.name, progress=False)
    prefix = "/tfhub.dev/google/tfjs-model/movenet/singlepose/lightning/4/"
    assert sorted(server.queries) == sorted(prefix + n for n in ["model.json", *SHARDS])
    assert sorted(p.name for p in folder.iterdir() if p.name != cache.PINS_FILE) == sorted(
        ["model.json", *SHARDS])
    files = zoo.info(card.name)["files"]
    assert len(files) == 1 + len(SHARDS)
    assert all(f["pinned_by"].startswith("first download") and f["size"] for f in files)


class _SlowHandler(httpserver._Handler):
    def do_GET(self):  # noqa: N802
        time.sleep(0.3)  # keep the first fetch busy while the second process waits
        super().do_GET()


FETCH_SCRIPT = textwrap.dedent("""\
    import os, sys, time
    from flaxjs import zoo
    zoo.register(sys.argv[1])
    ready, other = sys.argv[2], sys.argv[3]
    open(ready, "w").close()
    deadline = time.time() + 120
    while not os.path.exists(other) and time.time() < deadline:
        time.sleep(0.01)
    print(zoo.fetch("test_sharded", progress=False))
""")


def test_two_processes_make_one_good_cache_entry(zoo_env, tmp_path):
    serve_copy(SHARDED, tmp_path / "srv" / "models" / "m")
    with httpserver.serve(tmp_path / "srv", _SlowHandler) as server:
        card = tmp_path / "card.json"
        card.write_text(json.dumps(card_for(f"{server.url}/models/m/")))
        env = dict(os.environ)
        ready = [str(tmp_path / f"ready{i}") for i in range(2)]
        procs = [subprocess.Popen([sys.executable, "-c", FETCH_SCRIPT, str(card), ready[i],
                                   ready[1 - i]], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(2)]
        results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
    folders = {out.strip() for out, _ in results}
    assert folders == {str(zoo_env / "zoo" / "test_sharded")}
    assert all(n == 1 for n in server.requests.values()), server.requests  # nothing twice
    assert set(server.requests) == {f"/models/m/{n}" for n in ["model.json", *SHARDS]}
    folder = zoo_env / "zoo" / "test_sharded"
    for name in ["model.json", *SHARDS]:
        assert _sha(folder / name) == _sha(SHARDED / name)
    assert not _partials(zoo_env)
    pins = json.loads((folder / cache.PINS_FILE).read_text())["files"]
    assert set(pins) == {"model.json", *SHARDS}


def test_load_with_verify_fetches_a_flipped_bit_again(zoo_env, served):
    zoo.register(card_for(f"{served.url}/models/m/"))
    with pytest.raises(ZooError, match="is not cached .*nothing to verify"):
        zoo.verify("test_sharded")
    folder = zoo.fetch("test_sharded", progress=False)
    assert zoo.verify("test_sharded") == folder
    shard = folder / SHARDS[0]
    data = bytearray(shard.read_bytes())
    data[0] ^= 0x80
    stat = shard.stat()
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    zoo.load("test_sharded")  # size and mtime unchanged: not re-hashed
    assert served.requests[f"/models/m/{SHARDS[0]}"] == 1
    _check_output(zoo.load("test_sharded", verify=True), SHARDED)
    assert served.requests[f"/models/m/{SHARDS[0]}"] == 2
    assert _sha(shard) == _sha(SHARDED / SHARDS[0])


def _js_package(case, dest):
    """``case`` as nsfwjs ships models: model.min.js and base64 ``<shard>.min.js`` modules."""
    import base64

    dest.mkdir(parents=True)
    (dest / "model.min.js").write_text("module.exports=" + (case / "model.json").read_text())
    for path in model_files(case)[1:]:
        encoded = base64.b64encode(path.read_bytes()).decode()
        (dest / f"{path.name}.min.js").write_text(f'module.exports="{encoded}";')


def test_a_javascript_model_is_decoded_once_then_loaded_from_its_decoded_copy(
        zoo_env, tmp_path, monkeypatch):
    from flaxjs.io import jsmodule
    from flaxjs.zoo import decoded

    package = tmp_path / "pkg"
    _js_package(SHARDED, package / "dist" / "m")
    _fake_npm(tmp_path, package, monkeypatch)
    _register_npm_card("js_model", ["model.min.js"])
    _check_output(zoo.load("js_model"), SHARDED)
    target = zoo_env / "zoo" / "js_model" / decoded.FOLDER
    for path in model_files(SHARDED)[1:]:
        assert (target / path.name).read_bytes() == path.read_bytes()
    assert json.loads((target / "model.json").read_text()) == json.loads(
        (SHARDED / "model.json").read_text())

    def no_js(*args, **kwargs):
        raise AssertionError("the base64 shard modules were decoded again")

    with monkeypatch.context() as m:
        m.setattr(jsmodule, "parse_shard_module", no_js)
        model = zoo.load("js_model")
    assert model.info.location == str(target / "model.json")
    _check_output(model, SHARDED)
    # a damaged decoded shard (mtime kept) is seen with verify=True and built again
    shard = target / model_files(SHARDED)[1].name
    stat = shard.stat()
    shard.write_bytes(b"\0" * stat.st_size)
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    _check_output(zoo.load("js_model", verify=True), SHARDED)
    assert shard.read_bytes() == model_files(SHARDED)[1].read_bytes()
    assert not _partials(zoo_env)
    # zoo.verify re-hashes the decoded copy too, and removes it when damaged
    assert zoo.verify("js_model")
    shard.write_bytes(b"\0" * stat.st_size)
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(IntegrityError, match="the decoded copy .* was removed"):
        zoo.verify("js_model")
    assert not target.exists()
    _check_output(zoo.load("js_model"), SHARDED)


@pytest.mark.parametrize("progress", [True, None])
def test_npm_fetches_show_progress_on_request_or_on_a_terminal(zoo_env, tmp_path, monkeypatch,
                                                               capfd, progress):
    package = tmp_path / "pkg"
    serve_copy(SHARDED, package / "dist" / "m")
    _fake_npm(tmp_path, package, monkeypatch)
    _register_npm_card("npm_model", ["model.json"])
    capfd.readouterr()
    zoo.fetch("npm_model", progress=progress)
    err = capfd.readouterr().err
    if progress:  # the npm run, then a bar per file read out of the tarball
        assert "npm pack fake-models@1.2.3: 0.0 s" in err
        for name in ["model.json", *SHARDS]:
            assert f"\r{name}:   0%|" in err
    else:  # stderr is not a terminal here: nothing drawn
        assert "npm pack" not in err and "%|" not in err
