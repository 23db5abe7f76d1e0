"""The layer coverage table, generated from the converter registry so it cannot drift.

``python -m flaxjs.coverage REFERENCES... > docs/coverage.md`` rewrites the
published table; each ``REFERENCES`` folder holds reference cases (a folder with
``model.json`` and ``reference.json``, at any depth), and the table lists, per
class, the cases that use it. A test checks that the committed file equals this
output for the repository's own reference folders.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .layers import registry, unconverted

#: TF.js 4.22's npm package deserializes 69 classes (``registerClass`` calls reachable
#: from ``tfjs-layers``'s entry point): the registrations marked ``tfjs`` plus these.
TFJS_CLASS_COUNT = 69

_BUILT_IN = {
    "InputLayer": ("graph", "model inputs; shape from batch_input_shape / input_shape / Keras 3 "
                            "batch_shape, dtype from the config (never cast, as TF.js)"),
    "Sequential": ("graph", "list or {name, layers} config; nested as a sub-module"),
    "Model": ("graph", "functional graph; shared layers, nested models (node 0 is internal; "
                       "Keras 3 call events count a nested model's calls from 0), multiple "
                       "inputs/outputs, Keras 3 call events (tensors passed by keyword "
                       "included)"),
    "Functional": ("graph", "same as Model"),
}

#: how many case names a row shows before "…".
_SHOWN = 3


@dataclasses.dataclass(frozen=True)
class Case:
    """A reference case: ``corpus/folder`` and who made its outputs (``TF.js`` or ``Keras``)."""

    name: str
    by: str


@dataclasses.dataclass(frozen=True)
class Row:
    class_name: str
    tfjs: bool
    family: str
    notes: str
    cases: tuple[Case, ...]


def _class_names(value: Any) -> Iterator[str]:
    """Every ``class_name`` string in a topology, nested layers, cells and wrappers included."""
    if isinstance(value, Mapping):
        name = value.get("class_name")
        if isinstance(name, str):
            yield name
        for item in value.values():
            yield from _class_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _class_names(item)


def reference_cases(folders: Iterable[Path]) -> dict[str, list[Case]]:
    """Class name → the reference cases under ``folders`` whose model uses the class."""
    out: dict[str, list[Case]] = {}
    for root in folders:
        for ref_file in sorted(Path(root).rglob("reference.json")):
            case = ref_file.parent
            model_file = case / "model.json"
            if not model_file.is_file():
                continue
            by = json.loads(ref_file.read_text()).get("reference_by", "tfjs")
            topology = json.loads(model_file.read_text()).get("modelTopology")
            found = Case(f"{root.name}/{case.relative_to(root).as_posix()}",
                         "Keras" if by == "keras" else "TF.js")
            for name in sorted(set(_class_names(topology))):
                out.setdefault(name, []).append(found)
    return out


def rows(references: Mapping[str, Sequence[Case]] | None = None) -> list[Row]:
    """One row per registered or built-in class, sorted by name."""
    references = references or {}
    out = [Row(name, True, family, notes, tuple(references.get(name, ())))
           for name, (family, notes) in _BUILT_IN.items()]
    out += [Row(r.class_name, r.tfjs, r.family, _with_aliases(r.notes, r.aliases),
                tuple(references.get(r.class_name, ()))) for r in registry.registrations()]
    return sorted(out, key=lambda row: row.class_name)


def _with_aliases(notes: str, aliases: Sequence[str]) -> str:
    if not aliases:
        return notes
    return f"{notes} Also read as {', '.join(f'`{a}`' for a in aliases)}.".lstrip()


def _cases_cell(cases: Sequence[Case]) -> str:
    if not cases:
        return "**none**"
    counts = [f"{sum(c.by == by for c in cases)} {by}" for by in ("TF.js", "Keras")
              if any(c.by == by for c in cases)]
    names = ", ".join(f"`{c.name}`" for c in cases[:_SHOWN])
    return f"{' + '.join(counts)}: {names}" + (", …" if len(cases) > _SHOWN else "")


def markdown(references: Mapping[str, Sequence[Case]] | None = None) -> str:
    """The coverage table as Markdown."""
    table = rows(references)
    tfjs = [r for r in table if r.tfjs]
    extra = [r for r in table if not r.tfjs]
    proven = [r for r in table if r.cases]
    lines = [
        "# Layer coverage",
        "",
        "Generated from the converter registry by `python -m flaxjs.coverage "
        "../shared/corpus tests/references > docs/coverage.md`; do not edit.",
        "",
        f"flaxjs converts {len(tfjs)} of the {TFJS_CLASS_COUNT} classes TF.js 4.22 can load, "
        f"plus {len(extra)} Keras classes TF.js cannot load. Semantics follow TF.js for files "
        "TF.js loads; where TF.js has an outright bug and the corpus records the Keras result, "
        "flaxjs produces the Keras result (said in the notes). `Lambda` layers are never "
        "converted: their Python bytecode is not executed; register a converter instead.",
        "",
        f"{len(proven)} of the {len(table)} classes appear in reference cases whose outputs "
        "TF.js (or, for files TF.js cannot load, Keras) computed; the test suite compares "
        "flaxjs with every one of them. The *references* column counts them and names a few.",
        "",
        "| class | TF.js 4.22 | family | references | notes |",
        "|---|---|---|---|---|",
    ]
    for row in table:
        cells = (row.class_name, "yes" if row.tfjs else "no", row.family,
                 _cases_cell(row.cases), row.notes)
        lines.append(_row(cells))
    left_out = {name: why for name, why in unconverted.NOT_CONVERTED.items()
                if registry.registration(name) is None}
    lines += [
        "",
        "## Keras 3.15 classes not converted",
        "",
        f"Every class of `keras.layers` in Keras 3.15 that a saved model can hold has a "
        f"converter above, except these {len(left_out)}; a model using one fails to load "
        "with this reason.",
        "",
        "| class | why |",
        "|---|---|",
        *(_row((name, why)) for name, why in sorted(left_out.items())),
    ]
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m flaxjs.coverage [REFERENCE_FOLDER...]``: print the table."""
    folders = [Path(a) for a in (sys.argv[1:] if argv is None else argv)]
    print(markdown(reference_cases(folders)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
