"""``flaxjs.load("http://...")`` through the URL cache: revalidated by ETag or by the
model file's hash, weight files cached only when complete, usable offline."""

from __future__ import annotations

import json

import numpy as np
import pytest

import flaxjs
import httpserver
from corpus import CORPUS, TOLERANCE, expected_outputs, inputs, max_error, reference
from flaxjs.errors import OfflineError, ShardSizeError
from flaxjs.zoo import urlcache
from zoo_fixtures import SHARDED, model_files, serve_copy

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
SHARDS = [f"/m/{p.name}" for p in model_files(SHARDED)[1:]]


def _check_output(model):
    ref = reference(SHARDED)
    out = model(*inputs(SHARDED, ref))
    assert max_error(np.asarray(out), expected_outputs(SHARDED, ref)[0]) <= TOLERANCE


@pytest.fixture
def site(tmp_path, zoo_env):
    serve_copy(SHARDED, tmp_path / "srv" / "m")
    with httpserver.serve(tmp_path / "srv") as server:
        yield server


def _shard_requests(server) -> int:
    return sum(server.requests[s] for s in SHARDS)


@pytest.mark.parametrize("etags", [True, False])
def test_a_second_load_takes_the_weights_from_the_cache(site, etags):
    site.etags = etags
    url = f"{site.url}/m/model.json"
    first = flaxjs.load(url)
    assert first.info.location == url
    assert _shard_requests(site) == len(SHARDS)
    folder = urlcache.folder_of(url)
    for path in model_files(SHARDED):
        assert (folder / path.name).read_bytes() == path.read_bytes()
    _check_output(flaxjs.load(url))
    assert _shard_requests(site) == len(SHARDS)  # not downloaded again
    assert site.requests["/m/model.json"] == 2  # asked whether it changed
    assert site.not_modified["/m/model.json"] == (1 if etags else 0)


def test_a_changed_model_json_starts_the_cache_afresh(site, tmp_path):
    url = f"{site.url}/m/model.json"
    flaxjs.load(url)
    served = tmp_path / "srv" / "m" / "model.json"
    model_json = json.loads(served.read_text())
    model_json["generatedBy"] = "a new release"
    served.write_text(json.dumps(model_json))
    _check_output(flaxjs.load(url))
    assert _shard_requests(site) == 2 * len(SHARDS)
    assert (urlcache.folder_of(url) / "model.json").read_text() == served.read_text()


def test_offline_uses_the_cache_and_refuses_what_is_not_there(site, monkeypatch):
    url = f"{site.url}/m/model.json"
    flaxjs.load(url)
    requests = dict(site.requests)
    monkeypatch.setenv("FLAXJS_OFFLINE", "1")
    _check_output(flaxjs.load(url))
    assert dict(site.requests) == requests
    with pytest.raises(OfflineError, match="FLAXJS_OFFLINE=1 and .*/other/model.json is not "
                                           "in the cache"):
        flaxjs.load(f"{site.url}/other/model.json")
    assert dict(site.requests) == requests


def test_an_unreachable_server_falls_back_to_the_cache_with_a_warning(tmp_path, zoo_env,
                                                                       monkeypatch):
    serve_copy(SHARDED, tmp_path / "srv" / "m")
    with httpserver.serve(tmp_path / "srv") as server:
        url = f"{server.url}/m/model.json"
        flaxjs.load(url)
    monkeypatch.setenv("FLAXJS_ZOO_RETRIES", "0")
    with pytest.warns(UserWarning, match="using the copy cached in"):
        _check_output(flaxjs.load(url))  # the server is gone


def test_an_error_page_does_not_replace_the_cached_model(site):
    url = f"{site.url}/m/model.json"
    flaxjs.load(url)
    site.faults["/m/model.json"] = ("html", 1)
    with pytest.warns(UserWarning, match="an HTML/XML page.*using the copy cached in"):
        _check_output(flaxjs.load(url))
    assert _shard_requests(site) == len(SHARDS)
    site.faults["/m/model.json"] = ("html", 1)
    with pytest.raises(flaxjs.errors.ModelFormatError):  # nothing cached: the loader's error
        flaxjs.load(f"{site.url}/m/model.json?v=2")


def test_a_cut_weight_file_is_not_cached(site):
    url = f"{site.url}/m/model.json"
    site.faults[SHARDS[1]] = ("short", 1)
    with pytest.raises(ShardSizeError):
        flaxjs.load(url)
    folder = urlcache.folder_of(url)
    assert not [p for p in folder.iterdir() if p.name.endswith(".bin")]
    _check_output(flaxjs.load(url))
    assert site.requests[SHARDS[1]] == 2
    assert len([p for p in folder.iterdir() if p.name.endswith(".bin")]) == len(SHARDS)


def test_a_damaged_cached_file_is_fetched_again(site):
    url = f"{site.url}/m/model.json"
    flaxjs.load(url)
    victim = urlcache.folder_of(url) / SHARDS[0].rsplit("/", 1)[1]
    victim.write_bytes(b"\0" * victim.stat().st_size)
    _check_output(flaxjs.load(url))
    assert site.requests[SHARDS[0]] == 2


def test_zoo_clean_removes_the_url_cache_too(site):
    from flaxjs import zoo

    url = f"{site.url}/m/model.json"
    flaxjs.load(url)
    folder = urlcache.folder_of(url)
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert zoo.clean() == size
    assert not folder.exists()
