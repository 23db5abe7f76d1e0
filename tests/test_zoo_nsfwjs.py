"""The real nsfwjs@4.4.0 package, fetched with the machine's ``npm pack``.

Both Layers models are unwrapped from their UMD JavaScript modules (no JavaScript
runs) and must match the TF.js references in ``../shared/corpus/wild/nsfwjs-*``:
the same weight bytes, and the same outputs for the same inputs.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess

import numpy as np
import pytest

from corpus import CORPUS, TOLERANCE, expected_outputs, inputs, max_error, reference
from flaxjs import zoo
from flaxjs.io.source import from_path
from flaxjs.zoo import cache

CASES = {"nsfwjs_mobilenet_v2": CORPUS / "wild" / "nsfwjs-mobilenet-v2-uint8",
         "nsfwjs_inception_v3": CORPUS / "wild" / "nsfwjs-inception-v3"}


@functools.lru_cache(maxsize=1)
def _npm_unavailable() -> str | None:
    """Why the real package cannot be fetched here, or ``None``."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    try:
        done = subprocess.run([npm, "view", "nsfwjs@4.4.0", "version"], capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"npm could not run: {err}"
    if done.returncode != 0 or "4.4.0" not in done.stdout:
        return ("npm cannot reach its registry for nsfwjs@4.4.0: "
                + (done.stderr.strip().splitlines() or ["no answer"])[-1])
    return None


@pytest.fixture(scope="module")
def nsfwjs_home(tmp_path_factory):
    reason = _npm_unavailable()
    if reason:
        pytest.skip(reason)
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    home = tmp_path_factory.mktemp("nsfwjs-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLAXJS_HOME", str(home))
        mp.setenv("FLAXJS_NPM", "")
        mp.delenv("FLAXJS_ZOO_MIRROR", raising=False)
        mp.delenv("FLAXJS_OFFLINE", raising=False)
        yield mp


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_nsfwjs_from_npm_matches_tfjs(nsfwjs_home, name):
    case = CASES[name]
    model = zoo.load(name, progress=False)
    folder = cache.model_dir(name)
    pins = json.loads((folder / cache.PINS_FILE).read_text())["files"]
    assert all(p["source"].startswith("npm pack nsfwjs@4.4.0") for p in pins.values())
    assert all(p["pinned_by"] == "card" for p in pins.values())
    # unwrapped without JavaScript: the same topology and weight bytes as the corpus copy
    unwrapped = from_path(str(folder))
    corpus_json = json.loads((case / "model.json").read_text())
    assert unwrapped.model_json["modelTopology"] == corpus_json["modelTopology"]
    assert unwrapped.model_json["weightsManifest"] == corpus_json["weightsManifest"]
    for path in corpus_json["weightsManifest"][0]["paths"]:
        assert unwrapped.read_shard(path) == (case / path).read_bytes()
    # same inputs, same outputs as TF.js
    ref = reference(case)
    out = np.asarray(model(*inputs(case, ref)))
    assert max_error(out, expected_outputs(case, ref)[0]) <= TOLERANCE
    assert model.labels == ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"]
    top = model.decode(out, top=5)
    assert len(top) == 2 and all(len(pairs) == 5 for pairs in top)
    size = 299 if "inception" in name else 224
    image = np.random.default_rng(0).integers(0, 256, (200, 260, 3), dtype=np.uint8)
    x = model.preprocess(image)
    assert x.shape == (1, size, size, 3)
    _, captured = model.apply(model.variables, x, capture=list(model.card.cut_points))
    assert set(captured) == set(model.card.cut_points)  # the suggested cut points exist
