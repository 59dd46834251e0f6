"""Data-description helpers against direct references (numpy, skimage, tensorly) on real files."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from tdfake.datasets import build_manifest
from tdfake.demo import make_demo_data
from tdfake.describe import (
    channel_histograms,
    class_balance,
    image_sizes,
    load_images,
    mean_images,
    plot_spectra,
    plot_tucker_error,
    sample_grid,
    sample_rows,
    singular_value_spectra,
    tucker_error_vs_rank,
)
from tdfake.images import write_rgb


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = make_demo_data(tmp_path_factory.mktemp("demo") / "d", n_per_class=6, size=128, frames_per_video=3)
    write_rgb(root / "REAL" / "900_frame0.png", np.full((40, 56, 3), 90, np.uint8))  # a different size
    return build_manifest(root)


def test_sampling_is_seeded_and_order_free(manifest):
    a = sample_rows(manifest, 3, seed=1)
    b = sample_rows(manifest.iloc[::-1], 3, seed=1)
    assert a["path"].tolist() == b["path"].tolist() and a["label"].value_counts().tolist() == [3, 3]


def test_balance_and_sizes(manifest):
    balance = class_balance(manifest)
    assert balance.loc[("real", "real"), "images"] == 7 and balance.loc[("fake", "SelfBlended"), "groups"] == 1
    assert balance["share"].sum() == pytest.approx(1.0)
    sizes = image_sizes(manifest)
    assert sizes.to_dict("records") == [
        {"class": "fake", "height": 128, "width": 128, "images": 6},
        {"class": "real", "height": 40, "width": 56, "images": 1},
        {"class": "real", "height": 128, "width": 128, "images": 6}]


def test_figures_and_histograms(manifest):
    assert isinstance(sample_grid(manifest, n_per_class=3), Figure)
    table, fig = channel_histograms(manifest, n_per_class=2, bins=16)
    assert isinstance(fig, Figure)
    rows = sample_rows(manifest, 2)
    reds = np.concatenate([im[..., 0].ravel() for im in load_images(rows[rows["label"] == 1])])
    expected, _ = np.histogram(reds, bins=np.linspace(0, 256, 17), density=True)
    got = table[(table["class"] == "fake") & (table["channel"] == "red")]["density"].to_numpy()
    np.testing.assert_allclose(got, expected)


def test_mean_images_and_spectra(manifest):
    means, fig = mean_images(manifest, n_per_class=4, size=32)
    rows = sample_rows(manifest, 4)
    np.testing.assert_allclose(means["real"], load_images(rows[rows["label"] == 0], 32).mean(axis=0))
    spectra = singular_value_spectra(manifest, n_per_class=2, size=32)
    real = load_images(sample_rows(manifest, 2).query("label == 0"), 32).astype(float)
    ref = np.array([np.linalg.svd(im[:, :, c], compute_uv=False) for im in real for c in range(3)])
    ref = ref / ref[:, :1]
    got = spectra[spectra["class"] == "real"]
    np.testing.assert_allclose(got["mean"], ref.mean(axis=0))
    np.testing.assert_allclose(got["std"], ref.std(axis=0))
    assert spectra.groupby("class").size().tolist() == [32, 32]
    assert isinstance(plot_spectra(spectra), Figure)


def test_tucker_error_vs_rank_matches_skimage_and_falls_with_rank(manifest):
    from skimage.metrics import peak_signal_noise_ratio

    from tdfake.tucker import tucker_reconstruct

    table = tucker_error_vs_rank(manifest, ranks=(2, 8, 32), n_per_class=2, size=32)
    real = table[table["class"] == "real"]
    assert real["rel_error"].is_monotonic_decreasing and real["psnr"].is_monotonic_increasing
    assert real["rel_error"].iloc[-1] < 1e-3  # rank (32, 32, 3) of a 32 px image is exact
    rows = sample_rows(manifest, 2)
    images = load_images(rows[rows["label"] == 1], 32)
    rec = np.clip(tucker_reconstruct(images, rank=(8, 8, 3)), 0, 255)
    psnr = np.mean([peak_signal_noise_ratio(x.astype(float), y, data_range=255) for x, y in zip(images, rec)])
    assert table.query("`class` == 'fake' and rank == 8")["psnr"].item() == pytest.approx(psnr, rel=1e-3)
    assert isinstance(plot_tucker_error(table), Figure)
