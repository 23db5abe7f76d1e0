"""``flaxjs info SOURCE``: what a model is (summary, inputs, outputs, labels, card)."""

from __future__ import annotations

import argparse

HELP = "show a model's summary (SOURCE: folder, model.json, URL or zoo name)"
TAKES_SOURCE = True


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="model folder, model.json, URL or "
                        "zoo name")


def run(args: argparse.Namespace) -> int:
    from .common import load_source

    model = load_source(args.source, strict=not args.no_strict)
    model.summary()
    for spec in model.input_specs:
        print(f"input  {spec.name}: shape {list(spec.shape)} {spec.dtype}")
    print(f"output {', '.join(model.output_names)}")
    labels = model.labels
    if labels:
        shown = ", ".join(labels[:8]) + (", ..." if len(labels) > 8 else "")
        print(f"labels ({len(labels)}): {shown}")
    card = model.card
    if card is not None:
        print(f"zoo    {card.name} ({card.family}), license {card.license}")
        prep = card.preprocessing or {}
        if prep.get("reference"):
            print(f"prep   {prep['reference']}")
        for name, what in card.cut_points.items():
            print(f"cut    {name}: {what}")
    print(f"from   {model.location}")
    return 0
