"""The study end to end: data → one shared split → OR/TK/TK_diff images → three arms → results.

``prepare`` is what every training entry point needs first (``tdfake train`` calls it for one
arm, ``tdfake run`` for all three); ``run_study`` is the README's main job.  Every step writes
its output under ``cfg.out_dir`` and is skipped on a re-run when its output is already there, so
an interrupted run resumes where it stopped.

Layout of ``cfg.out_dir``::

    manifest.csv  split.csv             the data and the one split all arms share
    images/OR|TK|TK_diff/<path>         the arm images (the study's OR/, TK/, TK_diff/ trees)
    baseline/ tk/ tk_diff/              one run folder per arm (see tdfake.train, tdfake.evaluate)
    results.md  results.csv             the arms side by side, the study's numbers beside them
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tdfake.config import ARMS, Config


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

    return Path(make_demo_data(cfg.demo_dir, n_per_class=cfg.demo_n_per_class, size=cfg.demo_size, seed=cfg.seed))


def load_or_make_split(cfg: Config, data_dir: Path) -> pd.DataFrame:
    """The run's split: read from ``out_dir/split.csv`` when present, else made and written there.

    Keeping the file means every arm, and every re-run, trains and tests on the same rows.
    """
    from tdfake.datasets import build_manifest
    from tdfake.split import split_manifest

    out_dir = Path(cfg.out_dir)
    split_csv = out_dir / "split.csv"
    if split_csv.is_file():
        return pd.read_csv(split_csv, dtype={"video": str, "group": str})
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = build_manifest(data_dir, layout=cfg.layout)
    manifest.to_csv(out_dir / "manifest.csv", index=False)
    split = split_manifest(
        manifest,
        fractions=(cfg.train_fraction, cfg.val_fraction, cfg.test_fraction),
        by=cfg.split_by,
        seed=cfg.seed,
        per_class=cfg.per_class,
    )
    split.to_csv(split_csv, index=False)
    return split


def prepare(cfg: Config, kinds: list[str] | tuple[str, ...] = tuple(ARMS.values())) -> Prepared:
    """Make (or reuse) the data, the split and the images of the given kinds for the split's rows."""
    from tdfake.image_creation import create_images

    data_dir = data_folder(cfg)
    split = load_or_make_split(cfg, data_dir)
    images_root = Path(cfg.out_dir) / "images"
    create_images(
        data_dir,
        images_root,
        kinds=tuple(kinds),
        rank=tuple(cfg.rank),
        method=cfg.tucker_method,
        workers=cfg.workers,
        image_format=cfg.image_format,
        paths=list(split["path"]),
    )
    return Prepared(split=usable_rows(split, images_root, kinds, cfg.image_format), images_root=images_root, data_dir=data_dir)


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
