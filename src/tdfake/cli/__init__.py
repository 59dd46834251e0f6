"""The ``tdfake`` command: thin subcommands over the package's functions.

Each submodule of :mod:`tdfake.cli` registers its own subcommands with ``register(subparsers)``
and sets ``func`` on them, so one concern's flags live next to nothing else.  Submodules
import TensorFlow only inside their handlers, so ``tdfake --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# TensorFlow's C++ start-up chatter buries the messages users need; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COMMAND_MODULES = ("images", "data", "training", "evaluation", "study")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tdfake",
        description="Deepfake detection with tensor decomposition (OR / TK / TK_diff arms).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"tdfake.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"tdfake.cli.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
