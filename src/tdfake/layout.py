"""The one owner of what lies where in a run folder and a study folder.

Every other module asks this one for a path, a file name, "is this run finished?", or the
threshold a run chose, so each of those ideas has exactly one definition.

A **run folder** holds one trained arm (written by :func:`tdfake.train.train_arm`)::

    config.yaml  split.csv  run.json       the settings, the split it trained on, arm / images / training seed
    history.csv  best.keras  last.keras    training (+ training.provenance.json, last.random.npz)
    logs/                                  TensorBoard logs of the training
    predictions.csv  report.json  report.md   its evaluation (+ report.provenance.json)
    archive.json                           only in a run archived without its checkpoints (tdfake.archive)
    test_sets/<name>/                      its predictions and report on each extra test set

A **study folder** (``cfg.out_dir`` of ``tdfake run``)::

    manifest.csv  split.csv                the data and the one split all arms share (+ split.provenance.json)
    images/OR|TK|TK_diff|.../<path>        the arm images, a folder per kind and parameters (+ <folder>.provenance.json)
    baseline/ tk/ tk_diff/ ...             one run folder per arm of the config, trained with the config's seed
    seed_<s>/baseline|tk|tk_diff|.../      the same arms trained with another seed s (``seeds``)
    test_sets/<name>/                      extra test sets' manifests and images
    results.md  results.csv  comparisons.csv   the arms side by side, and paired comparisons between them
    seeds.csv  training.csv                each arm over seeds; each run's training and the collapsed-run check
    sweep/  robustness/  explain/          the outputs of ``tdfake sweep``, ``robustness`` and ``explain``
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tdfake.arms import STUDY_ARMS
from tdfake.config import Config
from tdfake.constants import STUDY_THRESHOLD
from tdfake.datasets import read_manifest
from tdfake.images import image_paths
from tdfake.metrics import Report
from tdfake.transforms import ImageSpec

# ------------------------------------------------------------------------------- file names

CONFIG_FILE = "config.yaml"
SPLIT_FILE = "split.csv"
MANIFEST_FILE = "manifest.csv"
RUN_INFO_FILE = "run.json"
HISTORY_FILE = "history.csv"
BEST_CHECKPOINT = "best.keras"
LAST_CHECKPOINT = "last.keras"
LAST_RANDOM_STATE = "last.random.npz"  # the dropout generators' states when last.keras was saved
LOGS_DIR = "logs"
PREDICTIONS_FILE = "predictions.csv"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
SKIPPED_FILE = "skipped.csv"
ARCHIVE_RECORD = "archive.json"  # in a run folder archived without its checkpoints (see tdfake.archive)
IMAGES_DIR = "images"
TEST_SETS_DIR = "test_sets"
RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
COMPARISONS_CSV = "comparisons.csv"
SEEDS_CSV = "seeds.csv"
TRAINING_CSV = "training.csv"
TUCKER_EQUIVALENCE_CSV = "tucker_equivalence.csv"  # tools/tucker_equivalence.py: fast vs tensorly images
SWEEP_DIR = "sweep"
SWEEP_CSV = "sweep.csv"
SWEEP_COMPARISONS_CSV = "sweep_comparisons.csv"
SWEEP_FIGURE = "sweep.png"
ROBUSTNESS_DIR = "robustness"
ROBUSTNESS_CSV = "robustness.csv"
ROBUSTNESS_FIGURE = "robustness.png"
EXPLAIN_DIR = "explain"
EXPLAIN_GRID = "explain_grid.png"
PREDICT_DIR = "predict"  # where `tdfake predict RUN VIDEO...` writes without -o: RUN/predict/
FRAMES_CSV = "frames.csv"  # per sampled video frame: face box, score per arm
VIDEOS_CSV = "videos.csv"  # per video: frames, faces, mean / max / share / prediction per arm
IMAGES_CSV = "images.csv"  # the images of a `tdfake predict` call that also scored videos
FRAME_REPORT_JSON = "frame_report.json"  # frame-level report beside a video folder's (video-level) report.json


# ------------------------------------------------------------------------------- study folder

def seed_root(out_dir: os.PathLike | str, seed: int, config_seed: int) -> Path:
    """The folder holding the arms trained with ``seed``: ``out_dir`` itself for the config's own seed.

    So a one-seed study keeps the layout ``OUT/<arm>/`` and the config's seed of a several-seed
    study is that same run, reused as it is; every other seed gets ``OUT/seed_<s>/<arm>/``.
    """
    return Path(out_dir) if int(seed) == int(config_seed) else Path(out_dir) / f"seed_{int(seed)}"


def arm_dir(out_dir: os.PathLike | str, arm: str, seed: int | None = None, config_seed: int | None = None) -> Path:
    """The run folder of ``arm`` trained with ``seed`` in a study folder (the config's seed when None)."""
    if seed is None or config_seed is None:
        return Path(out_dir) / arm
    return seed_root(out_dir, seed, config_seed) / arm


def training_seeds(cfg: Config) -> list[int]:
    """The training seeds of a config: ``seeds`` when given, else its one ``seed``."""
    return [int(s) for s in cfg.seeds] if cfg.seeds else [int(cfg.seed)]


def is_run(path: os.PathLike | str) -> bool:
    """Whether ``path`` is a finished run folder (it holds a best checkpoint and what evaluating it needs)."""
    path = Path(path)
    return all((path / name).is_file() for name in (BEST_CHECKPOINT, CONFIG_FILE, SPLIT_FILE))


def is_archived(path: os.PathLike | str) -> bool:
    """Whether ``path`` is a run folder archived without its checkpoints (:mod:`tdfake.archive`): its
    recorded predictions and reports stand, but nothing new can be scored with it."""
    path = Path(path)
    return (path / ARCHIVE_RECORD).is_file() and not (path / BEST_CHECKPOINT).is_file()


def study_arms(out_dir: os.PathLike | str) -> list[str]:
    """The arms of a study folder: its subfolders holding a run's config.yaml, in the order of the arms of
    the config of the run written last (the study's order), arms that config does not name after them."""
    folders = sorted(Path(out_dir).glob(f"*/{CONFIG_FILE}"))
    if not folders:
        return []
    order = list(Config.from_yaml(max(folders, key=lambda f: f.stat().st_mtime_ns)).arms)
    found = [f.parent.name for f in folders]
    return [arm for arm in order if arm in found] + [arm for arm in found if arm not in order]


def finished_arms(out_dir: os.PathLike | str, arms: Iterable[str] | None = None) -> list[Path]:
    """The arm folders of a study folder that hold a finished run, in the study's order (default arms:
    :func:`study_arms`)."""
    arms = study_arms(out_dir) if arms is None else arms
    return [Path(out_dir) / arm for arm in arms if is_run(Path(out_dir) / arm)]


def evaluated_arms(out_dir: os.PathLike | str, arms: Iterable[str] | None = None) -> list[str]:
    """The arms of a study folder that have a report (finished and evaluated), in the study's order (default
    arms: :func:`study_arms`)."""
    arms = study_arms(out_dir) if arms is None else arms
    return [arm for arm in arms if (Path(out_dir) / arm / REPORT_JSON).is_file()]


def seed_folders(out_dir: os.PathLike | str) -> dict[int, Path]:
    """Every ``seed_<s>/`` folder of a study, by seed (the config's own seed lives in ``out_dir`` itself)."""
    found = {}
    for folder in sorted(Path(out_dir).glob("seed_*")):
        suffix = folder.name.removeprefix("seed_")
        if folder.is_dir() and suffix.lstrip("-").isdigit():
            found[int(suffix)] = folder
    return found


def find_runs(paths: Iterable[os.PathLike | str]) -> list[Path]:
    """Run folders from command-line arguments: a run folder itself, or a study folder's finished arms.

    What ``tdfake robustness``, ``explain``, ``compare`` and ``predict`` take "RUN" to mean.
    """
    runs: list[Path] = []
    for path in map(Path, paths):
        if is_run(path) or (path / BEST_CHECKPOINT).is_file():  # a run missing its config: load_run names the file
            runs.append(path)
        elif path.is_dir() and study_arms(path):
            finished = finished_arms(path)
            if not finished:
                raise FileNotFoundError(f"{path}: no finished arm ({', '.join(study_arms(path))} with "
                                        f"{BEST_CHECKPOINT}); train the study first (`tdfake run`)")
            runs += finished
        else:
            raise FileNotFoundError(f"{path}: not a run folder (no {BEST_CHECKPOINT}) nor a study folder holding "
                                    f"arms (e.g. {', '.join(STUDY_ARMS)}); pass what `tdfake run` or "
                                    "`tdfake train` wrote")
    return runs


def started_arms(out_dir: os.PathLike | str, arms: Iterable[str] | None = None) -> list[Path]:
    """The arm folders of a study that hold a config (arms that started training), in the study's order
    (default arms: :func:`study_arms`)."""
    arms = study_arms(out_dir) if arms is None else list(arms)
    started = [Path(out_dir) / arm for arm in arms if (Path(out_dir) / arm / CONFIG_FILE).is_file()]
    if not started:
        raise FileNotFoundError(f"{out_dir}: no run folders ({', '.join(arms) or 'none'}); "
                                "run `tdfake run` or `tdfake train` first")
    return started


def test_set_dir(out_dir: os.PathLike | str, name: str) -> Path:
    """Where an extra test set's manifest and arm images live in a study folder."""
    return Path(out_dir) / TEST_SETS_DIR / name


def test_set_report_dir(run_dir: os.PathLike | str, name: str) -> Path:
    """Where one run's predictions and report on an extra test set are written."""
    return Path(run_dir) / TEST_SETS_DIR / name


def test_set_names(run_dirs: Iterable[os.PathLike | str]) -> list[str]:
    """The extra test sets any of the runs has a report on, sorted."""
    return sorted({p.parent.name for run in run_dirs for p in Path(run, TEST_SETS_DIR).glob(f"*/{REPORT_JSON}")})


def data_name(data: os.PathLike | str) -> str:
    """The name other data goes by in folder names and tables: a folder's name, a manifest's without ``.csv``.

    The whole name otherwise, so a folder ``faces.v2`` is ``faces.v2`` (not ``faces``).
    """
    path = Path(data)
    return path.stem if path.suffix.lower() == ".csv" else path.name


def eval_dir(run_dir: os.PathLike | str, data: os.PathLike | str) -> Path:
    """Where a run's scores and report on other data are written by default: ``RUN/eval-<data name>``."""
    return Path(run_dir) / f"eval-{data_name(data)}"


def sweep_dir(out_dir: os.PathLike | str) -> Path:
    """Where a study's rank sweep writes its table, figure and the other ranks' images and arms."""
    return Path(out_dir) / SWEEP_DIR


def read_sweep(out_dir: os.PathLike | str) -> pd.DataFrame | None:
    """A finished sweep's table (``sweep/sweep.csv``), or None when there is none."""
    path = sweep_dir(out_dir) / SWEEP_CSV
    return pd.read_csv(path, dtype={"rank": "Int64"}) if path.is_file() else None


def robustness_dir(study_or_run: os.PathLike | str) -> Path:
    """Where ``tdfake robustness`` writes by default for a study or run folder."""
    return Path(study_or_run) / ROBUSTNESS_DIR


def read_robustness(study_or_run: os.PathLike | str) -> pd.DataFrame | None:
    """The default robustness table of a study or run folder, or None when there is none."""
    path = robustness_dir(study_or_run) / ROBUSTNESS_CSV
    return pd.read_csv(path) if path.is_file() else None


# ------------------------------------------------------------------------------- run folder

@dataclass
class Run:
    """A finished run folder, read: its settings, arm, images folder, training seed and split."""

    run_dir: Path
    cfg: Config
    arm: str
    kind: str
    images_root: Path | None  # None: the arm trained on each row's root/path
    split: pd.DataFrame
    seed: int  # the training seed (initialisation, shuffling, augmentation); the split's is cfg.seed

    @property
    def spec(self) -> ImageSpec:
        """The arm's image kind with its parameters, and its images' folder (from the run's config)."""
        return self.cfg.image_spec(self.arm)

    def files(self, rows: pd.DataFrame) -> list[str]:
        """The arm's image file of each split row (see :func:`tdfake.images.image_paths`)."""
        return image_paths(rows, self.images_root, self.spec.folder, self.cfg.image_format)

    @property
    def threshold(self) -> float:
        """The decision threshold this run chose on validation (:func:`chosen_threshold`)."""
        return chosen_threshold(self.run_dir)

    def report(self) -> Report | None:
        """The run's own test report, or None before it was evaluated."""
        path = self.run_dir / REPORT_JSON
        return Report.from_json(path) if path.is_file() else None


def write_run_info(run_dir: Path, arm: str, kind: str, images_root: os.PathLike | str | None, seed: int) -> None:
    """``run.json``: the arm, its image kind, where its images are (relative to the run folder, so a
    moved project still evaluates) and the training seed, for :func:`load_run`."""
    root = None if images_root is None else os.path.relpath(Path(images_root).resolve(), run_dir.resolve())
    info = {"arm": arm, "kind": kind, "images_root": root, "seed": int(seed)}
    (run_dir / RUN_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")


def run_seed(run_dir: os.PathLike | str) -> int:
    """A run's training seed (``run.json``, else its config's seed); needs no checkpoint, so archived runs have one."""
    info_file = Path(run_dir) / RUN_INFO_FILE
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    return int(info["seed"]) if "seed" in info else int(Config.from_yaml(Path(run_dir) / CONFIG_FILE).seed)


def load_run(run_dir: os.PathLike | str) -> Run:
    """Read a run folder's config, split, arm, images folder and seed, with errors that say what is missing.

    The arm and images folder come from ``run.json`` when the run wrote one, otherwise from the
    study layout (``OUT/<arm>/`` next to ``OUT/images/``).
    """
    run_dir = Path(run_dir)
    for name in (BEST_CHECKPOINT, CONFIG_FILE, SPLIT_FILE):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name}: missing; is {run_dir} a finished run folder (`tdfake train`)?")
    cfg = Config.from_yaml(run_dir / CONFIG_FILE)
    info_file = run_dir / RUN_INFO_FILE
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    arm = info.get("arm", run_dir.name)
    if arm not in cfg.arms:
        raise ValueError(f"{run_dir}: cannot tell the arm; name the folder after one of the arms of its "
                         f"config.yaml ({', '.join(cfg.arms)}) or write run.json with keys arm, kind, images_root")
    if "images_root" not in info:
        images_root: Path | None = run_dir.parent / IMAGES_DIR
    elif info["images_root"] is None:
        images_root = None
    else:
        images_root = Path(info["images_root"])
        images_root = images_root if images_root.is_absolute() else run_dir / images_root
    return Run(run_dir, cfg, arm, info.get("kind", cfg.image_spec(arm).kind), images_root,
               read_manifest(run_dir / SPLIT_FILE), int(info.get("seed", cfg.seed)))


def chosen_threshold(run_dir: os.PathLike | str) -> float:
    """The threshold a run chose on validation (its ``report.json``), else 0.5 before it was evaluated."""
    path = Path(run_dir) / REPORT_JSON
    return Report.from_json(path).chosen.threshold if path.is_file() else STUDY_THRESHOLD


def validation_scores(run_dir: os.PathLike | str) -> pd.DataFrame:
    """The run's validation rows with their scores, from the ``predictions.csv`` its evaluation wrote."""
    path = Path(run_dir) / PREDICTIONS_FILE
    val = pd.read_csv(path, dtype={"group": str})[lambda t: t["split"] == "val"] if path.is_file() else pd.DataFrame()
    if val.empty:
        raise FileNotFoundError(f"{path}: no validation scores; evaluate the run first (`tdfake evaluate {run_dir}`) "
                                "so its threshold can be chosen on validation")
    return val


def test_predictions(run_dir: os.PathLike | str, test_set: str | None = None) -> pd.DataFrame:
    """A run's scored test rows (path, label, group, score): its own test split, or an extra set's."""
    folder = Path(run_dir) if test_set is None else test_set_report_dir(run_dir, test_set)
    path = folder / PREDICTIONS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; evaluate the run first (`tdfake evaluate {run_dir}`)")
    table = pd.read_csv(path, dtype={"path": str, "group": str}, keep_default_na=False, na_values={"score": [""]})
    return table[table["split"] == "test"].reset_index(drop=True)


def arms_of(runs: Sequence[Run]) -> list[str]:
    """The arms of the runs, refusing two runs of one arm (their outputs would share a folder)."""
    arms = [run.arm for run in runs]
    if len(set(arms)) < len(arms):
        raise ValueError(f"two runs of the same arm ({arms}); score them one at a time, each with its own -o OUT")
    return arms
