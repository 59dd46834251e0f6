"""The figures of ``graphs/``: training curves, learning rate, ROC, confusion matrices, comparison, Tucker,
rank sweep, robustness, and the paired comparisons between arms (a forest plot).

Every function returns a :class:`matplotlib.figure.Figure` and, given ``path``, also writes it as a
PNG.  Figures are made without pyplot, so nothing accumulates in a long notebook session and no
display is needed (PNG output goes through Agg); in Jupyter a returned figure shows inline.

Arms are drawn with the labels and colours of :mod:`tdfake.arms` (baseline blue, TK orange, TK_diff
green; any other arm a colour of its own) in every figure, and the study's published numbers, where
shown (for the arms the study had), are labelled "study".
Figures are drawn from data (reports, tables, images) given by the caller; gathering a finished
run's data and writing every figure is :mod:`tdfake.graphs`' job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tdfake.arms import colour as _colour
from tdfake.arms import label as arm_label
from tdfake.arms import study_results
from tdfake.config import Config
from tdfake.constants import LABEL_NAMES, TUCKER_METHOD
from tdfake.metrics import Report
from tdfake.model import CyclicalLR
from tdfake.perturb import NONE, PERTURBATIONS
from tdfake.transforms import ImageSpec
from tdfake.tucker import diff_image, relative_error, to_image, tucker_reconstruct

GRAPH_FILES = {
    "history": "history_{arm}.png",
    "learning_rate": "learning_rate.png",
    "roc": "roc.png",
    "confusion": "confusion_matrices.png",
    "comparison": "comparison.png",
    "tucker": "tucker_example.png",
    "sweep": "rank_sweep.png",
    "robustness": "robustness.png",
    "explain": "explain_grid.png",
    "forest": "paired_comparisons.png",
}
"""File names :func:`tdfake.graphs.draw_graphs` writes under the graphs folder."""
DPI = 120


def finish(fig: Figure, path: os.PathLike | str | None) -> Figure:
    """Tidy the layout and write the PNG when a path is given."""
    fig.tight_layout()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=DPI)
    return fig


# --------------------------------------------------------------------------- training

def plot_history(history: pd.DataFrame, arm: str = "baseline", path: os.PathLike | str | None = None) -> Figure:
    """Accuracy and loss per epoch, training vs validation, for one arm (the study's curves).

    ``history`` is a run's ``history.csv`` (columns ``accuracy``, ``val_accuracy``, ``loss``,
    ``val_loss``; an ``epoch`` column is used when present, else epochs count from 1).  The epoch
    with the lowest validation loss (the checkpoint that is evaluated) is marked.
    """
    for column in ("accuracy", "val_accuracy", "loss", "val_loss"):
        if column not in history.columns:
            raise ValueError(f"history has no {column!r} column; expected a run's history.csv")
    epochs = history["epoch"] + 1 if "epoch" in history.columns else pd.Series(range(1, len(history) + 1))
    best = int(np.argmin(history["val_loss"].to_numpy()))
    fig = Figure(figsize=(10, 4))
    for ax, metric, title in zip(fig.subplots(1, 2), ("accuracy", "loss"), ("Accuracy", "Loss")):
        ax.plot(epochs, history[metric], "o-", ms=3, label="training")
        ax.plot(epochs, history[f"val_{metric}"], "s-", ms=3, label="validation")
        ax.axvline(epochs.iloc[best], color="grey", ls=":", label=f"best checkpoint (epoch {epochs.iloc[best]})")
        ax.set_title(f"{arm_label(arm)}: {title.lower()}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(title.lower())
        ax.grid(alpha=0.3)
        ax.legend()
    return finish(fig, path)


def learning_rate_trace(cfg: Config, iterations: int) -> np.ndarray:
    """The cyclical learning rate of every batch ``0 .. iterations-1`` (:class:`tdfake.model.CyclicalLR`)."""
    schedule = CyclicalLR(cfg.base_lr, cfg.max_lr, cfg.step_size, cfg.clr_mode, cfg.gamma)
    return np.asarray(keras.ops.convert_to_numpy(schedule(np.arange(iterations))), dtype=np.float64)


def plot_learning_rate(cfg: Config, iterations: int, history: pd.DataFrame | None = None,
                       steps_per_epoch: int | None = None, path: os.PathLike | str | None = None) -> Figure:
    """The per-batch cyclical learning rate, with the per-epoch ``lr`` of ``history.csv`` on top.

    The epoch values are what the optimizer reported at the end of each epoch, drawn at batch
    ``(epoch + 1) * steps_per_epoch``; they should sit on the curve.
    """
    trace = learning_rate_trace(cfg, iterations)
    fig = Figure(figsize=(12, 3.8))
    ax = fig.subplots()
    ax.plot(np.arange(iterations), trace, lw=1, label=f"per batch ({cfg.clr_mode}, step {cfg.step_size})")
    if history is not None and "lr" in history.columns and steps_per_epoch:
        at = (np.arange(len(history)) + 1) * steps_per_epoch
        ax.plot(at, history["lr"], "o", ms=5, color="tab:red", label="end of epoch (history.csv)")
    ax.set_title(f"Cyclical learning rate: base {cfg.base_lr:g}, max {cfg.max_lr:g}, gamma {cfg.gamma:g}")
    ax.set_xlabel("batch (iteration)")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return finish(fig, path)


# --------------------------------------------------------------------------- results

def plot_roc(reports: Mapping[str, Report], path: os.PathLike | str | None = None) -> Figure:
    """Test ROC curves of all arms in one figure; AUROC in the legend, the EER point marked."""
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    for i, (arm, report) in enumerate(reports.items()):
        colour = _colour(arm, i)
        ax.plot(report.roc["fpr"], report.roc["tpr"], color=colour, lw=2,
                label=f"{arm_label(arm)}: AUROC {report.auroc:.3f}")
        ax.plot(report.eer, 1 - report.eer, "o", color=colour, ms=7, mec="black",
                label=f"  EER {report.eer:.3f} at {report.eer_threshold:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.plot([0, 1], [1, 0], ls=":", color="lightgrey", lw=1, label="FPR = FNR (EER line)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_title("ROC on the test set")
    ax.set_xlabel("false positive rate (real called fake)")
    ax.set_ylabel("true positive rate (fake called fake)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return finish(fig, path)


def plot_confusion(reports: Mapping[str, Report], at: str = "study", path: os.PathLike | str | None = None) -> Figure:
    """Confusion matrices, one panel per arm: counts and row percentages.

    ``at="study"``: predictions at 0.5 (the study's table); ``at="chosen"``: at the threshold
    chosen on validation.
    """
    if at not in ("study", "chosen"):
        raise ValueError(f"at must be 'study' (0.5) or 'chosen' (validation threshold), got {at!r}")
    n = len(reports)
    fig = Figure(figsize=(3.8 * n + 0.6, 3.9))
    axes = np.atleast_1d(fig.subplots(1, n))
    names = [name.upper() for name in LABEL_NAMES.values()]
    for ax, (arm, report) in zip(axes, reports.items()):
        part = report.at_study_threshold if at == "study" else report.chosen.metrics
        matrix = np.asarray(part.confusion)
        shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for r in range(2):
            for c in range(2):
                ax.text(c, r, f"{matrix[r, c]}\n{shares[r, c]:.0%}", ha="center", va="center",
                        color="white" if shares[r, c] > 0.6 else "black", fontsize=11)
        ax.set_xticks([0, 1], names)
        ax.set_yticks([0, 1], names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        where = "0.5" if at == "study" else f"{part.threshold:.3f} ({report.chosen.source})"
        ax.set_title(f"{arm_label(arm)}\nthreshold {where}", fontsize=10)
    fig.suptitle("Confusion matrices on the test set")
    return finish(fig, path)


def plot_comparison(reports: Mapping[str, Report], study: bool = True,
                    path: os.PathLike | str | None = None,
                    test_sets: Mapping[str, Mapping[str, Report]] | None = None) -> Figure:
    """Accuracy (at 0.5) and AUROC per arm with bootstrap 95 % intervals; the study's values as markers.

    ``test_sets`` (set name → arm → report, see :mod:`tdfake.test_sets`) adds the extra test sets
    beside the run's own test split: one group of arm bars per set, the study's markers on the
    own split only (the study tested on FaceForensics++, not on those sets).
    """
    sets = {"own test split": reports, **(test_sets or {})}
    arms = list(dict.fromkeys(a for group in sets.values() for a in group))
    width = 0.8 / len(arms) if len(sets) > 1 else 0.6
    # at least three arms' width: the legend above the bars and the two-line title need it with one or two arms
    fig = Figure(figsize=(4 + 1.3 * max(len(arms), 3) * (0.8 * len(sets) if len(sets) > 1 else 1), 4.4))
    axes = fig.subplots(1, 2)
    for ax, metric, title in zip(axes, ("accuracy", "auroc"), ("Accuracy (threshold 0.5)", "AUROC")):
        marks = []  # (x, study value) over the own split's bars
        for g, group in enumerate(sets.values()):
            for i, arm in enumerate(arms):
                if arm not in group:
                    continue
                xi = g + (i - (len(arms) - 1) / 2) * width if len(sets) > 1 else i
                value = getattr(group[arm], metric)
                low, high = np.asarray(group[arm].ci[metric], dtype=float)  # None (no bootstrap) -> NaN
                error = [[0.0 if np.isnan(low) else abs(value - low)], [0.0 if np.isnan(high) else abs(high - value)]]
                ax.bar(xi, value, color=_colour(arm, i), alpha=0.8, width=width, yerr=error, capsize=6 * width / 0.6,
                       label="this run (95 % CI)" if g == i == 0 and len(sets) == 1 else None)
                ax.text(xi, 0.02, f"{value:.3f}", ha="center", va="bottom", fontsize=9 if len(sets) == 1 else 7,
                        color="white", fontweight="bold", rotation=0 if len(sets) == 1 else 90)
                published = study_results(arm) if study and g == 0 else None
                if published is not None:
                    marks.append((xi, published[metric]))
        if marks:
            ax.plot(*zip(*marks), "D", color="black", ms=8, mfc="white", mew=2, label="study")
        if len(sets) > 1:
            ax.set_xticks(np.arange(len(sets)), list(sets))
            for i, arm in enumerate(arms):
                ax.bar(0, 0, color=_colour(arm, i), alpha=0.8, label=arm_label(arm))  # legend entries for the arms
        else:
            ax.set_xticks(np.arange(len(arms)), [arm_label(a) for a in arms])
            pad = (max(len(arms), 3) - len(arms)) / 2  # fewer arms: their bars in the middle, as wide as with three
            ax.set_xlim(-0.5 - pad, len(arms) - 0.5 + pad)
        ax.axhline(0.5, color="grey", ls="--", lw=1, label="chance")
        ax.set_ylim(0, 1.22)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_ylabel(metric if metric == "accuracy" else "AUROC")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper center", ncol=3, fontsize=8)
    basis = reports[arms[0]].ci_basis() if len(sets) == 1 else "each set's test groups"
    fig.suptitle(f"Arms on {'the' if len(sets) == 1 else 'each'} test set\n"
                 f"bars: this run, 95 % CI over {basis}" + ("\ndiamonds: the study's published numbers" if marks
                                                           else ""), fontsize=10)
    return finish(fig, path)


# --------------------------------------------------------------------------- the arms' images

def plot_arm_images(images: Mapping[str, np.ndarray], specs: Mapping[str, ImageSpec],
                    path: os.PathLike | str | None = None) -> Figure:
    """Each crop (rows, e.g. ``{"real": a, "fake": b}``) as each arm sees it (columns, ``{arm: spec}``).

    Images are RGB uint8 (H, W, 3), made into each arm's kind by :mod:`tdfake.transforms` (with the
    study's arms: the original, its Tucker reconstruction TK and the stretched residual TK_diff);
    arms that see the same images share a column.
    """
    columns: dict[ImageSpec, list[str]] = {}
    for arm, spec in specs.items():
        columns.setdefault(spec, []).append(arm_label(arm))
    rows = list(images.items())
    fig = Figure(figsize=(3 * len(columns), 3.1 * len(rows)))
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, (name, image) in enumerate(rows):
        made: dict = {}  # TK_diff reuses the crop's TK
        for c, (ax, (spec, arms)) in enumerate(zip(axes[r], columns.items())):
            ax.imshow(spec.apply(image, made))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{', '.join(arms)}:\n{spec.describe()}", fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=12)
    fig.suptitle("Face crops as each arm sees them")
    return finish(fig, path)


# --------------------------------------------------------------------------- rank sweep

def plot_sweep(table: pd.DataFrame, path: os.PathLike | str | None = None) -> Figure:
    """AUROC against Tucker rank for TK and TK_diff (95 % intervals), the baseline as a horizontal band.

    ``table`` is :func:`tdfake.sweep.run_sweep`'s (sweep.csv): the baseline's row has no rank.
    The x axis is logarithmic in the rank, with a tick at every rank swept.  With several training
    seeds the first seed's rows are drawn (the paired comparisons pool the seeds).
    """
    if "seed" in table.columns and len(table):
        table = table[table["seed"] == table["seed"].iloc[0]]
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    baseline = table[table["arm"] == "baseline"]
    if len(baseline):
        row = baseline.iloc[0]
        ax.axhspan(row["auroc_ci_low"], row["auroc_ci_high"], color=_colour("baseline", 0), alpha=0.15,
                   label="baseline (OR) 95 % CI")
        ax.axhline(row["auroc"], color=_colour("baseline", 0), lw=1.5, label=f"baseline (OR) {row['auroc']:.3f}")
    ranks = sorted(int(r) for r in table["rank"].dropna().unique())
    for i, arm in enumerate(a for a in ("tk", "tk_diff") if (table["arm"] == a).any()):
        rows = table[table["arm"] == arm].dropna(subset=["rank"]).sort_values("rank")
        x = rows["rank"].astype(int).to_numpy()
        ax.fill_between(x, rows["auroc_ci_low"], rows["auroc_ci_high"], color=_colour(arm, i + 1), alpha=0.2)
        ax.plot(x, rows["auroc"], "o-", color=_colour(arm, i + 1), label=arm_label(arm))
    ax.axhline(0.5, color="grey", ls="--", lw=1, label="chance")
    if ranks:
        ax.set_xscale("log")
        ax.set_xticks(ranks, [str(r) for r in ranks])
        ax.minorticks_off()
    ax.set_xlabel("Tucker rank r (images of rank [r, r, 3])")
    ax.set_ylabel("test AUROC")
    ax.set_ylim(0.3, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    basis = f" (95 % CI over {int(baseline.iloc[0]['n_bootstrap_units'])} test {baseline.iloc[0]['bootstrap_unit']}s)" \
        if len(baseline) and pd.notna(baseline.iloc[0].get("n_bootstrap_units")) else ""
    ax.set_title("Detection against Tucker rank" + basis, fontsize=10)
    return finish(fig, path)


def plot_rank_examples(image: np.ndarray, ranks, method: str = TUCKER_METHOD, channels: int = 3,
                       path: os.PathLike | str | None = None) -> Figure:
    """One crop's TK (top row) and TK_diff (bottom row) at every rank r of ``ranks`` (rank [r, r, channels]).

    The titles give the relative reconstruction error ‖OR − reconstruction‖ / ‖OR‖ at each rank
    (of the Tucker reconstruction itself, before the study's stretch to a TK image): how much of
    the crop the TK arm loses and the TK_diff arm keeps.
    """

    ranks = list(ranks)
    # rows as tall as a column is wide plus two title lines: square images then leave the titles their own space
    # (with less height the images fill it and the bottom row's titles run over the top row's images)
    fig = Figure(figsize=(2.2 * (len(ranks) + 1), 2 * 2.2 + 1.1))
    axes = fig.subplots(2, len(ranks) + 1)
    axes[0, 0].imshow(image)
    axes[0, 0].set_title("original (OR)", fontsize=9)
    axes[1, 0].axis("off")
    for c, r in enumerate(ranks, start=1):
        reconstruction = tucker_reconstruct(image, (int(r), int(r), int(channels)), method)
        tk = to_image(reconstruction)
        axes[0, c].imshow(tk)
        axes[0, c].set_title(f"TK r={r}\nerror {relative_error(image, reconstruction):.3f}", fontsize=9)
        axes[1, c].imshow(diff_image(tk, image))
        axes[1, c].set_title(f"TK_diff r={r}", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("One test crop at each Tucker rank [r, r, 3]", fontsize=10)
    return finish(fig, path)


# --------------------------------------------------------------------------- robustness

def plot_robustness(table: pd.DataFrame, path: os.PathLike | str | None = None) -> Figure:
    """AUROC against perturbation level, one panel per perturbation, one line per arm (``robustness.csv``).

    ``table`` has the columns of :data:`tdfake.robustness.COLUMNS`.  Each arm's line carries its
    bootstrap 95 % interval as a band; its unperturbed AUROC (condition ``none``) is a dashed line
    in the arm's colour; tick labels show each level's parameter (``q70``, ``k13``, ``σ²=0.005``, ``×3``).
    """

    names = [n for n in PERTURBATIONS if n in set(table["perturbation"])]
    if not names:
        raise ValueError("the table holds no perturbed condition; run `tdfake robustness` with --perturbations")
    arms = list(dict.fromkeys(table["arm"]))
    fig = Figure(figsize=(3.6 * len(names) + 2.6, 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(names), sharey=True))
    lowest = float(np.nanmin(table[["auroc", "auroc_ci_low"]].to_numpy(dtype=float)))
    for ax, name in zip(axes, names):
        perturbation = PERTURBATIONS[name]
        for i, arm in enumerate(arms):
            colour = _colour(arm, i)
            rows = table[(table["arm"] == arm) & (table["perturbation"] == name)].sort_values("level")
            ax.plot(rows["level"], rows["auroc"], "o-", color=colour, ms=4, label=arm_label(arm))
            ax.fill_between(rows["level"], rows["auroc_ci_low"].astype(float), rows["auroc_ci_high"].astype(float),
                            color=colour, alpha=0.15, lw=0)
            clean = table[(table["arm"] == arm) & (table["perturbation"] == NONE)]["auroc"]
            if len(clean):
                ax.axhline(float(clean.iloc[0]), color=colour, ls="--", lw=1,
                           label=f"{arm_label(arm)} unperturbed" if name == names[-1] else None)
        ax.axhline(0.5, color="grey", ls=":", lw=1, label="chance" if name == names[-1] else None)
        ax.set_xticks(list(perturbation.levels), [perturbation.label(level) for level in perturbation.levels],
                      fontsize=8)
        ax.set_title(perturbation.description, fontsize=9)
        ax.set_xlabel("level")
        ax.set_ylim(max(0.0, min(0.45, lowest - 0.03)), 1.01)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("AUROC (band: 95 % CI)")
    axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("Robustness: test AUROC under perturbed input crops (dashed: unperturbed)", fontsize=10)
    return finish(fig, path)


# --------------------------------------------------------------------------- all of graphs/


# --------------------------------------------------------------------------- paired comparisons

def plot_forest(comparisons: pd.DataFrame, path: os.PathLike | str | None = None) -> Figure:
    """Δ AUROC (b − a) with its 95 % interval for every compared pair and test set (``comparisons.csv``).

    One row per comparison, grouped by test set; a dashed line at 0 (no difference) and, for the
    non-inferiority comparisons, a dotted line at −margin.  Points are coloured by the arm ``b``.
    """
    table = comparisons.reset_index(drop=True)
    n = len(table)
    fig = Figure(figsize=(8, 1.4 + 0.6 * max(n, 1)))
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    arms_b = list(dict.fromkeys(table["arm_b"]))
    for yi, row in zip(y, table.itertuples()):
        colour = _colour(row.arm_b, arms_b.index(row.arm_b))
        ax.errorbar(row.delta_auroc, yi, xerr=[[row.delta_auroc - row.delta_auroc_ci_low],
                                                [row.delta_auroc_ci_high - row.delta_auroc]],
                    fmt="o", color=colour, capsize=4)
    margins = table["margin"].dropna().unique()
    for margin in margins:
        ax.axvline(-margin, color="grey", ls=":", lw=1, label=f"−margin ({margin:g})")
    ax.axvline(0, color="black", ls="--", lw=1, label="no difference")
    ax.set_yticks(y, [f"{row.test_set}: {arm_label(row.arm_b)} − {arm_label(row.arm_a)}\n"
                      f"p {'< 0.001' if row.p_auroc < 0.001 else f'= {row.p_auroc:.3f}'}, {row.verdict_auroc}"
                      for row in table.itertuples()], fontsize=8)
    ax.set_xlabel("Δ AUROC (b − a), 95 % CI, paired on the same test rows")
    seeds = int(table["n_seeds"].max()) if n else 1
    ax.set_title("Paired comparisons of the arms" + (f" (mean over {seeds} training seeds)" if seeds > 1 else ""),
                 fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return finish(fig, path)
