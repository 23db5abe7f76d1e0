"""The ``flaxjs`` command: info, predict, zoo list|info|fetch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import httpserver
from corpus import CORPUS
from flaxjs import zoo
from flaxjs.cli import COMMANDS, main
from zoo_fixtures import SHARDED, TM_DIGITS, card_for, serve_copy

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


def test_subcommand_table():
    assert {"info", "predict", "zoo"} <= set(COMMANDS)
    done = subprocess.run([sys.executable, "-m", "flaxjs", "--help"], capture_output=True,
                          text=True, check=True)
    for name in COMMANDS:
        assert name in done.stdout


def test_cli_turns_on_the_persistent_compilation_cache(tmp_path):
    code = ("from flaxjs.cli import main; import jax; main(['zoo', 'list']); "
            "print(jax.config.jax_compilation_cache_dir)")
    env = {k: v for k, v in os.environ.items() if k != "FLAXJS_COMPILE_CACHE"}
    env["FLAXJS_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == str(tmp_path / "xla-cache")
    env["FLAXJS_COMPILE_CACHE"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out != str(tmp_path / "xla-cache")


def test_zoo_list_and_info(zoo_env, capsys):
    assert main(["zoo", "list", "mobilenet_v1*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "TASK", "CACHED", "SIZE", "SOURCE", "ALIASES"]
    assert len(lines) == 1 + len(zoo.list("mobilenet_v1*"))
    row = next(line.split() for line in lines if line.startswith("mobilenet_v1_1.0_224 "))
    assert row[1:5] == ["image-classification", "no", "-", "storage.googleapis.com"]
    assert row[5:7] == ["mobilenet,", "mobilenet_v1,"]
    assert main(["zoo", "list", "nsfwjs_mobilenet_v2"]) == 0  # the card's sizes, npm source
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[2:6] == ["no", "3.6", "MB", "npm:nsfwjs"]
    assert main(["zoo", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in rows] == zoo.list()
    assert {e["cached"] for e in rows} == {"no"}
    assert main(["zoo", "list", "mobilnet_v9"]) == 1
    assert "no match for 'mobilnet_v9'" in capsys.readouterr().err
    assert main(["zoo", "info", "nsfwjs"]) == 0
    out = capsys.readouterr().out
    assert "(card), not cached" in out and "npm=nsfwjs, version=4.4.0" in out
    assert main(["zoo", "info", "mobilenet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "mobilenet_v1_1.0_224"


def test_unknown_name_is_a_clean_error(zoo_env, capsys):
    assert main(["zoo", "info", "no_such_model"]) == 1
    assert "no zoo model named 'no_such_model'" in capsys.readouterr().err
    assert main(["zoo", "fetch", "mobilnet"]) == 1
    assert "did you mean 'mobilenet'" in capsys.readouterr().err


@needs_corpus
def test_zoo_verify_rm_and_clean(zoo_env, tmp_path, capsys):
    serve_copy(SHARDED, tmp_path / "srv" / "m")
    with httpserver.serve(tmp_path / "srv") as server:
        zoo.register(card_for(f"{server.url}/m/"))
        zoo.register(card_for(f"{server.url}/m/", name="other"))
        folder = zoo.fetch("test_sharded", progress=False)
        zoo.fetch("other", progress=False)
    assert zoo.cached() == ["other", "test_sharded"]
    assert main(["zoo", "list", "test_sharded", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    size = sum(p.stat().st_size for p in folder.iterdir())  # with the pins file
    assert (row["cached"], row["size"], row["source"]) == ("yes", size, "127.0.0.1")
    assert main(["zoo", "verify"]) == 0
    assert capsys.readouterr().out.count("ok  ") == 2
    shard = sorted(folder.glob("*.bin"))[0]
    data = bytearray(shard.read_bytes())
    data[10] ^= 1  # a flipped bit, the mtime restored: only re-hashing sees it
    stat = shard.stat()
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert main(["zoo", "verify", "test_sharded"]) == 1
    err = capsys.readouterr().err
    assert f"the cached {shard} had sha256" in err and "failed verification" in err
    assert not shard.exists()
    assert main(["zoo", "rm", "test_sharded"]) == 0
    assert capsys.readouterr().out.startswith("removed test_sharded (")
    assert zoo.cached() == ["other"]
    assert main(["zoo", "rm", "test_sharded"]) == 0
    assert "test_sharded: not cached" in capsys.readouterr().out
    assert main(["zoo", "clean"]) == 0
    freed = f"{size / 1000:.1f} KB"
    assert capsys.readouterr().out.startswith(f"removed 1 cached zoo model(s), {freed}")
    assert zoo.cached() == []


@needs_corpus
def test_zoo_fetch_and_info_after(zoo_env, tmp_path, capsys):
    serve_copy(SHARDED, tmp_path / "srv" / "m")
    with httpserver.serve(tmp_path / "srv") as server:
        zoo.register(card_for(f"{server.url}/m/"))
        assert main(["zoo", "fetch", "test_sharded"]) == 0
    assert capsys.readouterr().out.strip() == str(zoo_env / "zoo" / "test_sharded")
    assert main(["zoo", "info", "test_sharded"]) == 0
    out = capsys.readouterr().out
    assert out.count("(first download") == 5 and "cached" in out


@needs_corpus
def test_info_of_a_folder(capsys):
    assert main(["info", str(TM_DIGITS)]) == 0
    out = capsys.readouterr().out
    assert "input  " in out and "labels (10): one, two" in out


@needs_corpus
def test_predict_images(tmp_path, capsys):
    image = pytest.importorskip("PIL.Image")
    paths = []
    for i in range(2):
        pixels = np.random.default_rng(i).integers(0, 256, (120, 160, 3), dtype=np.uint8)
        paths.append(str(tmp_path / f"im{i}.png"))
        image.fromarray(pixels).save(paths[-1])
    assert main(["predict", str(TM_DIGITS), *paths, "--top", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    labels = set(json.loads((TM_DIGITS / "metadata.json").read_text())["labels"])
    assert list(result) == paths
    for pairs in result.values():
        assert len(pairs) == 3 and {label for label, _ in pairs} <= labels
    assert main(["predict", str(TM_DIGITS), paths[0]]) == 0
    assert capsys.readouterr().out.count("\n") == 6  # the path + 5 labels
