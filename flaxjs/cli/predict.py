"""``flaxjs predict SOURCE IMAGE...``: the top labels of each image."""

from __future__ import annotations

import argparse
import json

HELP = "classify images with a model (top-5 labels per image)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="model folder, model.json, URL or "
                        "zoo name (e.g. mobilenet, nsfwjs)")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    parser.add_argument("--top", type=int, default=5, help="labels per image (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .common import load_source, read_images

    model = load_source(args.source)
    images = read_images(args.images)
    outputs = model(model.preprocess(images))
    results = model.decode(np.asarray(outputs), top=args.top)
    if len(images) == 1:
        results = [results]
    if args.json:
        print(json.dumps({path: [[label, score] for label, score in pairs]
                          for path, pairs in zip(args.images, results, strict=True)}, indent=1))
        return 0
    for path, pairs in zip(args.images, results, strict=True):
        print(path)
        for label, score in pairs:
            print(f"  {score:8.4f}  {label}")
    return 0
