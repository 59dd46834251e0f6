"""Shared pytest fixtures: optional real photo folders (named by environment variables), small images on disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tdfake import transforms
from tdfake.images import write_rgb

REAL_PHOTOS_VAR = "TDFAKE_REAL_PHOTOS"
"""Environment variable naming a folder of real face photos (``real/`` and ``fake/``); ``.ci/run`` sets it."""
DFDC_FACES_VAR = "TDFAKE_DFDC_FACES"
"""Environment variable naming a Kaggle "deepfake-faces" folder (``faces_224/``, ``metadata.csv``)."""


def data_folder_from_env(variable: str, what: str) -> Path:
    """The folder an environment variable names; skips the test with a reason naming the variable otherwise."""
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{variable} is not set; set it to {what} to run this test")
    folder = Path(value)
    if not folder.is_dir():
        pytest.skip(f"{variable}={value} is not a folder; set it to {what} to run this test")
    return folder


@pytest.fixture(scope="session")
def real_photos() -> Path:
    """Real face photos (``real/`` and ``fake/`` subfolders) from ``$TDFAKE_REAL_PHOTOS``; skips when unset."""
    return data_folder_from_env(REAL_PHOTOS_VAR, "a folder with real/ and fake/ face photos")


@pytest.fixture(scope="session")
def dfdc_faces() -> Path:
    """DFDC face crops in the Kaggle "deepfake-faces" layout from ``$TDFAKE_DFDC_FACES``; skips when unset."""
    return data_folder_from_env(DFDC_FACES_VAR, "a Kaggle deepfake-faces folder (faces_224/, metadata.csv)")


def smooth_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like RGB uint8 image: smooth colour gradients plus a little noise (low rank, like faces)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [np.sin(3 * yy * (k + 1) + rng.random() * 3) * np.cos(2 * xx * (k + 2) + rng.random() * 3)
                for k in range(3)]
    image = 127.5 + 100 * np.stack(channels, axis=-1) + rng.normal(0, 6, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def image_specs(kinds=("OR", "TK", "TK_diff"), rank=(30, 30, 3), method: str = "fast", cp_rank: int = 8) -> list:
    """The image specs ``tdfake images --kinds KINDS --rank RANK --method METHOD --cp-rank CP_RANK`` makes
    (each kind in its own folder, named after it)."""
    settings = {"rank": rank, "tucker_method": method, "cp_rank": cp_rank}
    return [transforms.spec(kind, defaults=settings) for kind in kinds]


@pytest.fixture
def write_images(tmp_path):
    """``write_images(relpaths, size=32, root=tmp_path / "src")`` writes small smooth RGB images, returns the root.

    Each file gets its own content (seeded by its position), so outputs can be told apart.
    """

    def write(relpaths, size: int | tuple[int, int] = 32, root: Path | None = None) -> Path:
        root = Path(root) if root is not None else tmp_path / "src"
        height, width = (size, size) if isinstance(size, int) else size
        for seed, relpath in enumerate(relpaths):
            write_rgb(root / relpath, smooth_rgb(height, width, seed))
        return root

    return write


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory) -> dict:
    """One `tdfake run` of the demo config on tiny settings, made once per test session; its overrides.

    The returned dict holds every override (``out_dir``, ``graphs_dir``, ``demo_dir`` included), as
    the notebooks take them.  The end-to-end, notebook and sweep tests all read this one run, as a
    user's notebooks reuse the arms `tdfake run` finished; the training code itself is tested here
    and in tests/test_train.py.  Read-only: a test that writes into the study (runs `tdfake run`
    or a notebook again, trains a rank, redraws figures) takes :func:`tiny_study_copy` (or
    ``tiny_models.copy_study``) instead; :func:`tiny_study_unchanged` checks a reader.
    """
    from tiny_models import TINY_STUDY, tiny_study_argv

    from tdfake.cli import main

    root = tmp_path_factory.mktemp("tiny_study")
    overrides = {**TINY_STUDY, "out_dir": str(root / "run"), "graphs_dir": str(root / "graphs"),
                 "demo_dir": str(root / "demo")}
    assert main(tiny_study_argv(overrides)) == 0
    return overrides


def study_files(overrides: dict) -> dict[str, tuple[int, int]]:
    """Every file of a study's ``out_dir`` and ``graphs_dir``: relative path -> (size, mtime_ns)."""
    files = {}
    for key in ("out_dir", "graphs_dir"):
        for path in sorted(Path(overrides[key]).rglob("*")):
            if path.is_file():
                stat = path.stat()
                files[f"{key}/{path.relative_to(overrides[key])}"] = (stat.st_size, stat.st_mtime_ns)
    return files


@pytest.fixture
def tiny_study_copy(tiny_study, tmp_path):
    """A private copy of :func:`tiny_study` for a test that writes into it; its overrides (as ``tiny_study``'s)."""
    from tiny_models import copy_study, remove_study

    copied = copy_study(tiny_study, tmp_path / "study")
    yield copied
    remove_study(copied)


@pytest.fixture
def tiny_study_unchanged(tiny_study):
    """:func:`tiny_study` for a test that only reads it; fails the test if any of its files was written."""
    before = study_files(tiny_study)
    yield tiny_study
    after = study_files(tiny_study)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"a read-only test wrote into the shared tiny study: {changed[:10]}"


@pytest.fixture(scope="session")
def tiny_sweep(tiny_study, tmp_path_factory):
    """A copy of :func:`tiny_study` after `tdfake sweep --ranks 30 5` (trains ``sweep/rank_5``).

    A dict: ``overrides`` (as ``tiny_study``'s, pointing at the copy), ``argv`` (the sweep's command
    line) and ``before`` (the ``best.keras`` mtimes of the study's own arms before the sweep).
    Made once per session; read-only like ``tiny_study`` (copy it with ``tiny_models.copy_study`` to write).
    """
    from tiny_models import TINY_SWEEP_RANKS, copy_study, remove_study, tiny_study_argv

    from tdfake.cli import main

    overrides = copy_study(tiny_study, tmp_path_factory.mktemp("tiny_sweep"))
    out = Path(overrides["out_dir"])
    before = {arm: (out / arm / "best.keras").stat().st_mtime_ns for arm in ("baseline", "tk", "tk_diff")}
    argv = tiny_study_argv(overrides, "sweep") + ["--ranks", *map(str, TINY_SWEEP_RANKS)]
    assert main(argv) == 0
    yield {"overrides": overrides, "argv": argv, "before": before}
    remove_study(overrides)
