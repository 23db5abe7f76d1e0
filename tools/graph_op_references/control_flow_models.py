"""Record TF.js's ``executeAsync`` outputs for real control-flow graphs of the corpus.

    python tools/graph_op_references/control_flow_models.py

``rnn-graph-string-input`` (a Keras ``Bidirectional(LSTM)`` text classifier, converted
by the TF.js 3.17 converter) keeps each LSTM as a TF1 while loop: ``Enter``/``Merge``/
``Switch``/``NextIteration``/``Exit`` frames that carry ``TensorList`` handles. Its
text preprocessing (``StringLower``, ``StringSplitV2``, a hash-table lookup, a ragged
tensor) has no JAX counterpart, so :func:`rnn_from_token_ids` cuts it off: the
``RaggedTensorToTensor`` node, which gives the token ids, becomes an int32
``Placeholder``. TF.js runs that graph too; ``run_cases.js`` records its outputs
(``execute`` fails on the loops, so it uses ``executeAsync``) for token ids of several
lengths, with padding (id 0, masked by the LSTM).

The references (feeds and TF.js outputs; the weights stay in the corpus) go into
``tests/references/graph_control_flow.json``, which ``tests/test_graph_control_flow.py``
reads.
"""

from __future__ import annotations

import base64
import copy
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "references" / "graph_control_flow.json"
RNN = "graph/rnn-graph-string-input"
#: the node giving the token ids, after the text preprocessing.
TOKENS = "StatefulPartitionedCall/sequential/text_vectorization/RaggedToTensor/RaggedTensorToTensor"


def rnn_from_token_ids(model_json: dict[str, Any]) -> dict[str, Any]:
    """The rnn corpus model fed with token ids: the ``RaggedTensorToTensor`` node becomes
    an int32 ``[batch, steps]`` Placeholder, the signature's input."""
    out = copy.deepcopy(model_json)
    shape = {"dim": [{"size": "-1"}, {"size": "-1"}]}
    for node in out["modelTopology"]["node"]:
        if node["name"] == TOKENS:
            node.clear()
            node.update({"name": TOKENS, "op": "Placeholder",
                         "attr": {"dtype": {"type": "DT_INT32"}, "shape": {"shape": shape}}})
    out["signature"]["inputs"] = {"tokens": {"name": f"{TOKENS}:0", "dtype": "DT_INT32",
                                             "tensorShape": shape}}
    return out


def rnn_feeds() -> dict[str, np.ndarray]:
    """Token ids: a full row, a padded row, a row of padding only; one-step and long runs."""
    rng = np.random.default_rng(7)
    batch = rng.integers(1, 1000, (3, 6)).astype(np.int32)
    batch[1, 3:] = 0
    batch[2, :] = 0
    return {"batch": batch,
            "one-step": rng.integers(1, 1000, (1, 1)).astype(np.int32),
            "long": rng.integers(0, 1000, (2, 40)).astype(np.int32)}


def corpus_dir(shared: Path) -> Path:
    return shared / "corpus" / RNN


def load_rnn(shared: Path) -> tuple[dict[str, Any], bytes]:
    """The transformed model.json and its weight bytes (one shard)."""
    folder = corpus_dir(shared)
    model_json = json.loads((folder / "model.json").read_text())
    paths = [p for group in model_json["weightsManifest"] for p in group["paths"]]
    data = b"".join((folder / p).read_bytes() for p in paths)
    return rnn_from_token_ids(model_json), data


def main() -> int:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    import corpus  # the tests' helper: where the shared corpus is
    import tfjs_node  # the tests' helper: a private TF.js install

    model, data = load_rnn(corpus.SHARED)
    specs = {}
    feeds = rnn_feeds()
    sys.path.insert(0, str(ROOT))
    from flaxjs.graph.ops import sample_graph

    for name, tokens in feeds.items():
        specs[f"rnn-{name}"] = {
            "model": model, "weights": base64.b64encode(data).decode(),
            "feeds": [{"name": TOKENS, **sample_graph.encode_array(tokens)}],
            "outputs": ["Identity"]}
    results = tfjs_node.run_graph_cases(specs)
    stored = {case: {"corpus": RNN, "transform": "rnn_from_token_ids",
                     "feeds": spec["feeds"], "outputs": spec["outputs"],
                     "tfjs": results[case]} for case, spec in specs.items()}
    OUT.write_text(json.dumps(stored, indent=1) + "\n")
    errors = [c for c in stored if "error" in results[c]]
    print(f"{len(stored)} case(s), {len(errors)} TF.js error(s)"
          + ("".join(f"\n  {c}: {results[c]['error'][:300]}" for c in errors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
