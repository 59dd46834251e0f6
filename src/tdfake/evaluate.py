"""Score a trained arm: its test split (or other data) → predictions.csv, report.md, report.json.

A run folder (written by :func:`tdfake.train.train_arm`) holds ``best.keras``, ``config.yaml`` and
``split.csv``.  The arm and the folder of its images come from ``run.json`` when the run wrote
one (keys ``arm``, ``kind``, ``images_root``), otherwise from the layout of ``tdfake run``
(``OUT/<arm>/`` next to ``OUT/images/``, see :mod:`tdfake.study`).

The decision threshold is chosen on the run's *validation* split (``cfg.threshold``, EER by
default) and applied to the test data; the report's THRESH row is still the test-set EER
threshold, as in the study (see :mod:`tdfake.metrics`).  Bootstrap intervals resample the split's
groups (linked videos) and the report says how many groups and videos they rest on.

Other data (a manifest CSV or a folder of ``real/`` and ``fake/`` images) and the files given to
:func:`predict_paths` go through the same image creation as training
(:func:`tdfake.image_creation.create_images`: OR copies, TK or TK_diff images), so the model sees
what it was trained on; unreadable files are skipped and listed in ``skipped.csv``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tdfake.config import ARMS, Config
from tdfake.constants import LABEL_NAMES
from tdfake.images import derived_path, list_images
from tdfake.metrics import Report, evaluate_scores, side_by_side, study_table, table_markdown

PREDICTION_COLUMNS = ["path", "label", "group", "split", "score"]


@dataclass
class Run:
    """What evaluating a run folder needs to know about it."""

    run_dir: Path
    cfg: Config
    arm: str
    kind: str
    images_root: Path | None  # None: the arm trained on each row's root/path
    split: pd.DataFrame

    def files(self, rows: pd.DataFrame) -> list[str]:
        """The arm's image file of each split row."""
        from tdfake.pipeline import image_paths

        return image_paths(rows, self.images_root, self.kind, self.cfg.image_format)


def load_run(run_dir: os.PathLike | str) -> Run:
    """Read a run folder's config, split, arm and images folder, with errors that say what is missing."""
    from tdfake.datasets import read_manifest

    run_dir = Path(run_dir)
    for name in ("best.keras", "config.yaml", "split.csv"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name}: missing; is {run_dir} a finished run folder (`tdfake train`)?")
    cfg = Config.from_yaml(run_dir / "config.yaml")
    info = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
    arm = info.get("arm", run_dir.name)
    if arm not in ARMS:
        raise ValueError(
            f"{run_dir}: cannot tell the arm; name the folder after one of {sorted(ARMS)} "
            "or write run.json with keys arm, kind, images_root"
        )
    kind = info.get("kind", ARMS[arm])
    if "images_root" not in info:
        images_root: Path | None = run_dir.parent / "images"
    elif info["images_root"] is None:
        images_root = None
    else:
        images_root = Path(info["images_root"])
        images_root = images_root if images_root.is_absolute() else run_dir / images_root
    return Run(run_dir, cfg, arm, kind, images_root, read_manifest(run_dir / "split.csv"))


def finished_arms(out_dir: os.PathLike | str, arms=tuple(ARMS)) -> list[Path]:
    """The arm folders of a ``tdfake run`` folder that hold a best checkpoint, in the study's order.

    What ``tdfake robustness``, ``tdfake explain`` and the graphs take "a study folder" to mean.
    """
    out_dir = Path(out_dir)
    return [out_dir / arm for arm in arms if (out_dir / arm / "best.keras").is_file()]


def load_model(run: Run):
    """The run's best checkpoint (custom objects such as CyclicalLR come with :mod:`tdfake.model`)."""
    from tdfake.model import load_model as load

    return load(run.run_dir / "best.keras", compile=False)


def score_files(model, paths: list[str], cfg: Config, verbose: int = 0) -> np.ndarray:
    """P(fake) for each image file, in order, through the run's (unaugmented) input pipeline."""
    from tdfake.pipeline import paths_dataset

    if not paths:
        return np.zeros(0)
    dataset = paths_dataset(paths, cfg, training=False)
    return np.asarray(model.predict(dataset, verbose=verbose), dtype=np.float64).reshape(-1)


def stage_images(root: Path, relpaths: list[str], run: Run, out: Path) -> tuple[list[str | None], pd.DataFrame]:
    """Make the arm's images of ``root/relpath`` under ``out`` as training did; (file or None, skipped).

    Image creation handles exactly the listed files (not everything else under ``root``); the
    images land in ``out/images/<kind>/<relpath>``.  Existing outputs are reused, so an
    interrupted evaluation resumes; staged images made with other settings or from another data
    folder are made anew (``replace_changed``).  ``skipped`` is image creation's table of unusable files
    (path relative to ``root``, reason).
    """
    from tdfake.image_creation import create_images

    cfg = run.cfg
    images_root = out / "images"
    summary = create_images(
        root, images_root, kinds=(run.kind,), rank=tuple(cfg.rank), method=cfg.tucker_method,
        workers=cfg.workers, image_format=cfg.image_format, progress=False, paths=relpaths, replace_changed=True,
    )
    files = [derived_path(images_root, run.kind, rel, cfg.image_format) for rel in relpaths]
    skipped = pd.read_csv(summary.skipped_csv, dtype=str)
    return [str(f) if f.is_file() else None for f in files], skipped


