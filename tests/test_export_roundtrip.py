"""``flaxjs.save(flaxjs.load(src), out)`` keeps every weight's bytes and the outputs.

For every wild corpus model: the re-loaded variables are byte-identical (same
dtypes, int32 embeddings included), the manifest keeps the original names and
order, the weight stream is byte-identical when the source was not quantized
(quantized sources are written as the float32 values TF.js decoded from them),
and the outputs on the reference inputs are identical.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from corpus import CORPUS, cases, inputs, reference

import flaxjs
from flaxjs.errors import UnsupportedLayerError
from flaxjs.matching import flatten

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


def _load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flaxjs.load(path)


def _entries(model_json):
    return [w for g in model_json.get("weightsManifest") or [] for w in g["weights"]
            if w.get("group") != "optimizer"]


def _stream(folder, model_json):
    return b"".join((folder / p).read_bytes()
                    for g in model_json["weightsManifest"] for p in g["paths"])


def _outputs(model, xs):
    y = model(*xs)
    return [np.asarray(v) for v in (y if isinstance(y, list) else [y])]


@pytest.mark.parametrize("case", cases("wild"))
def test_round_trip_is_byte_identical(tmp_path, case):
    src = CORPUS / "wild" / case
    try:
        model = _load(src)
    except UnsupportedLayerError as err:  # a converter another family is still writing
        pytest.skip(str(err).splitlines()[0])
    flaxjs.save(model, tmp_path)
    again = _load(tmp_path)
    before, after = dict(flatten(model.variables)), dict(flatten(again.variables))
    assert before.keys() == after.keys()
    for path, value in before.items():
        a, b = np.asarray(value), np.asarray(after[path])
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), "/".join(path)

    original = json.loads((src / "model.json").read_text())
    written = json.loads((tmp_path / "model.json").read_text())
    assert [w["name"] for w in _entries(written)] == [w["name"] for w in _entries(original)]
    if not any("quantization" in w for w in _entries(original)):
        assert _stream(tmp_path, written) == _stream(src, original)

    xs = inputs(src, reference(src))
    for y0, y1 in zip(_outputs(model, xs), _outputs(again, xs)):
        np.testing.assert_array_equal(y0, y1)
