"""``flaxjs zoo list|info|fetch``: browse and download the model zoo."""

from __future__ import annotations

import argparse
import json

HELP = "list, describe and download zoo models"


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


def _list(args) -> int:
    from .. import zoo

    names = zoo.list(args.pattern)
    cards = [zoo.card(n) for n in names]
    if args.json:
        print(json.dumps([{"name": c.name, "aliases": list(c.aliases), "task": c.task,
                           "license": c.license} for c in cards], indent=1))
        return 0
    width = max((len(n) for n in names), default=4)
    for c in cards:
        pinned = "pinned" if all(f.sha256 for f in c.files) and not c.weights_from_manifest \
            else "pin on first download"
        aliases = f" (= {', '.join(c.aliases)})" if c.aliases else ""
        print(f"{c.name:<{width}}  {c.task:<22} {c.license:<11} {pinned}{aliases}")
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


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "info": _info, "fetch": _fetch}[args.zoo_command](args)
