"""Trained arms scored under perturbed input crops: JPEG, blur, noise, down-up resizing at graded levels.

For every condition (each perturbation of :data:`tdfake.perturb.PERTURBATIONS` at each level, plus
the unperturbed ``none`` at level 0) the *crop* of each test row (its ``root/path`` file) is
perturbed and written losslessly (PNG); the arm's own image (OR, TK or TK_diff) is then made from
that file by :func:`tdfake.evaluate.stage_images`, as a deployed detector would see it, and scored
by the arm's best checkpoint.  ``none`` stages the crops themselves, so its row reproduces
``tdfake evaluate``'s test report.  Each arm × condition is reported with
:func:`tdfake.evaluate.report_on_rows`: the threshold is the one the arm chose on its own
validation split, and the intervals resample the rows' groups (linked videos).  Each perturbed
condition is also compared with the same arm unperturbed on the same crops, paired
(:func:`tdfake.stats.paired_auroc`, groups resampled): ``delta_auroc`` with its interval, p and verdict.

The rows are the first run's test split (or ``data``: a folder or manifest); every arm of a study
is scored on the same rows.  Layout under ``out``::

    conditions/<perturbation>-<level>/crops/root<i>/<path>.png   perturbed crops (shared by the arms)
    conditions/<condition>/staged<i>/images/<kind>/...           the arms' images made from them
    scores/<arm>/<condition>.csv (+ .provenance.json)            scores per row (reason when skipped)
    robustness.csv, skipped.csv                                  the table; unusable crops

Resumable: an arm × condition's scores are reused while their provenance record (checkpoint and
config fingerprint, rows fingerprint, seed, perturbation table) matches; otherwise redone.
Unreadable crops are skipped and listed, never stopping the run.  Deterministic for a seed:
the noise of an image depends only on (seed, perturbation, level, path), the bootstrap on the
run's seed.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from tdfake import layout, provenance, stats
from tdfake.evaluate import external_rows, load_run_model, report_on_rows, score_files, stage_rows
from tdfake.images import ImageReadError, read_rgb, write_rgb
from tdfake.layout import SKIPPED_FILE, load_run, validation_scores
from tdfake.perturb import NONE, PERTURBATIONS, perturb

logger = logging.getLogger(__name__)

COLUMNS = ["arm", "perturbation", "level", "parameter", "setting", "auroc", "auroc_ci_low", "auroc_ci_high",
           "accuracy_at_threshold", "accuracy_at_threshold_ci_low", "accuracy_at_threshold_ci_high", "threshold",
           "threshold_method", "delta_auroc", "delta_auroc_ci_low", "delta_auroc_ci_high", "p_auroc", "verdict_auroc",
           "n_real", "n_fake", "n_skipped", "ci_basis", "n_bootstrap", "seed"]
"""robustness.csv: accuracy at the threshold chosen on the arm's validation split; ``delta_auroc``: this
condition minus the arm unperturbed, paired on the crops both scored (empty on the ``none`` rows)."""
ROW_COLUMNS = ["root", "path", "label", "method", "video", "group"]


def default_out(paths: Sequence[os.PathLike | str]) -> Path:
    """``<study or run folder>/robustness``; several arm folders of one study: ``<study>/robustness``."""
    folders = [Path(p) for p in paths]
    if len(folders) == 1:
        return layout.robustness_dir(folders[0])
    parents = {f.resolve().parent for f in folders}
    if len(parents) == 1 and all(layout.is_run(f) for f in folders):
        return layout.robustness_dir(folders[0].parent)
    raise ValueError("the runs are not the arms of one study folder; say where to write with -o OUT")


def conditions(perturbations: Iterable[str] = tuple(PERTURBATIONS)) -> list[tuple[str, int]]:
    """``("none", 0)`` then every level of each named perturbation, in table order."""
    names = list(perturbations)
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        raise ValueError(f"unknown perturbations {unknown}; choose from {', '.join(PERTURBATIONS)}")
    return [(NONE, 0)] + [(n, level) for n in PERTURBATIONS if n in names for level in PERTURBATIONS[n].levels]


def condition_name(name: str, level: int) -> str:
    return NONE if name == NONE else f"{name}-{level}"


def rows_to_score(runs: Sequence, data: os.PathLike | str | None = None) -> pd.DataFrame:
    """The rows every arm is scored on: ``data`` (folder or manifest) or the first run's test split.

    Without ``data`` the arms must share their test split (as the arms of one study do).
    """
    if data is not None:
        return external_rows(data)[ROW_COLUMNS]
    splits = [run.split[run.split["split"] == "test"][ROW_COLUMNS].reset_index(drop=True) for run in runs]
    fingerprints = {provenance.table_fingerprint(s, ROW_COLUMNS)["sha256"] for s in splits}
    if len(fingerprints) > 1:
        raise ValueError(f"the runs {[str(r.run_dir) for r in runs]} have different test splits; "
                         "give the arms of one study, or one run at a time")
    if splits[0].empty:
        raise ValueError(f"{runs[0].run_dir / layout.SPLIT_FILE}: no test rows; pass --data FOLDER to score other data")
    return splits[0]


def source_files(rows: pd.DataFrame) -> list[Path]:
    """The crop file of each row (``root/path``)."""
    return [Path(r) / p for r, p in zip(rows["root"], rows["path"])]


def condition_crops(rows: pd.DataFrame, name: str, level: int, seed: int, folder: Path) -> pd.DataFrame:
    """The crops one condition scores: rows pointing at them, with ``reason`` set where a crop is unusable.

    ``none``: the rows' own crops.  Otherwise each crop is perturbed and written as PNG under
    ``folder/crops``.  ``folder`` (crops and the arms' images staged from them) is kept while its
    record (rows, source files, seed, condition) matches, so the arms of a study perturb the crops
    once and a resumed run reuses its staged images; otherwise it is cleared and made anew (image
    creation would keep staged images of crops rewritten under the same names).
    """

    params = {"rows": provenance.table_fingerprint(rows, ["root", "path"]),
              "sources": provenance.file_fingerprint(source_files(rows)), "seed": int(seed),
              "condition": condition_name(name, level),
              "parameter": PERTURBATIONS[name].parameter(level) if name != NONE else None}
    record_file = provenance.record_path(folder, "crops")
    fresh = provenance.unchanged(record_file, params)
    if not fresh:
        shutil.rmtree(folder, ignore_errors=True)
    if name == NONE:
        if not fresh:
            provenance.write_record(record_file, "crops", params)
        return rows.assign(reason="")
    crops = folder / "crops"
    roots = {root: f"root{i}" for i, root in enumerate(sorted(rows["root"].unique()))}
    out = rows.assign(root=[str(crops / roots[r]) for r in rows["root"]], path=rows["path"] + ".png", reason="")
    if fresh:
        reasons = pd.read_csv(crops / SKIPPED_FILE, dtype=str, keep_default_na=False)
        out["reason"] = out["path"].map(dict(zip(reasons["path"], reasons["reason"]))).fillna("")
        return out
    for i, source in enumerate(source_files(rows)):
        try:
            image = read_rgb(source)
        except ImageReadError as err:
            out.loc[out.index[i], "reason"] = err.reason
            continue
        write_rgb(Path(out["root"].iloc[i]) / out["path"].iloc[i],
                  perturb(image, name, level, seed=seed, key=rows["path"].iloc[i]))
    crops.mkdir(parents=True, exist_ok=True)
    out.loc[out["reason"] != "", ["path", "reason"]].to_csv(crops / SKIPPED_FILE, index=False)
    provenance.write_record(record_file, "crops", params)
    return out


def arm_scores(run, model_of, rows: pd.DataFrame, name: str, level: int, seed: int, out: Path) -> pd.DataFrame:
    """One arm's scores of the rows under one condition: rows + ``score`` (NaN when skipped) + ``reason``.

    Reused from ``scores/<arm>/<condition>.csv`` while its provenance record matches.  ``model_of()``
    returns the arm's model (loaded only when something must be scored).
    """
    cond = condition_name(name, level)
    target = out / "scores" / run.arm / f"{cond}.csv"
    record_file = provenance.record_path(target.parent, cond)
    params = {
        "checkpoint": provenance.file_fingerprint([run.run_dir / layout.BEST_CHECKPOINT,
                                                   run.run_dir / layout.CONFIG_FILE], root=run.run_dir),
        "rows": provenance.table_fingerprint(rows, ROW_COLUMNS),
        "sources": provenance.file_fingerprint(source_files(rows)), "seed": int(seed),
        "perturbations": {n: list(p.parameters) for n, p in PERTURBATIONS.items()}, "condition": cond,
    }
    if target.is_file() and provenance.unchanged(record_file, params):
        return pd.read_csv(target, dtype={"path": str, "root": str, "video": str, "group": str, "method": str,
                                          "reason": str}, keep_default_na=False, na_values={"score": [""]})
    folder = out / "conditions" / cond
    source = condition_crops(rows, name, level, seed, folder)
    usable = source[source["reason"] == ""]
    if len(usable):
        staged, skipped = stage_rows(usable, run, folder)
    else:  # every crop unreadable: nothing to stage
        staged, skipped = usable.assign(file=None), pd.DataFrame(columns=["path", "reason"])
    reasons = dict(zip(skipped["path"].astype(str), skipped["reason"].astype(str)))
    scores = pd.Series(np.nan, index=rows.index)
    good = staged[staged["file"].notna()]
    if len(good):
        scores[good.index] = score_files(model_of(), good["file"].tolist(), run.cfg)
    table = rows.assign(score=scores, reason=source["reason"])
    lost = table["score"].isna() & (table["reason"] == "")
    table.loc[lost, "reason"] = [reasons.get(p, "could not be staged") for p in source.loc[lost, "path"]]
    target.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(target, index=False)
    provenance.write_record(record_file, "robustness scores", params)
    return table


def robustness(run_dirs: Iterable[os.PathLike | str], data: os.PathLike | str | None = None,
               out: os.PathLike | str | None = None, perturbations: Iterable[str] = tuple(PERTURBATIONS),
               seed: int = 0, n_bootstrap: int = 1000) -> pd.DataFrame:
    """Score every run under every condition; write ``robustness.csv`` (and ``skipped.csv``) under ``out``.

    ``run_dirs``: run folders and/or study folders (see :func:`find_runs`); ``out`` defaults to
    :func:`default_out`.  Returns the table (columns :data:`COLUMNS`, one row per arm × condition).
    """
    run_dirs = list(run_dirs)
    runs = [load_run(d) for d in layout.find_runs(run_dirs)]
    layout.arms_of(runs)
    vals = {run.arm: validation_scores(run.run_dir) for run in runs}  # fails early when a run is not evaluated
    out = Path(out) if out is not None else default_out(run_dirs)
    rows = rows_to_score(runs, data)
    todo = conditions(perturbations)
    records, skipped = [], []
    for run in runs:
        model_of = functools.cache(functools.partial(load_run_model, run))  # loaded once, and only if needed
        unperturbed = None
        for name, level in tqdm(todo, desc=f"robustness {run.arm}", unit="condition", disable=None):  # none in a file
            scores = arm_scores(run, model_of, rows, name, level, seed, out)
            lost = scores[scores["score"].isna()]
            skipped.append(lost[["path", "reason"]].assign(arm=run.arm, perturbation=name, level=level))
            report = report_on_rows(run, scores[scores["score"].notna()], vals[run.arm], n_bootstrap)
            record = _record(run.arm, name, level, report, len(lost), n_bootstrap, seed)
            if name == NONE:
                unperturbed = scores
            elif unperturbed is not None:
                record.update(_against_unperturbed(unperturbed, scores, n_bootstrap, run.cfg.seed))
            records.append(record)
    table = pd.DataFrame(records, columns=COLUMNS)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / layout.ROBUSTNESS_CSV, index=False)
    skipped_rows = pd.concat(skipped, ignore_index=True)
    (out / SKIPPED_FILE).unlink(missing_ok=True)
    if len(skipped_rows):
        skipped_rows[["arm", "perturbation", "level", "path", "reason"]].to_csv(out / SKIPPED_FILE, index=False)
        logger.warning("tdfake: %d arm × condition images could not be used; see %s", len(skipped_rows),
                       out / SKIPPED_FILE)
    return table


def _record(arm: str, name: str, level: int, report, n_skipped: int, n_bootstrap: int, seed: int) -> dict:
    perturbation = PERTURBATIONS.get(name)
    return {
        "arm": arm, "perturbation": name, "level": level,
        "parameter": perturbation.parameter(level) if perturbation else np.nan,
        "setting": perturbation.label(level) if perturbation else NONE,
        "auroc": report.auroc, "auroc_ci_low": report.ci["auroc"][0], "auroc_ci_high": report.ci["auroc"][1],
        "accuracy_at_threshold": report.chosen.metrics.accuracy,
        "accuracy_at_threshold_ci_low": report.ci["accuracy_at_chosen"][0],
        "accuracy_at_threshold_ci_high": report.ci["accuracy_at_chosen"][1],
        "threshold": report.chosen.threshold, "threshold_method": report.chosen.method,
        "n_real": report.n_real, "n_fake": report.n_fake, "n_skipped": n_skipped,
        "ci_basis": report.ci_basis(), "n_bootstrap": n_bootstrap, "seed": seed,
    }


def _against_unperturbed(unperturbed: pd.DataFrame, perturbed: pd.DataFrame, n_bootstrap: int, seed: int) -> dict:
    """Δ AUROC of a condition against the same arm unperturbed, paired on the crops both scored."""
    both = unperturbed["score"].notna() & perturbed["score"].notna()
    result = stats.paired_auroc(unperturbed.loc[both, "label"].to_numpy(dtype=int),
                                unperturbed.loc[both, "score"].to_numpy(dtype=float),
                                perturbed.loc[both, "score"].to_numpy(dtype=float),
                                groups=unperturbed.loc[both, "group"].astype(str).to_numpy(),
                                n_bootstrap=n_bootstrap, seed=seed)
    return {"delta_auroc": result.delta, "delta_auroc_ci_low": result.ci[0], "delta_auroc_ci_high": result.ci[1],
            "p_auroc": result.p_value, "verdict_auroc": stats.verdict(result)}
