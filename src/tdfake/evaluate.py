"""Score a trained arm: its test split (or other data) → predictions.csv, report.md, report.json.

What a run folder holds and how it is read is :mod:`tdfake.layout`'s; this module scores it.
:func:`load_or_make_report` is the cached evaluation every training entry point ends with.

The decision threshold is chosen on the run's *validation* split (``cfg.threshold``, EER by
default) and applied to the test data; the report's THRESH row is still the test-set EER
threshold, as in the study (see :mod:`tdfake.metrics`).  Bootstrap intervals resample the split's
groups (linked videos) and the report says how many groups and videos they rest on.

Other data (a manifest CSV or a folder of ``real/`` and ``fake/`` images) and the files given to
:func:`predict_paths` go through the same image creation as training
(:func:`tdfake.image_creation.create_images`: the arm's image kind with its parameters), so the model sees
what it was trained on; unreadable files are skipped and listed in ``skipped.csv``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from tdfake import layout, provenance
from tdfake.arms import study_results
from tdfake.config import Config
from tdfake.constants import LABEL_NAMES
from tdfake.datasets import build_manifest, read_manifest
from tdfake.image_creation import create_images
from tdfake.images import derived_path, list_images
from tdfake.layout import Run, load_run
from tdfake.metrics import Report, evaluate_scores, side_by_side, study_table, table_markdown
from tdfake.model import load_model
from tdfake.pipeline import paths_dataset

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["path", "label", "group", "split", "score"]


def load_run_model(run: Run):
    """The run's best checkpoint (custom objects such as CyclicalLR come with :mod:`tdfake.model`)."""
    return load_model(run.run_dir / layout.BEST_CHECKPOINT, compile=False)


def score_files(model, paths: list[str], cfg: Config, verbose: int = 0) -> np.ndarray:
    """P(fake) for each image file, in order, through the run's (unaugmented) input pipeline.

    The last batch is padded to ``cfg.batch_size`` with black images (their scores dropped), so the
    model's predict function sees one input shape and is traced once, not again for a shorter last
    batch of each file list (the validation split, the test split, each robustness condition).
    """
    if not paths:
        return np.zeros(0)
    size = int(cfg.batch_size)
    dataset = paths_dataset(paths, cfg, training=False).map(lambda images: _pad_batch(images, size))
    return np.asarray(model.predict(dataset, verbose=verbose), dtype=np.float64).reshape(-1)[:len(paths)]


def _pad_batch(images: tf.Tensor, size: int) -> tf.Tensor:
    """A batch of images padded with zeros (black images) to ``size`` rows."""
    padded = tf.pad(images, [[0, size - tf.shape(images)[0]], [0, 0], [0, 0], [0, 0]])
    return tf.ensure_shape(padded, [size, *images.shape[1:]])


def stage_images(root: Path, relpaths: list[str], run: Run, out: Path) -> tuple[list[str | None], pd.DataFrame]:
    """Make the arm's images of ``root/relpath`` under ``out`` as training did; (file or None, skipped).

    Image creation handles exactly the listed files (not everything else under ``root``); the
    images land in ``out/images/<folder>/<relpath>``.  Existing outputs are reused, so an
    interrupted evaluation resumes; staged images made with other settings or from another data
    folder are made anew (``replace_changed``).  ``skipped`` is image creation's table of unusable files
    (path relative to ``root``, reason).
    """
    cfg, spec = run.cfg, run.spec
    images_root = out / layout.IMAGES_DIR
    summary = create_images(root, images_root, [spec], workers=cfg.workers, image_format=cfg.image_format,
                            progress=False, paths=relpaths, replace_changed=True)
    files = [derived_path(images_root, spec.folder, rel, cfg.image_format) for rel in relpaths]
    skipped = pd.read_csv(summary.skipped_csv, dtype=str)
    return [str(f) if f.is_file() else None for f in files], skipped


def external_rows(data: os.PathLike | str, layout: str = "auto") -> pd.DataFrame:
    """Rows to score from a manifest CSV (its test rows when it has a split column) or a data folder (read
    as ``layout``, see :mod:`tdfake.datasets`)."""
    data = Path(data)
    if data.is_dir():
        rows = build_manifest(data, layout=layout)
    elif data.is_file():
        rows = read_manifest(data)
        if "split" in rows.columns:
            rows = rows[rows["split"] == "test"]
    else:
        raise FileNotFoundError(f"{data}: no such manifest CSV or data folder")
    if len(rows) == 0:
        raise ValueError(f"{data}: no images to evaluate")
    return rows.assign(split="test").reset_index(drop=True)


