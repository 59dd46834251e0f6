"""Small stand-ins the tests share: a hand-weighted arm, and the settings of one tiny demo study.

The hand-weighted arm is GlobalAveragePooling → Dense(1, sigmoid) with fixed weights, so an image's score is
sigmoid(10 · mean red / 255 − 5).  Tests write "faces" whose red level they choose (reals darker
than fakes, with overlap), so scores are informative but imperfect, and check every score the
code under test reports against :func:`expected_score` of the very file scored.  No training.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from tdfake.images import read_rgb

ROOT = Path(__file__).resolve().parents[1]

SIZE = 32


def expected_score(path_or_image) -> float:
    """The red model's score of an image file (or RGB uint8 array)."""
    image = read_rgb(path_or_image) if not isinstance(path_or_image, np.ndarray) else path_or_image
    red = image[..., 0].astype(np.float64) / 255.0
    return float(1.0 / (1.0 + np.exp(-(10.0 * red.mean() - 5.0))))


def face(red: float, seed: int, size: int = SIZE) -> np.ndarray:
    """A random RGB image whose red channel sits around ``red`` (0–1)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size, size, 3)).astype(np.float64)
    image[..., 0] = np.clip(red * 255 + rng.normal(0, 20, (size, size)), 0, 255)
    return image.round().astype(np.uint8)


def red_model(size: int = SIZE) -> keras.Model:
    """GlobalAveragePooling → Dense(1, sigmoid) scoring sigmoid(10 · mean red − 5)."""
    model = keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.layers[-1].set_weights([np.array([[10.0], [0.0], [0.0]]), np.array([-5.0])])
    return model


TINY_STUDY = {
    "demo_n_per_class": 40, "demo_size": 128, "image_size": 71, "batch_size": 8, "epochs": 1,
    "train_fraction": 0.6, "val_fraction": 0.2, "test_fraction": 0.2,
}
"""Settings of the one tiny demo study the slow tests share (fixture ``tiny_study`` in conftest.py):
40 + 40 demo crops at 128 px, one epoch at Xception's smallest input."""


def tiny_study_argv(overrides: dict, command: str = "run") -> list[str]:
    """``tdfake run`` (or ``sweep``) arguments for the demo config with ``overrides`` as ``--set`` options."""
    argv = [command, "--config", str(ROOT / "configs/demo.yaml")]
    for key, value in overrides.items():
        argv += ["--set", f"{key}={value}"]
    return argv
