"""The ``flaxjs`` command's sources, errors, ``--no-strict``, ``predict``'s preprocessing and
``convert``'s folder handling (``flaxjs zoo ...`` is tested in test_zoo_cli.py)."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from corpus import CORPUS
from flaxjs.cli import COMMANDS, build_parser, main
from flaxjs.zoo import cache, registry
from zoo_fixtures import MOBILENET, SHARDED, model_files

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
TEXT = CORPUS / "wild" / "sentiment-embedding-gru"  # input [None, 100]
SOURCE_COMMANDS = {"convert": ["out"], "info": [], "predict": ["x.png"]}


def test_every_command_that_loads_a_model_takes_no_strict():
    loading = {n for n, m in COMMANDS.items() if getattr(importlib.import_module(m),
                                                         "TAKES_SOURCE", False)}
    assert loading == set(SOURCE_COMMANDS)
    parser = build_parser()
    for name, rest in SOURCE_COMMANDS.items():
        assert parser.parse_args([name, "m", *rest, "--no-strict"]).no_strict is True
        assert parser.parse_args([name, "m", *rest]).no_strict is False


@pytest.mark.parametrize("source", ["/tmp/flaxjs-no-such-dir", "no/such/folder", "nope.json",
                                    "NOPE.JSON", "nope.keras", "nope.h5"])
@pytest.mark.parametrize("command", ["info", "predict", "convert"])
def test_a_path_is_never_looked_up_as_a_zoo_name(zoo_env, tmp_path, capsys, command, source):
    rest = {"predict": [str(tmp_path / "x.png")], "convert": [str(tmp_path / "out")]}
    assert main([command, source, *rest.get(command, [])]) == 1
    err = capsys.readouterr().err
    assert err == f"flaxjs {command}: error: no such file or folder: {source}\n"


def test_a_plain_name_is_a_zoo_name(zoo_env, capsys):
    assert main(["info", "no_such_model"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("flaxjs info: error: ") and "no_such_model" in err


def _broken_copy(dest: Path) -> Path:
    """SHARDED plus one manifest weight that no layer has (4 more bytes in a new shard)."""
    for path in model_files(SHARDED):
        shutil.copyfile(path, dest / path.name)
    spec = json.loads((dest / "model.json").read_text())
    spec["weightsManifest"].append({"paths": ["extra.bin"], "weights": [
        {"name": "no_such_layer/kernel", "shape": [1], "dtype": "float32"}]})
    (dest / "model.json").write_text(json.dumps(spec))
    (dest / "extra.bin").write_bytes(np.float32([1]).tobytes())
    return dest


@needs_corpus
def test_no_strict_loads_what_strict_refuses(tmp_path, capsys):
    source = str(_broken_copy(tmp_path))
    assert main(["info", source]) == 1
    assert "no_such_layer/kernel" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="no_such_layer/kernel"):
        assert main(["info", source, "--no-strict"]) == 0
    with pytest.warns(UserWarning, match="no_such_layer/kernel"):
        assert main(["convert", source, str(tmp_path / "out"), "--no-strict"]) == 0


@needs_corpus
def test_convert_refuses_a_non_empty_folder_and_counts_what_it_writes(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["convert", str(SHARDED), str(out), "--shard-bytes", "400"]) == 0
    written = capsys.readouterr().out
    shards = sorted(out.glob("*.bin"))
    assert len(shards) > 2
    assert f"wrote {out / 'model.json'} and {len(shards)} weight file(s)" in written

    assert main(["convert", str(SHARDED), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("flaxjs convert: error: ") and "--force" in err
    (out / "notes.txt").write_text("mine")
    assert main(["convert", str(SHARDED), str(out), "--force"]) == 0  # one 4 MiB shard now
    assert "and 1 weight file(s)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["group1-shard1of1.bin", "model.json",
                                                     "notes.txt"]
    (tmp_path / "file").write_text("")
    assert main(["convert", str(SHARDED), str(tmp_path / "file")]) == 1
    assert "is a file" in capsys.readouterr().err


def _images(folder: Path, count: int = 2) -> list[str]:
    image = pytest.importorskip("PIL.Image")
    paths = []
    for i in range(count):
        pixels = np.random.default_rng(i).integers(0, 256, (224, 224, 3), dtype=np.uint8)
        paths.append(str(folder / f"im{i}.png"))
        image.fromarray(pixels).save(paths[-1])
    return paths


@needs_corpus
def test_predict_needs_preprocessing_and_recognises_a_zoo_model_by_its_hash(
        zoo_env, tmp_path, capsys):
    paths = _images(tmp_path)
    assert main(["predict", str(MOBILENET), *paths]) == 1
    err = capsys.readouterr().err
    assert err.startswith("flaxjs predict: error: no preprocessing is known") and "--scale" in err

    # the flags say how: (x / 127.5) - 1, as the mobilenet card's (x - 127.5) / 127.5
    assert main(["predict", str(MOBILENET), *paths, "--json", "--scale",
                 str(1 / 127.5), "--mean", "1", "--size", "224", "224"]) == 0
    by_flags = json.loads(capsys.readouterr().out)
    assert all(label.isdigit() for pairs in by_flags.values() for label, _ in pairs)

    # a copy of a zoo model (here pinned in the cache at its first download) gets its card
    name = "mobilenet_v1_0.25_224"
    pins = cache.Pins(cache.model_dir(name))
    pins.set("model.json", sha256=cache.sha256_file(MOBILENET / "model.json"), size=0,
             pinned_by="test", source="test", stamp=[0, 0])
    pins.save()
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in model_files(MOBILENET):
        shutil.copyfile(path, copy / path.name)
    assert main(["predict", str(copy), *paths, "--json"]) == 0
    by_card = json.loads(capsys.readouterr().out)
    labels = (registry.cards_folder() / "imagenet_classes.txt").read_text().splitlines()
    for path in paths:
        assert [label for label, _ in by_card[path]] == [labels[int(i)] for i, _ in
                                                         by_flags[path]]
        np.testing.assert_allclose([s for _, s in by_card[path]],
                                   [s for _, s in by_flags[path]], atol=1e-5)


@needs_corpus
def test_predict_refuses_a_text_model(tmp_path, capsys):
    paths = _images(tmp_path, 1)
    assert main(["predict", str(TEXT), *paths]) == 1
    err = capsys.readouterr().err
    assert err.startswith("flaxjs predict: error: ") and "is not an image model" in err
    assert main(["predict", str(TEXT), *paths, "--scale", "1"]) == 1
    assert "is not an image model" in capsys.readouterr().err


def test_help_runs_as_a_console_script():
    done = subprocess.run([sys.executable, "-m", "flaxjs", "predict", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--no-strict" in done.stdout and "--scale" in done.stdout
