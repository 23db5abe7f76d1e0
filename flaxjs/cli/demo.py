"""``flaxjs demo``: transfer learning end to end on a zoo base: runs the example
:mod:`flaxjs.examples.transfer_learning` (``examples/`` in the repository)."""

from __future__ import annotations

import argparse

HELP = ("transfer learning end to end: a pretrained zoo base, cut and frozen, a new head "
        "trained on shapes drawn offline, then fine-tuned")

#: option → Settings field (options left out keep the defaults, or the --quick ones).
_FIELDS = {"base": "base", "samples": "samples", "image_size": "image_size", "epochs": "epochs",
           "fine_tune_epochs": "fine_tune_epochs", "batch_size": "batch_size",
           "learning_rate": "learning_rate", "fine_tune_lr": "fine_tune_learning_rate",
           "seed": "seed", "out": "out", "export": "export"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Fetch a pretrained TF.js base through the zoo (default nsfwjs_mobilenet_v2, from "
        "npm), cut it at its card's feature layer and freeze it, draw a data set of six "
        "shapes with Pillow, train a new head, fine-tune the top block with a lower "
        "learning rate, print the held-out accuracy and write the training curves.")
    parser.add_argument("--base", metavar="NAME",
                        help="zoo model to start from (default nsfwjs_mobilenet_v2; also "
                             "mobilenet, tm_mobilenet_v2_1.00_224, nsfwjs_inception_v3...)")
    parser.add_argument("--samples", type=int, metavar="N",
                        help="images drawn, training + held out (default 3000)")
    parser.add_argument("--image-size", type=int, metavar="PX",
                        help="image side in pixels (default 128)")
    parser.add_argument("--epochs", type=int, metavar="N",
                        help="epochs training the head on the frozen base (default 15)")
    parser.add_argument("--fine-tune-epochs", type=int, metavar="N",
                        help="epochs fine-tuning the top block afterwards, 0 to skip "
                             "(default 10)")
    parser.add_argument("--batch-size", type=int, metavar="N", help="(default 32)")
    parser.add_argument("--learning-rate", type=float, metavar="LR",
                        help="Adam learning rate of the head (default 3e-3)")
    parser.add_argument("--fine-tune-lr", type=float, metavar="LR",
                        help="learning rate of the unfrozen top block; the head then uses "
                             "ten times as much (default 1e-4)")
    parser.add_argument("--seed", type=int, help="data set and initialisation seed (default 0)")
    parser.add_argument("--out", metavar="DIR",
                        help="where training_curves.png and results.json go "
                             "(default ./flaxjs-demo)")
    parser.add_argument("--export", metavar="DIR",
                        help="also write the trained model for TF.js (flaxjs.save) there")
    parser.add_argument("--quick", action="store_true",
                        help="tiny settings (360 images of 64x64, a few seconds of training)")


def run(args: argparse.Namespace) -> int:
    from flaxjs.examples import transfer_learning as example

    settings = example.Settings.quick() if args.quick else example.Settings()
    changes = {field: getattr(args, option) for option, field in _FIELDS.items()
               if getattr(args, option, None) is not None}
    example.run(settings, **changes)
    return 0
