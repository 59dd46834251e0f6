"""Where the package's messages go: the ``tdfake`` logger, shown as plain lines by the command and the notebooks.

Library modules log to ``logging.getLogger(__name__)`` (children of ``tdfake``) and never print.
:func:`show_messages` (called by the ``tdfake`` command and on importing :mod:`tdfake.notebook`)
writes INFO and above to standard output as bare lines, as ``print`` did.  A library user who
wants none of it says so the standard way::

    import logging
    logging.getLogger("tdfake").setLevel(logging.WARNING)   # only warnings (or ERROR: errors only)
"""

from __future__ import annotations

import logging
import sys

LOGGER = "tdfake"


class _StdoutHandler(logging.StreamHandler):
    """A handler writing to ``sys.stdout`` as it is when a message comes (redirected, or captured by a test)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout  # not setStream: that flushes the old stream, which may be closed
        super().emit(record)


def show_messages() -> logging.Handler:
    """Show the package's messages on standard output, one plain line each (``%(message)s``).

    The ``tdfake`` logger is set to INFO unless a level was set on it already (so a notebook that
    quieted it stays quiet).  Calling it again adds nothing: the handler is installed once.
    """
    logger = logging.getLogger(LOGGER)
    for handler in logger.handlers:
        if isinstance(handler, _StdoutHandler):
            return handler
    handler = _StdoutHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return handler
