"""Perturbations (tdfake.perturb) against independent references: scipy's Gaussian filter, TensorFlow's JPEG
encoder, the BT.601 studio-swing YCbCr formula and bilinear interpolation written out by hand."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage
from tiny_models import face

from tdfake.perturb import PERTURBATIONS, down_up_resize, gaussian_blur, gaussian_noise, jpeg, noise_rng, perturb


@pytest.fixture
def image():
    """A 48×40 crop with structure (a smoothed random face) so that every perturbation changes it."""
    return cv2.GaussianBlur(face(0.5, 3, 48), (5, 5), 1.5)[:, :40].copy()


def test_the_table_holds_deeperforensics_levels_and_labels():
    assert PERTURBATIONS["jpeg"].parameters == (90, 70, 50, 30)
    assert PERTURBATIONS["blur"].parameters == (7, 9, 13, 17, 21)
    assert PERTURBATIONS["noise"].parameters == (0.001, 0.002, 0.005, 0.01, 0.05)
    assert PERTURBATIONS["resize"].parameters == (2, 3, 4, 5, 6)
    labels = [PERTURBATIONS[n].label(2) for n in ("jpeg", "blur", "noise", "resize")]
    assert labels == ["q70", "k9", "σ²=0.002", "×3"]
    with pytest.raises(ValueError, match="no level 6; levels are"):
        PERTURBATIONS["jpeg"].parameter(6)
    with pytest.raises(ValueError, match="unknown perturbation 'fog'"):
        perturb(np.zeros((4, 4, 3), np.uint8), "fog", 1)


@pytest.mark.parametrize("k", PERTURBATIONS["blur"].parameters)
def test_blur_is_scipys_gaussian_filter_with_the_same_sigma_truncation_and_border(image, k):
    sigma = k / 6
    reference = ndimage.gaussian_filter(image.astype(np.float64), sigma=(sigma, sigma, 0),
                                        truncate=(k // 2) / sigma, mode="mirror")  # mirror = cv2's REFLECT_101
    ours = gaussian_blur(image, k)
    assert ours.shape == image.shape and ours.dtype == np.uint8
    assert np.abs(ours.astype(np.float64) - reference).max() <= 1.0  # OpenCV's fixed-point rounding


def test_jpeg_is_a_real_jpeg_encode_and_decode(image):
    import tensorflow as tf

    psnr = []
    for q in PERTURBATIONS["jpeg"].parameters:
        ours = jpeg(image, q)
        encoded = tf.io.encode_jpeg(image, quality=int(q)).numpy()  # another libjpeg build, same settings
        reference = cv2.cvtColor(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(ours, reference)
        psnr.append(cv2.PSNR(image, ours))
    assert psnr == sorted(psnr, reverse=True) and psnr[-1] < psnr[0] - 3  # lower quality, more loss


@pytest.mark.parametrize("variance", PERTURBATIONS["noise"].parameters[:4])
def test_noise_has_the_asked_variance_in_studio_swing_ycbcr(variance):
    grey = np.full((96, 96, 3), 128, np.uint8)  # mid-grey: no clipping at these variances

    def ycbcr(rgb):  # ITU-R BT.601 studio swing (Y 16-235, Cb/Cr 16-240) divided by 255
        r, g, b = np.moveaxis(rgb.astype(np.float64) / 255.0, -1, 0)
        return np.stack([16 + 65.481 * r + 128.553 * g + 24.966 * b,
                         128 - 37.797 * r - 74.203 * g + 112.0 * b,
                         128 + 112.0 * r - 93.786 * g - 18.214 * b], -1) / 255.0

    noisy = gaussian_noise(grey, variance, np.random.default_rng(0))
    std = (ycbcr(noisy) - ycbcr(grey)).reshape(-1, 3).std(axis=0)
    assert std == pytest.approx([np.sqrt(variance)] * 3, rel=0.05)


def test_noise_depends_only_on_seed_perturbation_level_and_path(image):
    first = perturb(image, "noise", 3, seed=7, key="real/a.png")
    _ = perturb(image, "noise", 3, seed=7, key="real/b.png")  # another image in between changes nothing
    np.testing.assert_array_equal(perturb(image, "noise", 3, seed=7, key="real/a.png"), first)
    for other in (dict(seed=8, key="real/a.png"), dict(seed=7, key="real/b.png")):
        assert not np.array_equal(perturb(image, "noise", 3, **other), first)
    assert not np.array_equal(noise_rng(7, "noise", 2, "a").random(4), noise_rng(7, "noise", 3, "a").random(4))


def test_resize_keeps_constants_and_follows_bilinear_interpolation_by_hand():
    constant = np.full((30, 42, 3), 77, np.uint8)
    for f in PERTURBATIONS["resize"].parameters:
        np.testing.assert_array_equal(down_up_resize(constant, f), constant)

    f, h, w = 3, 12, 18  # 3×3 blocks: shrinking by 3 returns the blocks' values exactly
    blocks = np.random.default_rng(1).integers(0, 256, (h // f, w // f, 3)).astype(np.float64)
    image = np.repeat(np.repeat(blocks, f, 0), f, 1).astype(np.uint8)

    def axis_weights(n_out, n_in):  # bilinear with pixel centres at +0.5, edges clamped (OpenCV's convention)
        x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(x).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        weights = np.zeros((n_out, n_in))
        weights[np.arange(n_out), lo] += 1 - (x - lo)
        weights[np.arange(n_out), hi] += x - lo
        return weights

    expected = np.einsum("ij,jkc,lk->ilc", axis_weights(h, h // f), blocks, axis_weights(w, w // f))
    ours = down_up_resize(image, f)
    assert ours.shape == image.shape
    assert np.abs(ours - expected).max() <= 1.0  # OpenCV's fixed-point weights
