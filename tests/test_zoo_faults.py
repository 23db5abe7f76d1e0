"""Zoo downloads under injected faults (``httpserver.FAULTS``), cards without sha256.

After every scenario the cache is checked (:func:`check_cache`): every cached file
and every pin equals the served original, and no temporary file is left. Bad first
downloads are refused, not pinned: the next fetch from a healthy server succeeds.
test_zoo_download.py covers the retried truncation/503, 404s, a changed origin and
two processes at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import httpserver
from corpus import CORPUS
from flaxjs import settings, zoo
from flaxjs.errors import IntegrityError, SourceError, ZooError
from flaxjs.io import http
from flaxjs.zoo import cache
from zoo_fixtures import SHARDED, card_for, model_files, serve_copy

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")

FILES = [p.name for p in model_files(SHARDED)]
SHARD = f"/models/m/{FILES[2]}"
MODEL = "/models/m/model.json"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_cache(home: Path, name: str = "test_sharded") -> dict:
    """Every cached file and pin equals the original; no partial file anywhere.

    Returns the pins table (``{}`` when there is no pins file).
    """
    assert not [p for p in home.rglob("*") if cache.PART_MARK in p.name]
    folder = home / "zoo" / name
    originals = {n: (SHARDED / n).read_bytes() for n in FILES}
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.name != cache.PINS_FILE:
            assert path.read_bytes() == originals[path.name], f"{path.name} is corrupt"
    pins_file = folder / cache.PINS_FILE
    pins = json.loads(pins_file.read_text())["files"] if pins_file.exists() else {}
    for path, pin in pins.items():
        assert pin["sha256"] == _sha(originals[path]), f"{path} was pinned wrongly"
        assert pin["size"] == len(originals[path])
    return pins


@pytest.fixture
def served(tmp_path, zoo_env):
    serve_copy(SHARDED, tmp_path / "srv" / "models" / "m")
    with httpserver.serve(tmp_path / "srv") as server:
        zoo.register(card_for(f"{server.url}/models/m/"))
        yield server


# kind, path, times: recovered by the retries of the same fetch
RECOVERED = [("reset", SHARD, 1), ("500", SHARD, 2), ("429", MODEL, 1), ("truncate", MODEL, 2)]


@pytest.mark.parametrize("kind, path, times", RECOVERED)
def test_transient_faults_are_retried_with_a_message(served, zoo_env, caplog, kind, path, times):
    served.faults[path] = (kind, times)
    with caplog.at_level(logging.WARNING, logger="flaxjs.download"):
        zoo.fetch("test_sharded", progress=False)
    assert served.requests[path] == times + 1
    retries = [r.getMessage() for r in caplog.records]
    assert len(retries) == times
    assert retries[0].startswith(f"{Path(path).name}: retry 2/3 in 0.0 s: ")
    assert set(check_cache(zoo_env)) == set(FILES)


def test_a_stalled_answer_is_retried_after_the_read_timeout(served, zoo_env, monkeypatch):
    monkeypatch.setenv("FLAXJS_ZOO_TIMEOUT", "0.5")
    served.faults[SHARD] = ("stall", 1)
    start = time.monotonic()
    zoo.fetch("test_sharded", progress=False)
    assert 0.5 <= time.monotonic() - start < 10
    assert served.requests[SHARD] == 2
    assert set(check_cache(zoo_env)) == set(FILES)


# kind, path, what the error says: refused, nothing of it cached or pinned
REFUSED = [
    ("short", SHARD, "hold 3384 bytes but .* declares 3884"),  # a consistent half body
    ("short", MODEL, "not a TF.js model.json"),
    ("html", MODEL, "an HTML/XML page"),
    ("html", SHARD, "weightsManifest declares 3884"),
    ("not_a_model", MODEL, "no 'modelTopology'"),
    ("redirect_loop", MODEL, "HTTP 302 .*infinite loop"),
    ("redirect_file", MODEL, "HTTP 302 .*'file:///etc/passwd' is not allowed"),
    ("redirect_ftp", MODEL, "HTTP 302 .*'ftp://127.0.0.1:1/model.json' is refused"),
]


@pytest.mark.parametrize("kind, path, message", REFUSED)
def test_bad_first_downloads_are_refused_not_pinned(served, zoo_env, kind, path, message):
    served.faults[path] = (kind, 100)
    with pytest.raises(ZooError, match=message):
        zoo.fetch("test_sharded", progress=False)
    pins = check_cache(zoo_env)
    assert Path(path).name not in pins
    if kind.startswith("redirect"):
        assert served.requests[path] <= 11, "a redirect is not retried"
    served.faults.clear()
    zoo.fetch("test_sharded", progress=False)  # the next fetch starts afresh
    assert set(check_cache(zoo_env)) == set(FILES)


def test_a_single_shard_must_hold_the_declared_bytes(zoo_env, tmp_path):
    """One weight file: its own size is checked as it arrives."""
    case = CORPUS / "synthetic" / "dense_relu"
    assert len(model_files(case)) == 2, "a model with one weight file"
    serve_copy(case, tmp_path / "srv" / "m")
    with httpserver.serve(tmp_path / "srv") as server:
        zoo.register(card_for(f"{server.url}/m/"))
        shard = f"/m/{model_files(case)[1].name}"
        server.faults[shard] = ("short", 1)
        with pytest.raises(IntegrityError, match="declares .* for this file"):
            zoo.fetch("test_sharded", progress=False)
        zoo.fetch("test_sharded", progress=False)
    assert (zoo_env / "zoo" / "test_sharded" / Path(shard).name).read_bytes() == (
        case / Path(shard).name).read_bytes()


def test_wrong_bytes_against_a_first_download_pin(served, zoo_env):
    zoo.fetch("test_sharded", progress=False)
    (zoo_env / "zoo" / "test_sharded" / FILES[2]).unlink()
    served.faults[SHARD] = ("garbage", 100)
    with pytest.raises(IntegrityError, match="pinned at its first download"):
        zoo.fetch("test_sharded", progress=False)
    assert set(check_cache(zoo_env)) == set(FILES)  # the pin stays, the file stays out


def test_pinned_short_shards_of_an_older_flaxjs_are_dropped(served, zoo_env):
    """A cache whose shards were pinned before the byte check existed heals itself."""
    folder = zoo.fetch("test_sharded", progress=False)
    victim = folder / FILES[2]
    victim.write_bytes(victim.read_bytes()[:500])
    pins = json.loads((folder / cache.PINS_FILE).read_text())
    pins["files"][FILES[2]].update(sha256=_sha(victim.read_bytes()), size=500,
                                   stamp=cache.stamp_of(victim))
    (folder / cache.PINS_FILE).write_text(json.dumps(pins))
    with pytest.raises(IntegrityError, match="hold 3384 bytes but model.json's weightsManifest "
                                             "declares 3884"):
        zoo.fetch("test_sharded", progress=False)
    assert check_cache(zoo_env) == {}  # all dropped: either side may have been wrong
    zoo.fetch("test_sharded", progress=False)
    assert set(check_cache(zoo_env)) == set(FILES)


def test_an_overall_deadline_stops_a_trickling_body(served, zoo_env, monkeypatch):
    """0.2 s between 256-byte chunks never trips the 20 s read timeout; the deadline does."""
    monkeypatch.setenv("FLAXJS_ZOO_DEADLINE", "0.5")
    served.faults[MODEL] = ("slow", 100)
    start = time.monotonic()
    with pytest.raises(ZooError, match="longer than its deadline of 0.5 s"):
        zoo.fetch("test_sharded", progress=False)
    assert time.monotonic() - start < 3
    assert served.requests[MODEL] == 1, "a passed deadline is not retried"
    assert check_cache(zoo_env) == {}


SILENT_FETCH = textwrap.dedent("""\
    import sys
    from flaxjs import zoo
    zoo.register({"name": "m", "sources": [{"url": sys.argv[1]}], "files": ["model.json"]})
    zoo.fetch("m", progress=False)
