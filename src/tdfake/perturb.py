"""Perturbations of a face crop (RGB uint8) at graded levels, for :mod:`tdfake.robustness`.

The levels follow DeeperForensics-1.0 (Jiang et al., CVPR 2020: its ``get_distortion_parameter``
and distortion functions) where it defines them:

* ``jpeg``: real JPEG re-encoding (OpenCV's libjpeg, 4:2:0 chroma) at quality 90, 70, 50, 30.
  DeeperForensics has no quality-based JPEG; these four span light to heavy recompression.
* ``blur``: DeeperForensics "GB", ``cv2.GaussianBlur(img, (k, k), k / 6)`` with k = 7, 9, 13, 17, 21.
* ``noise``: DeeperForensics "GNC", white Gaussian noise of variance 0.001 … 0.05 added to each
  channel of YCbCr scaled to [0, 1] in the BT.601 studio-swing convention DeeperForensics uses
  (MATLAB's ``rgb2ycbcr`` / 255: Y spans 16–235, Cb and Cr 16–240), back to RGB, clipped.  The
  conversion is linear, so the noise is mapped to RGB with the inverse matrix instead of converting
  there and back; the result is rounded (DeeperForensics truncates, a half-level darkening).
  Seeded per image: see :func:`noise_rng`.
* ``resize``: DeeperForensics' entry named "JPEG" is in fact down-and-up resizing,
  ``cv2.resize`` to (h // f, w // f) and back to (h, w) (bilinear), f = 2 … 6; here it is called
  ``resize`` for what it does.

Levels apply to the crop at its stored size (DeeperForensics applied them to whole video frames,
so a kernel of 21 px blurs a face crop more than a frame of the same face), before the arm's
TK / TK_diff image is made and before the resize to the model's input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

NONE = "none"
"""The unperturbed condition (level 0) in robustness tables."""


@dataclass(frozen=True)
class Perturbation:
    """One perturbation: its parameter per level (level ``i`` is ``parameters[i - 1]``) and how to show one."""

    name: str
    description: str
    parameters: tuple[float, ...]
    label_format: str  # e.g. "q{:g}" → "q70"

    @property
    def levels(self) -> tuple[int, ...]:
        return tuple(range(1, len(self.parameters) + 1))

    def parameter(self, level: int) -> float:
        if level not in self.levels:
            raise ValueError(f"{self.name}: no level {level}; levels are {list(self.levels)}")
        return self.parameters[level - 1]

    def label(self, level: int) -> str:
        """The level's parameter as shown on plots and in tables, e.g. ``"q70"``, ``"k13"``, ``"×3"``."""
        return self.label_format.format(self.parameter(level))


PERTURBATIONS: dict[str, Perturbation] = {
    "jpeg": Perturbation("jpeg", "JPEG re-encoding, quality q", (90, 70, 50, 30), "q{:g}"),
    "blur": Perturbation("blur", "Gaussian blur, k×k, σ = k/6", (7, 9, 13, 17, 21), "k{:g}"),
    "noise": Perturbation("noise", "Gaussian noise in YCbCr, variance σ²",
                          (0.001, 0.002, 0.005, 0.01, 0.05), "σ²={:g}"),
    "resize": Perturbation("resize", "down-and-up resizing by f", (2, 3, 4, 5, 6), "×{:g}"),
}
"""Every perturbation with its levels; the CLI's choices, the CSV and the figure all read this table."""

# BT.601 studio swing: YCbCr / 255 = offset + STUDIO_YCBCR @ rgb, rgb in [0, 1] (MATLAB's rgb2ycbcr).
STUDIO_YCBCR = np.array([[65.481, 128.553, 24.966],
                         [-37.797, -74.203, 112.0],
                         [112.0, -93.786, -18.214]]) / 255.0


def jpeg(image: np.ndarray, quality: float) -> np.ndarray:
    """The image after one JPEG encode at ``quality`` (OpenCV, 4:2:0) and decode."""
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"OpenCV cannot encode an image of shape {image.shape} as JPEG")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError(f"OpenCV cannot decode the JPEG it encoded from an image of shape {image.shape}")
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def gaussian_blur(image: np.ndarray, kernel: float) -> np.ndarray:
    """DeeperForensics' GB: a ``kernel`` × ``kernel`` Gaussian of sigma ``kernel / 6`` (border: reflect 101)."""
    k = int(kernel)
    return cv2.GaussianBlur(image, (k, k), k / 6.0)


def gaussian_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """DeeperForensics' GNC: N(0, ``variance``) per pixel and channel of YCbCr / 255 (studio swing), in RGB."""
    noise = rng.standard_normal(image.shape) * np.sqrt(variance)
    rgb = image.astype(np.float64) / 255.0 + noise @ np.linalg.inv(STUDIO_YCBCR).T
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def down_up_resize(image: np.ndarray, factor: float) -> np.ndarray:
    """DeeperForensics' "JPEG": bilinear ``cv2.resize`` to (h // f, w // f) and back to (h, w)."""
    h, w = image.shape[:2]
    f = int(factor)
    small = cv2.resize(image, (max(w // f, 1), max(h // f, 1)))
    return cv2.resize(small, (w, h))


def noise_rng(seed: int, name: str, level: int, key: str) -> np.random.Generator:
    """A generator that depends only on (seed, perturbation, level, the image's relative path).

    So an image's noise is the same whatever order or process perturbs it, and differs between
    images, levels and seeds.
    """
    digest = hashlib.sha256(f"{int(seed)}\t{name}\t{int(level)}\t{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


_APPLY: dict[str, Callable[..., np.ndarray]] = {
    "jpeg": lambda image, p, rng: jpeg(image, p),
    "blur": lambda image, p, rng: gaussian_blur(image, p),
    "noise": gaussian_noise,
    "resize": lambda image, p, rng: down_up_resize(image, p),
}


def perturb(image: np.ndarray, name: str, level: int, seed: int = 0, key: str = "") -> np.ndarray:
    """``image`` (RGB uint8) under perturbation ``name`` at ``level`` (``"none"``: unchanged).

    ``seed`` and ``key`` (the image's path relative to its data folder) seed the noise; the other
    perturbations are deterministic.
    """
    if name == NONE:
        return image
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; choose from {', '.join(PERTURBATIONS)}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    parameter = PERTURBATIONS[name].parameter(level)
    return _APPLY[name](image, parameter, noise_rng(seed, name, level, key))
