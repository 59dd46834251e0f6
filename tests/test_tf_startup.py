"""TensorFlow's CUDA-probing start-up lines are dropped (tdfake.tf_startup); everything else it writes is kept."""

import subprocess
import sys

import pytest

from tdfake import tf_startup

PROBING = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796120893.113663   17361 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    b"GPU will not be used.\n"
    b"E0000 00:00:1796120919.804619   17421 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    b"Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
REAL = b"E0000 00:00:1.0   1 some_op.cc:12] out of memory allocating 12 GB\nTraceback (most recent call last):\n"


def test_probing_lines_go_without_a_driver_and_stay_with_one():
    assert tf_startup.drop_noise(PROBING + REAL, tf_startup.noise_patterns(nvidia_driver=False)) == REAL
    kept = tf_startup.drop_noise(PROBING + REAL, tf_startup.noise_patterns(nvidia_driver=True))
    assert b"failed call to cuInit" in kept and b"absl::InitializeLog" not in kept and kept.endswith(REAL)


@pytest.mark.parametrize("entry", ["from tdfake.cli import main", "import tdfake.notebook"])
def test_first_tensorflow_import_after_the_entry_points_prints_no_probing(entry):
    """The ``tdfake`` command and the notebooks' module install the hook; TensorFlow's import and device probe
    then write nothing of :data:`~tdfake.tf_startup.CUDA_NOISE` (checked where there is no NVIDIA driver)."""
    if tf_startup.has_nvidia_driver():
        pytest.skip("an NVIDIA driver is installed: the CUDA lines are kept on purpose")
    code = (f"{entry}\nimport sys\nimport tensorflow as tf\ntf.constant(1.0) + 1\n"
            "print('after', file=sys.stderr)\nassert tf.__spec__.loader.__class__.__name__ != '_QuietLoader'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for line in ("Could not find cuda drivers", "failed call to cuInit", "absl::InitializeLog"):
        assert line not in result.stderr, result.stderr
    assert result.stderr.strip().endswith("after")  # Python's own stderr still reaches the terminal