def external_rows(data: os.PathLike | str) -> pd.DataFrame:
    """Rows to score from a manifest CSV (its test rows when it has a split column) or a data folder."""
    from tdfake.datasets import build_manifest, read_manifest

    data = Path(data)
    if data.is_dir():
        rows = build_manifest(data)
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
    n_bootstrap: int = 1000, verbose: int = 0,
) -> Report:
    """Score the run's best checkpoint and write ``predictions.csv``, ``report.md``, ``report.json``.

    Without ``data``: the run's validation and test splits, written into ``run_dir``.  With
    ``data`` (a manifest CSV or a folder with real/ and fake/ images): those images (a manifest's
    test rows if it has a split column) are the test set, written into ``out_dir`` (default
    ``run_dir/eval-<data name>``); the threshold is still chosen on the run's validation split.
    """
    run = load_run(run_dir)
    model = load_model(run)
    cfg = run.cfg
    val = run.split[run.split["split"] == "val"].copy()
    val["file"] = run.files(val)

    if data is None:
        out = run.run_dir
        test = run.split[run.split["split"] == "test"].copy()
        test["file"] = run.files(test)
        skipped = pd.DataFrame(columns=["path", "reason"])
    else:
        out = Path(out_dir) if out_dir is not None else run.run_dir / f"eval-{Path(data).stem}"
        out.mkdir(parents=True, exist_ok=True)
        test, skipped = stage_rows(external_rows(data), run, out)
        test = test[test["file"].notna()]
        if len(skipped):
            skipped.to_csv(out / "skipped.csv", index=False)
            print(f"tdfake: {len(skipped)} images could not be used; see {out / 'skipped.csv'}")

    if len(test) == 0:
        raise ValueError(f"{run.run_dir}: no test images to score")
    test["score"] = score_files(model, test["file"].tolist(), cfg, verbose)
    if len(val) and all(os.path.isfile(f) for f in val["file"]):
        val["score"] = score_files(model, val["file"].tolist(), cfg, verbose)
    else:
        print(f"tdfake: the run's validation images are not under {run.images_root}; "
              "the decision threshold is chosen on the test data instead (the report says so)")
        val = val.iloc[0:0].assign(score=[])

    report = evaluate_scores(
        test["label"].astype(int), test["score"],
        val_true=val["label"].astype(int) if len(val) else None, val_score=val["score"] if len(val) else None,
        groups=test["group"].astype(str) if "group" in test.columns else None,
        videos=test["video"].astype(str) if "video" in test.columns else None,
        threshold_method=cfg.threshold, n_bootstrap=n_bootstrap, seed=cfg.seed,
        methods=test["method"] if "method" in test.columns else None,
    )
    predictions = pd.concat([val, test], ignore_index=True)
    if "group" not in predictions.columns:
        predictions["group"] = ""
    predictions[PREDICTION_COLUMNS].to_csv(out / "predictions.csv", index=False)
    report.to_json(out / "report.json")
    (out / "report.md").write_text(report_markdown(report, run, data))
    return report


def report_markdown(report: Report, run: Run, data: os.PathLike | str | None = None) -> str:
    """The report of one run, with the study's published table for the same arm beside it."""
    tested = f"`{data}`" if data is not None else "the run's test split"
    text = report.to_markdown(title=f"{run.arm} ({run.kind}): {tested}")
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
        report_json = run.run_dir / "report.json"
        threshold = Report.from_json(report_json).chosen["threshold"] if report_json.is_file() else 0.5
    common = Path(os.path.commonpath([str(f.parent) for f in files]))
    relpaths = [f.relative_to(common).as_posix() for f in files]
    with tempfile.TemporaryDirectory(prefix="tdfake-predict-") as tmp:
        staged, skipped = stage_images(common, relpaths, run, Path(tmp))
        reasons = dict(zip(skipped["path"].astype(str), skipped["reason"].astype(str)))
        good = [i for i, f in enumerate(staged) if f is not None]
        scores = np.full(len(files), np.nan)
        scores[good] = score_files(load_model(run), [staged[i] for i in good], run.cfg, verbose)
    table = pd.DataFrame({"path": [str(f) for f in files], "score": scores})
    table["prediction"] = np.where(np.isnan(scores), "", np.where(scores >= threshold, LABEL_NAMES[1], LABEL_NAMES[0]))
    table["error"] = [
        "" if staged[i] is not None else reasons.get(relpaths[i], "could not be read") for i in range(len(files))
    ]
    return table
