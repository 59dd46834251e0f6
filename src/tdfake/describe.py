"""Data description for notebook 01: tables (DataFrames) and figures (matplotlib Figures).

Each helper takes a manifest (or split) from :mod:`tdfake.datasets` and reads images through
:func:`tdfake.images.read_rgb`.  Helpers that look at pixels work on a seeded sample of
``n_per_class`` images per class drawn from the sorted rows, so a notebook gives the same
numbers on every machine and stays fast on 20,000 crops.  Nothing is written to disk; figures
are ``matplotlib.figure.Figure`` objects (no global pyplot state), so the caller decides
whether to show or save them.
"""

from __future__ import annotations

from pathlib import Path
from typing import overload

import cv2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tdfake.constants import LABEL_NAMES as CLASS_NAMES
from tdfake.constants import TUCKER_METHOD
from tdfake.images import read_rgb
from tdfake.tucker import relative_error, tucker_reconstruct

CHANNELS = ("red", "green", "blue")


def _paths(rows: pd.DataFrame) -> list[Path]:
    return [Path(root) / path for root, path in zip(rows["root"], rows["path"])]


def sample_rows(manifest: pd.DataFrame, n_per_class: int | None = 50, seed: int = 0) -> pd.DataFrame:
    """Up to ``n_per_class`` rows per class, seeded, from the rows sorted by path (None: all rows)."""
    rows = manifest.sort_values(["root", "path"], kind="stable").reset_index(drop=True)
    if n_per_class is None:
        return rows
    parts = []
    for label in sorted(rows["label"].unique()):
        part = rows[rows["label"] == label]
        pick = np.random.default_rng([seed, int(label)]).permutation(len(part))[:n_per_class]
        parts.append(part.iloc[np.sort(pick)])
    return pd.concat(parts).reset_index(drop=True)


@overload
def load_images(rows: pd.DataFrame, size: None = None) -> list[np.ndarray]: ...


@overload
def load_images(rows: pd.DataFrame, size: int) -> np.ndarray: ...


def load_images(rows: pd.DataFrame, size: int | None = None) -> np.ndarray | list[np.ndarray]:
    """The rows' images as RGB uint8; resized to ``size`` x ``size`` (area) into one array when given."""
    images = [read_rgb(p) for p in _paths(rows)]
    if size is None:
        return images
    return np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images])


def class_balance(manifest: pd.DataFrame) -> pd.DataFrame:
    """Images, share of all images, videos and groups per class and method."""
    table = (manifest.assign(**{"class": manifest["label"].map(CLASS_NAMES)})
             .groupby(["class", "method"])
             .agg(images=("path", "size"), videos=("video", "nunique"), groups=("group", "nunique")))
    table.insert(1, "share", table["images"] / table["images"].sum())
    return table


