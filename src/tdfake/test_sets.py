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
    <arm>/test_sets/<name>/                     predictions.csv, report.json, report.md (+ skipped.csv)

The run's own test split is the set named :data:`OWN_TEST_SET` in the tables.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tdfake.config import ARMS, Config
from tdfake.constants import OWN_TEST_SET
from tdfake.metrics import Report, per_method_markdown


def set_dir(out_dir: str | Path, name: str) -> Path:
    """Where a set's manifest and arm images live."""
    return Path(out_dir) / "test_sets" / name


def report_dir(out_dir: str | Path, arm: str, name: str) -> Path:
    """Where one arm's predictions and report on a set are written."""
    return Path(out_dir) / arm / "test_sets" / name


def set_manifest(out_dir: str | Path, name: str, folder: str | Path) -> pd.DataFrame:
    """The set's manifest, written to ``test_sets/<name>/manifest.csv`` with a provenance record.

    The folder is listed on every call (one directory walk); the written manifest is replaced
    when the folder or its rows (path, label, group) differ from the record, so pointing a set's
    name at another folder never scores the old one.
    """
    from tdfake import provenance
    from tdfake.datasets import build_manifest

    if not Path(folder).is_dir():
        raise FileNotFoundError(f"test_sets.{name}: {folder}: no such data folder; fix the path or drop the entry")
    manifest = build_manifest(folder)
    path = set_dir(out_dir, name) / "manifest.csv"
    record_file = provenance.record_path(path.parent, "manifest")
    params = {"folder": str(Path(folder).resolve()),
              "manifest": provenance.table_fingerprint(manifest, ["path", "label", "group"])}
    if not (path.is_file() and provenance.unchanged(record_file, params)):
        path.parent.mkdir(parents=True, exist_ok=True)
        manifest.to_csv(path, index=False)
        provenance.write_record(record_file, "manifest", params)
    return manifest


def validation_scores(run_dir: Path) -> pd.DataFrame:
    """The run's validation labels and scores, from the ``predictions.csv`` its own evaluation wrote."""
    path = run_dir / "predictions.csv"
    val = pd.read_csv(path)[lambda t: t["split"] == "val"] if path.is_file() else pd.DataFrame()
    if val.empty:
        raise FileNotFoundError(f"{path}: no validation scores; evaluate the run first (`tdfake evaluate {run_dir}`) "
                                "so its threshold can be chosen on validation")
    return val


def report_on_rows(run, test: pd.DataFrame, val: pd.DataFrame, n_bootstrap: int = 1000) -> Report:
    """The report of scored test rows (manifest columns + ``score``) at the threshold ``run`` chose on ``val``.

    Bootstrap intervals resample the rows' groups, seeded with the run's seed, as ``tdfake evaluate`` does.
    """
    from tdfake.metrics import evaluate_scores

    return evaluate_scores(
        test["label"].astype(int), test["score"], val_true=val["label"].astype(int), val_score=val["score"],
        groups=test["group"].astype(str), videos=test["video"].astype(str),
        threshold_method=run.cfg.threshold, n_bootstrap=n_bootstrap,
        seed=run.cfg.seed, methods=test["method"],
    )


def evaluate_on_set(run_dir: str | Path, name: str, rows: pd.DataFrame, out_dir: str | Path,
                    n_bootstrap: int = 1000) -> Report:
    """Score one arm's best checkpoint on a set's rows; write predictions.csv, report.json, report.md.

    The arm images are made under ``test_sets/<name>/images`` (shared by the arms; each arm makes
    its own kind) exactly as for training; unreadable files are left out and listed in the
    report folder's ``skipped.csv``.  The report is reused only while its provenance record matches
    the checkpoint, the run's validation scores, the set's rows and the threshold method.
    """
    from tdfake import provenance
    from tdfake.evaluate import (
        PREDICTION_COLUMNS,
        load_model,
        load_run,
        report_markdown,
        score_files,
        stage_images,
    )
    run = load_run(run_dir)
    out = report_dir(out_dir, run.arm, name)
    report_json = out / "report.json"
    record_file = provenance.record_path(out, "report")
    params = {
        "files": provenance.file_fingerprint([run.run_dir / "best.keras", run.run_dir / "predictions.csv"],
                                             root=run.run_dir),
        "rows": provenance.table_fingerprint(rows, ["root", "path", "label", "group"]),
        "threshold": run.cfg.threshold,
    }
    if report_json.is_file() and provenance.unchanged(record_file, params):
        return Report.from_json(report_json)
    val = validation_scores(run.run_dir)
    test = rows.assign(split="test").reset_index(drop=True)
    files: list[str | None] = [None] * len(test)
    skipped = []
    for root, part in test.groupby("root", sort=True):
        staged, skip = stage_images(Path(root), part["path"].tolist(), run, set_dir(out_dir, name))
        for index, file in zip(part.index, staged):
            files[index] = file
        skipped.append(skip)
    test["file"] = files
    out.mkdir(parents=True, exist_ok=True)
    skipped_rows = pd.concat(skipped, ignore_index=True)
    if len(skipped_rows):
        skipped_rows.to_csv(out / "skipped.csv", index=False)
        print(f"tdfake: test set {name}: {len(skipped_rows)} images could not be used; see {out / 'skipped.csv'}")
    test = test[test["file"].notna()].copy()
    if test.empty:
        raise ValueError(f"test_sets.{name}: no usable images")
    test["score"] = score_files(load_model(run), test["file"].tolist(), run.cfg)
    report = report_on_rows(run, test, val, n_bootstrap)
    test[PREDICTION_COLUMNS].to_csv(out / "predictions.csv", index=False)
    report.to_json(report_json)
    (out / "report.md").write_text(report_markdown(report, run, test["root"].iloc[0]))
    provenance.write_record(record_file, "report", params)
    return report


