"""Write ``flaxjs/graph/tfjs_ops.json``: every op TF.js 4.22's converter knows, by category.

    python tools/graph_op_references/tfjs_op_list.py

Read from ``@tensorflow/tfjs-converter``'s ``dist/operations/op_list/*.js`` in the
tests' private TF.js install (``tests/tfjs_node.py``). ``flaxjs.graph.coverage``
compares the op registry with this list to write ``docs/graph-ops.md``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests")]

OUT = ROOT / "flaxjs" / "graph" / "tfjs_ops.json"
OP = re.compile(r"'tfOpName':\s*'([^']+)'")
CATEGORY = re.compile(r"'category':\s*'([^']+)'")


def main() -> int:
    import tfjs_node

    folder = (tfjs_node.tool_dir() / "node_modules" / "@tensorflow" / "tfjs-converter" / "dist"
              / "operations" / "op_list")
    version = json.loads((folder.parents[2] / "package.json").read_text())["version"]
    by_category: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.js")):
        for chunk in path.read_text().split("'tfOpName'")[1:]:
            op = OP.match("'tfOpName'" + chunk)
            assert op, chunk[:200]
            entry = chunk.split("'tfOpName'")[0].split("\n    }")[0]
            category = CATEGORY.search(entry)  # tfdf's entries have none: the file's name
            by_category.setdefault(category.group(1) if category else path.stem, []).append(
                op.group(1))
    total = sum(len(v) for v in by_category.values())
    OUT.write_text(json.dumps({"tfjs_converter": version, "ops": by_category}, indent=1) + "\n")
    print(f"{total} ops in {len(by_category)} categories (tfjs-converter {version}) -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
