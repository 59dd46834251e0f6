"""The study end to end: data → one shared split → OR/TK/TK_diff images → three arms → results.

``prepare`` is what every training entry point needs first (``tdfake train`` calls it for one
arm, ``tdfake run`` for all three); ``run_study`` is the README's main job.  Every step writes
its output under ``cfg.out_dir`` and is skipped on a re-run when its output is already there and
was made with the same parameters (checked against its ``*.provenance.json`` record, see
:mod:`tdfake.provenance`), so an interrupted run resumes where it stopped.  When the parameters
differ, the split, the images and the reports are made anew (each with a line saying why); a
trained arm is never replaced unless ``force`` (``tdfake run --force``) asks for it.

Layout of ``cfg.out_dir``::

    manifest.csv  split.csv             the data and the one split all arms share (+ split.provenance.json)
    images/OR|TK|TK_diff/<path>         the arm images (the study's OR/, TK/, TK_diff/ trees; + <kind>.provenance.json)
    baseline/ tk/ tk_diff/              one run folder per arm (see tdfake.train, tdfake.evaluate)
    results.md  results.csv             the arms side by side, the study's numbers beside them
    test_sets/<name>/                   extra test sets' manifests and images (see tdfake.test_sets)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from tdfake.config import ARMS, Config

if TYPE_CHECKING:  # the steps import their modules when they run, so importing this module stays light
    from tdfake.metrics import Report

_ALL_KINDS = tuple(ARMS.values())


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
    from tdfake.demo import make_demo_data

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
    from tdfake import provenance
    from tdfake.datasets import build_manifest, read_manifest
    from tdfake.split import split_manifest

    out_dir = Path(cfg.out_dir)
    split_csv = out_dir / "split.csv"
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
        print(f"tdfake: {split_csv} was made from other data or settings ({why}); making the split anew")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(out_dir / "manifest.csv", index=False)
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


def prepare(cfg: Config, kinds: list[str] | tuple[str, ...] = _ALL_KINDS) -> Prepared:
    """Make (or reuse) the data, the split and the images of the given kinds for the split's rows.

    Images made with other parameters (rank, method, format, data folder) are cleared and made anew.
    """
    data_dir = data_folder(cfg)
    split = load_or_make_split(cfg, data_dir)
    images_root = Path(cfg.out_dir) / "images"
    return Prepared(split=make_arm_images(cfg, data_dir, split, images_root, kinds), images_root=images_root,
                    data_dir=data_dir)


def make_arm_images(cfg: Config, data_dir: Path, split: pd.DataFrame, images_root: Path,
                    kinds: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """The split rows' images of ``kinds`` under ``images_root`` (made or reused); returns the usable rows.

    The images follow ``cfg`` (rank, Tucker method, format); kinds made with other settings are
    made anew (see :func:`tdfake.image_creation.create_images`).
    """
    from tdfake.image_creation import create_images

    create_images(
        data_dir,
        images_root,
        kinds=tuple(kinds),
        rank=tuple(cfg.rank),
        method=cfg.tucker_method,
        workers=cfg.workers,
        image_format=cfg.image_format,
        paths=list(split["path"]),
        replace_changed=True,
    )
    return usable_rows(split, images_root, kinds, cfg.image_format)


def usable_rows(split: pd.DataFrame, images_root: Path, kinds, image_format: str | None) -> pd.DataFrame:
    """Drop split rows whose image could not be made (recorded in ``images/skipped.csv``).

    A bad file fails for every kind alike, so all arms keep the same rows.
    """
    from tdfake.images import derived_path

    present = split["path"].map(
        lambda rel: all(derived_path(images_root, kind, rel, image_format).is_file() for kind in kinds)
    )
    if not present.all():
        print(f"tdfake: {int((~present).sum())} split rows have no usable image and are left out; "
              f"see {images_root / 'skipped.csv'}")
    return split[present].reset_index(drop=True)


def run_arm(cfg: Config, arm: str, prepared: Prepared | None = None, force: bool = False,
            run_dir: Path | None = None) -> Report:
    """Train (or resume) one arm in ``run_dir`` (default ``out_dir/<arm>``) and evaluate its best checkpoint.

    A finished arm is not retrained; an arm trained with other settings raises, naming them,
    unless ``force`` retrains it from scratch.  Its report is reused when ``report.provenance.json``
    matches the checkpoint, split and threshold method now, and made anew otherwise.
    """
    from tdfake.train import train_arm

    if prepared is None:
        prepared = prepare(cfg, [ARMS[arm]])
    run_dir = Path(cfg.out_dir) / arm if run_dir is None else Path(run_dir)
    train_arm(cfg, arm, prepared.split, prepared.images_root, run_dir, resume=True, force=force)
    return load_or_make_report(run_dir)


def report_params(run_dir: Path) -> dict:
    """What a run's test report depends on: its checkpoint and split files and its threshold method."""
    from tdfake import provenance
    from tdfake.evaluate import load_run

    run = load_run(run_dir)
    checkpoint = provenance.file_fingerprint([run_dir / "best.keras", run_dir / "split.csv"], root=run_dir)
    return {"files": checkpoint, "threshold": run.cfg.threshold, "images_root": str(run.images_root)}