""")


def test_a_silent_server_fails_fast_with_retry_messages(zoo_env, monkeypatch):
    """A server that accepts the connection and never answers: given up after two silent
    attempts, each a read timeout long, the retry said on stderr (a user's process, no
    logging set up)."""
    monkeypatch.setenv("FLAXJS_ZOO_TIMEOUT", "1")
    monkeypatch.delenv("FLAXJS_ZOO_RETRIES")  # the default 4 retries and backoff
    monkeypatch.delenv("FLAXJS_ZOO_BACKOFF")
    with httpserver.silent_server() as url:
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-c", SILENT_FETCH, f"{url}/m/"],
                              capture_output=True, text=True, timeout=120)
        took = time.monotonic() - start
    assert done.returncode == 1
    assert took < 30
    assert "model.json: retry 2/5 in 0.5 s: no answer within 1 s" in done.stderr
    assert "failed after 2 attempt(s) (the server sent nothing 2 times in a row)" in done.stderr
    # the defaults keep such a server's silence under 30 s too
    assert settings.VARIABLES["FLAXJS_ZOO_TIMEOUT"][1] == "10"
    assert http.MAX_SILENT_ATTEMPTS * 10.0 + 0.5 < 30


def test_connect_and_read_timeouts_are_separate(served, zoo_env, monkeypatch):
    monkeypatch.setenv("FLAXJS_ZOO_CONNECT_TIMEOUT", "3")
    monkeypatch.setenv("FLAXJS_ZOO_TIMEOUT", "7")
    seen = []
    real = socket.create_connection

    def spy(address, timeout, *args, **kwargs):
        sock = real(address, timeout, *args, **kwargs)
        seen.append((timeout, sock))
        return sock

    monkeypatch.setattr(socket, "create_connection", spy)
    zoo.fetch("test_sharded", progress=False)
    assert [t for t, _ in seen] == [3.0] * len(FILES)
    assert {sock.gettimeout() for _, sock in seen} == {7.0}  # set once connected


def test_an_unknown_host_is_not_retried(zoo_env, monkeypatch):
    lookups = []

    def no_dns(*args, **kwargs):
        lookups.append(args[0])
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    zoo.register(card_for("http://models.invalid/m/"))
    with pytest.raises(ZooError, match="cannot resolve the host name .*not retried"):
        zoo.fetch("test_sharded", progress=False)
    assert lookups == ["models.invalid"]


def test_http_stream_unit_errors(tmp_path):
    """stream() itself: a passed deadline leaves room for no further attempt."""
    with httpserver.serve(tmp_path) as server:
        (tmp_path / "f").write_bytes(b"x" * 10)
        server.faults["/f"] = ("503", 100)
        with pytest.raises(SourceError, match="no time left within its deadline of 0.2 s"):
            http.fetch_bytes(f"{server.url}/f", retries=5, backoff=0.3, deadline=0.2)
        assert server.requests["/f"] == 1


KILLED_FETCH = textwrap.dedent("""\
    import sys
    from flaxjs import zoo
    zoo.register(sys.argv[1])
    zoo.fetch("test_sharded", progress=False)
""")


def test_sigkill_mid_download_leaves_nothing_half_written(served, zoo_env, tmp_path):
    served.faults[SHARD] = ("slow", 1)
    card = tmp_path / "card.json"
    card.write_text(json.dumps(card_for(f"{served.url}/models/m/")))
    proc = subprocess.Popen([sys.executable, "-c", KILLED_FETCH, str(card)], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while served.requests[SHARD] == 0 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    time.sleep(0.3)  # part of the body has arrived
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    folder = zoo_env / "zoo" / "test_sharded"
    assert not (folder / FILES[2]).exists()
    assert [p for p in folder.iterdir() if cache.PART_MARK in p.name], "killed mid-write"
    pins = json.loads((folder / cache.PINS_FILE).read_text())["files"]
    assert FILES[2] not in pins and "model.json" in pins  # what was complete is pinned
    zoo.fetch("test_sharded", progress=False)
    assert set(check_cache(zoo_env)) == set(FILES)
    assert all(p["pinned_by"] == "first download" for p in check_cache(zoo_env).values())
