"""``flaxjs zoo list|info|fetch|verify|rm|clean``: browse, download and manage the zoo."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse

HELP = "list, describe, download, verify and remove zoo models"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="zoo model names (optionally matching PATTERN)")
    listing.add_argument("pattern", nargs="?", help="glob or substring, e.g. 'mobilenet*'")
    listing.add_argument("--json", action="store_true", help="print JSON")
    info = sub.add_parser("info", help="a model's card and the state of its cached files")
    info.add_argument("name")
    info.add_argument("--json", action="store_true", help="print JSON")
    fetch = sub.add_parser("fetch", help="download and verify models; print their folders")
    fetch.add_argument("names", nargs="+", metavar="NAME")
    fetch.add_argument("--force", action="store_true", help="download again, re-pin hashes")
    verify = sub.add_parser("verify", help="re-hash cached files against their pins "
                                           "(all cached models without NAME)")
    verify.add_argument("names", nargs="*", metavar="NAME")
    rm = sub.add_parser("rm", help="delete cached models")
    rm.add_argument("names", nargs="+", metavar="NAME")
    sub.add_parser("clean", help="delete every cached zoo model")


def human_size(size: int | None) -> str:
    """``4.6 MB``; ``-`` when unknown."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _row(card) -> dict:
    """What `zoo list` shows of one card: cache state, size, where it comes from."""
    from ..zoo import cache, fetcher

    files = fetcher.status(card)
    have = sum(f["cached"] for f in files)
    state = "yes" if have == len(files) else "partial" if have else "no"
    if have:
        size: int | None = cache.disk_size(cache.model_dir(card.name))
    elif all(f.size is not None for f in card.files) and not card.weights_from_manifest:
        size = sum(f.size for f in card.files)
    else:
        size = None
    source = card.sources[0]
    host = (f"npm:{source.npm}" if source.npm
            else urllib.parse.urlsplit(source.url or "").hostname or source.url or "-")
    return {"name": card.name, "aliases": list(card.aliases), "task": card.task,
            "license": card.license, "cached": state, "size": size, "source": host}


def _list(args) -> int:
    from .. import zoo
    from ..errors import ZooError

    names = zoo.list(args.pattern)
    if not names:
        raise ZooError(f"no match for {args.pattern!r} among the {len(zoo.list())} zoo models "
                       "(names, aliases; a glob or a substring); `flaxjs zoo list` shows all")
    rows = [_row(zoo.card(n)) for n in names]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    header = {"name": "NAME", "task": "TASK", "cached": "CACHED", "size": "SIZE",
              "source": "SOURCE", "aliases": "ALIASES"}
    table = [header] + [{**r, "size": human_size(r["size"]),
                         "aliases": ", ".join(r["aliases"])} for r in rows]
    columns = ["name", "task", "cached", "size", "source"]
    width = {c: max(len(str(r[c])) for r in table) for c in columns}
    for r in table:
        line = "  ".join(f"{r[c]:<{width[c]}}" if c != "size" else f"{r[c]:>{width[c]}}"
                         for c in columns)
        print(f"{line}  {r['aliases']}".rstrip())
    return 0


def _info(args) -> int:
    from .. import zoo

    data = zoo.info(args.name)
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    skip = {"files", "sources", "preprocessing", "cut_points", "inputs", "cache"}
    for key, value in data.items():
        if key not in skip and value not in (None, [], {}):
            print(f"{key}: {value}")
    print("sources:")
    for source in data["sources"]:
        print("  " + ", ".join(f"{k}={v}" for k, v in source.items()))
    for spec in data.get("inputs", []):
        print(f"input: shape {spec.get('shape')} {spec.get('dtype', '')}")
    prep = data.get("preprocessing") or {}
    print("preprocessing: " + ", ".join(f"{k}={v}" for k, v in prep.items() if k != "reference"))
    if prep.get("reference"):
        print(f"  ({prep['reference']})")
    for name, what in (data.get("cut_points") or {}).items():
        print(f"cut point: {name}: {what}")
    print(f"cache: {data['cache']}")
    print("files:")
    for f in data["files"]:
        state = "cached" if f["cached"] else "not cached"
        pin = f"sha256 {f['sha256']} ({f['pinned_by']})" if f["sha256"] else \
            "sha256 unknown: pinned at first download"
        size = f"{f['size']} bytes" if f["size"] is not None else "size unknown"
        print(f"  {f['path']}: {size}, {pin}, {state}")
    if data.get("weights_from_manifest"):
        print("  + the weight files model.json's weightsManifest names")
    return 0


def _fetch(args) -> int:
    from .. import zoo

    for name in args.names:
        print(zoo.fetch(name, force=args.force))
    return 0


def _verify(args) -> int:
    from .. import zoo
    from ..errors import IntegrityError

    names = args.names or [n for n in zoo.cached() if n in zoo.list()]
    if not names:
        print("no zoo model is cached; nothing to verify", file=sys.stderr)
    failed = 0
    for name in names:
        try:
            folder = zoo.verify(name)
        except IntegrityError as err:
            failed += 1
            print(f"flaxjs zoo verify: {err}", file=sys.stderr)
        else:
            print(f"ok  {name}  {folder}")
    return 1 if failed else 0


def _rm(args) -> int:
    from .. import zoo

    for name in args.names:
        freed = zoo.remove(name)
        print(f"removed {name} ({human_size(freed)})" if freed else f"{name}: not cached")
    return 0


def _clean(args) -> int:
    from .. import zoo

    names = zoo.cached()
    freed = zoo.clean()
    print(f"removed {len(names)} cached zoo model(s), {human_size(freed)}")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "info": _info, "fetch": _fetch, "verify": _verify, "rm": _rm,
            "clean": _clean}[args.zoo_command](args)
