"""Every Python code block of README.md and docs/*.md runs, so no snippet goes stale.

The blocks of one file run in order in one namespace, in a scratch working folder,
with the zoo offline on a folder mirror of the corpus MobileNet v1 0.25. Only model
sources and the node names of the stand-in graph model are substituted
(:data:`SUBSTITUTIONS`); the reader's own data (``x``, ``images``, ``x_train``, ``y_train``) is
:func:`reader_data`. A block that cannot run here says so in the markdown, on the line
before its fence: ``<!-- not-run: why -->``; it is still compiled.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from corpus import CORPUS
from flaxjs.export.drift import DriftWarning

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MOBILENET = CORPUS / "wild" / "mobilenet-v1-0.25-224"
GRAPH = CORPUS / "graph" / "nsfwjs-mobilenet-v2-mid"
_NODE = ("StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/"
         "StatefulPartitionedCall/StatefulPartitionedCall/predict/MobilenetV2/")

#: text in the docs → what runs here (longest first; each must occur in some block)
SUBSTITUTIONS = {
    "https://example.com/mobilenet/model.json": str(MOBILENET),
    "path/to/model.json": str(MOBILENET),
    "path/to/graph-model/": str(GRAPH),
    'zoo.load("mobilenet")': 'zoo.load("mobilenet_v1_0.25_224")',
    'zoo.fetch("mobilenet")': 'zoo.fetch("mobilenet_v1_0.25_224")',
    "StatefulPartitionedCall/model/block_16/Relu6": _NODE + "expanded_conv_16/expand/Relu6",
    "*/block_16/*": "*/expanded_conv_16/*",
    "block_5/Relu6": _NODE + "expanded_conv_5/expand/Relu6",
    "block_12/Relu6": _NODE + "expanded_conv_12/expand/Relu6",
}

_FENCE = re.compile(r"(?:<!-- not-run: (?P<why>[^>]*?) -->\n)?```python\n(?P<code>.*?)```",
                    re.DOTALL)


def blocks(path: Path) -> list[tuple[str, str | None]]:
    """``(code, reason it is not run or None)`` for each Python block of a markdown file."""
    return [(m["code"], m["why"]) for m in _FENCE.finditer(path.read_text(encoding="utf-8"))]


def substituted(code: str) -> str:
    for old, new in SUBSTITUTIONS.items():
        code = code.replace(old, new)
    return code


def reader_data() -> dict[str, np.ndarray]:
    """What a reader brings: images for MobileNet-sized models, 3 classes as class ids."""
    rng = np.random.default_rng(0)
    floats = lambda n: rng.uniform(-1, 1, (n, 224, 224, 3)).astype(np.float32)  # noqa: E731
    return {"x": floats(2), "images": rng.integers(0, 256, (2, 224, 224, 3), np.uint8),
            "x_train": floats(10), "y_train": rng.integers(0, 3, 10).astype(np.int32)}


def _documents() -> list[Path]:
    return [p for p in DOCS if blocks(p)]


def test_substitutions_and_markers_are_current():
    every = "".join(code for p in DOCS for code, _ in blocks(p))
    assert [old for old in SUBSTITUTIONS if old not in every] == []
    for path in DOCS:
        for code, why in blocks(path):
            assert why is None or why.strip(), f"{path.name}: say why a block is not run"
            compile(code, str(path), "exec")


@pytest.mark.slow
@pytest.mark.skipif(not (MOBILENET / "model.json").is_file() or not GRAPH.is_dir(),
                    reason="the corpus models the snippets run on are not present")
@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.name)
def test_snippets_run(path, mobilenet_mirror, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"snippets_{path.stem}", **reader_data()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DriftWarning)  # the docs show lossy exports on purpose
        for i, (code, why) in enumerate(blocks(path)):
            if why is None:
                exec(compile(substituted(code), f"{path.name}[block {i}]", "exec"), namespace)
