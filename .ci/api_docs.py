"""Build the API reference (pdoc, from the docstrings) into the folder given; any pdoc warning
about flaxjs's own code (a module that does not import, an annotation or docstring it cannot
read) fails the build.

Usage: python .ci/api_docs.py OUT
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pdoc

# the public API; the converter registries (one module per Keras class family / TF op
# family) are documented in docs/coverage.md and docs/graph-ops.md instead
MODULES = ["flaxjs", "!flaxjs.layers.", "!flaxjs.graph.ops."]
# pdoc cannot evaluate these third-party aliases (optax.OptState = ArrayTree, defined only
# under TYPE_CHECKING); that is no fault of the docstrings
THIRD_PARTY_ANNOTATIONS = ("Error parsing type annotation optax.",)


def main(out: str) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*MODULES, output_directory=Path(out))
    pdoc_dir = str(Path(pdoc.__file__).parent)
    problems = [str(w.message) for w in caught if w.filename.startswith(pdoc_dir)
                and not str(w.message).startswith(THIRD_PARTY_ANNOTATIONS)]
    for problem in problems:
        print(f"api docs: {problem}", file=sys.stderr)
    pages = len(list(Path(out).rglob("*.html")))
    print(f"API reference: {pages} pages in {out}" + (f", {len(problems)} problem(s)"
                                                      if problems else ""))
    return 1 if problems or not pages else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