def load_or_make_report(run_dir: Path) -> Report:
    """The run's ``report.json`` when its record matches :func:`report_params`, else a new evaluation."""
    from tdfake import provenance
    from tdfake.evaluate import evaluate_run
    from tdfake.metrics import Report

    record_file = provenance.record_path(run_dir, "report")
    params = report_params(run_dir)
    report_json = run_dir / "report.json"
    if report_json.is_file() and provenance.unchanged(record_file, params):
        return Report.from_json(report_json)
    report = evaluate_run(run_dir)
    provenance.write_record(record_file, "report", params)
    return report


def results_table(reports: dict[str, Report]) -> pd.DataFrame:
    """One row per arm: our test numbers (with 95 % intervals) and the study's beside them."""
    from tdfake.metrics import STUDY_RESULTS

    rows = []
    for arm, report in reports.items():
        study = STUDY_RESULTS[arm]
        rows.append({
            "arm": arm, "kind": ARMS[arm], **report.summary(),
            "study_accuracy": study["accuracy"], "study_auroc": study["auroc"], "study_thresh": study["thresh"],
        })
    return pd.DataFrame(rows).set_index("arm")


def results_markdown(cfg: Config, results: pd.DataFrame, reports: dict[str, Report]) -> str:
    """``results.md``: the arms side by side, then each arm's table beside the study's."""
    from tdfake.metrics import side_by_side, study_table, table_markdown

    def interval(row, name):
        return f"{row[name]:.3f} [{row[name + '_ci_low']:.3f}, {row[name + '_ci_high']:.3f}]"

    summary = pd.DataFrame({
        "input": results["kind"],
        "accuracy @0.5 [95% CI]": [interval(r, "accuracy") for _, r in results.iterrows()],
        "AUROC [95% CI]": [interval(r, "auroc") for _, r in results.iterrows()],
        "CI rests on": [report.ci_basis() for report in reports.values()],
        "AP": results["average_precision"].map("{:.3f}".format),
        "THRESH (test EER)": results["thresh_test_eer"].map("{:.3f}".format),
        "threshold (val EER)": results["threshold"].map("{:.3f}".format),
        "accuracy @val threshold": results["accuracy_at_threshold"].map("{:.3f}".format),
        "video AUROC": results["video_auroc"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}"),
        "study accuracy": results["study_accuracy"],
        "study AUROC": results["study_auroc"],
        "study THRESH": results["study_thresh"],
    })
    data = cfg.data_dir or f"built-in demo dataset ({cfg.demo_dir})"
    first = next(iter(reports.values()))
    lines = [
        f"# Results: `{cfg.name}` config", "",
        f"Data: {data}; split by {cfg.split_by}, seed {cfg.seed}; test set {first.n_real} real + "
        f"{first.n_fake} fake. Study columns: the 2020 study's published test results on FaceForensics++ c40 "
        "NeuralTextures (1000 real + 1000 fake), shown for comparison, not measured here.", "",
        "Accuracy @0.5 and THRESH (EER threshold of the test ROC) are computed as the study did; the "
        "threshold chosen on validation and the test accuracy at it are the leak-free figures. "
        f"The 95 % intervals resample {first.resampled()}.", "",
        summary.to_markdown(), "",
    ]
    for arm, report in reports.items():
        lines += [f"## {arm} ({ARMS[arm]})", "",
                  table_markdown(side_by_side({"ours": report.table, "study": study_table(arm)})), ""]
    return "\n".join(lines)


def run_study(cfg: Config, force: bool = False) -> pd.DataFrame:
    """The README's main job: all three arms on one split, results and graphs; resumable.

    ``force``: retrain from scratch the arms whose recorded settings differ from ``cfg``.  Every
    arm is also scored on each of ``cfg.test_sets`` (see :mod:`tdfake.test_sets`); the returned
    table (results.csv) has one row per arm and test set.
    """
    from tdfake.test_sets import OWN_TEST_SET, evaluate_test_sets, results_by_set, sets_markdown

    prepared = prepare(cfg)
    reports = {arm: run_arm(cfg, arm, prepared, force=force) for arm in ARMS}
    sets = {OWN_TEST_SET: reports, **evaluate_test_sets(cfg)}
    results = results_by_set(sets)
    out_dir = Path(cfg.out_dir)
    results.to_csv(out_dir / "results.csv")
    markdown = results_markdown(cfg, results_table(reports), reports) + sets_markdown(cfg, sets)
    (out_dir / "results.md").write_text(markdown)
    from tdfake.plots import save_all

    save_all(out_dir, cfg.graphs_dir)
    return results
