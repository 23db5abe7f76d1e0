"""Keras ``.keras`` and ``.h5`` files as sources, checked against Keras's own outputs.

The fixtures in ``tests/references/keras_files`` are made by
``tools/keras_files_references/make.py`` (Keras 3.15 and tf-keras 2.21); every case folder
under ``tests/references/keras`` that holds a ``model.keras`` or ``model.h5`` is checked
the same way. Each file passes when ``max|y - ref| <= 1e-4 * max(1, max|ref|)``.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

import h5py  # the test extra installs it
import numpy as np
import pytest
from corpus import KERAS_REFERENCES, ROOT, TOLERANCE, expected_outputs, inputs, max_error, reference
from httpserver import serve

import flaxjs
from flaxjs.errors import ModelFormatError, SourceError, UnsafePathError, UnsupportedLayerError
from flaxjs.io import keras_file

KERAS_FILES = ROOT / "tests" / "references" / "keras_files"
NOT_TFJS = KERAS_FILES / "not-tfjs"
MODEL_FILES = ("model.keras", "model.h5")
#: Keras 3 configs of nested models do not parse yet (issue #15, item 1).
NESTED_KERAS3 = {("nested-models", "model.keras"), ("nested-models", "model.h5")}


def _cases() -> list[tuple[Path, str]]:
    found = []
    for root in (KERAS_FILES, KERAS_REFERENCES):
        for case in sorted(p for p in root.iterdir() if (p / "reference.json").is_file()):
            found += [(case, f) for f in MODEL_FILES if (case / f).is_file()]
    return found


CASES = _cases()
OWN_CASES = [(c, f) for c, f in CASES if c.parent == KERAS_FILES]


def _param(case: Path, file: str):
    marks = [pytest.mark.xfail(strict=True, reason="Keras 3 nested-model topology, issue #15 "
                               "item 1")] if (case.name, file) in NESTED_KERAS3 else []
    return pytest.param(case, file, id=f"{case.name}/{file}", marks=marks)


def _check(model, case: Path) -> None:
    ref = reference(case)
    outputs = model(*inputs(case, ref))
    outputs = outputs if isinstance(outputs, list) else [outputs]
    expected = expected_outputs(case, ref)
    assert len(outputs) == len(expected)
    errors = [max_error(np.asarray(y), want) for y, want in zip(outputs, expected, strict=True)]
    assert max(errors) <= TOLERANCE, f"relative errors {errors}"


def test_own_cases_present():
    """Keras 3 .keras and .h5 and tf-keras .h5 files, whatever tests/references/keras holds."""
    names = {(c.name, f) for c, f in OWN_CASES}
    assert {("sequential-conv-bn-dense", "model.keras"), ("functional-text-rnn", "model.keras"),
            ("functional-text-rnn", "model.h5"), ("stacked-rnn-cells", "model.keras"),
            ("tf-keras-nested-rnn", "model.h5"),
            ("tf-keras-nested-models", "model.h5")} <= names


@pytest.mark.parametrize(("case", "file"), [_param(c, f) for c, f in CASES])
def test_keras_file_matches_keras(case, file):
    _check(flaxjs.load(case / file), case)


def _own_keras3_cases() -> list[Path]:
    return [c for c, f in OWN_CASES if f == "model.keras" and (c / "model.h5").is_file()]


def _legacy_positions(h5_weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Keras's legacy names ``<object path>/<variable>`` as ``<object path>/vars/<i>``."""
    out, counts = {}, {}
    for name, value in h5_weights.items():
        owner = name.rsplit("/", 1)[0]
        counts[owner] = counts.get(owner, -1) + 1
        out[f"{owner}/vars/{counts[owner]}"] = value
    return out


def _model_names(entry: dict) -> set[str]:
    """Names of the model and of every model nested in it (from its config)."""
    if entry.get("class_name") not in ("Sequential", "Functional", "Model"):
        return set()
    config = entry["config"]
    layers = config["layers"] if isinstance(config, dict) else config
    return {config.get("name", "")}.union(*(_model_names(e) for e in layers))


