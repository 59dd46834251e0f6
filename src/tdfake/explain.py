"""Where does an arm look?  Grad-CAM (Selvaraju et al. 2017) drawn over the image each arm sees.

For an image, Grad-CAM takes the activations ``A_k`` of the network's last convolutional block
(Xception's ``block14_sepconv2_act``) and the gradient of a class score with respect to them;
each channel's weight is the spatial mean of its gradient, and the map is
``ReLU(Σ_k w_k A_k)``, divided by its maximum (an all-zero map stays zero).  The network's output is
P(fake) from a sigmoid, so the score of "fake" is P(fake) and that of "real" is 1 − P(fake);
``target="predicted"`` explains each image's own decision at the run's validation threshold.

The model is fed exactly what it saw in evaluation: the arm's image file (``OR``, ``TK`` or
``TK_diff``) read through :func:`tdfake.pipeline.paths_dataset`.  Images given by the user are
first made into the arm's kind as training made them (:func:`tdfake.evaluate.stage_images`);
unreadable ones are skipped and listed in ``skipped.csv``.  The map, resized to the image,
is blended over it in the jet colormap.

* :func:`explain_run` — one arm folder: one PNG per image under ``OUT/<arm>/`` and ``explain.csv``.
* :func:`explain_study` — every finished arm of a ``tdfake run`` folder on the same images, plus
  ``OUT/explain_grid.png`` (rows real then fake images, one column per arm).
* :func:`plot_explain_grid` — that grid, computed afresh from a ``tdfake run`` folder (for the graphs folder).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib import colormaps
from matplotlib.figure import Figure

from tdfake import layout
from tdfake.arms import label as arm_label
from tdfake.config import Config
from tdfake.constants import LABEL_NAMES
from tdfake.dataset_layouts import CLASS_FOLDERS
from tdfake.evaluate import expand_paths, load_run_model, stage_images
from tdfake.images import read_rgb
from tdfake.layout import Run, load_run
from tdfake.pipeline import paths_dataset
from tdfake.plots import finish

logger = logging.getLogger(__name__)

TARGETS = ("predicted", "fake", "real")
XCEPTION_LAST_CONV = "block14_sepconv2_act"
TABLE_COLUMNS = ["path", "label", "score", "decision", "png"]
OVERLAY_ALPHA = 0.45  # weight of the heatmap's colour in the blend


# ----------------------------------------------------------------------------- Grad-CAM


def target_layer(model):
    """The layer Grad-CAM reads: Xception's last convolutional block, else the last layer with a 4-D output."""
    names = {layer.name for layer in model.layers}
    if XCEPTION_LAST_CONV in names:
        return model.get_layer(XCEPTION_LAST_CONV)
    for layer in reversed(model.layers):
        if len(layer.output.shape) == 4:
            return layer
    raise ValueError(f"model {model.name!r} has no layer with a 4-D (batch, height, width, channels) output; "
                     "Grad-CAM needs a convolutional layer")


def _probe(model, layer=None):
    """A model giving the target layer's activations and P(fake) in one forward pass.

    A functional model (Xception) is cut at the layer's output.  A ``Sequential`` one is called
    layer by layer on a new input instead: once reloaded from a ``.keras`` file, its layers hold
    several graph nodes, and ``layer.output`` need not be on the path to the model's output.
    """
    if layer is None:
        layer = target_layer(model)
    elif isinstance(layer, str):
        layer = model.get_layer(layer)
    if not isinstance(model, keras.Sequential):
        return keras.Model(model.inputs, [layer.output, *model.outputs])
    inputs = keras.Input(model.inputs[0].shape[1:])
    x = inputs
    for step in model.layers:
        x = step(x)
        if step is layer:
            activations = x
    return keras.Model(inputs, [activations, x])


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")


