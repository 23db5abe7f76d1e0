"""Corpus references that captured a TF.js bug: flaxjs matches TF.js run without the bug.

``lyrics-char-lstm`` has a 31 KB first shard and a 389 KB last one. TF.js's
``CompositeArrayBuffer`` locates a byte by ``floor(offset / first shard size)``
when all shards but the last share a size, so weights past that point decode as
zeros when the shards come as separate buffers (the HTTP loader, which made the
reference). Loaded from one concatenated buffer, TF.js gives flaxjs's result.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import flaxjs
import tfjs_node
from corpus import CORPUS, max_error

CASE = CORPUS / "wild" / "lyrics-char-lstm"
SCRIPT = Path(__file__).parent / "js" / "predict_from_memory.js"

pytestmark = pytest.mark.skipif(not CASE.is_dir(), reason="../shared/corpus is not present")


@pytest.mark.skipif(not tfjs_node.available(), reason="node/npm not available")
def test_lyrics_matches_tfjs_loaded_from_one_buffer(tmp_path):
    x = CASE / "ref" / "in_0.npy"
    env = dict(os.environ, NODE_PATH=str(tfjs_node.tool_dir() / "node_modules"))
    subprocess.run(["node", str(SCRIPT), str(CASE), str(tmp_path), str(x)], check=True,
                   capture_output=True, env=env)
    tfjs = np.load(tmp_path / "out_0.npy")
    ours = np.asarray(flaxjs.load(CASE)(np.load(x)))
    assert max_error(ours, tfjs) <= 1e-4


def test_lyrics_reference_is_the_model_with_the_bug_zeroed_weights():
    model = flaxjs.load(CASE)
    variables = {c: {k: dict(v) for k, v in t.items()} for c, t in model.variables.items()}
    lstm = variables["params"]["lstm_1"]
    lstm["recurrent_kernel"] = np.zeros_like(lstm["recurrent_kernel"])
    lstm["bias"] = np.zeros_like(lstm["bias"])
    out = model.apply(variables, np.load(CASE / "ref" / "in_0.npy"))
    assert max_error(np.asarray(out), np.load(CASE / "ref" / "out_0.npy")) <= 1e-4