@pytest.mark.parametrize("case", _own_keras3_cases(), ids=lambda c: c.name)
def test_keras3_positions_name_the_same_objects_as_keras(case):
    """A .keras file's ``vars/<i>`` get the object paths Keras itself names (its legacy .h5 of
    the same model): layers, nested models, RNN cells, Bidirectional halves, projections.
    Keras's legacy names include a Sequential's name but not a Functional's, so model names
    are left out on both sides."""
    _, positions = keras_file.read_keras(str(case / "model.keras"), "model.keras")
    model_json, legacy = keras_file.read_h5(str(case / "model.h5"), "model.h5")
    models = _model_names(model_json["modelTopology"]["model_config"])

    def without_models(name: str) -> str:
        return "/".join(p for p in name.split("/") if p not in models)

    expected = {without_models(k): v for k, v in _legacy_positions(legacy).items()}
    got = {without_models(k): v for k, v in positions.items()}
    assert len(got) == len(positions) and len(expected) == len(legacy)
    assert sorted(got) == sorted(expected)
    for name, value in got.items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)


@pytest.mark.parametrize("case", ["sequential-conv-bn-dense", "nested-models"])
def test_keras3_positions_without_saved_names(case):
    """Older Keras 3 files lack the ``name`` attribute on ``vars`` groups: the layer a
    ``layers/<class key>`` holds is then taken from the config."""
    with zipfile.ZipFile(KERAS_FILES / case / "model.keras") as z:
        config = json.loads(z.read("config.json"))
        data = io.BytesIO(z.read("model.weights.h5"))
    with h5py.File(data, "a") as f:
        groups: list = []
        f.visititems(lambda _, obj: groups.append(obj))
        for obj in groups:
            if "name" in obj.attrs:
                del obj.attrs["name"]
        assert not any("name" in obj.attrs for obj in groups)
    with h5py.File(data, "r") as f:
        bare = keras_file.keras3_weights(f, config, "model.keras")
    _, named = keras_file.read_keras(str(KERAS_FILES / case / "model.keras"), "model.keras")
    assert sorted(bare) == sorted(named)


def test_keras_file_recognised_by_content_not_name(tmp_path):
    case = KERAS_FILES / "sequential-conv-bn-dense"
    for file in MODEL_FILES:
        folder = tmp_path / file.replace(".", "_")
        folder.mkdir()
        shutil.copy(case / file, folder / "model.json")
        _check(flaxjs.load(folder), case)  # the folder's model.json is a Keras file
    _check(flaxjs.load((case / "model.keras").read_bytes()), case)  # bytes in memory
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(case / "model.keras", alone / "model.keras")
    _check(flaxjs.load(alone), case)  # a folder with one Keras file and no model.json
    unzipped = tmp_path / "unzipped"  # what model.save(folder, zipped=False) writes
    with zipfile.ZipFile(case / "model.keras") as z:
        for name in ("config.json", "metadata.json", "model.weights.h5"):
            (unzipped / name).parent.mkdir(exist_ok=True)
            (unzipped / name).write_bytes(z.read(name))
    _check(flaxjs.load(unzipped), case)


def test_convert_keras_file_runs_in_tfjs(tmp_path):
    """``flaxjs convert model.keras OUT`` writes a folder that TF.js 4.22 loads and runs as
    Keras does (the converter a web developer would otherwise install TensorFlow for)."""
    import tfjs_node

    from flaxjs.cli import main

    if not tfjs_node.available():
        pytest.skip("node/npm or the TF.js tools are missing")
    for case, file in [(KERAS_FILES / "sequential-conv-bn-dense", "model.keras"),
                       (KERAS_FILES / "sequential-conv-bn-dense", "model.h5"),
                       (KERAS_FILES / "tf-keras-nested-rnn", "model.h5")]:
        out = tmp_path / case.name / file
        assert main(["convert", str(case / file), str(out)]) == 0
        ref = reference(case)
        got = tfjs_node.tfjs_predict(out, inputs(case, ref), tmp_path)
        for y, want in zip(got, expected_outputs(case, ref), strict=True):
            assert max_error(y, want) <= TOLERANCE, case.name


# ---------------------------------------------------------------------------- refusals
def test_missing_h5py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py raises ImportError
    with pytest.raises(SourceError, match=r'pip install "flaxjs\[keras\]"'):
        flaxjs.load(KERAS_FILES / "sequential-conv-bn-dense" / "model.keras")


def test_weights_only_h5_says_to_load_the_model_file():
    with pytest.raises(ModelFormatError, match=r"without a 'model_config'.*model\.save"):
        flaxjs.load(NOT_TFJS / "weights-only.weights.h5")


@pytest.mark.parametrize(("path", "says"), [
    ("saved_model/saved_model.pb", "SavedModel.*tensorflowjs_converter"),
    ("saved_model", "SavedModel.*tensorflowjs_converter"),  # the folder
    ("model.tflite", "TensorFlow Lite"),
])
def test_other_model_formats_say_what_they_are(path, says):
    with pytest.raises(ModelFormatError, match=says):
        flaxjs.load(NOT_TFJS / path)


