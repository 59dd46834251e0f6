"""Extra test sets: every arm of a ``tdfake run`` scored on other data folders, with its own threshold.

``cfg.test_sets`` maps a name to a data folder (``--set test_sets.photos=FOLDER``).  Each folder
gets its own manifest (layout detected on its own, see :mod:`tdfake.datasets`) and *all* its rows
are test data: a cross-dataset check such as DFDC-trained arms on the real_fake_face photos.
The decision threshold is never chosen on these data: it is the one the arm chose on the run's
validation split (the validation scores in ``<arm>/predictions.csv``), so a set's accuracy says
how well the run's operating point transfers.

Layout under ``cfg.out_dir``::

    test_sets/<name>/manifest.csv               the set's rows (+ manifest.provenance.json)
    test_sets/<name>/images/OR|TK|TK_diff/...   its arm images, made as the run's own
    <arm>/test_sets/<name>/                     predictions.csv, report.json, report.md, skipped.csv

The run's own test split is the set named :data:`OWN_TEST_SET` in the tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tdfake import layout, provenance
from tdfake.config import Config
from tdfake.datasets import build_manifest
from tdfake.evaluate import (
    load_run_model,
    report_markdown,
    report_on_rows,
    score_files,
    stage_images,
    unusable_hint,
    write_evaluation,
)
from tdfake.layout import load_run, test_set_dir, test_set_report_dir, validation_scores
from tdfake.metrics import Report


def set_manifest(out_dir: str | Path, name: str, folder: str | Path) -> pd.DataFrame:
    """The set's manifest, written to ``test_sets/<name>/manifest.csv`` with a provenance record.

    The folder is listed on every call (one directory walk); the written manifest is replaced
    when the folder or its rows (path, label, group) differ from the record, so pointing a set's
    name at another folder never scores the old one.
    """
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"test_sets.{name}: {folder}: no such data folder; fix the path or drop the entry")
    manifest = build_manifest(folder)
    path = test_set_dir(out_dir, name) / layout.MANIFEST_FILE
    record_file = provenance.record_path(path.parent, "manifest")
    params = {"folder": str(Path(folder).resolve()),
              "manifest": provenance.table_fingerprint(manifest, ["path", "label", "group"])}
    if not (path.is_file() and provenance.unchanged(record_file, params)):
        path.parent.mkdir(parents=True, exist_ok=True)
        manifest.to_csv(path, index=False)
        provenance.write_record(record_file, "manifest", params)
    return manifest


def evaluate_on_set(run_dir: str | Path, name: str, rows: pd.DataFrame, out_dir: str | Path,
                    n_bootstrap: int = 1000) -> Report:
    """Score one arm's best checkpoint on a set's rows; write predictions.csv, report.json, report.md.

    The arm images are made under ``test_sets/<name>/images`` (shared by the arms; each arm makes
    its own kind) exactly as for training; unreadable files are left out and listed in the
    report folder's ``skipped.csv``; ``predictions.csv`` holds the run's validation rows (on which
    the threshold was chosen), then the set's scored rows.  The report is reused only while its
    provenance record matches the checkpoint, the run's validation scores, the set's rows and the threshold method.
    """
    if layout.is_archived(run_dir):
        return archived_set_report(Path(run_dir), name, rows)
    run = load_run(run_dir)
    out = test_set_report_dir(run.run_dir, name)
    report_json = out / layout.REPORT_JSON
    record_file = provenance.record_path(out, "report")
    params = {
        "files": provenance.file_fingerprint([run.run_dir / layout.BEST_CHECKPOINT,
                                              run.run_dir / layout.PREDICTIONS_FILE], root=run.run_dir),
        "rows": rows_fingerprint(rows),
        "threshold": run.cfg.threshold,
    }
    if report_json.is_file() and provenance.unchanged(record_file, params):
        return Report.from_json(report_json)
    val = validation_scores(run.run_dir)
    test = rows.assign(split="test").reset_index(drop=True)
    files: list[str | None] = [None] * len(test)
    skipped = []
    for root, part in test.groupby("root", sort=True):
        staged, skip = stage_images(Path(root), part["path"].tolist(), run, test_set_dir(out_dir, name))
        for index, file in zip(part.index, staged):
            files[index] = file
        skipped.append(skip)
    test["file"] = files
    skipped_rows = pd.concat(skipped, ignore_index=True)
    test = test[test["file"].notna()].copy()
    if test.empty:
        raise ValueError(f"test_sets.{name}: no usable images{unusable_hint(skipped_rows)}")
    test["score"] = score_files(load_run_model(run), test["file"].tolist(), run.cfg)
    report = report_on_rows(run, test, val, n_bootstrap)
    write_evaluation(out, report, report_markdown(report, run, test["root"].iloc[0]), test, val, skipped_rows,
                     f"images of test set {name}")
    provenance.write_record(record_file, "report", params)
    return report


def rows_fingerprint(rows: pd.DataFrame) -> dict:
    """What a set's report records of the rows it scored, to reuse it only for the same rows: their paths
    within the set's folder, labels and groups, so the same set moved to another folder is still the same."""
    return provenance.table_fingerprint(rows, ["path", "label", "group"])


def archived_set_report(run_dir: Path, name: str, rows: pd.DataFrame) -> Report:
    """The recorded report of an archived run (:mod:`tdfake.archive`) on set ``name``, when it was made on
    these rows with the run's threshold method; an archived run cannot be scored anew, so otherwise raise."""
    out = test_set_report_dir(run_dir, name)
    record = provenance.read_record(provenance.record_path(out, "report"))
    wanted = {"rows": rows_fingerprint(rows),
              "threshold": Config.from_yaml(run_dir / layout.CONFIG_FILE).threshold}
    recorded = {key: record["params"].get(key) for key in wanted} if record else None
    if recorded is None or not (out / layout.REPORT_JSON).is_file():
        problem = f"has no report on test set {name}"
    elif recorded != wanted:
        changed = provenance.describe(provenance.differences(recorded, wanted))
        problem = f"was scored on test set {name} with other {changed}"
    else:
        return Report.from_json(out / layout.REPORT_JSON)
    raise ValueError(f"{run_dir} {problem}, and it is archived without its checkpoints ({layout.ARCHIVE_RECORD}), "
                     "so it cannot be scored anew; pass --force to retrain it")


def evaluate_test_sets(cfg: Config, run_dirs: Iterable[Path]) -> dict[str, dict[Path, Report]]:
    """Each run (an arm of ``cfg.out_dir``, of any training seed) on every set of ``cfg.test_sets``:
    set → run folder → report."""
    run_dirs = list(run_dirs)
    results: dict[str, dict[Path, Report]] = {}
    for name, folder in cfg.test_sets.items():
        rows = set_manifest(cfg.out_dir, name, folder)
        results[name] = {run_dir: evaluate_on_set(run_dir, name, rows, cfg.out_dir) for run_dir in run_dirs}
    return results


def load_set_reports(run_dirs: Iterable[Path]) -> dict[str, dict[Path, Report]]:
    """Reports already written under ``<run>/test_sets/<name>/``: set → run folder → report (for the graphs)."""
    run_dirs = list(run_dirs)
    return {name: {run: Report.from_json(test_set_report_dir(run, name) / layout.REPORT_JSON) for run in run_dirs
                   if (test_set_report_dir(run, name) / layout.REPORT_JSON).is_file()}
            for name in layout.test_set_names(run_dirs)}