def _cam(probe, batch, target: str, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    batch = tf.convert_to_tensor(batch, tf.float32)
    with tf.GradientTape() as tape:
        activations, p_fake = probe(batch, training=False)
        p_fake = tf.reshape(tf.cast(p_fake, tf.float32), [-1])
        if target == "predicted":  # compared in float64, as the decision column is
            explain_fake = tf.cast(p_fake, tf.float64) >= tf.constant(threshold, tf.float64)
        else:
            explain_fake = tf.fill(tf.shape(p_fake), target == "fake")
        class_score = tf.where(explain_fake, p_fake, 1.0 - p_fake)
    # Each image's score depends on its own activations only (inference mode), so the gradient of
    # the batch's sum holds every image's own gradient.
    gradients = tf.cast(tape.gradient(class_score, activations), tf.float32)
    activations = tf.cast(activations, tf.float32)
    weights = tf.reduce_mean(gradients, axis=(1, 2))  # (N, K)
    cam = tf.nn.relu(tf.einsum("nhwk,nk->nhw", activations, weights))
    cam = tf.math.divide_no_nan(cam, tf.reduce_max(cam, axis=(1, 2), keepdims=True))
    return cam.numpy().astype(np.float64), p_fake.numpy().astype(np.float64)


def grad_cam(model, batch, layer=None, target: str = "predicted",
             threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps (N, h, w) in [0, 1] of a batch (N, H, W, 3) as the model sees it, and P(fake) (N,).

    ``layer``: a layer or its name (default :func:`target_layer`); ``h, w`` is its spatial size.
    ``target``: ``"fake"`` explains P(fake), ``"real"`` 1 − P(fake), ``"predicted"`` each image's
    decision at ``threshold`` (fake when P(fake) ≥ threshold).
    """
    _check_target(target)
    return _cam(_probe(model, layer), batch, target, threshold)


def grad_cam_files(model, files: Sequence[str], cfg: Config, target: str = "predicted",
                   threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grad_cam` of image files read through the run's unaugmented input pipeline, in order."""
    _check_target(target)
    probe = _probe(model)
    results = [_cam(probe, batch, target, threshold) for batch in paths_dataset(files, cfg, training=False)]
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


# ----------------------------------------------------------------------------- which images


@dataclass
class Examples:
    """The images to explain: ``rows`` (root, path relative to it, label name or "") in display order.

    ``staged``: the files are the user's, to be made into each arm's kind; otherwise they are
    split rows whose arm images exist already (:meth:`tdfake.evaluate.Run.files`).
    """

    rows: pd.DataFrame
    staged: bool


def _by_label(rows: pd.DataFrame) -> pd.DataFrame:
    """Real rows, then fake, then unlabelled, each in their given order."""
    order = {name: i for i, name in enumerate(LABEL_NAMES.values())}
    return rows.sort_values("label", key=lambda s: s.map(order).fillna(len(order)), kind="stable").reset_index(
        drop=True)


def split_examples(runs: Sequence[Run], n_per_class: int = 2, seed: int | None = None) -> Examples:
    """``n_per_class`` real and fake rows of the first run's test split whose images exist for every run.

    The choice is seeded (default: the run's config seed), so every call picks the same rows.
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1, got {n_per_class}")
    first = runs[0]
    test = first.split[first.split["split"] == "test"]
    present = np.ones(len(test), dtype=bool)
    for run in runs:
        present &= np.array([os.path.isfile(f) for f in run.files(test)], dtype=bool)
    test = test[present]
    if len(test) == 0:
        raise FileNotFoundError(f"{first.run_dir}: no test image of the split is on disk for "
                                f"{', '.join(r.arm for r in runs)}; make the images (`tdfake run`) or pass images")
    seed = first.cfg.seed if seed is None else seed
    picked = []
    for label, name in LABEL_NAMES.items():
        rows = test[test["label"].astype(int) == label].sort_values("path")
        picked.append(rows.sample(n=min(n_per_class, len(rows)), random_state=seed).sort_values("path")
                      .assign(label=name))
    return Examples(pd.concat(picked, ignore_index=True)[["root", "path", "label"]], staged=False)


def label_from_path(path: os.PathLike | str) -> str:
    """"real" or "fake" when a folder above the file is named so (any case), else ""."""
    for part in reversed(Path(path).parent.parts):
        if part.lower() in CLASS_FOLDERS:
            return part.lower()
    return ""


def given_examples(paths: Iterable[os.PathLike | str]) -> Examples:
    """Image files and folders (searched recursively) as examples, labelled by their real/ or fake/ folder."""
    files = [f.resolve() for f in expand_paths(paths)]
    common = Path(os.path.commonpath([str(f.parent) for f in files]))
    rows = pd.DataFrame({"root": str(common), "path": [f.relative_to(common).as_posix() for f in files],
                         "label": [label_from_path(f) for f in files]})
    return Examples(_by_label(rows), staged=True)


# ----------------------------------------------------------------------------- one arm


@dataclass
class ArmExplanation:
    """One arm's Grad-CAM of the examples it could read: table, maps and the images it saw."""

    run: Run
    threshold: float
    target: str
    table: pd.DataFrame  # root, path, label, score, decision (one row per explained image)
    heatmaps: np.ndarray  # (N, h, w) in [0, 1]
    images: list[np.ndarray]  # the arm's images (RGB uint8) as read from disk
    skipped: pd.DataFrame  # path (relative to the examples' root), reason


def explain_arm(run: Run, examples: Examples, target: str = "predicted") -> ArmExplanation:
    """Grad-CAM of the examples with the run's best checkpoint, on the images of the arm's kind."""
    _check_target(target)
    threshold = run.threshold
    rows = examples.rows
    with tempfile.TemporaryDirectory(prefix="tdfake-explain-") as tmp:
        files: Sequence[str | None]
        if examples.staged:
            files, skipped = stage_images(Path(rows["root"].iloc[0]), rows["path"].tolist(), run, Path(tmp))
        else:
            files, skipped = run.files(rows), pd.DataFrame(columns=["path", "reason"])
        usable = {i: f for i, f in enumerate(files) if f is not None}
        keep = list(usable)
        if not keep:
            reasons = "; ".join(f"{path}: {reason}" for path, reason in skipped.head(3).itertuples(index=False))
            raise ValueError(f"{run.arm}: none of the {len(rows)} images could be used ({reasons}); "
                             "pass readable image files")
        used = list(usable.values())
        heatmaps, scores = grad_cam_files(load_run_model(run), used, run.cfg, target, threshold)
        images = [read_rgb(f) for f in used]
    table = rows.iloc[keep].reset_index(drop=True).assign(score=scores)
    table["decision"] = np.where(scores >= threshold, LABEL_NAMES[1], LABEL_NAMES[0])
    return ArmExplanation(run, threshold, target, table, heatmaps, images, skipped)


# ----------------------------------------------------------------------------- drawing


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """The heatmap resized (bilinear) to the RGB uint8 image and blended over it in the jet colormap."""
    height, width = image.shape[:2]
    heat = cv2.resize(np.asarray(heatmap, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    colour = colormaps["jet"](np.clip(heat, 0.0, 1.0))[..., :3]
    blended = (1.0 - alpha) * image.astype(np.float64) / 255.0 + alpha * colour
    return np.clip(np.round(blended * 255.0), 0, 255).astype(np.uint8)


def _explained_class(target: str, decision: str) -> str:
    return decision if target == "predicted" else target


def _verdict(score: float, decision: str, label: str) -> str:
    truth = f", true {label}" if label else ""
    return f"P(fake) {score:.3f} → {decision}{truth}"


def plot_explanation(explanation: ArmExplanation, index: int, path: os.PathLike | str | None = None) -> Figure:
    """One image: the arm's image and its Grad-CAM overlay; the title gives arm, score and decision."""
    row = explanation.table.iloc[index]
    run, image = explanation.run, explanation.images[index]
    fig = Figure(figsize=(7, 3.9))
    left, right = fig.subplots(1, 2)
    left.imshow(image)
    left.set_title(f"{run.kind} image the arm sees", fontsize=9)
    right.imshow(overlay(image, explanation.heatmaps[index]))
    right.set_title(f"Grad-CAM of '{_explained_class(explanation.target, row['decision'])}'", fontsize=9)
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{arm_label(run.arm)}: {_verdict(row['score'], row['decision'], row['label'])} "
                 f"(threshold {explanation.threshold:.3f})\n{row['path']}", fontsize=10)
    return finish(fig, path)


def plot_grid(explanations: Sequence[ArmExplanation], path: os.PathLike | str | None = None) -> Figure:
    """Rows: the images (real, then fake); columns: the arms; each title gives the arm's threshold, score and decision.

    Only images every arm could read are drawn.
    """
    keys = [set(zip(e.table["root"], e.table["path"])) for e in explanations]
    first = explanations[0].table
    shown = [(r, p) for r, p in zip(first["root"], first["path"]) if all((r, p) in k for k in keys)]
    fig = Figure(figsize=(2.9 * len(explanations) + 0.6, 3.0 * len(shown) + 0.5))
    axes = np.array(fig.subplots(len(shown), len(explanations), squeeze=False))
    for c, explanation in enumerate(explanations):
        index = {key: i for i, key in enumerate(zip(explanation.table["root"], explanation.table["path"]))}
        for r, key in enumerate(shown):
            i = index[key]
            row = explanation.table.iloc[i]
            ax = axes[r, c]
            ax.imshow(overlay(explanation.images[i], explanation.heatmaps[i]))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{arm_label(explanation.run.arm)}, threshold {explanation.threshold:.3f}\n"
                         f"P(fake) {row['score']:.3f} → {row['decision']}", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{row['label'] or 'unlabelled'}\n{Path(row['path']).name}", fontsize=9)
    target = explanations[0].target
    what = "each arm's own decision" if target == "predicted" else f"'{target}'"
    fig.suptitle(f"Grad-CAM of {what}, over the image each arm sees", fontsize=11)
    return finish(fig, path)


# ----------------------------------------------------------------------------- writing


def png_name(relpath: str) -> str:
    """A flat, unique PNG name for an image's path relative to its root (folders joined by ``__``)."""
    return Path(relpath).with_suffix(".png").as_posix().replace("/", "__")


def write_arm(explanation: ArmExplanation, out: Path) -> pd.DataFrame:
    """Per-image PNGs, ``explain.csv`` and (when any) ``skipped.csv`` under ``out/<arm>/``; the table."""
    arm_dir = out / explanation.run.arm
    arm_dir.mkdir(parents=True, exist_ok=True)
    table = explanation.table.copy()
    pngs = []
    for i, rel in enumerate(table["path"]):
        png = arm_dir / png_name(rel)
        plot_explanation(explanation, i, png)
        pngs.append(str(png))
    table["png"] = pngs
    table["path"] = [str(Path(root) / rel) for root, rel in zip(table["root"], table["path"])]
    table = table[TABLE_COLUMNS]
    table.to_csv(arm_dir / "explain.csv", index=False)
    (arm_dir / layout.SKIPPED_FILE).unlink(missing_ok=True)
    if len(explanation.skipped):
        explanation.skipped.to_csv(arm_dir / layout.SKIPPED_FILE, index=False)
        logger.warning("tdfake explain: %d images could not be used; see %s", len(explanation.skipped),
                       arm_dir / layout.SKIPPED_FILE)
    return table


def _progress(run: Run, n: int, arm_dir: Path) -> None:
    logger.info("tdfake explain: %s (%s): Grad-CAM of %d images -> %s", run.arm, run.kind, n, arm_dir)


def _examples(runs: Sequence[Run], paths, n_per_class: int, seed: int | None) -> Examples:
    return split_examples(runs, n_per_class, seed) if paths is None else given_examples(paths)


def explain_run(run_dir: os.PathLike | str, paths: Iterable[os.PathLike | str] | None = None,
                out: os.PathLike | str | None = None, n_per_class: int = 2, seed: int | None = None,
                target: str = "predicted") -> pd.DataFrame:
    """Grad-CAM PNGs of one arm folder under ``OUT/<arm>/`` (default ``OUT``: ``run_dir/explain``).

    Without ``paths``: ``n_per_class`` real and fake images of the run's test split (seeded
    choice, default the config's seed).  With ``paths`` (files and folders): those images, made
    into the arm's kind first.  Returns the table (path, label, score, decision, png), also
    written as ``explain.csv``.
    """
    run = load_run(run_dir)
    out = Path(out) if out is not None else run.run_dir / layout.EXPLAIN_DIR
    examples = _examples([run], paths, n_per_class, seed)
    _progress(run, len(examples.rows), out / run.arm)
    return write_arm(explain_arm(run, examples, target), out)


def explain_study(out_dir: os.PathLike | str, paths: Iterable[os.PathLike | str] | None = None,
                  out: os.PathLike | str | None = None, n_per_class: int = 2, seed: int | None = None,
                  target: str = "predicted") -> pd.DataFrame:
    """Every finished arm of a ``tdfake run`` folder on the same images, and ``OUT/explain_grid.png``.

    Images as in :func:`explain_run` (test rows whose images exist for every arm, or ``paths``);
    per-arm PNGs under ``OUT/<arm>/`` (default ``OUT``: ``out_dir/explain``).  Returns the arms'
    tables one after the other, with an ``arm`` column.
    """
    runs = [load_run(run_dir) for run_dir in layout.find_runs([out_dir])]
    out = Path(out) if out is not None else Path(out_dir) / layout.EXPLAIN_DIR
    examples = _examples(runs, paths, n_per_class, seed)
    explanations, tables = [], []
    for run in runs:
        _progress(run, len(examples.rows), out / run.arm)
        explanation = explain_arm(run, examples, target)
        tables.append(write_arm(explanation, out).assign(arm=run.arm))
        explanations.append(explanation)
    plot_grid(explanations, out / layout.EXPLAIN_GRID)
    logger.info("tdfake explain: grid of %d arms -> %s", len(runs), out / layout.EXPLAIN_GRID)
    return pd.concat(tables, ignore_index=True)[["arm", *TABLE_COLUMNS]]


def plot_explain_grid(out_dir: os.PathLike | str, path: os.PathLike | str | None = None, n_per_class: int = 2,
                      arms: Iterable[str] | None = None, target: str = "predicted") -> Figure:
    """The Grad-CAM grid of a ``tdfake run`` folder's finished ``arms`` (default: all of them) on seeded test
    images (e.g. for graphs/)."""
    runs = [load_run(run_dir) for run_dir in layout.finished_arms(out_dir, arms)]
    if not runs:
        raise FileNotFoundError(f"{out_dir}: no finished arm among {', '.join(arms or layout.study_arms(out_dir))}; "
                                "train the study first")
    examples = split_examples(runs, n_per_class)
    return plot_grid([explain_arm(run, examples, target) for run in runs], path)