@pytest.mark.parametrize("name", ["model.json", "model.onnx"])
def test_onnx_says_what_it_is(tmp_path, name):
    # ModelProto: ir_version 8, producer_name "pytorch" (protobuf fields 1 and 2)
    (tmp_path / name).write_bytes(b"\x08\x08\x12\x07pytorch\x1a\x052.1.0" + bytes(64))
    with pytest.raises(ModelFormatError, match="ONNX"):
        flaxjs.load(tmp_path / name)


@pytest.mark.parametrize("name", ["model.tflite", "saved_model/saved_model.pb"])
def test_other_formats_named_model_json(tmp_path, name):
    shutil.copy(NOT_TFJS / name, tmp_path / "model.json")
    with pytest.raises(ModelFormatError, match="TensorFlow"):
        flaxjs.load(tmp_path / "model.json")


def test_binary_junk_is_not_a_unicode_error(tmp_path):
    (tmp_path / "model.json").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ModelFormatError, match="binary file"):
        flaxjs.load(tmp_path / "model.json")


def _rezip(tmp_path: Path, extra: dict[str, bytes], drop: tuple[str, ...] = ()) -> Path:
    source = KERAS_FILES / "sequential-conv-bn-dense" / "model.keras"
    target = tmp_path / "model.keras"
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, "w") as out:
        for info in z.infolist():
            if info.filename not in drop:
                out.writestr(info, z.read(info))
        for name, data in extra.items():
            out.writestr(name, data)
    return target


def test_keras_zip_members_are_read_by_name_only(tmp_path):
    """Members with paths that leave the folder are ignored; nothing is extracted."""
    work = tmp_path / "work"
    work.mkdir()
    path = _rezip(work, {"../escaped.txt": b"x", "/abs.txt": b"y", "assets/a.py": b"import os"})
    before = sorted(p.name for p in tmp_path.rglob("*"))
    _check(flaxjs.load(path), KERAS_FILES / "sequential-conv-bn-dense")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_keras_zip_without_a_member_says_what_it_needs(tmp_path, member):
    with pytest.raises(ModelFormatError, match=rf"no {member}.*model\.save"):
        flaxjs.load(_rezip(tmp_path, {}, drop=(member,)))


def test_keras_zip_member_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_file, "MAX_JSON_BYTES", 100)
    with pytest.raises(ModelFormatError, match=r"config\.json is .* bytes, over the 100-byte"):
        flaxjs.load(KERAS_FILES / "sequential-conv-bn-dense" / "model.keras")


def test_lambda_bytecode_is_refused_never_run(tmp_path, monkeypatch):
    """The Lambda's bytecode would create LAMBDA_RAN in the working folder if it ran."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnsupportedLayerError, match="Lambda"):
        flaxjs.load(NOT_TFJS / "lambda.keras")
    assert not (tmp_path / "LAMBDA_RAN").exists()


def test_keras_file_over_http(tmp_path):
    case = KERAS_FILES / "sequential-conv-bn-dense"
    with serve(case) as server:
        model = flaxjs.load(f"{server.url}/model.keras")
    _check(model, case)


def test_h5_links_to_other_files_are_refused(tmp_path):
    """An HDF5 external link would make flaxjs read a file the model names."""
    path = tmp_path / "model.h5"
    shutil.copy(KERAS_FILES / "tf-keras-nested-models" / "model.h5", path)
    with h5py.File(tmp_path / "elsewhere.h5", "w") as other:
        other["kernel"] = np.zeros((6, 5), np.float32)
    with h5py.File(path, "a") as f:
        layer = f["model_weights"][f["model_weights"].attrs["layer_names"][1]]
        name = layer.attrs["weight_names"][0]
        name = name.decode() if isinstance(name, bytes) else name
        del layer[name]
        layer[name] = h5py.ExternalLink(str(tmp_path / "elsewhere.h5"), "kernel")
    with pytest.raises(UnsafePathError, match="links to another file"):
        flaxjs.load(path)


def test_zipped_tfjs_folder_says_to_unzip(tmp_path):
    case = KERAS_REFERENCES / "einsum-dense"
    with zipfile.ZipFile(tmp_path / "model.zip", "w") as z:
        for path in ("model.json", "group1-shard1of1.bin"):
            z.write(case / path, f"einsum/{path}")
    with pytest.raises(ModelFormatError, match=r"holds a TF\.js model.*unzip it"):
        flaxjs.load(tmp_path / "model.zip")