def image_sizes(manifest: pd.DataFrame, n_per_class: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Count of images per class and (height, width), from the files themselves."""
    rows = sample_rows(manifest, n_per_class, seed)
    shapes = [im.shape[:2] for im in load_images(rows)]
    table = pd.DataFrame({"class": rows["label"].map(CLASS_NAMES), "height": [s[0] for s in shapes],
                          "width": [s[1] for s in shapes]})
    counts = table.value_counts().rename("images").reset_index()
    return counts.sort_values(["class", "height", "width"], ignore_index=True)


def sample_grid(manifest: pd.DataFrame, n_per_class: int = 6, seed: int = 0, size: int = 128) -> Figure:
    """A grid of example crops: one row per class, titled by method and video."""
    rows = sample_rows(manifest, n_per_class, seed)
    labels = sorted(rows["label"].unique())
    fig = Figure(figsize=(1.8 * n_per_class, 2.0 * len(labels)), layout="constrained")
    axes = fig.subplots(len(labels), n_per_class, squeeze=False)
    for r, label in enumerate(labels):
        part = rows[rows["label"] == label]
        images = load_images(part, size)
        for c, ax in enumerate(axes[r]):
            ax.set_axis_off()
            if c < len(part):
                ax.imshow(images[c])
                ax.set_title(f"{part['method'].iloc[c]}\n{part['video'].iloc[c]}", fontsize=8)
    return fig


def channel_histograms(manifest: pd.DataFrame, n_per_class: int = 50, seed: int = 0,
                       bins: int = 64) -> tuple[pd.DataFrame, Figure]:
    """Per-class, per-channel pixel-value histograms (density) of a sample, as a table and a figure."""
    rows = sample_rows(manifest, n_per_class, seed)
    edges = np.linspace(0, 256, bins + 1)
    records = []
    for label in sorted(rows["label"].unique()):
        pixels = np.concatenate([im.reshape(-1, 3) for im in load_images(rows[rows["label"] == label])])
        for c, channel in enumerate(CHANNELS):
            density, _ = np.histogram(pixels[:, c], bins=edges, density=True)
            records += [(CLASS_NAMES[label], channel, lo, d) for lo, d in zip(edges[:-1], density)]
    table = pd.DataFrame(records, columns=["class", "channel", "bin_start", "density"])
    fig = Figure(figsize=(10, 3), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    for ax, channel in zip(axes, CHANNELS):
        for cls, part in table[table["channel"] == channel].groupby("class"):
            ax.plot(part["bin_start"], part["density"], label=cls)
        ax.set_title(channel)
        ax.set_xlabel("pixel value")
    axes[0].set_ylabel("density")
    axes[0].legend()
    return table, fig


def mean_images(manifest: pd.DataFrame, n_per_class: int = 100, seed: int = 0,
                size: int = 128) -> tuple[dict[str, np.ndarray], Figure]:
    """Mean real and mean fake image (float, 0..255) of a sample, and a figure with their difference."""
    rows = sample_rows(manifest, n_per_class, seed)
    means = {CLASS_NAMES[label]: load_images(rows[rows["label"] == label], size).astype(np.float64).mean(axis=0)
             for label in sorted(rows["label"].unique())}
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (name, mean) in zip(axes, means.items()):
        ax.imshow(mean.astype(np.uint8))
        ax.set_title(f"mean {name}")
    if {"real", "fake"} <= means.keys():
        diff = np.abs(means["fake"] - means["real"]).mean(axis=2)
        shown = axes[2].imshow(diff, cmap="magma")
        fig.colorbar(shown, ax=axes[2], shrink=0.8)
        axes[2].set_title("|mean fake - mean real|")
    for ax in axes:
        ax.set_axis_off()
    return means, fig


def singular_value_spectra(manifest: pd.DataFrame, n_per_class: int = 50, seed: int = 0,
                           size: int = 128) -> pd.DataFrame:
    """Mean singular values of each channel matrix, normalised by the largest, per class.

    Columns: class, index (0 = largest), mean, std over images and channels.  Faster decay means
    more of the image lives in few components, i.e. what a low Tucker rank keeps.
    """
    rows = sample_rows(manifest, n_per_class, seed)
    records = []
    for label in sorted(rows["label"].unique()):
        images = load_images(rows[rows["label"] == label], size).astype(np.float64)
        values = np.linalg.svd(np.moveaxis(images, 3, 1), compute_uv=False)  # (N, 3, size)
        values = (values / values[..., :1]).reshape(-1, values.shape[-1])
        records += [(CLASS_NAMES[label], k, m, s) for k, (m, s) in enumerate(zip(values.mean(0), values.std(0)))]
    return pd.DataFrame(records, columns=["class", "index", "mean", "std"])


def plot_spectra(spectra: pd.DataFrame) -> Figure:
    """Log-scale plot of :func:`singular_value_spectra`."""
    fig = Figure(figsize=(5, 3.5), layout="constrained")
    ax = fig.subplots()
    for cls, part in spectra.groupby("class"):
        ax.semilogy(part["index"] + 1, part["mean"], label=cls)
    ax.set_xlabel("singular value index")
    ax.set_ylabel("sigma_k / sigma_1 (mean)")
    ax.legend()
    return fig


def tucker_error_vs_rank(manifest: pd.DataFrame, ranks=(5, 10, 20, 30, 50), n_per_class: int = 20, seed: int = 0,
                         size: int = 128, method: str = TUCKER_METHOD) -> pd.DataFrame:
    """Tucker reconstruction quality per class at ranks (r, r, 3), mean and std over a sample.

    Columns: class, rank, rel_error (``||x - x_r|| / ||x||``), psnr, ssim (scikit-image, the
    reconstruction clipped to 0..255 against the original, data range 255), each with a ``_std``.
    The study's rank is 30 at 256 px; at ``size`` px a rank r keeps the same share at r * size / 256.
    """
    rows = sample_rows(manifest, n_per_class, seed)
    records = []
    for label in sorted(rows["label"].unique()):
        images = load_images(rows[rows["label"] == label], size)
        for r in ranks:
            rec = np.asarray(tucker_reconstruct(images, rank=(r, r, 3), method=method), dtype=np.float64)
            clipped = np.clip(rec, 0, 255)
            err = np.atleast_1d(relative_error(images, rec))
            psnr = [peak_signal_noise_ratio(x, y, data_range=255) for x, y in zip(images.astype(np.float64), clipped)]
            ssim = [structural_similarity(x, y, data_range=255, channel_axis=-1)
                    for x, y in zip(images.astype(np.float64), clipped)]
            records.append((CLASS_NAMES[label], r, err.mean(), err.std(), np.mean(psnr), np.std(psnr),
                            np.mean(ssim), np.std(ssim)))
    return pd.DataFrame(records, columns=["class", "rank", "rel_error", "rel_error_std", "psnr", "psnr_std",
                                          "ssim", "ssim_std"])


def plot_tucker_error(table: pd.DataFrame) -> Figure:
    """Relative error, PSNR and SSIM against rank, one line per class (from :func:`tucker_error_vs_rank`)."""
    fig = Figure(figsize=(11, 3.2), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, column in zip(axes, ("rel_error", "psnr", "ssim")):
        for cls, part in table.groupby("class"):
            ax.errorbar(part["rank"], part[column], yerr=part[f"{column}_std"], label=cls, capsize=3)
        ax.set_xlabel("Tucker rank (r, r, 3)")
        ax.set_title(column)
    axes[0].legend()
    return fig