def evaluate_test_sets(cfg: Config, arms=tuple(ARMS)) -> dict[str, dict[str, Report]]:
    """Every arm of the run in ``cfg.out_dir`` on every set of ``cfg.test_sets``: set → arm → report."""
    results: dict[str, dict[str, Report]] = {}
    for name, folder in cfg.test_sets.items():
        rows = set_manifest(cfg.out_dir, name, folder)
        results[name] = {arm: evaluate_on_set(Path(cfg.out_dir) / arm, name, rows, cfg.out_dir) for arm in arms}
    return results


def load_set_reports(out_dir: str | Path, arms) -> dict[str, dict[str, Report]]:
    """Reports already written under ``<arm>/test_sets/<name>/``: set → arm → report (for the graphs)."""
    names = sorted({p.parent.name for arm in arms for p in Path(out_dir, arm, "test_sets").glob("*/report.json")})
    return {name: {arm: Report.from_json(report_dir(out_dir, arm, name) / "report.json")
                   for arm in arms if (report_dir(out_dir, arm, name) / "report.json").is_file()}
            for name in names}


def results_by_set(sets: dict[str, dict[str, Report]]) -> pd.DataFrame:
    """results.csv: :func:`tdfake.study.results_table` per set, stacked, with a ``test_set`` column.

    The study's columns are kept only on the run's own test split; on other sets they would
    compare different data.
    """
    from tdfake.study import results_table

    tables = []
    for name, reports in sets.items():
        table = results_table(reports)
        if name != OWN_TEST_SET:
            table[[c for c in table.columns if c.startswith("study_")]] = float("nan")
        tables.append(table.assign(test_set=name))
    results = pd.concat(tables)
    return results[["test_set", *[c for c in results.columns if c != "test_set"]]]


def sets_markdown(cfg: Config, sets: dict[str, dict[str, Report]]) -> str:
    """results.md's part for the extra sets (a table per set) and per-method tables of every set."""
    lines = []
    for name, reports in sets.items():
        if name != OWN_TEST_SET:
            first = next(iter(reports.values()))
            lines += [f"## Test set `{name}`: {cfg.test_sets.get(name, '')}", "",
                      (f"All {first.n_real} real + {first.n_fake} fake images of the folder; thresholds chosen on "
                       f"the run's own validation split; 95 % intervals over {first.ci_basis()}."), "",
                      _set_table(reports), ""]
        for arm, report in reports.items():
            if report.per_method:
                lines += [f"### Per method: {arm} ({ARMS[arm]}) on `{name}`", "",
                          per_method_markdown(report.per_method), ""]
    return "\n".join(lines)


def _set_table(reports: dict[str, Report]) -> str:
    def interval(value: float, ci: tuple[float, float]) -> str:
        return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"

    table = pd.DataFrame({
        "input": [ARMS[arm] for arm in reports],
        "accuracy @0.5 [95% CI]": [interval(r.accuracy, r.ci["accuracy"]) for r in reports.values()],
        "AUROC [95% CI]": [interval(r.auroc, r.ci["auroc"]) for r in reports.values()],
        "AP": [f"{r.average_precision:.3f}" for r in reports.values()],
        "threshold (val)": [f"{r.chosen['threshold']:.3f}" for r in reports.values()],
        "accuracy @val threshold": [f"{r.chosen['metrics']['accuracy']:.3f}" for r in reports.values()],
        "REAL recall @val threshold": [f"{r.chosen['metrics']['REAL']['recall']:.3f}" for r in reports.values()],
        "FAKE recall @val threshold": [f"{r.chosen['metrics']['FAKE']['recall']:.3f}" for r in reports.values()],
    }, index=pd.Index(list(reports), name="arm"))
    return table.to_markdown(disable_numparse=True)
