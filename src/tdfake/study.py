"""The study end to end: data → one shared split → the arms' images → every arm × training seed → results.

The arms are the config's (``arms:``; the study's baseline, tk and tk_diff by default), each
trained on its image kind with its parameters; images of one kind and parameters are made once,
under ``OUT/images/<folder>/``, and shared by every arm that trains on them.
``prepare`` is what every training entry point needs first (``tdfake train`` calls it for one
arm, ``tdfake run`` for all of them); ``run_study`` is the README's main job.  Every step writes
its output under ``cfg.out_dir`` (laid out as :mod:`tdfake.layout` says) and is skipped on a
re-run when its output is already there and was made with the same parameters (checked against
its ``*.provenance.json`` record, see :mod:`tdfake.provenance`), so an interrupted run resumes
where it stopped.  When the parameters differ, the split, the images and the reports are made
anew (each with a line saying why); a trained arm is never replaced unless ``force``
(``tdfake run --force``) asks for it.

With several training seeds (``seeds`` in the config, ``--seeds`` on the command line) every arm
is trained once per seed on the same split and images; the config's own seed keeps the one-seed
layout ``OUT/<arm>/``, the others go to ``OUT/seed_<s>/<arm>/``.  ``run_study`` returns the
tables and draws nothing: the figures are :mod:`tdfake.graphs`'.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tdfake import layout, provenance
from tdfake.config import Config
from tdfake.constants import OWN_TEST_SET
from tdfake.datasets import build_manifest, read_manifest
from tdfake.demo import make_demo_data
from tdfake.evaluate import load_or_make_report
from tdfake.image_creation import create_images
from tdfake.images import derived_path
from tdfake.metrics import Report
from tdfake.results import (
    collapse_reason,
    compare_arms,
    results_by_set,
    results_markdown,
    seed_summary,
    training_checks,
)
from tdfake.split import split_manifest
from tdfake.test_sets import evaluate_test_sets
from tdfake.train import check_archived_run, train_arm

logger = logging.getLogger(__name__)


@dataclass
class Prepared:
    """What training needs: the split table and the folder holding the arm images."""

    split: pd.DataFrame
    images_root: Path
    data_dir: Path


def data_folder(cfg: Config) -> Path:
    """The configured data folder, or the built-in demo dataset (made on first use)."""
    if cfg.data_dir is not None:
        data_dir = Path(cfg.data_dir)
        if not data_dir.is_dir():
            raise FileNotFoundError(
                f"{data_dir}: data folder not found; set data_dir in the config (see data/README.md) "
                "or leave it empty to use the built-in demo dataset"
            )
        return data_dir
    return Path(make_demo_data(cfg.demo_dir, n_per_class=cfg.demo_n_per_class, size=cfg.demo_size, seed=cfg.seed,
                               frames_per_video=cfg.demo_frames_per_video, paired=cfg.demo_paired))


SPLIT_SETTINGS = ("layout", "split_by", "train_fraction", "val_fraction", "test_fraction", "seed", "per_class")
"""Config fields the split depends on (with the manifest of the data folder)."""


def load_or_make_split(cfg: Config, data_dir: Path) -> pd.DataFrame:
    """The run's split: read from ``out_dir/split.csv`` when it was made from the same data and settings.

    Keeping the file means every arm, and every re-run, trains and tests on the same rows.  The
    manifest is rebuilt on every call (one listing of the data folder) and its rows (path, label,
    group) fingerprinted; when they or :data:`SPLIT_SETTINGS` differ from ``split.provenance.json``,
    the split is made anew (a trained arm then refuses to resume on it, see :func:`tdfake.train.train_arm`).
    """
    out_dir = Path(cfg.out_dir)
    split_csv = out_dir / layout.SPLIT_FILE
    record_file = provenance.record_path(out_dir, "split")
    manifest = build_manifest(data_dir, layout=cfg.layout)
    params = {key: getattr(cfg, key) for key in SPLIT_SETTINGS}
    params["manifest"] = provenance.table_fingerprint(manifest, ["path", "label", "group"])
    if split_csv.is_file():
        record = provenance.read_record(record_file)
        changed = provenance.differences(record["params"], params) if record else None
        if record is not None and not changed:
            return read_manifest(split_csv)
        why = provenance.describe(changed) if changed else f"no {record_file.name}"
        logger.info("tdfake: %s was made from other data or settings (%s); making the split anew", split_csv, why)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(out_dir / layout.MANIFEST_FILE, index=False)
    split = split_manifest(
        manifest,
        fractions=(cfg.train_fraction, cfg.val_fraction, cfg.test_fraction),
        by=cfg.split_by,
        seed=cfg.seed,
        per_class=cfg.per_class,
    )
    split.to_csv(split_csv, index=False)
    provenance.write_record(record_file, "split", params, data={"data_dir": str(Path(data_dir).resolve())})
    return split


def prepare(cfg: Config, arms: Sequence[str] | None = None) -> Prepared:
    """Make (or reuse) the data, the split and the images of the given arms (default: all) for the split's rows.

    Images made with other parameters (rank, method, format, data folder) are cleared and made anew.
    """
    data_dir = data_folder(cfg)
    split = load_or_make_split(cfg, data_dir)
    images_root = Path(cfg.out_dir) / layout.IMAGES_DIR
    return Prepared(split=make_arm_images(cfg, data_dir, split, images_root, arms), images_root=images_root,
                    data_dir=data_dir)


def make_arm_images(cfg: Config, data_dir: Path, split: pd.DataFrame, images_root: Path,
                    arms: Sequence[str] | None = None) -> pd.DataFrame:
    """The split rows' images of ``arms`` (default: all of the config's) under ``images_root`` (made or
    reused); returns the usable rows.

    The images follow ``cfg`` (each arm's kind and parameters, the format); images made with other
    settings are made anew (see :func:`tdfake.image_creation.create_images`).  Arms of one kind and
    parameters share one folder, made once.
    """
    specs = list(cfg.image_specs(arms).values())
    summary = create_images(data_dir, images_root, specs, workers=cfg.workers, image_format=cfg.image_format,
                            paths=list(split["path"]), replace_changed=True)
    logger.info("tdfake images: %s in %s: %s", " ".join(spec.folder for spec in specs), images_root, summary.line())
    return usable_rows(split, images_root, [spec.folder for spec in specs], cfg.image_format)


def usable_rows(split: pd.DataFrame, images_root: Path, folders, image_format: str | None) -> pd.DataFrame:
    """Drop split rows whose image could not be made (recorded in ``images/skipped.csv``).

    A bad file fails for every kind alike, so all arms keep the same rows.
    """
    present = split["path"].map(
        lambda rel: all(derived_path(images_root, folder, rel, image_format).is_file() for folder in folders)
    )
    if not present.all():
        logger.warning("tdfake: %d split rows have no usable image and are left out; see %s",
                       int((~present).sum()), images_root / "skipped.csv")
    return split[present].reset_index(drop=True)


def run_arm(cfg: Config, arm: str, prepared: Prepared | None = None, force: bool = False,
            run_dir: Path | None = None, seed: int | None = None) -> Report:
    """Train (or resume) one arm with training ``seed`` and evaluate its best checkpoint.

    ``run_dir`` defaults to the study layout's folder for the arm and seed (``out_dir/<arm>`` for
    the config's seed).  A finished arm is not retrained; an arm trained with other settings
    raises, naming them, unless ``force`` retrains it from scratch.  An archived run (no checkpoints,
    see :mod:`tdfake.archive`) trained with these settings keeps its recorded report.  Its report is reused when
    ``report.provenance.json`` matches the checkpoint, split and threshold method now.
    """
    if prepared is None:
        prepared = prepare(cfg, [arm])
    seed = int(cfg.seed if seed is None else seed)
    run_dir = layout.arm_dir(cfg.out_dir, arm, seed, cfg.seed) if run_dir is None else Path(run_dir)
    if layout.is_archived(run_dir):
        if not force:
            check_archived_run(cfg, arm, prepared.split, prepared.images_root, run_dir, seed)
            logger.info("%s: archived without its checkpoints (%s); its recorded report stands", run_dir,
                        layout.ARCHIVE_RECORD)
            return Report.from_json(run_dir / layout.REPORT_JSON)
        (run_dir / layout.ARCHIVE_RECORD).unlink()  # --force: trained anew below, so no longer an archive
    train_arm(cfg, arm, prepared.split, prepared.images_root, run_dir, resume=True, force=force, seed=seed)
    return load_or_make_report(run_dir)


@dataclass
class StudyResults:
    """What ``tdfake run`` writes: results.csv, seeds.csv and comparisons.csv as tables."""

    results: pd.DataFrame
    seeds: pd.DataFrame
    comparisons: pd.DataFrame


def run_study(cfg: Config, force: bool = False) -> StudyResults:
    """The README's main job: all of the config's arms on one split, for every training seed; results; resumable.

    ``force``: retrain from scratch the arms whose recorded settings differ from ``cfg``.  Every
    arm is also scored on each of ``cfg.test_sets`` (see :mod:`tdfake.test_sets`) as soon as it is
    trained, so an interrupted study keeps complete results for the runs it finished.  With
    ``cfg.replace_collapsed`` > 0, a run that collapsed (:func:`tdfake.results.collapse_reason`) is
    left out of the results and replaced by the arm's next unused seed after the last of the
    config's, at most that many times per arm; the arms' usable runs are paired in seed order, and
    an arm left with fewer usable runs than seeds is reported as failed to train and left out of the
    comparisons.  Writes ``results.csv`` (one row per test set, seed and arm), ``seeds.csv`` (mean
    and sd over seeds), ``comparisons.csv`` (the config's paired comparisons, see
    :mod:`tdfake.results`), ``training.csv`` (every run trained, collapsed or not:
    :func:`tdfake.results.training_checks`) and ``results.md``.
    """
    prepared = prepare(cfg)
    seeds = layout.training_seeds(cfg)
    arms = list(cfg.arms)
    sets: dict[str, dict[int, dict[str, Report]]] = {OWN_TEST_SET: {}, **{name: {} for name in cfg.test_sets}}
    trained: dict[str, list[Path]] = {arm: [] for arm in arms}
    usable: dict[str, list[Path]] = {arm: [] for arm in arms}

    def train_and_score(arm: str, seed: int) -> None:
        run_dir = layout.arm_dir(cfg.out_dir, arm, seed, cfg.seed)
        own = run_arm(cfg, arm, prepared, force=force, seed=seed)
        others = {name: by_run[run_dir] for name, by_run in evaluate_test_sets(cfg, [run_dir]).items()}
        trained[arm].append(run_dir)
        reason = collapse_reason(run_dir) if cfg.replace_collapsed else ""
        if reason:
            logger.warning("%s collapsed (%s): left out of the results, replaced by the arm's next unused seed",
                           run_dir, reason)
            return
        usable[arm].append(run_dir)
        for name, report in {OWN_TEST_SET: own, **others}.items():
            sets[name].setdefault(seed, {})[arm] = report

    for seed in seeds:
        for arm in arms:
            train_and_score(arm, seed)
    for arm in arms:
        spare = iter(range(max(seeds) + 1, max(seeds) + 1 + int(cfg.replace_collapsed)))
        while len(usable[arm]) < len(seeds) and (spare_seed := next(spare, None)) is not None:
            train_and_score(arm, spare_seed)
        if len(usable[arm]) < len(seeds):
            logger.error("%s: failed to train: %d usable runs of %d after %d replacements (see %s); left out of "
                         "the comparisons", arm, len(usable[arm]), len(seeds), cfg.replace_collapsed,
                         layout.TRAINING_CSV)
    run_dirs = {arm: dirs for arm, dirs in usable.items() if len(dirs) == len(seeds)}
    return write_results(cfg, sets, run_dirs, trained)


def write_results(cfg: Config, sets, run_dirs: dict[str, list[Path]],
                  trained: dict[str, list[Path]] | None = None) -> StudyResults:
    """results.csv, seeds.csv, comparisons.csv, training.csv and results.md of a study from its reports and
    predictions.  ``run_dirs``: each arm's usable runs, paired in order; ``trained``: every run trained
    (default: ``run_dirs``), for training.csv."""
    out_dir = Path(cfg.out_dir)
    results = results_by_set(sets, cfg)
    seeds = seed_summary(results)
    comparisons = compare_arms(run_dirs, list(sets), cfg.comparison_specs(), seed=cfg.seed)
    training_checks(run_dirs if trained is None else trained).to_csv(out_dir / layout.TRAINING_CSV, index=False)
    results.to_csv(out_dir / layout.RESULTS_CSV)
    seeds.to_csv(out_dir / layout.SEEDS_CSV, index=False)
    comparisons.to_csv(out_dir / layout.COMPARISONS_CSV, index=False)
    (out_dir / layout.RESULTS_MD).write_text(results_markdown(cfg, sets, comparisons, seeds))
    return StudyResults(results, seeds, comparisons)
