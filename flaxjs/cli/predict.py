"""``flaxjs predict SOURCE IMAGE...``: the top labels of each image."""

from __future__ import annotations

import argparse
import json
from typing import Any

HELP = "classify images with a model (top-5 labels per image)"
TAKES_SOURCE = True


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="model folder, model.json, URL or "
                        "zoo name (e.g. mobilenet, nsfwjs)")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    parser.add_argument("--top", type=int, default=5, help="labels per image (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    group = parser.add_argument_group(
        "preprocessing", "for a model whose preprocessing is not known (no zoo card, no "
        "metadata.json): each image is resized, then x * SCALE - MEAN, divided by STD")
    group.add_argument("--size", type=int, nargs=2, metavar=("H", "W"),
                       help="resize to H x W (default: the model's input size)")
    group.add_argument("--scale", type=float, help="multiply the 0-255 values, e.g. "
                       "0.00392156862745098 (1/255)")
    group.add_argument("--mean", type=float, nargs="+", metavar="M",
                       help="subtract, one value or one per channel")
    group.add_argument("--std", type=float, nargs="+", metavar="S",
                       help="divide by, one value or one per channel")


def _given_preprocessing(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``preprocessing`` dict the options describe (``None`` when none is given)."""
    if args.size is None and args.scale is None and args.mean is None and args.std is None:
        return None
    ops: list[list[Any]] = []
    if args.scale is not None:
        ops.append(["mul", args.scale])
    if args.mean is not None:
        ops.append(["sub", args.mean if len(args.mean) > 1 else args.mean[0]])
    if args.std is not None:
        ops.append(["div", args.std if len(args.std) > 1 else args.std[0]])
    spec: dict[str, Any] = {"kind": "image", "ops": ops}
    if args.size is not None:
        spec["size"] = list(args.size)
    return spec


def _image_model(model: Any, given: dict[str, Any] | None) -> Any:
    """``model`` with the preprocessing ``predict`` follows, or an error saying why it is
    not an image model or what to pass."""
    from ..errors import PreprocessingError

    known = model.known_preprocessing
    specs = model.input_specs
    shape = list(specs[0].shape) if specs else None
    if (known is not None and known.get("kind") != "image") or (
            len(specs) != 1 or len(specs[0].shape) != 4):
        kind = (f"its preprocessing is {known.get('kind')!r}" if known
                else f"its input is {shape}")
        raise PreprocessingError(f"{model.name!r} is not an image model ({kind}; an image "
                                 "model takes [batch, height, width, channels]); predict "
                                 "classifies images")
    if given is not None:
        return model.with_info(preprocessing=given)
    if known is None:
        raise PreprocessingError(
            f"no preprocessing is known for {model.name!r} (no zoo card, no metadata.json): "
            "say how to scale its images, e.g. --scale 0.00392156862745098 for 0-1, or "
            "--scale 0.00784313725490196 --mean 1 for -1..1, or --mean 123.68 116.78 103.94 "
            "--std 58.4 57.1 57.4 (--size H W resizes; default the model's input size)")
    return model


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .common import load_source, read_images

    model = _image_model(load_source(args.source, strict=not args.no_strict),
                         _given_preprocessing(args))
    images = read_images(args.images)
    outputs = model(model.preprocess(images))
    results = model.decode(np.asarray(outputs), top=args.top)
    if args.json:
        print(json.dumps({path: [[label, score] for label, score in pairs]
                          for path, pairs in zip(args.images, results, strict=True)}, indent=1))
        return 0
    for path, pairs in zip(args.images, results, strict=True):
        print(path)
        for label, score in pairs:
            print(f"  {score:8.4f}  {label}")
    return 0
