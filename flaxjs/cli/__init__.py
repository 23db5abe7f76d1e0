"""The ``flaxjs`` command line.

Subcommands live in :data:`COMMANDS`: name → module. Each module defines ``HELP``
(one line), ``configure(parser)`` (adds its arguments; keep imports there light so
``flaxjs --help`` stays fast) and ``run(args) -> int``. Add a subcommand by adding
its module to the table (e.g. ``"demo": "flaxjs.cli.demo"``). A module that loads a
model sets ``TAKES_SOURCE = True`` and gets ``--no-strict`` here, the same for all.
Errors are printed by :func:`flaxjs.cli.common.fail`, in argparse's style.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

#: subcommand → module implementing it (``HELP``, ``configure``, ``run``).
COMMANDS: dict[str, str] = {
    "convert": "flaxjs.cli.convert",
    "demo": "flaxjs.cli.demo",
    "info": "flaxjs.cli.info",
    "predict": "flaxjs.cli.predict",
    "zoo": "flaxjs.cli.zoo_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="flaxjs", description="TensorFlow.js Layers models in JAX/Flax.")
    parser.add_argument("--version", action="version", version=f"flaxjs {__version__}")
    parser.add_argument("--no-compile-cache", action="store_true",
                        help="do not use JAX's persistent compilation cache (default: on, in "
                             "$FLAXJS_HOME/xla-cache, so a second run skips XLA compilation; "
                             "FLAXJS_COMPILE_CACHE=0 also turns it off)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(command)
        if getattr(module, "TAKES_SOURCE", False):
            command.add_argument("--no-strict", action="store_true",
                                 help="load even when weights and variables do not all match "
                                      "(unmatched ones are listed in a warning; also for zoo "
                                      "names)")
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flaxjs`` console script; returns the exit status."""
    from .. import settings
    from ..errors import FlaxjsError
    from .common import fail

    args = build_parser().parse_args(argv)
    try:
        if not args.no_compile_cache and settings.compile_cache():
            from ..runtime import configure
            configure(compilation_cache=True)
        return int(args._run(args) or 0)
    except FlaxjsError as err:
        return fail(args.command, err)
    except KeyboardInterrupt:
        return 130
