"""Record TF.js's outputs for every op sample of flaxjs's graph-op registry.

    python tools/graph_op_references/make_references.py [--family conv ...] [--op Conv2D ...]

Each :class:`flaxjs.graph.ops.registry.OpSample` becomes a one-node graph model
(``flaxjs.graph.ops.sample_graph``); ``run_cases.js`` loads it with
``tf.loadGraphModel`` on TF.js 4.22's pure-JS CPU backend and runs ``execute`` (or
``executeAsync``). The models, inputs and outputs go into
``tests/references/graph_ops/<family>.json``, which ``tests/test_graph_ops.py``
reads. Cases of other families (or ops) in an existing file are kept.

TF.js comes from the tests' private copy of the tfjs-oracle tool (``npm ci`` in a
cache folder, see ``tests/tfjs_node.py``).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flaxjs.graph.ops import registry, sample_graph  # noqa: E402

OUT = ROOT / "tests" / "references" / "graph_ops"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", action="append", default=[], help="only these op families")
    ap.add_argument("--op", action="append", default=[], help="only these ops")
    args = ap.parse_args(argv)
    import tfjs_node  # the tests' helper: a private TF.js install

    chosen = [r for r in registry.registrations()
              if (not args.family or r.family in args.family)
              and (not args.op or set(r.names) & set(args.op))]
    by_family: dict[str, dict[str, dict]] = {}
    specs = {}
    for case_id, (registration, sample) in sample_graph.cases(chosen).items():
        model, weights, feeds, outputs = sample_graph.build_case(registration, sample, case_id)
        specs[case_id] = {
            "model": model, "weights": base64.b64encode(weights).decode(),
            "feeds": [{"name": k, **sample_graph.encode_array(v)} for k, v in feeds.items()],
            "outputs": outputs}
        by_family.setdefault(registration.family, {})[case_id] = specs[case_id]
    results = tfjs_node.run_graph_cases(specs)
    OUT.mkdir(parents=True, exist_ok=True)
    for family, cases in sorted(by_family.items()):
        path = OUT / f"{family}.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        for case_id, spec in cases.items():
            stored[case_id] = {**spec, "tfjs": results[case_id]}
        path.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n")
        errors = [c for c in cases if "error" in results[c]]
        print(f"{family}: {len(cases)} case(s), {len(errors)} TF.js error(s)"
              + (": " + "; ".join(f"{c}: {results[c]['error'][:120]}" for c in errors)
                 if errors else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
