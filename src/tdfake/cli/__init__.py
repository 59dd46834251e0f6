"""The ``tdfake`` command: thin subcommands over the package's functions.

Each submodule of :mod:`tdfake.cli` registers its own subcommands with ``register(subparsers)``
and sets ``func`` on them, so one concern's flags live next to nothing else.  Submodules
import TensorFlow only inside their handlers, so ``tdfake --help`` answers at once.

:func:`main` is the one error boundary: a user error (a missing file or folder, a bad config
value, an unknown key, unreadable data, ImageNet weights unavailable offline, a cached step made
with other settings) prints one line ``tdfake: error: ...`` to stderr and exits 2.  Anything
else, including a ``ValueError`` or ``KeyError`` raised inside a library, is a bug and keeps its
traceback (see :func:`is_user_error`).  ``--debug`` (or ``TDFAKE_DEBUG=1``) shows the traceback
of user errors too.  The library's messages (its ``logging`` records, INFO and up) are shown on
standard output as plain lines (:func:`tdfake.console.show_messages`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from tdfake import console, tf_startup

# TensorFlow's C++ start-up chatter (CUDA probing on a machine without a GPU) buries the messages
# users need: dropped from the first `import tensorflow` on, errors kept (see tdfake.tf_startup).
tf_startup.install()

COMMAND_MODULES = ("images", "data", "training", "evaluation", "study", "compare", "robustness", "explain",
                   "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tdfake",
        description="Deepfake detection with tensor decomposition (OR / TK / TK_diff arms).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of errors (also: environment variable TDFAKE_DEBUG=1)")
    for name in COMMAND_MODULES:
        importlib.import_module(f"tdfake.cli.{name}").register(subparsers)
    return parser


PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The installed ``tdfake`` package: exceptions raised from code in here were raised on purpose."""


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that may carry a message for the user rather than a bug (see :func:`is_user_error`).

    ``WeightsUnavailableError`` says how to get the weights offline; it is looked up only when
    :mod:`tdfake.model` was imported (the error cannot occur otherwise), so answering stays free
    of TensorFlow.
    """
    types: list[type[BaseException]] = [OSError, ValueError, KeyError]
    model = sys.modules.get("tdfake.model")
    if model is not None:
        types.append(model.WeightsUnavailableError)
    return tuple(types)


def raised_by_tdfake(err: BaseException) -> bool:
    """Whether the innermost frame of ``err``'s traceback is tdfake's own code (a deliberate raise)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(PACKAGE_DIR)


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` (one of :func:`user_error_types`) is a user error rather than a bug.

    File-system errors (a missing, unreadable or misplaced file or folder) and the offline-weights
    error always are.  A ``ValueError`` / ``KeyError`` is when tdfake raised it itself, with a
    message naming the value and the fix (``ConfigError``, ``ImageReadError``,
    ``ProvenanceMismatch`` among them); the same types raised inside a library (pandas, numpy,
    Keras) point at a bug in tdfake and keep their traceback.
    """
    return not isinstance(err, (ValueError, KeyError)) or raised_by_tdfake(err)


def main(argv: list[str] | None = None) -> int:
    console.show_messages()  # the library's log lines (INFO and up) on stdout, as plain lines
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("TDFAKE_DEBUG", "") not in ("", "0")
    try:
        return int(args.func(args) or 0)
    except user_error_types() as err:
        if debug or not is_user_error(err):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"tdfake: error: {' '.join(str(message).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
