"""``flaxjs convert SOURCE OUT [--quantize uint8]``: re-write a model for TF.js.

Loads SOURCE (a folder, model.json, Keras .keras/.h5 file, URL or zoo name) and saves it
with :func:`flaxjs.save`, e.g. to quantize a model or to turn a Keras file, without
TensorFlow, into a model TF.js loads. A :mod:`flaxjs.cli` subcommand module
(``HELP``, ``configure``, ``run``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a model as a TF.js Layers model (optionally quantized)"
TAKES_SOURCE = True


def configure(parser: argparse.ArgumentParser) -> None:
    """The ``convert`` arguments."""
    from ..export.quantize import DTYPES

    parser.add_argument("source", metavar="SOURCE",
                        help="model folder, model.json, Keras .keras/.h5 file, http(s) URL or "
                             "zoo name")
    parser.add_argument("out", metavar="OUT", help="output folder")
    parser.add_argument("--quantize", choices=DTYPES,
                        help="store float32 weights as uint8/uint16 (affine) or float16")
    parser.add_argument("--quantize-only", action="append", metavar="PATTERN",
                        help="only quantize weights whose names match (shell pattern; "
                             "repeat or separate with commas)")
    parser.add_argument("--shard-bytes", type=int, default=4 * 2**20, metavar="N",
                        help="bytes per weight file (default 4194304)")
    parser.add_argument("--custom-class", action="append", default=[], metavar="CLASS",
                        help="a class your page registers itself; written as is")
    parser.add_argument("--force", action="store_true",
                        help="write into OUT even when it already holds files (model.json "
                             "and stale weight shards are replaced)")


def _stamps(folder: Path) -> dict[Path, tuple[int, int]]:
    """Size and modification time of each file in ``folder`` (empty if there is none)."""
    if not folder.is_dir():
        return {}
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()}


def run(args: argparse.Namespace) -> int:
    """Run ``convert``; errors propagate as :class:`~flaxjs.FlaxjsError` (the CLI prints them)."""
    from ..export.save import save
    from .common import fail, load_source

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return fail("convert", f"{out} is a file; OUT must be a folder")
    before = _stamps(out)
    if before and not args.force:
        return fail("convert", f"{out} is not empty ({len(before)} file(s)); pass --force to "
                               "write into it, or choose a new folder")
    patterns = None
    if args.quantize_only:
        patterns = [p for item in args.quantize_only for p in item.split(",") if p]
    model = load_source(args.source, strict=not args.no_strict)
    path = save(model, out, quantize=args.quantize, quantize_only=patterns,
                shard_bytes=args.shard_bytes, custom_classes=args.custom_class)
    written = sorted(p for p, stamp in _stamps(out).items() if before.get(p) != stamp)
    shards = [p for p in written if p.suffix == ".bin"]
    others = [p.name for p in written if p.suffix != ".bin" and p != path]
    size = sum(p.stat().st_size for p in shards)
    print(f"wrote {path} and {len(shards)} weight file(s), {size:,} bytes"
          + (f" ({args.quantize})" if args.quantize else "")
          + (f"; also {', '.join(others)}" if others else ""))
    return 0