def stage_rows(rows: pd.DataFrame, run: Run, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Arm images for manifest rows (one staging folder per data root); rows gain a ``file`` column."""
    rows = rows.copy()
    rows["file"] = None
    skipped = []
    for i, (root, part) in enumerate(rows.groupby("root", sort=True)):
        files, skip = stage_images(Path(root), part["path"].tolist(), run, out / f"staged{i}")
        rows.loc[part.index, "file"] = files
        skipped.append(skip)
    return rows, pd.concat(skipped, ignore_index=True)


def evaluate_run(
    run_dir: os.PathLike | str, data: os.PathLike | str | None = None, out_dir: os.PathLike | str | None = None,
    n_bootstrap: int = 1000, verbose: int = 0, data_layout: str = "auto",
) -> Report:
    """Score the run's best checkpoint and write ``predictions.csv``, ``report.md``, ``report.json``.

    Without ``data``: the run's validation and test splits, written into ``run_dir``.  With
    ``data`` (a manifest CSV or a folder with real/ and fake/ images, read as ``data_layout``): those
    images (a manifest's test rows if it has a split column) are the test set, written into ``out_dir``
    (default ``run_dir/eval-<data name>``); the threshold is still chosen on the run's validation split.
    """
    run = load_run(run_dir)
    model = load_run_model(run)
    cfg = run.cfg
    val = run.split[run.split["split"] == "val"].copy()
    val["file"] = run.files(val)

    skipped = None
    if data is None:
        out = run.run_dir
        test = run.split[run.split["split"] == "test"].copy()
        test["file"] = run.files(test)
    else:
        out = Path(out_dir) if out_dir is not None else layout.eval_dir(run.run_dir, data)
        test, skipped = stage_rows(external_rows(data, data_layout), run, out)
        test = test[test["file"].notna()].copy()

    if len(test) == 0:
        raise ValueError(f"{run.run_dir}: no test images to score{unusable_hint(skipped)}")
    test["score"] = score_files(model, test["file"].tolist(), cfg, verbose)
    if len(val) and all(os.path.isfile(f) for f in val["file"]):
        val["score"] = score_files(model, val["file"].tolist(), cfg, verbose)
    else:
        logger.warning("tdfake: the run's validation images are not under %s; the decision threshold is chosen "
                       "on the test data instead (the report says so)", run.images_root)
        val = val.iloc[0:0].assign(score=[])
    report = report_on_rows(run, test, val, n_bootstrap)
    write_evaluation(out, report, report_markdown(report, run, data), test, val, skipped)
    return report


def unusable_hint(skipped: pd.DataFrame | None) -> str:
    """``" (N could not be used; the first, PATH: REASON)"`` for an error message, or "" when none were skipped."""
    if skipped is None or skipped.empty:
        return ""
    first = skipped.iloc[0]
    return f" ({len(skipped)} could not be used; the first, {first['path']}: {first['reason']})"


def write_evaluation(out: Path, report: Report, markdown: str, test: pd.DataFrame, val: pd.DataFrame,
                     skipped: pd.DataFrame | None = None, what: str = "images") -> None:
    """Write an evaluation folder: a run's own, ``eval-<name>``, an extra test set's or a video folder's.

    ``report`` is :func:`report_on_rows` of the scored ``test`` rows at the threshold chosen on the
    scored ``val`` rows.  Writes ``predictions.csv`` (the validation rows, then the test rows),
    ``report.json``, ``report.md`` (the text ``markdown``) and, when ``skipped`` (path, reason) is
    given, ``skipped.csv`` (its header alone when nothing was skipped, so no older list stays
    behind); ``what`` names the skipped things in the message that counts them.
    """
    out.mkdir(parents=True, exist_ok=True)
    if skipped is not None:
        skipped.to_csv(out / layout.SKIPPED_FILE, index=False)
        if len(skipped):
            logger.warning("tdfake: %d %s could not be used; see %s", len(skipped), what, out / layout.SKIPPED_FILE)
    predictions = pd.concat([val, test], ignore_index=True)
    predictions[PREDICTION_COLUMNS].to_csv(out / layout.PREDICTIONS_FILE, index=False)
    report.to_json(out / layout.REPORT_JSON)
    (out / layout.REPORT_MD).write_text(markdown)


def report_markdown(report: Report, run: Run, data: os.PathLike | str | None = None) -> str:
    """The report of one run, with the study's published table for the same arm beside it (when the study
    had that arm)."""
    tested = f"`{data}`" if data is not None else "the run's test split"
    text = report.to_markdown(title=f"{run.arm} ({run.spec.folder}): {tested}")
    if study_results(run.arm) is None:
        return text
    beside = side_by_side({"this run": report.table, "study (FF++ c40 NeuralTextures)": study_table(run.arm)})
    return text + "\n### Beside the study's published results\n\n" + table_markdown(beside) + "\n"


def expand_paths(paths: Iterable[os.PathLike | str]) -> list[Path]:
    """Image files from files and folders (folders searched recursively, sorted)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise FileNotFoundError(f"{p}: folder holds no image files")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return files


def predict_paths(run_dir: os.PathLike | str, paths: Iterable[os.PathLike | str], threshold: float | None = None,
                  verbose: int = 0) -> pd.DataFrame:
    """P(fake) for images and folders of images: DataFrame(path, score, prediction, error).

    ``prediction`` is ``"fake"`` when ``score >= threshold``; the threshold defaults to the one
    the run's ``report.json`` chose on validation, else 0.5.  Files that cannot be read keep
    their row with an empty score and the reason in ``error``.
    """
    run = load_run(run_dir)
    files = [f.resolve() for f in expand_paths(paths)]
    if threshold is None:
        threshold = run.threshold
    common = Path(os.path.commonpath([str(f.parent) for f in files]))
    relpaths = [f.relative_to(common).as_posix() for f in files]
    with tempfile.TemporaryDirectory(prefix="tdfake-predict-") as tmp:
        staged, skipped = stage_images(common, relpaths, run, Path(tmp))
        reasons = dict(zip(skipped["path"].astype(str), skipped["reason"].astype(str)))
        good = {i: f for i, f in enumerate(staged) if f is not None}
        scores = np.full(len(files), np.nan)
        scores[list(good)] = score_files(load_run_model(run), list(good.values()), run.cfg, verbose)
    table = pd.DataFrame({"path": [str(f) for f in files], "score": scores})
    table["prediction"] = np.where(np.isnan(scores), "", np.where(scores >= threshold, LABEL_NAMES[1], LABEL_NAMES[0]))
    table["error"] = [
        "" if staged[i] is not None else reasons.get(relpaths[i], "could not be read") for i in range(len(files))
    ]
    return table


def report_on_rows(run: Run, test: pd.DataFrame, val: pd.DataFrame, n_bootstrap: int = 1000) -> Report:
    """The report of scored test rows (manifest columns + ``score``) at the threshold ``run`` chose on ``val``.

    An empty ``val`` chooses the threshold on the test rows (the report says so).  Bootstrap
    intervals resample the rows' groups, seeded with the run's split seed, so every arm and
    training seed resamples the same groups.
    """
    has_val = len(val) > 0
    return evaluate_scores(
        test["label"].astype(int), test["score"], val_true=val["label"].astype(int) if has_val else None,
        val_score=val["score"] if has_val else None,
        groups=test["group"].astype(str), videos=test["video"].astype(str),
        threshold_method=run.cfg.threshold, n_bootstrap=n_bootstrap,
        seed=run.cfg.seed, methods=test["method"],
    )


def report_params(run_dir: Path) -> dict:
    """What a run's test report depends on: its checkpoint and split files, its threshold method and its
    images folder (relative to the run folder, as run.json keeps it, so a copied or moved study keeps its reports)."""
    run = load_run(run_dir)
    checkpoint = provenance.file_fingerprint([run_dir / layout.BEST_CHECKPOINT, run_dir / layout.SPLIT_FILE],
                                             root=run_dir)
    images = None if run.images_root is None else os.path.relpath(run.images_root, run.run_dir)
    return {"files": checkpoint, "threshold": run.cfg.threshold, "images_root": images}


def load_or_make_report(run_dir: os.PathLike | str) -> Report:
    """The run's ``report.json`` when its record matches :func:`report_params`, else a new evaluation."""
    run_dir = Path(run_dir)
    record_file = provenance.record_path(run_dir, "report")
    params = report_params(run_dir)
    report_json = run_dir / layout.REPORT_JSON
    if report_json.is_file() and provenance.unchanged(record_file, params):
        return Report.from_json(report_json)
    report = evaluate_run(run_dir)
    provenance.write_record(record_file, "report", params)
    return report
