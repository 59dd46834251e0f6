"""TensorFlow's start-up without its CUDA-probing chatter on a machine that has no NVIDIA driver.

TensorFlow 2.21 writes these lines from C++ straight to file descriptor 2 while its libraries load
and when it first looks for devices, some before its logging is set up, so
``TF_CPP_MIN_LOG_LEVEL`` cannot silence them all (at level 3 it would hide real errors too)::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ... (303)

:func:`install` (called by the ``tdfake`` command and by :mod:`tdfake.notebook` before anything
imports TensorFlow) makes the first ``import tensorflow`` of the process run with descriptor 2
written to a temporary file, together with TensorFlow's first device listing (where ``cuInit``
is called); afterwards every captured line is written back to descriptor 2 except the probing
lines of :data:`NOISE`.  TensorFlow is still imported only when something imports it.  The CUDA
lines are kept where an NVIDIA driver is installed (``/proc/driver/nvidia`` or ``/dev/nvidiactl``),
since there a failed ``cuInit`` means a GPU goes unused; nothing else is hidden, and TensorFlow's
later output (training, errors) is untouched.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

START_UP_NOISE = (
    rb"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    rb"cpu_feature_guard\.cc.*This TensorFlow binary is optimized",
    rb"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags",
    rb"Unable to register cu(DNN|FFT|BLAS) factory",
    rb"computation_placer\.cc.*already registered",
)
"""Start-up lines that say nothing on any machine (already-registered plug-ins, CPU instruction hints)."""
CUDA_NOISE = (
    rb"cudart_stub\.cc.*Could not find cuda drivers",
    rb"failed call to cuInit",
)
"""CUDA-probing lines: noise where no NVIDIA driver is installed, kept where one is."""
NVIDIA_DRIVER = (Path("/proc/driver/nvidia"), Path("/dev/nvidiactl"))


def has_nvidia_driver() -> bool:
    """Whether the machine has an NVIDIA kernel driver (so a CUDA-probing failure is worth reading)."""
    return any(path.exists() for path in NVIDIA_DRIVER)


def noise_patterns(nvidia_driver: bool | None = None) -> re.Pattern[bytes]:
    """The lines :func:`install` drops: :data:`START_UP_NOISE`, and :data:`CUDA_NOISE` without an NVIDIA driver."""
    nvidia_driver = has_nvidia_driver() if nvidia_driver is None else nvidia_driver
    return re.compile(b"|".join(START_UP_NOISE + (() if nvidia_driver else CUDA_NOISE)))


def drop_noise(captured: bytes, noise: re.Pattern[bytes] | None = None) -> bytes:
    """``captured`` without the lines matching ``noise`` (default: :func:`noise_patterns` for this machine)."""
    noise = noise_patterns() if noise is None else noise
    return b"".join(line for line in captured.splitlines(keepends=True) if not noise.search(line))


@contextmanager
def filtered_stderr():
    """Descriptor 2 goes to a temporary file inside the block; its lines, less the noise, are written back after."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = drop_noise(sink.read())
            if kept:
                os.write(2, kept)


class _QuietLoader(importlib.abc.Loader):
    """Runs the wrapped loader of ``tensorflow`` and its first device listing inside :func:`filtered_stderr`."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            with filtered_stderr():
                self.loader.exec_module(module)
                module.config.list_physical_devices()  # the CUDA probe (cuInit) happens here, once
        finally:  # the module keeps its own loader, as if imported plainly
            module.__loader__ = self.loader
            if module.__spec__ is not None:
                module.__spec__.loader = self.loader


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` the usual way, once, and hands it a :class:`_QuietLoader`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        uninstall()
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


_FINDER = _QuietFinder()


def install() -> None:
    """Quiet TensorFlow's start-up from now on (see the module's docstring); a no-op once it is imported.

    Also sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless set): TensorFlow's own informational and warning
    lines go, its errors stay.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    """Remove the import hook of :func:`install` (it removes itself at the first ``import tensorflow``)."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
