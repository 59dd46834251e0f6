"""Shared pytest fixtures: the real photo folder and small image files on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tdfake.images import write_rgb

REAL_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_fake_face"


@pytest.fixture(scope="session")
def real_photos() -> Path:
    """The shared real/fake face photos (``../shared/data/real_fake_face`` from the repo root); skips with the reason when absent."""
    if not REAL_PHOTOS.is_dir():
        pytest.skip(f"real photos not found at {REAL_PHOTOS}; put the real_fake_face folder there to run this test")
    return REAL_PHOTOS


def smooth_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like RGB uint8 image: smooth colour gradients plus a little noise (low rank, like faces)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [np.sin(3 * yy * (k + 1) + rng.random() * 3) * np.cos(2 * xx * (k + 2) + rng.random() * 3) for k in range(3)]
    image = 127.5 + 100 * np.stack(channels, axis=-1) + rng.normal(0, 6, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


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
